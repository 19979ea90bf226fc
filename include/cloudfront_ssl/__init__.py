"""TLS certificates for Amazon CloudFront, run as Apache Airflow DAGs.

The library behind the DAGs in ``dags/`` and the page in ``plugins/``. Each module owns one thing;
imports only point down this list (a module imports only modules below it):

Steps of the jobs (called by the DAGs' tasks)
    ``job_dag``      what the job DAGs share: task defaults, the distribution step, the closing steps
    ``create_job``   the create job's steps
    ``import_job``   the import job's steps
    ``cleanup``      removing one job's resources (``ssl_cleanup_job`` and ``cleanup_on_failure``)
    ``inventory``    the daily report and its alerts
    ``operators``, ``triggers``   the deferrable wait for issuance
    ``dns_wait``     the deferrable wait until Route 53 has applied a job's changes

For the page and its API (the plugin)
    ``catalog``      the account's certificates, cached for the page
    ``jobs``         the jobs as Airflow records them (runs, steps, results)
    ``page``         the page's HTML

Shared by both
    ``plan``         the create job's plan and every reason to refuse it (the check step, the dry run)
    ``dns_job``      the create job's Route 53 part: its check, validation records and alias records
    ``claims``       names claimed by running jobs, so that two jobs never work on one name
    ``acm_status``   ACM's statuses read in bulk: the one place that says issued, pending or failed
    ``acm``, ``cloudfront``, ``route53``, ``notify``   one module per AWS service: calls and finders
    ``acm_rate``     one cap on the package's ACM calls per process
    ``connections``  refusing a connection id Airflow does not have
    ``config``       the conf models: the DAGs' params and their validation
    ``names``        the domain-name rules and the aggregation under wildcards
    ``pem_checks``   the local checks of a certificate bundle
    ``messages``     the owners' messages and how input is quoted in them
    ``tags``         the tag contract: which tags a job sets, and reading a job back from them
    ``errors``       the errors the jobs raise, and reading AWS's error answers
"""
