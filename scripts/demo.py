"""Run both jobs end to end on a local stack: moto as AWS, ``airflow standalone`` as Airflow.

``make demo`` runs this script: it starts moto in server mode on 127.0.0.1 (the AWS endpoint), seeds
it with a source distribution, an SNS topic and a public Route 53 hosted zone (``demo.example.com``),
starts ``airflow standalone`` (SQLite) on this repository's DAGs and plugins with the ``aws_default``
connection pointing at moto, then drives the jobs the way a user's script would, through the Airflow
REST API: a token from ``/auth/token``, the DAGs unpaused, a create job (with Route 53 on) and an
import job triggered. It prints each task's state as it changes, then the certificates with their
validation records, the distributions with their CNAME targets, the Route 53 records the create job
wrote (and that no step was left to a person), and the SNS messages sent. It exits 0 when both jobs succeed and 1 naming the failing step otherwise, and
always stops every process it started (also on Ctrl-C).

``make up`` runs it with ``--keep-running``: the same stack and jobs, then the stack stays up for the
UI until Ctrl-C. Its Airflow home is ``.airflow/`` in the repository (git-ignored), so the admin
password stays the same from one ``make up`` to the next.

The emulator issues certificates after a few seconds and the jobs poll every few seconds, so the
demo takes minutes, not the hours that DNS validation can take on real AWS.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import requests

# This script's folder is on sys.path when it runs as `python scripts/demo.py`.
import seed_emulator

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
"""The venv's bin directory: ``airflow standalone`` starts its components as ``airflow`` from PATH."""

CREATE_DAG = "ssl_create_certificates"
IMPORT_DAG = "ssl_import_certificate"
IMPORT_DAG_FILE = ROOT / "dags" / f"{IMPORT_DAG}.py"
ACCOUNT_ID = "123456789012"
"""moto's default account."""
CONNECTION_REGION = "eu-west-1"
"""Deliberately not us-east-1: the jobs must send ACM calls to us-east-1 whatever the connection says."""
RUN_MARKER = "CLOUDFRONT_SSL_DEMO_RUN"
"""Environment variable set on every process the demo starts, to find stragglers when stopping."""
TERMINAL_STATES = {"success", "failed"}
DEMO_ZONE = "demo.example.com"
"""The public hosted zone the demo's create job writes its DNS records to (Route 53 on)."""
T = TypeVar("T")


class DemoFailure(RuntimeError):
    """A step of the demo failed; ``step`` names it for the final message."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail


@dataclass
class Settings:
    """What one demo run uses: emulator timings, the jobs' size, where Airflow lives."""

    quick: bool
    keep_running: bool
    home: Path
    keep_home: bool
    port: int | None
    timeout_seconds: float

    @property
    def validation_wait_seconds(self) -> int:
        """How long moto keeps a requested certificate PENDING_VALIDATION before issuing it."""
        return 6 if self.quick else 10

    @property
    def poll_interval_seconds(self) -> int:
        """The create job's ``poll_interval_seconds``."""
        return 2 if self.quick else 5


# --- output ----------------------------------------------------------------------------------------

_START = time.monotonic()


def say(text: str = "") -> None:
    """Print one line of progress, prefixed with the time since the demo started."""
    elapsed = int(time.monotonic() - _START)
    prefix = f"[{elapsed // 60:2d}:{elapsed % 60:02d}] " if text else ""
    print(prefix + text, flush=True)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Announce a step; turn an unexpected error inside it into a :class:`DemoFailure` naming it."""
    say(f"▶ {name}")
    try:
        yield
    except (DemoFailure, KeyboardInterrupt):
        raise
    except Exception as error:  # any other error: say which step it broke
        raise DemoFailure(name, f"{type(error).__name__}: {error}") from error


def wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 1.0) -> T:
    """Call ``check`` until it returns something other than None; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise DemoFailure(what, f"not done after {timeout:.0f} s")
        time.sleep(interval)


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when nothing listens there on 127.0.0.1, else a free port the system picks."""
    if preferred:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- processes -------------------------------------------------------------------------------------


@dataclass
class Processes:
    """The processes the demo started, each in its own process group, and how to stop them all.

    Each gets its own session so that stopping it stops its children too (``airflow standalone``
    starts the scheduler, DAG processor, triggerer and API server, which start task processes), and
    so that a Ctrl-C in the terminal reaches only the demo, which then stops them in order.
    """

    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(
        self, name: str, command: list[str], env: dict[str, str], log_path: Path
    ) -> subprocess.Popen[bytes]:
        """Start ``command`` with its output in ``log_path``."""
        env = {**env, RUN_MARKER: self.marker}
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append((name, process))
        return process

    def check_alive(self, log_paths: dict[str, Path]) -> None:
        """Fail, with the end of its log, if a started process has exited."""
        for name, process in self.started:
            if process.poll() is not None:
                raise DemoFailure(
                    f"run {name}", f"exited with code {process.returncode}\n{tail(log_paths.get(name))}"
                )

    def stop_all(self) -> None:
        """Stop every process started, newest first: SIGTERM to its group, SIGKILL after a grace time."""
        for name, process in reversed(self.started):
            if process.poll() is None:
                say(f"  stopping {name} (process group {process.pid})")
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            # The group may outlive its leader (a component still shutting down): make sure it is gone.
            _signal_group(process.pid, signal.SIGKILL)
        # A process that left its group (a task runner can start its own session) still carries the
        # marker in its environment: find those by pid and stop them as well.
        for pid in self._marked_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.started.clear()

    def _marked_pids(self) -> list[int]:
        needle = f"{RUN_MARKER}={self.marker}".encode()
        pids = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:  # gone meanwhile, or not ours to read
                continue
        return [pid for pid in pids if pid != os.getpid()]


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path | None, lines: int = 30) -> str:
    """The last lines of a log file, indented, for an error message."""
    if not path or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last lines of {path} ---\n" + "\n".join("    " + line for line in text)


# --- the emulator ----------------------------------------------------------------------------------


@dataclass
class Emulator:
    """moto in server mode, and what the demo seeded in it."""

    url: str
    source_distribution_id: str = ""
    topic_arn: str = ""
    hosted_zone_id: str = ""

    def ready(self) -> bool | None:
        """True once the server answers."""
        try:
            requests.get(f"{self.url}/moto-api/data.json", timeout=2).raise_for_status()
            return True
        except requests.RequestException:
            return None

    def seed(self) -> None:
        """Create the source distribution and the domain owners' SNS topic."""
        seeded = seed_emulator.seed(self.url)
        self.source_distribution_id = seeded.source_distribution_id
        self.topic_arn = seeded.topic_arn
        self.hosted_zone_id = self.seed_hosted_zone()

    def seed_hosted_zone(self) -> str:
        """The public Route 53 hosted zone of the create job's names (created once)."""
        route53 = seed_emulator.emulator_client(self.url, "route53")
        for zone in route53.list_hosted_zones()["HostedZones"]:
            if zone["Name"] == f"{DEMO_ZONE}." and not zone.get("Config", {}).get("PrivateZone"):
                return zone["Id"].rsplit("/", 1)[-1]
        created = route53.create_hosted_zone(Name=DEMO_ZONE, CallerReference=f"demo-{uuid.uuid4().hex}")
        return created["HostedZone"]["Id"].rsplit("/", 1)[-1]

    def messages(self) -> list[dict[str, str]]:
        """The messages published to the seeded topic, oldest first, from moto's state dump."""
        data = requests.get(f"{self.url}/moto-api/data.json", timeout=10).json()
        result = []
        for topic in data.get("sns", {}).get("Topic", []):
            if topic.get("arn") != self.topic_arn:
                continue
            for sent in topic.get("sent_notifications", []):
                message = sent[1]
                try:  # the provider's SnsHook publishes with MessageStructure=json: {"default": text}
                    message = json.loads(message)["default"]
                except (ValueError, KeyError, TypeError):
                    pass
                result.append({"subject": sent[2] or "", "message": message})
        return result


# --- Airflow ---------------------------------------------------------------------------------------


def airflow_env(settings: Settings, emulator: Emulator, api_url: str, port: int) -> dict[str, str]:
    """The environment of ``airflow standalone``: SQLite, this repository's DAGs, AWS on the emulator."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Nothing of the caller's AWS or Airflow set-up may leak in: the demo never touches a real account.
        if not key.startswith(("AWS_", "AIRFLOW_", "AIRFLOW__"))
    }
    home = settings.home
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": api_url,
            # Task processes reach Airflow through the execution API: without this they would look
            # for it on port 8080 and every task would fail to start.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
            # One API worker is plenty for one user and leaves the 2 cores to the jobs.
            "AIRFLOW__API__WORKERS": "1",
            # Shared by the API server (which signs task tokens) and the scheduler.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|cloudfront_ssl)\..*",
            # New DAG files (another job landing while `make up` runs) show up within half a minute.
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": emulator.url, "region_name": CONNECTION_REGION},
                }
            ),
            # The jobs' default topic, so that jobs started from the UI notify too.
            "AIRFLOW_VAR_SSL_NOTIFICATION_TOPIC_ARN": emulator.topic_arn,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": CONNECTION_REGION,
            "MOTO_ACM_VALIDATION_WAIT": str(settings.validation_wait_seconds),
        }
    )
    return env


def admin_password(home: Path) -> str:
    """The admin's password in the simple auth manager's password file, written first if missing.

    The auth manager only generates passwords for users missing from the file, so writing it before
    Airflow starts gives the demo the password without reading Airflow's output.
    """
    path = password_file(home)
    if path.exists():
        passwords = json.loads(path.read_text() or "{}")
        if passwords.get("admin"):
            return passwords["admin"]
    password = secrets.token_urlsafe(12)
    path.write_text(json.dumps({"admin": password}) + "\n")
    path.chmod(0o600)
    return password


def password_file(home: Path) -> Path:
    """Where the simple auth manager keeps its users' passwords."""
    return home / "simple_auth_manager_passwords.json.generated"


def _run_path(dag_id: str, run_id: str) -> str:
    # Generated run ids hold ':' and '+': quote them so that no proxy or server reads them otherwise.
    return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"


@dataclass
class AirflowApi:
    """The Airflow REST API as the demo uses it, with the JWT from ``POST /auth/token``."""

    url: str
    token: str = ""

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def health(self) -> dict[str, Any] | None:
        """The health report, or None while the API server is not answering."""
        try:
            response = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5)
            return response.json() if response.ok else None
        except requests.RequestException:
            return None

    def sign_in(self, username: str, password: str) -> None:
        """Get a JWT for the user."""
        response = requests.post(
            f"{self.url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        if response.status_code not in (200, 201):
            raise DemoFailure(
                "sign in", f"POST /auth/token gave HTTP {response.status_code}: {response.text}"
            )
        self.token = response.json()["access_token"]

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One authenticated call to ``/api/v2``."""
        return requests.request(
            method, f"{self.url}/api/v2{path}", headers=self._headers(), timeout=30, **kwargs
        )

    def get(self, path: str, **params: Any) -> Any:
        """GET a resource as JSON; raise on an error status."""
        response = self.request("GET", path, params=params)
        response.raise_for_status()
        return response.json()

    def dag_exists(self, dag_id: str) -> bool:
        """Whether the DAG processor has parsed the DAG and the API knows it."""
        return self.request("GET", f"/dags/{dag_id}").status_code == 200

    def import_errors(self, file_name: str) -> list[str]:
        """The import errors of a DAG file, if it failed to parse."""
        errors = self.get("/importErrors", limit=100).get("import_errors", [])
        return [error["stack_trace"] for error in errors if error.get("filename", "").endswith(file_name)]

    def unpause(self, dag_id: str) -> None:
        """Unpause a DAG: runs of a paused DAG are queued but never start."""
        response = self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        if not response.ok:
            raise DemoFailure(f"unpause {dag_id}", f"HTTP {response.status_code}: {response.text}")

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """Start a job; return its run id. A conf that breaks the DAG's params is refused with HTTP 400."""
        response = self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        if not response.ok:
            raise DemoFailure(f"trigger {dag_id}", f"HTTP {response.status_code}: {response.text}")
        return response.json()["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        """A run's state: queued, running, success or failed."""
        return self.get(_run_path(dag_id, run_id))["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run, mapped ones included."""
        return self.get(f"{_run_path(dag_id, run_id)}/taskInstances", limit=1000)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        """A task's return value, or None when it has none."""
        response = self.request(
            "GET",
            f"{_run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/return_value",
            params={"map_index": map_index},
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        value = response.json().get("value")
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def task_log(self, dag_id: str, run_id: str, ti: dict[str, Any], lines: int = 15) -> str:
        """The last lines of a task instance's log (its latest try)."""
        path = f"{_run_path(dag_id, run_id)}/taskInstances/{ti['task_id']}/logs/{ti.get('try_number') or 1}"
        response = self.request("GET", path, params={"map_index": ti.get("map_index", -1)})
        if not response.ok:
            return f"(log not available: HTTP {response.status_code})"
        content = response.json().get("content", [])
        if isinstance(content, str):
            text = content.splitlines()
        else:
            text = []
            for entry in content:
                if isinstance(entry, dict):
                    event = str(entry.get("event", ""))
                    level = entry.get("level")
                    text.append(f"{level.upper()}: {event}" if level else event)
                    if entry.get("error_detail"):
                        detail = entry["error_detail"]
                        if isinstance(detail, list) and detail:
                            last = detail[-1]
                            text.append(f"{last.get('exc_type')}: {last.get('exc_value')}")
                else:
                    text.append(str(entry))
        return "\n".join("      " + line for line in text[-lines:])


# --- the jobs --------------------------------------------------------------------------------------


def create_job_conf(settings: Settings, emulator: Emulator) -> dict[str, Any]:
    """The create job's conf: one certificate per line of names, copied from the seeded source."""
    certificates = ["demo.example.com, www.demo.example.com"]
    if not settings.quick:
        certificates += ["api.demo.example.com", "*.cdn.demo.example.com, cdn.demo.example.com"]
    return {
        "certificates": certificates,
        "create_distributions": True,
        "source_distribution_id": emulator.source_distribution_id,
        "tags": {"project": "cloudfront-ssl-demo"},
        "notification_topic_arn": emulator.topic_arn,
        "poll_interval_seconds": settings.poll_interval_seconds,
        "validation_timeout_hours": 1,
        # Every name is in the seeded hosted zone: the job writes the validation records and points
        # the names itself, so no DNS step is left to a person.
        "route53_validation": True,
        "route53_aliases": True,
    }


def demo_certificate_bundle(names: list[str]) -> dict[str, str]:
    """A leaf certificate for ``names`` with its key and chain, from a throwaway root and intermediate CA.

    The chain holds the intermediate only (a chain must not include the self-signed root). EC P-256
    keys: CloudFront accepts them and they are made instantly.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def make(
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
        *,
        ca: bool,
        days: int,
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        issuer_name, issuer_key = issuer or (name, key)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    root_key, intermediate_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = make("Cloudfront SSL Demo Root CA", root_key, None, ca=True, days=3650)
    intermediate = make(
        "Cloudfront SSL Demo Intermediate CA", intermediate_key, (root.subject, root_key), ca=True, days=1825
    )
    leaf = make(names[0], leaf_key, (intermediate.subject, intermediate_key), ca=False, days=90)

    def pem(certificate: x509.Certificate) -> str:
        return certificate.public_bytes(serialization.Encoding.PEM).decode()

    return {
        "certificate_body": pem(leaf),
        "private_key": leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "certificate_chain": pem(intermediate),
    }


def import_job_conf(emulator: Emulator) -> dict[str, Any]:
    """The import job's conf: a freshly made certificate bundle and a distribution for its names."""
    return {
        "certificate_name": "demo-shop",
        **demo_certificate_bundle(["shop.demo.example.com", "www.shop.demo.example.com"]),
        "create_distributions": True,
        "source_distribution_id": emulator.source_distribution_id,
        "tags": {"project": "cloudfront-ssl-demo"},
        "notification_topic_arn": emulator.topic_arn,
    }


@dataclass
class Job:
    """One triggered job and what the demo saw of it."""

    label: str
    dag_id: str
    run_id: str = ""
    state: str = "queued"
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    task_states: dict[tuple[str, int], str] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    failed_steps: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Whether the run has finished, either way."""
        return self.state in TERMINAL_STATES

    def duration(self) -> str:
        """How long the run took (or has taken so far)."""
        seconds = int((self.finished or time.monotonic()) - self.started)
        return f"{seconds // 60}m {seconds % 60:02d}s"


def follow(api: AirflowApi, jobs: list[Job], timeout: float, on_tick: Callable[[], None]) -> None:
    """Print every task state change of the jobs until all have finished (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    width = max(len(job.label) for job in jobs)
    while not all(job.done for job in jobs):
        on_tick()
        for job in jobs:
            if job.done:
                continue
            for ti in sorted(api.task_instances(job.dag_id, job.run_id), key=_ti_order):
                key = (ti["task_id"], ti.get("map_index", -1))
                state = ti.get("state") or "none"
                if job.task_states.get(key) != state:
                    job.task_states[key] = state
                    if state != "none":
                        label = ti["task_id"] + (f"[{key[1]}]" if key[1] >= 0 else "")
                        note = f" (try {ti['try_number']})" if (ti.get("try_number") or 1) > 1 else ""
                        say(f"  {job.label:<{width}}  {label:<32} {state}{note}")
            state = api.run_state(job.dag_id, job.run_id)
            if state != job.state:
                job.state = state
                if job.done:
                    job.finished = time.monotonic()
                    say(f"  {job.label:<{width}}  job {job.run_id}: {state.upper()} after {job.duration()}")
        if all(job.done for job in jobs):
            return
        if time.monotonic() > deadline:
            running = ", ".join(f"{job.label} ({job.state})" for job in jobs if not job.done)
            raise DemoFailure("wait for the jobs", f"still running after {timeout:.0f} s: {running}")
        time.sleep(2)


def _ti_order(ti: dict[str, Any]) -> tuple[str, str, int]:
    return (ti.get("start_date") or "~", ti["task_id"], ti.get("map_index", -1))


def read_summary(api: AirflowApi, job: Job) -> dict[str, Any] | None:
    """The job's summary (spec section 7): the return value of its ``summary`` task, else of its last task."""
    summary = api.xcom(job.dag_id, job.run_id, "summary")
    if isinstance(summary, dict) and "certificates" in summary:
        return summary
    finished = [ti for ti in api.task_instances(job.dag_id, job.run_id) if ti.get("state") == "success"]
    for ti in sorted(finished, key=lambda ti: ti.get("end_date") or "", reverse=True):
        value = api.xcom(job.dag_id, job.run_id, ti["task_id"], ti.get("map_index", -1))
        if isinstance(value, dict) and "certificates" in value:
            return value
    return None


def explain_failure(api: AirflowApi, job: Job) -> None:
    """Name the failed steps of a job and show the end of their logs."""
    failed = [ti for ti in api.task_instances(job.dag_id, job.run_id) if ti.get("state") == "failed"]
    for ti in failed:
        name = ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else "")
        job.failed_steps.append(name)
        say(f"  {job.label}: step {name} failed; end of its log:")
        print(api.task_log(job.dag_id, job.run_id, ti), flush=True)
    if not failed:
        job.failed_steps.append("(no task failed: the run itself did)")


# --- the report ------------------------------------------------------------------------------------


def print_report(jobs: list[Job], messages: list[dict[str, str]], topic_arn: str) -> None:
    """Print what a user needs: certificates with validation records, distributions with CNAMEs, messages."""
    print("\n" + "=" * 100)
    for job in jobs:
        print(f"{job.label}: {job.dag_id} run {job.run_id}: {job.state.upper()} in {job.duration()}")
        summary = job.summary or {}
        if not summary:
            print("  (no summary)")
        for certificate in summary.get("certificates", []):
            print(f"  certificate {certificate['arn']}")
            print(f"    status {certificate.get('status')}; names: {', '.join(certificate.get('names', []))}")
            for record in certificate.get("validation_records") or []:
                print(f"    DNS validation record: {record['name']}  {record['type']}  {record['value']}")
        for distribution in summary.get("distributions", []):
            print(f"  distribution {distribution['id']} ({distribution['domain_name']})")
            for alias in distribution.get("aliases", []):
                print(f"    {alias}  CNAME  {distribution['domain_name']}")
        if summary.get("dns_records"):
            print(f"  Route 53 records the job wrote: {len(summary['dns_records'])}")
            for record in summary["dns_records"]:
                target = record.get("value") or f"alias {record['alias_target']['dns_name']}"
                print(f"    {record['name']}  {record['type']}  {target}  (hosted zone {record['zone_id']})")
        line = dns_line(summary)
        if line:
            print(f"  {line}")
        print()
    print(f"SNS messages published to {topic_arn}: {len(messages)}")
    for number, message in enumerate(messages, start=1):
        print(f"  --- message {number}: {message['subject']}")
        for line in message["message"].rstrip().splitlines():
            print(f"    {line}")
    print("=" * 100)


def dns_line(summary: dict[str, Any]) -> str | None:
    """Whether a job with Route 53 left a DNS step to a person: what it wrote, and what is left."""
    written = summary.get("dns_records") or []
    if not written:
        return None
    in_dns = {(record["name"].rstrip("."), record["type"]) for record in written}
    validation = {
        record["name"].rstrip(".")
        for certificate in summary.get("certificates", [])
        for record in certificate.get("validation_records") or []
    }
    aliases = [
        alias for distribution in summary.get("distributions", []) for alias in distribution["aliases"]
    ]
    left = sorted(name for name in validation if (name, "CNAME") not in in_dns)
    left += sorted(alias for alias in aliases if (alias, "A") not in in_dns)
    done = (
        f"{_count(len(validation) - len([n for n in left if n in validation]), 'validation record')} "
        f"written in Route 53, {_count(len(summary.get('distributions', [])), 'distribution')} created, "
        f"{_count(len(aliases) - len([n for n in left if n in aliases]), 'name')} pointed at CloudFront"
    )
    if left:
        return f"Left to a person: {', '.join(left)} ({done})"
    return f"No step was left to a person: {done}"


def result_line(jobs: list[Job], messages: list[dict[str, str]]) -> str:
    """The one-line outcome that ``make demo`` ends with (the e2e test reads it)."""
    parts = []
    for job in jobs:
        summary = job.summary or {}
        certificates = _count(len(summary.get("certificates", [])), "certificate")
        distributions = _count(len(summary.get("distributions", [])), "distribution")
        parts.append(f"{job.label} job {job.state} ({certificates}, {distributions})")
    ok = all(job.state == "success" for job in jobs)
    return (
        f"DEMO {'OK' if ok else 'FAILED'}: " + ", ".join(parts) + f", {_count(len(messages), 'SNS message')}"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# --- main ------------------------------------------------------------------------------------------


def run(settings: Settings, processes: Processes) -> int:
    """Start the stack, run the jobs, print the report; return the exit code."""
    logs = {"moto": settings.home / "moto.log", "airflow": settings.home / "airflow-standalone.log"}
    say(
        f"Demo on the AWS emulator: certificates are issued {settings.validation_wait_seconds} s after "
        f"they are requested and the create job checks every {settings.poll_interval_seconds} s "
        "(on real AWS this waits for your DNS records)."
    )
    say(f"Airflow home: {settings.home} (logs: {logs['moto'].name}, {logs['airflow'].name})")

    with step("start the AWS emulator (moto in server mode on 127.0.0.1)"):
        moto_port = free_port()
        emulator = Emulator(f"http://127.0.0.1:{moto_port}")
        moto_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        moto_env["MOTO_ACM_VALIDATION_WAIT"] = str(settings.validation_wait_seconds)
        processes.start(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            moto_env,
            logs["moto"],
        )
        wait_for("start the AWS emulator", lambda: processes.check_alive(logs) or emulator.ready(), 60, 0.5)
        say(f"  moto listens on {emulator.url}")

    with step("seed the emulator: a source distribution, an SNS topic and a Route 53 hosted zone"):
        emulator.seed()
        say(f"  source distribution {emulator.source_distribution_id}, topic {emulator.topic_arn}")
        say(f"  public hosted zone {DEMO_ZONE} ({emulator.hosted_zone_id})")

    with step("start airflow standalone (SQLite, LocalExecutor)"):
        port = settings.port or free_port(8080)
        api = AirflowApi(f"http://127.0.0.1:{port}")
        password = admin_password(settings.home)
        processes.start(
            "airflow",
            [str(BIN / "airflow"), "standalone"],
            airflow_env(settings, emulator, api.url, port),
            logs["airflow"],
        )

    with step(f"wait for Airflow to be healthy on {api.url}"):
        seen: dict[str, str] = {}

        def healthy() -> bool | None:
            processes.check_alive(logs)
            report = api.health()
            if not report:
                return None
            for component in ("metadatabase", "scheduler", "dag_processor", "triggerer"):
                status = (report.get(component) or {}).get("status") or "unknown"
                if seen.get(component) != status:
                    seen[component] = status
                    say(f"  {component}: {status}")
            return True if all(status == "healthy" for status in seen.values()) and len(seen) == 4 else None

        wait_for("wait for Airflow to be healthy", healthy, 300, 2)

    with step("sign in: POST /auth/token"):
        api.sign_in("admin", password)
        say("  got a JWT for user admin")

    with step("wait for the DAG processor to load the DAGs"):
        wait_for(
            f"load {CREATE_DAG}",
            lambda: processes.check_alive(logs) or _dag_loaded(api, CREATE_DAG, "ssl_create_certificates.py"),
            180,
            2,
        )
        say(f"  {CREATE_DAG} is loaded")
        wait_for(
            f"load {IMPORT_DAG}",
            lambda: processes.check_alive(logs) or _dag_loaded(api, IMPORT_DAG, IMPORT_DAG_FILE.name),
            120,
            2,
        )
        say(f"  {IMPORT_DAG} is loaded")

    jobs = [Job("create", CREATE_DAG), Job("import", IMPORT_DAG)]
    confs = {CREATE_DAG: create_job_conf(settings, emulator), IMPORT_DAG: import_job_conf(emulator)}

    for job in jobs:
        with step(f"unpause and trigger {job.dag_id} (POST /api/v2/dags/{job.dag_id}/dagRuns)"):
            api.unpause(job.dag_id)
            job.run_id = api.trigger(job.dag_id, confs[job.dag_id])
            job.started = time.monotonic()
            shown = {
                k: v
                for k, v in confs[job.dag_id].items()
                if k not in ("private_key", "certificate_body", "certificate_chain")
            }
            say(
                f"  run {job.run_id}, conf {json.dumps(shown)}"
                + (" + PEM bundle" if job.dag_id == IMPORT_DAG else "")
            )

    with step("follow the jobs, task by task"):
        follow(api, jobs, settings.timeout_seconds, lambda: processes.check_alive(logs))

    with step("read the results"):
        for job in jobs:
            job.summary = read_summary(api, job)
            if job.state != "success":
                explain_failure(api, job)
        messages = emulator.messages()

    print_report(jobs, messages, emulator.topic_arn)
    line = result_line(jobs, messages)
    failed = [job for job in jobs if job.state != "success"]
    if failed:
        for job in failed:
            say(f"FAILED: {job.label} job ({job.dag_id} {job.run_id}) at step {', '.join(job.failed_steps)}")
    print(line, flush=True)

    if settings.keep_running:
        keep_running(settings, api.url, emulator, processes, logs)
    return 1 if failed else 0


def _dag_loaded(api: AirflowApi, dag_id: str, file_name: str) -> bool | None:
    if api.dag_exists(dag_id):
        return True
    errors = api.import_errors(file_name)
    if errors:
        raise DemoFailure(f"load {dag_id}", f"{file_name} does not import:\n{errors[0]}")
    return None


def keep_running(
    settings: Settings, url: str, emulator: Emulator, processes: Processes, logs: dict[str, Path]
) -> None:
    """Keep the stack up for the UI until Ctrl-C (or until a component dies)."""
    print(
        f"\nThe stack is running.\n"
        f"  Airflow UI and REST API: {url}  (user admin)\n"
        f"  admin password:          in {password_file(settings.home)}\n"
        f"  AWS emulator (moto):     {emulator.url}  (state: {emulator.url}/moto-api/)\n"
        f"  source distribution:     {emulator.source_distribution_id}\n"
        f"  SNS topic:               {emulator.topic_arn}\n"
        f"  logs:                    {settings.home}\n"
        "Press Ctrl-C to stop everything.",
        flush=True,
    )
    try:
        while True:
            processes.check_alive(logs)
            time.sleep(2)
    except KeyboardInterrupt:
        # Ctrl-C is how `make up` is meant to end: the exit code stays that of the jobs.
        print("\nStopping the stack.", flush=True)


def parse_args(argv: list[str] | None = None) -> Settings:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one certificate per job and shorter waits (CI)")
    parser.add_argument(
        "--keep-running", action="store_true", help="keep the stack up after the jobs, until Ctrl-C (make up)"
    )
    parser.add_argument(
        "--home",
        type=Path,
        help="Airflow home (default: a temporary directory, or .airflow/ with --keep-running)",
    )
    parser.add_argument(
        "--port", type=int, help="API server port (default: 8080 when free, else any free port)"
    )
    parser.add_argument(
        "--timeout", type=float, default=420, help="seconds to wait for the jobs (default 420)"
    )
    args = parser.parse_args(argv)
    if args.home:
        home, keep = args.home.resolve(), True
    elif args.keep_running:
        home, keep = ROOT / ".airflow", True
    else:
        home, keep = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-demo-")), False
    return Settings(
        quick=args.quick,
        keep_running=args.keep_running,
        home=home,
        keep_home=keep,
        port=args.port,
        timeout_seconds=args.timeout,
    )


def prepare_home(settings: Settings) -> None:
    """Create the Airflow home; in a kept home, forget the last stack's database and logs.

    The emulator keeps its state in memory, so runs recorded by an earlier stack would point at
    certificates and distributions that no longer exist. The password file is kept.
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    for name in (
        "airflow.db",
        "airflow.db-wal",
        "airflow.db-shm",
        "logs",
        "moto.log",
        "airflow-standalone.log",
    ):
        path = settings.home / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the demo, stop everything, return the exit code."""
    settings = parse_args(argv)
    prepare_home(settings)
    processes = Processes()

    def stop_on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # SIGTERM (a CI timeout, `kill`) must clean up like Ctrl-C does; SIGINT is set explicitly because a
    # shell starting the demo in the background hands it down ignored.
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    code = 1
    try:
        code = run(settings, processes)
    except DemoFailure as failure:
        print(f"\nDEMO FAILED at step '{failure.step}': {failure.detail}", flush=True)
        if settings.home.exists():
            print(tail(settings.home / "airflow-standalone.log", 20), flush=True)
        code = 1
    except KeyboardInterrupt:
        print("\nInterrupted.", flush=True)
        code = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("Stopping every process the demo started")
        processes.stop_all()
        if code == 0 and not settings.keep_home:
            shutil.rmtree(settings.home, ignore_errors=True)
        elif not settings.keep_home:
            say(f"Logs kept in {settings.home}")
        say(f"Done (exit code {code}).")
    return code


if __name__ == "__main__":
    sys.exit(main())
