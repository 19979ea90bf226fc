"""What the plugin tests need: an Airflow API server app (in-process or a real server) and sign-in.

The auth manager is Airflow's SimpleAuthManager with one admin user whose password is in a file the
tests write, so a token is obtained exactly as a script would: ``POST /auth/token``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devstack.environment import ADMIN, admin_password, api_environment, auth_environment
from devstack.processes import free_port
from devstack.stack import AirflowStack

USERNAME = ADMIN
PASSWORD = "test-password-not-secret"
JWT_SECRET = "tests-only-jwt-secret-0123456789abcdef0123456789abcdef0123456789abcdef"

__all__ = ["PASSWORD", "USERNAME", "api_server", "free_port", "signed_in_airflow", "token"]


@contextmanager
def environment(settings: dict[str, str]) -> Iterator[None]:
    """Set ``settings`` in this process's environment, and put back what was there afterwards."""
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def signed_in_airflow(home: Path) -> Iterator[None]:
    """Airflow set to SimpleAuthManager with one admin whose password the tests know, then restored.

    The settings are environment variables, read by in-process apps and inherited by servers started
    meanwhile; they are put back afterwards so that other tests see Airflow as they left it.
    """
    passwords = home / "simple_auth_manager_passwords.json"
    admin_password(passwords, PASSWORD)
    settings = {
        **auth_environment(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET,
        # The tests' listings must be fresh; the cache itself is tested on its own.
        "AIRFLOW__SSL_CERTIFICATES__CACHE_SECONDS": "0",
    }
    with environment(settings):
        yield


def reset_catalog_cache() -> None:
    """Forget the plugin's cached certificate listings (the emulator is reset between tests)."""
    module = sys.modules.get("ssl_certificates.app")
    if module is not None:
        module._catalogs.clear()


@contextmanager
def api_server(home: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A real ``airflow api-server`` on 127.0.0.1 (a free port); yields its base URL, stops it after."""
    url = f"http://127.0.0.1:{free_port()}"
    environment = {
        **os.environ,
        **api_environment(url, os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET")),
        **(env or {}),
    }
    stack = AirflowStack(home=home, env=environment, url=url, password=PASSWORD)
    stack.start(f"api-server-{url.rsplit(':', 1)[1]}", "api-server")
    try:
        stack.wait_healthy(components=(), timeout=120)
        yield url
    finally:
        stack.stop()


def token(client: Any, base: str = "") -> str:
    """A JWT for the test admin from ``POST /auth/token`` (a TestClient or ``requests``)."""
    response = client.post(f"{base}/auth/token", json={"username": USERNAME, "password": PASSWORD})
    assert response.status_code in (200, 201), response.text
    return response.json()["access_token"]


@contextmanager
def without_retries(dag: Any) -> Iterator[Any]:
    """The DAG with every task's retries set to 0 (``dag.test()`` waits out retry delays for real)."""
    saved = {task.task_id: task.retries for task in dag.tasks}
    for task in dag.tasks:
        task.retries = 0
    try:
        yield dag
    finally:
        for task in dag.tasks:
            task.retries = saved[task.task_id]


def serialize_dags() -> list[str]:
    """Write every DAG of the configured bundles to the metadata DB, as the DAG processor would.

    What ``dag.test()`` does before it runs a DAG, without running one: afterwards a real API server
    knows the DAGs (their trigger forms, their params for trigger-time validation). Returns the
    DAG ids written.
    """
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    dag_ids: list[str] = []
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        assert not bag.import_errors, bag.import_errors
        sync_bag_to_db(bag, bundle.name, bundle.version)
        dag_ids.extend(bag.dag_ids)
    return dag_ids
