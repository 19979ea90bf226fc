"""The plugin's pages under an ``[api] base_url`` with a path, served by a real ``airflow api-server``.

Every link of every page, resolved against the page's own URL, must stay under the base URL and
answer: an absolute link (``/dags/...``) would leave the path and break behind a proxy that serves
Airflow at ``https://example.org/airflow/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import pytest
import requests

from tests.dag_runs import load_dag, run_dag
from tests.plugin_support import PASSWORD, USERNAME, free_port, serialize_dags, signed_in_airflow

BASE_PATH = "/company/airflow/"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "action", "src"):
            if attrs.get(name) is not None and tag in ("a", "form", "link", "script", "iframe"):
                self.links.append(attrs[name])


def _links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.links


@contextmanager
def _api_server_under(home: Path, path: str) -> Iterator[str]:
    """``airflow api-server`` with ``[api] base_url`` ending in ``path``; yields that base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}{path}"
    environment = {
        **os.environ,
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}execution/",
    }
    log_path = home / f"api-server-base-url-{port}.log"
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
        try:
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, log_path.read_text()[-3000:]
                try:
                    if requests.get(f"{base}api/v2/monitor/health", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.5)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def served(airflow_db, aws):
    with signed_in_airflow(airflow_db):
        serialize_dags()
        with _api_server_under(airflow_db, BASE_PATH) as base:
            response = requests.post(
                f"{base}auth/token", json={"username": USERNAME, "password": PASSWORD}, timeout=30
            )
            assert response.status_code in (200, 201), response.text
            yield base, {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_every_link_of_every_page_works_under_a_base_url_with_a_path(airflow_db, aws, served):
    job = run_dag(
        load_dag("ssl_create_certificates"),
        {
            "certificates": ["shop.example.com, www.shop.example.com"],
            "source_distribution_id": aws.source_distribution_id,
            "notification_topic_arn": aws.topic_arn,
            "poll_interval_seconds": 1,
        },
    )
    assert job.state == "success", job.task_states
    base, auth = served
    plugin = f"{base}ssl-certificates/"
    run = quote(job.run_id, safe="")

    seen: dict[str, int] = {}
    to_visit = [plugin]
    pages = 0
    while to_visit:
        page = to_visit.pop()
        response = requests.get(page, headers=auth, timeout=60)
        assert response.status_code == 200, (page, response.status_code)
        pages += 1
        for link in _links(response.text):
            target = urljoin(page, link).split("#")[0]
            assert target.startswith(base), f"{link!r} on {page} leaves {base}"
            if target in seen:
                continue
            answer = requests.get(target, headers=auth, timeout=60)
            seen[target] = answer.status_code
            assert answer.status_code == 200, (page, link, answer.status_code)
            # Follow the plugin's own HTML pages; Airflow's pages are only checked to answer.
            if target.startswith(plugin) and "text/html" in answer.headers.get("content-type", ""):
                to_visit.append(target)

    # The certificate's row led to its job view, and the job view to the run in Airflow's own UI.
    assert f"{plugin}jobs/ssl_create_certificates/{run}" in seen, sorted(seen)
    assert f"{base}dags/ssl_create_certificates/runs/{run}" in seen, sorted(seen)
    assert pages >= 3
    # Without a token, the pages under the base path are refused just as at the root.
    assert requests.get(plugin, timeout=30).status_code == 401
    assert urlsplit(plugin).path == f"{BASE_PATH}ssl-certificates/"
