"""Airflow's components started as processes on this machine, and the REST API to drive them.

:func:`standalone` is the stack of ``make demo`` and ``make up``: ``airflow standalone`` (SQLite,
LocalExecutor) in one process group. The tests start a single ``airflow api-server`` the same way
(:meth:`AirflowStack.start`), and the engine stack (:mod:`devstack.engine`) starts every component
as a process of its own.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from devstack.api import AirflowApi
from devstack.environment import (
    ADMIN,
    AIRFLOW,
    ROOT,
    admin_password,
    airflow_environment,
    api_environment,
    auth_environment,
    clean_environment,
    password_file,
)
from devstack.processes import Processes, StackFailure, Started, free_port, wait_for
from devstack.services import Postgres, postgres_server, release_redis_db

HEALTH_COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")
TASKS_PER_CPU = 4
"""Standalone's task processes at once, per CPU (``[core] parallelism``): 8 on two cores."""


@dataclass
class AirflowStack:
    """Airflow processes sharing one environment, one API server URL and one admin."""

    home: Path
    env: dict[str, str]
    url: str
    password: str
    processes: Processes = field(default_factory=lambda: Processes(cwd=ROOT))
    postgres: Postgres | None = None
    """The PostgreSQL server holding :attr:`database`, the stack's own metadata database (else SQLite)."""
    database: str = ""
    redis_port: int = 0
    redis_db: int = 0
    """The Redis database number the stack claimed (0: none)."""
    workdir: Path | None = None
    """Where servers of the stack's own keep their data; removed when it stops."""

    def __post_init__(self) -> None:
        self.api = AirflowApi(self.url)

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Started:
        """Start ``airflow <args>`` as ``name``, logging to ``<home>/<name>.log``."""
        return self.processes.start(name, [AIRFLOW, *args], {**self.env, **(env or {})}, self.log(name))

    def log(self, name: str) -> Path:
        """The log file of the process started as ``name``."""
        return self.home / f"{name}.log"

    def wait_healthy(
        self,
        components: Iterable[str] = HEALTH_COMPONENTS,
        timeout: float = 300,
        say: Callable[[str], None] | None = None,
    ) -> None:
        """Wait until the API answers and every named component of its health report is healthy."""
        wanted = tuple(components)
        seen: dict[str, str] = {}

        def healthy() -> bool | None:
            self.processes.check_alive()
            report = self.api.health()
            if report is None:
                return None
            for component in wanted:
                status = (report.get(component) or {}).get("status") or "unknown"
                if seen.get(component) != status:
                    seen[component] = status
                    if say:
                        say(f"  {component}: {status}")
            return True if all(seen.get(c) == "healthy" for c in wanted) else None

        wait_for(f"Airflow healthy on {self.url}", healthy, timeout, 1)

    def sign_in(self) -> None:
        """Get the admin's JWT for :attr:`api`."""
        self.api.sign_in(ADMIN, self.password)

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 180) -> None:
        """Wait until the DAG processor has stored every DAG (fail at once on an import error)."""
        for dag_id in dag_ids:
            wait_for(
                f"load {dag_id}",
                lambda d=dag_id: self.processes.check_alive() or self.api.dag_loaded(d),
                timeout,
                1,
            )

    def stop(self, say: Callable[[str], None] | None = None) -> None:
        """Stop Airflow's processes, drop the stack's database, free its Redis database, stop its servers."""
        servers = ("postgres", "redis")
        try:
            airflow = [started for started in self.processes.started if started.name not in servers]
            if say and airflow:
                say(f"  stopping {', '.join(started.name for started in airflow)}")
            self.processes.stop(airflow)
            if self.postgres and self.database:
                self.postgres.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            if self.redis_db:
                release_redis_db(self.redis_port, self.redis_db)
        finally:
            self.processes.stop_all(say)
            for own in (self.workdir, self.postgres and self.postgres.data_dir):
                if own:
                    shutil.rmtree(own, ignore_errors=True)


def standalone(
    home: Path,
    emulator_url: str,
    port: int | None = None,
    extra_env: dict[str, str] | None = None,
    postgres_port: int | None = 5432,
) -> AirflowStack:
    """``airflow standalone`` with this repository's DAGs and plugins, AWS on the emulator.

    Its metadata database is a fresh PostgreSQL database of its own: on the machine's server when
    one answers on ``postgres_port``, else on a server the stack starts from Debian's package. Only
    when PostgreSQL is not installed (or ``postgres_port`` is None) is it SQLite, which serialises
    every write: a burst of jobs then waits on its busy timeout.

    Not started yet: call ``stack.start("airflow-standalone", "standalone")``. The API listens on
    ``port``, else on 8080 when free, else on any free port.
    """
    processes = Processes(cwd=ROOT)
    workdir = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-standalone-"))
    postgres, database = None, ""
    if postgres_port:
        try:
            postgres = postgres_server(processes, workdir, postgres_port)
            database = f"cloudfront_ssl_standalone_{secrets.token_hex(8)}"
            postgres.execute(f'CREATE DATABASE "{database}"')
        except StackFailure:  # PostgreSQL is not installed: SQLite
            postgres, database = None, ""
    url = f"http://127.0.0.1:{port or free_port(8080)}"
    passwords = password_file(home)
    database_url = postgres.url(database) if postgres else None
    env = {
        **clean_environment(),
        **airflow_environment(home, emulator_url, database_url),
        **api_environment(url),
        **auth_environment(passwords, with_demo_users=True),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # Task processes at once: Airflow's default of 32 on a laptop's few cores starves the API
        # server when a burst of jobs starts together (REST calls then wait over 30 s).
        "AIRFLOW__CORE__PARALLELISM": str(TASKS_PER_CPU * (os.cpu_count() or 2)),
        # The scheduler's and the triggerer's log servers: free ports, so that stacks side by side
        # (a test run beside a `make up`) do not fight over 8793 and 8794.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        # New DAG files (another job landing while `make up` runs) show up within half a minute.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        **(extra_env or {}),
    }
    return AirflowStack(
        home=home,
        env=env,
        url=url,
        password=admin_password(passwords),
        processes=processes,
        postgres=postgres,
        database=database,
        workdir=workdir,
    )
