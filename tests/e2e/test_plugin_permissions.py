"""Who may see and do what on the SSL Certificates pages and API, as Airflow's auth manager decides.

Two set-ups: Airflow's SimpleAuthManager in the API server app (users of each role and one with no
role), and a real ``airflow api-server`` whose auth manager lets some users use only one of the job
DAGs (:mod:`tests.e2e.auth_managers`). In both, the plugin's answers are compared with what Airflow's
own REST API answers the same user.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import pki
from tests.dag_runs import ROOT
from tests.plugin_support import (
    api_server,
    environment,
    reset_catalog_cache,
    serialize_dags,
    signed_in_airflow,
)

PLUGIN = "/ssl-certificates"
API = f"{PLUGIN}/api"
CREATE = "ssl_create_certificates"
IMPORT = "ssl_import_certificate"
PASSWORD = "permission-tests-password"
ROLES = {"admin": "admin", "op": "op", "user": "user", "viewer": "viewer", "nobody": ""}
"""User name → SimpleAuthManager role ("" is a signed-in user with no role at all)."""

READ_PATHS = [
    f"{PLUGIN}/",
    f"{PLUGIN}/jobs",
    f"{PLUGIN}/new",
    f"{PLUGIN}/docs",
    f"{PLUGIN}/redoc",
    f"{PLUGIN}/openapi.json",
    f"{API}/certificates",
    f"{API}/distributions",
    f"{API}/jobs",
]


@contextmanager
def _users(home: Path, users: dict[str, str]) -> Iterator[None]:
    """SimpleAuthManager with ``users`` (name → role), all with :data:`PASSWORD`, then as before."""
    passwords = home / "permission-test-passwords.json"
    passwords.write_text(json.dumps(dict.fromkeys(users, PASSWORD)))
    settings = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{name}:{role}" for name, role in users.items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }
    with environment(settings):
        yield


def _token(client: Any, username: str, base: str = "") -> str:
    response = client.post(f"{base}/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code in (200, 201), response.text
    return response.json()["access_token"]


def _create_conf(aws) -> dict[str, Any]:
    return {
        "certificates": ["perm.example.com, www.perm.example.com"],
        "source_distribution_id": aws.source_distribution_id,
        "notification_topic_arn": aws.topic_arn,
    }


def _import_conf() -> dict[str, Any]:
    leaf = pki.make_leaf(pki.make_root(), ["imported.example.com"])
    return {
        "certificate_name": "imported",
        "certificate_body": leaf.cert_pem(),
        "private_key": leaf.key_pem(),
    }


def _tagged_certificate(aws, name: str, dag_id: str, run_id: str) -> str:
    """A certificate in ACM that the given job made, as its tags say."""
    return aws.acm.request_certificate(
        DomainName=name,
        ValidationMethod="DNS",
        Tags=[{"Key": "airflow:dag_id", "Value": dag_id}, {"Key": "airflow:run_id", "Value": run_id}],
    )["CertificateArn"]


def _delete_runs(delete: Any, runs: list[tuple[str, str]]) -> None:
    for dag_id, run_id in runs:
        response = delete(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        assert response.status_code in (204, 404), response.text


# --- SimpleAuthManager: a user of each role, and one with no role -------------------------------------


@pytest.fixture(scope="module")
def simple(airflow_db):
    """A TestClient on the API server app with SimpleAuthManager users of every role; yields
    ``(client, {user: auth headers})``."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with signed_in_airflow(airflow_db), _users(airflow_db, ROLES):
        assert {CREATE, IMPORT} <= set(serialize_dags())
        with TestClient(create_app()) as client:
            headers = {name: {"Authorization": f"Bearer {_token(client, name)}"} for name in ROLES}
            created: list[tuple[str, str]] = []
            yield client, headers, created
            _delete_runs(lambda path: client.delete(path, headers=headers["admin"]), created)


def test_without_sign_in_every_page_endpoint_and_the_api_docs_answer_401(simple, aws):
    client, _, _ = simple
    for path in [*READ_PATHS, f"{API}/jobs/{CREATE}/any", f"{PLUGIN}/jobs/{CREATE}/any"]:
        assert client.get(path).status_code == 401, path
    for path in (f"{API}/plan", f"{API}/jobs"):
        assert client.post(path, json=_create_conf(aws)).status_code == 401, path
    bad = {"Authorization": "Bearer not-a-token"}
    assert client.get(f"{PLUGIN}/docs", headers=bad).status_code in (401, 403)


def test_each_role_gets_what_airflow_itself_gives_it(simple, aws):
    client, headers, created = simple
    reset_catalog_cache()
    airflow_run = client.post(
        f"/api/v2/dags/{CREATE}/dagRuns",
        json={"logical_date": None, "conf": _create_conf(aws)},
        headers=headers["admin"],
    )
    assert airflow_run.status_code == 200, airflow_run.text
    run_id = airflow_run.json()["dag_run_id"]
    created.append((CREATE, run_id))
    _tagged_certificate(aws, "made.example.com", CREATE, run_id)

    for name, role in ROLES.items():
        auth = headers[name]
        # What Airflow's own API answers this user for the job DAG's runs.
        airflow_read = client.get(f"/api/v2/dags/{CREATE}/dagRuns/{run_id}", headers=auth).status_code
        expected_read = 403 if not role else 200
        assert airflow_read == expected_read, (name, airflow_read)
        for path in [*READ_PATHS, f"{API}/jobs/{CREATE}/{run_id}", f"{PLUGIN}/jobs/{CREATE}/{run_id}"]:
            assert client.get(path, headers=auth).status_code == expected_read, (name, path)
        plan = client.post(f"{API}/plan", json=_create_conf(aws), headers=auth)
        assert plan.status_code == expected_read, (name, plan.text)
        if expected_read == 200:
            listed = client.get(
                f"{API}/certificates", params={"cname": "made.example.com"}, headers=auth
            ).json()
            assert [c["job"]["run_id"] for c in listed["certificates"]] == [run_id], name
            page = client.get(f"{PLUGIN}/new", headers=auth).text
            assert ('data-may-start="true"' in page) == (role in ("user", "op", "admin")), name

    # Start: only for a user who may trigger the DAG (SimpleAuthManager: the user role and up).
    for name, role in ROLES.items():
        started = client.post(f"{API}/jobs", json=_create_conf(aws), headers=headers[name])
        if role in ("user", "op", "admin"):
            assert started.status_code == 200, (name, started.text)
            body = started.json()
            created.append((CREATE, body["run_id"]))
            assert body["dag_id"] == CREATE and body["href"].startswith(f"jobs/{CREATE}/")
            run = client.get(
                f"/api/v2/dags/{CREATE}/dagRuns/{body['run_id']}", headers=headers["admin"]
            ).json()
            assert run["triggering_user_name"] == name  # started as the signed-in user
        else:
            assert started.status_code == 403, (name, started.text)
    viewer_via_airflow = client.post(
        f"/api/v2/dags/{CREATE}/dagRuns",
        json={"logical_date": None, "conf": _create_conf(aws)},
        headers=headers["viewer"],
    )
    assert viewer_via_airflow.status_code == 403


# --- An auth manager that allows a user only some DAGs, in a real API server ------------------------


@pytest.fixture(scope="module")
def some_dags(airflow_db):
    """A real API server whose auth manager limits ``webteam`` to the create DAG and ``importer`` to the
    import DAG; yields ``(url, {user: auth headers})``."""
    users = {"admin": "admin", "webteam": "user", "importer": "user"}
    with signed_in_airflow(airflow_db), _users(airflow_db, users):
        assert {CREATE, IMPORT} <= set(serialize_dags())
        environment = {
            "AIRFLOW__CORE__AUTH_MANAGER": "tests.e2e.auth_managers.SomeDagsAuthManager",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        with api_server(airflow_db, environment) as url:
            headers = {name: {"Authorization": f"Bearer {_token(requests, name, url)}"} for name in users}
            created: list[tuple[str, str]] = []
            yield url, headers, created
            _delete_runs(
                lambda path: requests.delete(f"{url}{path}", headers=headers["admin"], timeout=30), created
            )


def test_a_user_allowed_only_some_dags_sees_only_their_jobs_and_certificates(some_dags, aws):
    url, headers, created = some_dags

    def get(path: str, user: str, **params: Any) -> requests.Response:
        return requests.get(f"{url}{path}", params=params, headers=headers[user], timeout=60)

    runs = {}
    for dag_id, conf in ((CREATE, _create_conf(aws)), (IMPORT, _import_conf())):
        response = requests.post(
            f"{url}/api/v2/dags/{dag_id}/dagRuns",
            json={"logical_date": None, "conf": conf},
            headers=headers["admin"],
            timeout=30,
        )
        assert response.status_code == 200, response.text
        runs[dag_id] = response.json()["dag_run_id"]
        created.append((dag_id, runs[dag_id]))
    made = {
        CREATE: _tagged_certificate(aws, "web.example.com", CREATE, runs[CREATE]),
        IMPORT: _tagged_certificate(aws, "imported.example.com", IMPORT, runs[IMPORT]),
    }
    unowned = aws.acm.request_certificate(DomainName="nobodys.example.com", ValidationMethod="DNS")[
        "CertificateArn"
    ]

    for user, allowed, denied in (("webteam", CREATE, IMPORT), ("importer", IMPORT, CREATE)):
        # Airflow's own API: the user reads the allowed DAG's runs, not the other's.
        assert get(f"/api/v2/dags/{allowed}/dagRuns", user).status_code == 200
        assert get(f"/api/v2/dags/{denied}/dagRuns", user).status_code == 403

        jobs = get(f"{API}/jobs", user).json()["jobs"]
        assert {job["dag_id"] for job in jobs} == {allowed}, user
        assert runs[allowed] in {job["run_id"] for job in jobs}
        assert get(f"{API}/jobs", user, dag_id=denied).json()["jobs"] == []
        assert get(f"{API}/jobs/{allowed}/{runs[allowed]}", user).status_code == 200
        assert get(f"{API}/jobs/{denied}/{runs[denied]}", user).status_code == 403
        assert get(f"{PLUGIN}/jobs/{denied}/{runs[denied]}", user).status_code == 403
        assert get(f"{API}/jobs/{denied}/{runs[denied]}/records", user).status_code == 403
        page = get(f"{PLUGIN}/jobs", user).text
        assert runs[allowed] in page and runs[denied] not in page

        arns = {c["arn"] for c in get(f"{API}/certificates", user).json()["certificates"]}
        assert made[allowed] in arns and unowned in arns and made[denied] not in arns, user
        assert made[denied] not in get(f"{PLUGIN}/", user).text

    # Start needs the permission to trigger the create DAG: webteam has it, importer has not.
    started = requests.post(
        f"{url}{API}/jobs", json=_create_conf(aws), headers=headers["webteam"], timeout=60
    )
    assert started.status_code == 200, started.text
    created.append((CREATE, started.json()["run_id"]))
    refused = requests.post(
        f"{url}{API}/jobs", json=_create_conf(aws), headers=headers["importer"], timeout=60
    )
    assert refused.status_code == 403, refused.text
    assert (
        requests.post(
            f"{url}{API}/plan", json=_create_conf(aws), headers=headers["importer"], timeout=60
        ).status_code
        == 403
    )
    assert 'data-may-start="false"' in get(f"{PLUGIN}/new", "importer").text

    # The admin sees everything.
    arns = {c["arn"] for c in get(f"{API}/certificates", "admin").json()["certificates"]}
    assert set(made.values()) | {unowned} <= arns
