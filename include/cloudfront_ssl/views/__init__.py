"""The certificates page and its API: ``catalog`` (the account's certificates, cached), ``jobs``
(the jobs as Airflow records them: runs, steps, results) and ``page`` (the HTML, from
``templates/``)."""
