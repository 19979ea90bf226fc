"""Test set-up: an Airflow home on SQLite, and moto in server mode on 127.0.0.1 as the AWS endpoint.

Both come from the development stack (:mod:`devstack`), the same as ``make demo``'s. The environment
is set before Airflow is imported, so every test (and every DAG run started with ``dag.test()``) uses
the temporary Airflow home and the emulator, never a real account.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from devstack.environment import AIRFLOW, airflow_environment
from devstack.processes import free_port

_HOME = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-airflow-"))
MOTO_PORT = free_port()
MOTO_URL = f"http://127.0.0.1:{MOTO_PORT}"
VALIDATION_WAIT_SECONDS = 2
"""Requested certificates turn ISSUED this quickly on the tests' emulator."""

for _name in [name for name in os.environ if name.startswith("AWS_")]:
    os.environ.pop(_name)
os.environ.update(airflow_environment(_HOME, MOTO_URL))
# The emulator takes far more than ACM's 10 calls a second: a 100-certificate job would spend most of its
# run waiting for the production default of 5. Tests of the cap itself set their own rate.
os.environ["AIRFLOW__SSL_CERTIFICATES__ACM_CALLS_PER_SECOND"] = "100"
# Every process of a test (dag.test() in this one, racing jobs and api-servers in others) encrypts and
# reads Variables and connections with one key, as the components of one deployment do.
os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", "aW5zZWN1cmUtdGVzdC1rZXktZm9yLWxvY2FsLXVzZTE=")
# A name a page template uses but its data lacks fails the render, instead of showing as empty.
os.environ["AIRFLOW__SSL_CERTIFICATES__STRICT_TEMPLATES"] = "True"


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database in the temporary Airflow home."""
    subprocess.run([AIRFLOW, "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return _HOME


@pytest.fixture(scope="session")
def moto_server():
    """moto in server mode on 127.0.0.1, in this process (so tests can reach into its state)."""
    from devstack.emulator import Emulator

    emulator = Emulator.start(VALIDATION_WAIT_SECONDS, port=MOTO_PORT)
    yield MOTO_URL
    emulator.stop()


@pytest.fixture
def aws(moto_server):
    """A fresh emulator state with a source distribution and an SNS topic; see :class:`tests.aws.Emulator`."""
    from tests.aws import Emulator

    emulator = Emulator(moto_server)
    emulator.reset()
    emulator.seed()
    return emulator
