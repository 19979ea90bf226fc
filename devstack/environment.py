"""The environment every Airflow process of a development stack gets: its home, this repository's DAGs
and plugins, the metadata database, the ``aws_default`` connection on the emulator, and a known admin.

Nothing of the caller's AWS or Airflow set-up leaks in (:func:`clean_environment`): a development stack
never touches a real account.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository."""
BIN = Path(sys.executable).parent
"""The virtualenv's bin directory, where ``airflow`` is."""
AIRFLOW = str(BIN / "airflow")
CONNECTION_REGION = "eu-west-1"
"""The connection's region is deliberately not us-east-1: the jobs must send ACM calls there anyway."""
ADMIN = "admin"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def clean_environment() -> dict[str, str]:
    """The caller's environment without any ``AWS_*`` or ``AIRFLOW*`` variable, the venv first on PATH."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "AIRFLOW"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


SQLITE_BUSY_TIMEOUT_SECONDS = 60
"""How long a writer waits for SQLite's lock before it fails with "database is locked"."""


def sqlite_url(home: Path) -> str:
    """The SQLite metadata database in an Airflow home, with a busy timeout of a minute.

    SQLite lets one process write at a time; the driver's default of five seconds made concurrent
    writers fail at once. It still serialises every write: stacks that serve bursts of jobs use
    PostgreSQL (:func:`devstack.stack.standalone`), SQLite is the tests' in-process database and the
    fallback where PostgreSQL is not installed.
    """
    return f"sqlite:///{home / 'airflow.db'}?timeout={SQLITE_BUSY_TIMEOUT_SECONDS}"


def airflow_environment(home: Path, emulator_url: str, database_url: str | None = None) -> dict[str, str]:
    """The settings shared by every Airflow process of a stack (and by the tests' in-process Airflow)."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url or sqlite_url(home),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # The emulator issues certificates in seconds: a job started with the form's defaults (a poll
        # every five minutes, right for real DNS validation) checks every 5 s here instead.
        "AIRFLOW__SSL_CERTIFICATES__MAX_POLL_INTERVAL_SECONDS": "5",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": CONNECTION_REGION,
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": emulator_url, "region_name": CONNECTION_REGION},
            }
        ),
    }


def api_environment(url: str, jwt_secret: str | None = None) -> dict[str, str]:
    """Where the API server is, for itself and for task processes and triggerers that call it.

    Task processes reach Airflow through the execution API: without its URL they look for it on port
    8080 and every task fails to start. The JWT secret signs task tokens and must be the same in the
    API server, the scheduler and the workers.
    """
    host, _, port = url.removeprefix("http://").partition(":")
    return {
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": port,
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        # One API worker is plenty for one user and leaves the two cores to the jobs.
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret or secrets.token_urlsafe(32),
    }


def password_file(home: Path) -> Path:
    """Where Airflow's simple auth manager keeps its users' passwords by default."""
    return home / "simple_auth_manager_passwords.json.generated"


def _known(passwords: Path) -> dict[str, str]:
    try:
        known = json.loads(passwords.read_text() or "{}") if passwords.exists() else {}
    except ValueError:
        return {}
    return known if isinstance(known, dict) else {}


def _write(passwords: Path, known: dict[str, str]) -> None:
    passwords.write_text(json.dumps(known) + "\n")
    passwords.chmod(0o600)


def admin_password(passwords: Path, password: str | None = None) -> str:
    """The admin's password in a simple-auth-manager password file, written first if missing.

    The auth manager only generates passwords for users missing from the file, so writing it before
    Airflow starts gives the caller the password without reading Airflow's output. Other users'
    passwords in the file are kept.
    """
    known = _known(passwords)
    if password is None and known.get(ADMIN):
        return known[ADMIN]
    _write(passwords, {**known, ADMIN: password or secrets.token_urlsafe(12)})
    return _known(passwords)[ADMIN]


VIEWER = "viewer"
USER = "user"
DEMO_USERS = {VIEWER: ("viewer", "viewer"), USER: ("user", "user")}
"""The development stack's other users, ``{name: (SimpleAuthManager role, password)}``, beside the
admin: a viewer reads the page and its jobs but may not start one; a user also starts jobs. Their
passwords are fixed and documented (README, ``make up``'s output): the stack listens on 127.0.0.1 and
its AWS is the emulator."""


def demo_users(passwords: Path) -> None:
    """Write :data:`DEMO_USERS`' passwords into the password file (the admin's is left as it is)."""
    _write(passwords, {**_known(passwords), **{name: password for name, (_, password) in DEMO_USERS.items()}})


def auth_environment(passwords: Path, *, with_demo_users: bool = False) -> dict[str, str]:
    """Airflow's simple auth manager with an admin whose password is in ``passwords``, and with
    ``with_demo_users`` the viewer and the user of :data:`DEMO_USERS` (their passwords written there)."""
    users = [f"{ADMIN}:admin"]
    if with_demo_users:
        demo_users(passwords)
        users += [f"{name}:{role}" for name, (role, _) in DEMO_USERS.items()]
    return {
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(users),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
    }
