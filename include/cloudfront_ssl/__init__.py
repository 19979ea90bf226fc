"""TLS certificates for Amazon CloudFront, run as Apache Airflow DAGs.

The library behind the DAGs in ``dags/`` and the page in ``plugins/``. It is four layers, each a
sub-package; a module imports only from its own layer or the layers below it:

``views``   the certificates page and its API: the catalog, the jobs as Airflow records them, the HTML
``steps``   the jobs' steps, called by the DAGs' tasks: check and plan, create, import, clean-up,
            inventory, Route 53, the deferrable waits, and the claims that keep two jobs off one name
``aws``     one module per AWS service (ACM, CloudFront, Route 53, SNS): calls, finders and pacing
``rules``   decisions that need no AWS: the conf models, the name rules, the PEM checks, the tag
            contract, the owners' messages

Below all four:

``vocabulary``   the jobs' DAG ids, step ids and run states: one spelling of each
``errors``       the errors the jobs raise, and the one place that reads AWS's error codes
"""
