"""The jobs' steps, called by the DAGs' tasks: ``plan`` (the check step and the dry run),
``claims`` (names held by running jobs), ``create_job``, ``import_job``, ``dns_job`` (Route 53),
``cleanup``, ``inventory``, ``job_dag`` (what the job DAGs share) and the deferrable waits
(``operators``, ``triggers``, ``dns_wait``, ``deployment_wait``, and ``claims_wait``: the check step,
which defers while an earlier job has not claimed its names)."""
