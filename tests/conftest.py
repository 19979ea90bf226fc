"""Test set-up: an Airflow home on SQLite, and moto in server mode on 127.0.0.1 as the AWS endpoint.

The environment is set before Airflow is imported, so every test (and every DAG run started with
``dag.test()``) uses the temporary Airflow home and the emulator, never a real account.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
CONNECTION_REGION = "eu-west-1"
"""The test connection's default region is deliberately not us-east-1: ACM calls must still go there."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_HOME = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-airflow-"))
MOTO_PORT = _free_port()
MOTO_URL = f"http://127.0.0.1:{MOTO_PORT}"

os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_HOME / "logs"),
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|cloudfront_ssl)\..*",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": CONNECTION_REGION,
        "MOTO_ACM_VALIDATION_WAIT": "2",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": MOTO_URL, "region_name": CONNECTION_REGION},
            }
        ),
    }
)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database in the temporary Airflow home."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _HOME


@pytest.fixture(scope="session")
def moto_server():
    """moto in server mode on 127.0.0.1, in this process (so its settings can be patched)."""
    from moto import settings
    from moto.server import ThreadedMotoServer

    # Issue requested certificates quickly; moto reads this setting on every check.
    settings.ACM_VALIDATION_WAIT = 2
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=MOTO_PORT, verbose=False)
    server.start()
    yield MOTO_URL
    server.stop()


@pytest.fixture
def aws(moto_server):
    """A fresh emulator state with a source distribution and an SNS topic; see :class:`tests.aws.Emulator`."""
    from tests.aws import Emulator

    emulator = Emulator(moto_server)
    emulator.reset()
    emulator.seed()
    return emulator
