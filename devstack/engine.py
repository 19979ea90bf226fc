"""The production engine on this machine: ``docker-compose.yaml``'s Airflow services as processes.

The compose file is the user's path to a distributed Airflow (CeleryExecutor, PostgreSQL, Redis, an
API server, a scheduler, a DAG processor, triggerers and Celery workers). Docker does not run here,
so :func:`engine_stack` reads that file (each service's command and environment, the shared
``x-airflow-common`` block included) and starts the same components as processes of this machine,
with the differences that running outside containers forces, all in :func:`local_differences`.

PostgreSQL and Redis are the machine's (127.0.0.1:5432 and 127.0.0.1:6379) when they answer, else
servers of the stack's own started from Debian's ``postgresql`` and ``redis-server`` packages
(``scripts/install-engine-services.sh`` installs them). The stack gets a fresh database and a Redis
database number of its own, dropped and flushed when it stops.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

from devstack.environment import (
    AIRFLOW,
    ROOT,
    admin_password,
    airflow_environment,
    api_environment,
    auth_environment,
    clean_environment,
    password_file,
)
from devstack.processes import Processes, StackFailure, free_port
from devstack.services import Postgres, claim_redis_db, postgres_server, redis_server
from devstack.stack import AirflowStack

COMPOSE_FILE = ROOT / "docker-compose.yaml"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "celery worker")
"""The long-running Airflow commands of the compose file, in the order they are started."""
PROCESS_NAME = "CLOUDFRONT_SSL_PROCESS_NAME"
"""The environment variable that names one engine process (see :func:`process_hostname`)."""


def process_hostname() -> str:
    """The host name Airflow records for this process: its engine name, else the machine's name.

    In the compose stack every container has a host name of its own, so a task instance's
    ``hostname`` tells which worker ran it and a triggerer's job tells which container it is. The
    engine's processes share one machine: ``[core] hostname_callable`` points here so that they
    are told apart the same way.
    """
    return os.environ.get(PROCESS_NAME) or socket.getfqdn()


@dataclass
class ComposeService:
    """One service of the compose file: its command and its environment (shared block included)."""

    name: str
    command: list[str]
    environment: dict[str, str]
    restart: str
    """The compose restart policy: ``always`` means a container that dies is started again."""


def compose_services(path: Path = COMPOSE_FILE) -> dict[str, ComposeService]:
    """The long-running Airflow services of the compose file, by command (``"celery worker"`` ...)."""
    services = yaml.safe_load(path.read_text())["services"]
    found: dict[str, ComposeService] = {}
    for name, service in services.items():
        command = service.get("command")
        if service.get("profiles") or service.get("entrypoint") or not isinstance(command, str):
            continue
        if command in COMPONENTS:
            environment = {key: str(value) for key, value in (service.get("environment") or {}).items()}
            found[command] = ComposeService(
                name, shlex.split(command), environment, service.get("restart", "no")
            )
    missing = set(COMPONENTS) - set(found)
    if missing:
        raise StackFailure("read docker-compose.yaml", f"no service runs {sorted(missing)}")
    return found


# --- the stack -------------------------------------------------------------------------------------


def _relocate(url: str, netloc: str, path: str | None = None) -> str:
    """``url`` with another host (and user) and, when given, another path (database or db number)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, netloc, path if path is not None else parts.path, "", ""))


def local_differences(
    shared: dict[str, str],
    *,
    home: Path,
    postgres: Postgres,
    database: str,
    redis_port: int,
    redis_db: int,
    api_url: str,
    emulator_url: str,
) -> dict[str, str]:
    """Every setting in which the engine's processes differ from the compose file's containers, and why.

    ``shared`` is the compose file's environment; what is not named here is used as it is there.
    """
    database_url = _relocate(
        shared["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
        f"postgres@{postgres.host}:{postgres.port}",
        f"/{database}",
    )
    return {
        # Outside the image: this repository's DAGs, plugins, logs and home, AWS on the emulator, and
        # nothing of the caller's own AWS or Airflow settings.
        **clean_environment(),
        **airflow_environment(home, emulator_url, database_url),
        # Containers reach PostgreSQL and Redis by service name; here they are on 127.0.0.1, in a
        # database and a Redis database number of the stack's own (the driver, scheme and options
        # stay the compose file's).
        "AIRFLOW__CELERY__RESULT_BACKEND": _relocate(
            shared["AIRFLOW__CELERY__RESULT_BACKEND"],
            f"postgres@{postgres.host}:{postgres.port}",
            f"/{database}",
        ),
        "AIRFLOW__CELERY__BROKER_URL": _relocate(
            shared["AIRFLOW__CELERY__BROKER_URL"], f"127.0.0.1:{redis_port}", f"/{redis_db}"
        ),
        # The API server's service name and port 8080 become 127.0.0.1 and a free port (the execution
        # API URL that workers and triggerers call included). One API worker: two cores.
        **api_environment(api_url),
        # The compose stack signs users in with the FAB auth manager and airflow-init's user; the test
        # signs in as the simple auth manager's admin (no FAB provider, no user database to seed).
        **auth_environment(password_file(home), with_demo_users=True),
        # airflow-init writes airflow.cfg (with the generated JWT secret) into the mounted config/;
        # here the secret comes from the environment (above) and the file stays in the stack's home.
        "AIRFLOW_CONFIG": str(home / "airflow.cfg"),
        # The image puts the mounted include/ on PYTHONPATH; here the package is installed (editable)
        # and the repository is on the path for process_hostname below.
        "PYTHONPATH": str(ROOT),
        # One host for every process: each gets a host name of its own, as each container has.
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "devstack.engine.process_hostname",
        # Containers each have their ports; processes sharing a host need their own (set per process).
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
        # The connection is the emulator's (above), not the one an empty compose variable leaves unset.
        "AIRFLOW_CONN_AWS_DEFAULT": airflow_environment(home, emulator_url)["AIRFLOW_CONN_AWS_DEFAULT"],
        # Two cores: four task processes per worker, not Celery's default of sixteen.
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    }


@dataclass
class EngineStack(AirflowStack):
    """The compose file's Airflow services as processes, on PostgreSQL and Redis."""

    services: dict[str, ComposeService] = field(default_factory=dict)
    local: dict[str, str] = field(default_factory=dict)
    copies: dict[str, ComposeService] = field(default_factory=dict)
    """Each started process's service, by process name."""

    def start_components(self, workers: int = 2, triggerers: int = 2) -> list[str]:
        """Migrate the database, then start every component (N workers and N triggerers); their names."""
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"], env=self.env, capture_output=True, text=True, timeout=600, check=False
        )
        if migrate.returncode:
            raise StackFailure("airflow db migrate", migrate.stdout[-3000:] + migrate.stderr[-3000:])
        copies = {"triggerer": triggerers, "celery worker": workers}
        names = []
        for component in COMPONENTS:
            service = self.services[component]
            count = copies.get(component, 1)
            for number in range(1, count + 1):
                name = f"{service.name}-{number}" if count > 1 else service.name
                self.start_service(service, name)
                names.append(name)
        return names

    def start_service(self, service: ComposeService, name: str) -> None:
        """Start one copy of a compose service under ``name``, with the service's own environment.

        Copies of one service on one host need ports and a Celery node name of their own, as each
        container has.
        """
        own = {PROCESS_NAME: name}
        args = list(service.command)
        if service.command[0] == "celery":
            own["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
            args += ["--celery-hostname", f"{name}@%h"]
        if service.command[0] == "triggerer":
            own["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
        self.start(name, *args, env={**service.environment, **self.local, **own})
        self.copies[name] = service

    def restart(self, name: str) -> None:
        """Start a dead component again, as Docker does for a service whose restart policy is ``always``."""
        service = self.copies[name]
        if service.restart != "always":
            raise StackFailure(f"restart {name}", f"{service.name} has restart policy {service.restart!r}")
        self.start_service(service, name)


def engine_stack(
    home: Path,
    emulator_url: str,
    extra_env: dict[str, str] | None = None,
    api_port: int | None = None,
    postgres_port: int = 5432,
    redis_port: int = 6379,
) -> EngineStack:
    """The engine, not started yet (:meth:`EngineStack.start_components`): its servers, database and env.

    PostgreSQL and Redis are the machine's on the given ports when something listens there, else
    servers of the stack's own. The API listens on ``api_port`` when it is free, else on a free port.
    """
    services = compose_services()
    processes = Processes(cwd=ROOT)
    workdir = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-engine-"))
    token = secrets.token_hex(8)
    try:
        postgres = postgres_server(processes, workdir, postgres_port)
        database = f"cloudfront_ssl_engine_{token}"
        postgres.execute(f'CREATE DATABASE "{database}"')
        redis_port = redis_server(processes, workdir, redis_port)
        redis_db = claim_redis_db(redis_port, token)
    except BaseException:
        processes.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    url = f"http://127.0.0.1:{free_port(api_port)}"
    home.mkdir(parents=True, exist_ok=True)
    shared = services["scheduler"].environment
    local = {
        **local_differences(
            shared,
            home=home,
            postgres=postgres,
            database=database,
            redis_port=redis_port,
            redis_db=redis_db,
            api_url=url,
            emulator_url=emulator_url,
        ),
        **(extra_env or {}),
    }
    return EngineStack(
        home=home,
        env={**shared, **local},
        local=local,
        url=url,
        password=admin_password(password_file(home)),
        processes=processes,
        services=services,
        postgres=postgres,
        database=database,
        redis_port=redis_port,
        redis_db=redis_db,
        workdir=workdir,
    )
