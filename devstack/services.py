"""PostgreSQL and Redis for a development stack: the machine's when they answer, else servers of its own.

A stack gets a fresh PostgreSQL database and a Redis database number of its own, dropped and freed
when it stops, so stacks of several users or test runs share a server without seeing each other.
Servers of the stack's own come from Debian's ``postgresql`` and ``redis-server`` packages
(``scripts/install-engine-services.sh`` installs them).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.environment import clean_environment
from devstack.processes import Processes, StackFailure, free_port, listening, wait_for

REDIS_CLAIM = "cloudfront-ssl:devstack:redis-db:{number}"
"""A key in Redis database 0 that reserves database ``number`` for one stack."""


def _binary(name: str, patterns: list[str]) -> str:
    found = shutil.which(name) or next(
        iter(sorted(p for pattern in patterns for p in glob.glob(pattern))), None
    )
    if not found:
        raise StackFailure(
            f"find {name}", "not installed: run `bash scripts/install-engine-services.sh` (Debian's packages)"
        )
    return found


@dataclass
class Postgres:
    """A PostgreSQL server reachable with trust authentication as its superuser ``postgres``."""

    host: str
    port: int
    data_dir: Path | None = None
    """The data directory of a server the stack started (removed when the stack stops); None: the machine's."""

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one of its databases, with the driver Airflow 3.3 uses (psycopg 3)."""
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that); return its rows."""
        import psycopg

        with psycopg.connect(
            host=self.host,
            port=self.port,
            user="postgres",
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        ) as connection:
            cursor = connection.execute(sql.encode())
            return cursor.fetchall() if cursor.description else []

    def ready(self) -> bool | None:
        """True once the server accepts queries."""
        try:
            self.execute("SELECT 1")
            return True
        except Exception:  # psycopg.OperationalError while it starts
            return None


def start_postgres(processes: Processes, workdir: Path) -> Postgres:
    """A PostgreSQL server of the stack's own on a free port (trust authentication, no fsync).

    Its data directory is a new temporary directory of its own rather than under ``workdir``: run as
    root, the server runs as Debian's ``postgres`` user, which must be able to reach it.
    """
    initdb = _binary("initdb", ["/usr/lib/postgresql/*/bin/initdb"])
    server = str(Path(initdb).resolve().with_name("postgres"))
    root = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-postgres-"))
    data = root / "data"
    data.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: Debian's package creates its user
        user = pwd.getpwnam("postgres")
        for path in (root, data):
            os.chown(path, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    processes.start(
        "postgres",
        [*run_as, server, "-D", str(data), "-p", str(port), "-k", str(root)]
        + ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=300"],
        clean_environment(),
        workdir / "postgres.log",
    )
    postgres = Postgres("127.0.0.1", port, root)
    wait_for("start PostgreSQL", lambda: processes.check_alive() or postgres.ready(), 60, 0.5)
    return postgres


def start_redis(processes: Processes, workdir: Path) -> int:
    """A Redis server of the stack's own on a free port, in memory only; returns its port."""
    port = free_port()
    server = _binary("redis-server", ["/usr/bin/redis-server"])
    processes.start(
        "redis",
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        clean_environment(),
        workdir / "redis.log",
    )
    wait_for("start Redis", lambda: processes.check_alive() or (listening(port) or None), 30, 0.2)
    return port


def claim_redis_db(port: int, token: str) -> int:
    """Reserve a Redis database number no other stack uses (held for a day at most) and empty it."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, db=0)
    databases = int(client.config_get("databases").get("databases", 16))
    for number in range(1, databases):
        if client.set(REDIS_CLAIM.format(number=number), token, nx=True, ex=86400):
            redis.Redis(host="127.0.0.1", port=port, db=number).flushdb()
            return number
    raise StackFailure("claim a Redis database", f"all {databases - 1} are claimed by other stacks")


def release_redis_db(port: int, number: int) -> None:
    """Empty a claimed Redis database and give it back."""
    import redis

    redis.Redis(host="127.0.0.1", port=port, db=number).flushdb()
    redis.Redis(host="127.0.0.1", port=port, db=0).delete(REDIS_CLAIM.format(number=number))


def postgres_server(processes: Processes, workdir: Path, port: int = 5432) -> Postgres:
    """The machine's PostgreSQL when it answers on ``port``, else a server of the stack's own."""
    machine = Postgres("127.0.0.1", port)
    if listening(port) and machine.ready():
        return machine
    return start_postgres(processes, workdir)


def redis_server(processes: Processes, workdir: Path, port: int = 6379) -> int:
    """The machine's Redis when it answers on ``port``, else a server of the stack's own; its port."""
    return port if listening(port) else start_redis(processes, workdir)
