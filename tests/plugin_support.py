"""What the plugin tests need: an Airflow API server app (in-process or a real server) and sign-in.

The auth manager is Airflow's SimpleAuthManager with one admin user whose password is in a file the
tests write, so a token is obtained exactly as a script would: ``POST /auth/token``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

USERNAME = "admin"
PASSWORD = "test-password-not-secret"


@contextmanager
def signed_in_airflow(home: Path) -> Iterator[None]:
    """Airflow set to SimpleAuthManager with one admin whose password the tests know, then restored.

    The settings are environment variables, read by in-process apps and inherited by servers started
    meanwhile; they are put back afterwards so that other tests see Airflow as they left it.
    """
    passwords = home / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({USERNAME: PASSWORD}))
    settings = {
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "tests-only-jwt-secret-0123456789abcdef0123456789abcdef0123456789abcdef",
        # The tests' listings must be fresh; the cache itself is tested on its own.
        "AIRFLOW__SSL_CERTIFICATES__CACHE_SECONDS": "0",
    }
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


def reset_catalog_cache() -> None:
    """Forget the plugin's cached certificate listings (the emulator is reset between tests)."""
    module = sys.modules.get("ssl_certificates.app")
    if module is not None:
        module._catalogs.clear()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def api_server(home: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A real ``airflow api-server`` on 127.0.0.1 (a free port); yields its base URL, stops it after."""
    port = free_port()
    log_path = home / f"api-server-{port}.log"
    environment = {**os.environ, **(env or {})}
    environment["AIRFLOW__API__BASE_URL"] = f"http://127.0.0.1:{port}"
    environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "airflow"),
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=environment,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"api-server exited: {log_path.read_text()[-3000:]}")
                try:
                    if requests.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"api-server did not start: {log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


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
