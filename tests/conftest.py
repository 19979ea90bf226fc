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


MINISTACK_PORT = free_port()
MINISTACK_URL = f"http://127.0.0.1:{MINISTACK_PORT}"
TENANT_CONN_ID = "aws_tenants"
"""The connection of tenant-mode tests: CloudFront at ministack (its ``service_config``), the rest at moto."""


def tenant_connection(conn_id: str, cloudfront_url: str) -> None:
    """Define (as an environment variable) a connection whose CloudFront is at ``cloudfront_url``, the rest at moto."""
    import json

    from devstack.environment import CONNECTION_REGION
    from devstack.ministack import tenant_connection_extra

    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": tenant_connection_extra(MOTO_URL, cloudfront_url, CONNECTION_REGION),
        }
    )


tenant_connection(TENANT_CONN_ID, MINISTACK_URL)


@pytest.fixture(scope="session")
def ministack_server(moto_server):
    """ministack (CloudFront SaaS Manager) on 127.0.0.1, beside moto, for the whole session."""
    from devstack.ministack import MiniStack

    stack = MiniStack.start(MINISTACK_PORT, log=_HOME / "ministack.log")
    yield stack
    stack.stop()


@pytest.fixture
def tenant_aws(aws, ministack_server):
    """Fresh moto and ministack states: moto seeded as for ``aws``, ministack holding a multi-tenant
    distribution; see :class:`tests.tenants.TenantWorld`."""
    from tests.tenants import TenantWorld

    ministack_server.reset()
    return TenantWorld(aws, ministack_server)
