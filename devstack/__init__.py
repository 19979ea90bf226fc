"""The development stack: what ``make demo``, ``make up``, the tests and the measurement scripts run on.

Development tooling, not part of the shipped ``cloudfront_ssl`` package. Each module owns one thing:

- :mod:`devstack.processes`: free ports, waits, and processes stopped together with their children;
- :mod:`devstack.seed`: what the jobs need in an emulator (a source distribution, the owners' topic);
- :mod:`devstack.fault_proxy`: the one proxy in front of the emulator that counts AWS calls and
  injects faults, answering each service in its own protocol;
- :mod:`devstack.emulator`: moto in server mode (``ThreadedMotoServer``) as AWS, seeded for the jobs,
  and what it holds read back (certificates, distributions, SNS messages);
- :mod:`devstack.environment`: the environment block of every Airflow process (home, DAGs, plugins,
  database, the ``aws_default`` connection on the emulator, the admin user);
- :mod:`devstack.services`: PostgreSQL and Redis (the machine's, or servers of the stack's own),
  with a database and a Redis database number per stack;
- :mod:`devstack.api`: the Airflow REST API as a user's script drives it;
- :mod:`devstack.pki`: a small PKI (root, intermediate, leaf) for import jobs;
- :mod:`devstack.jobs`: jobs triggered through the REST API, followed task by task;
- :mod:`devstack.stack`: Airflow's components as processes (``airflow standalone``, an API server);
- :mod:`devstack.engine`: the production shape (CeleryExecutor, PostgreSQL, Redis) with the settings
  of ``docker-compose.yaml``.

The repository root must be on ``sys.path`` (pytest puts it there; the scripts add it).
"""
