"""The Fleet page and ``GET /ssl-certificates/api/fleet``: what real ``ssl_fleet`` runs left, and who
may see it.

The runs here are ``dag.test()`` runs against moto of fleet files that start no job (one with errors,
one whose sites the account already holds, one that leaves a site out): the runs that apply jobs
need a scheduler and are in ``test_fleet.py``, which also reads this API after each of them. The page
reads the runs of ``ssl_fleet``, so it needs Airflow's permission to read that DAG: checked in a real
API server whose auth manager allows a user only some DAGs.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests
from markupsafe import escape

from tests.dag_runs import ROOT, load_dag, run_dag
from tests.e2e.test_fleet_plan import create_site, fleet_text
from tests.plugin_support import api_server, environment, serialize_dags, signed_in_airflow, token

PLUGIN = "/ssl-certificates"
FLEET = "ssl_fleet"


@pytest.fixture(scope="module")
def client(airflow_db):
    """A TestClient on the Airflow API server app, with the plugin mounted and SimpleAuthManager."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with signed_in_airflow(airflow_db), TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def fleet_file(tmp_path):
    """``[ssl_certificates] fleet_file`` pointing at a file of this test (removal and approval off)."""
    path = tmp_path / "fleet.yaml"
    settings = {
        "AIRFLOW__SSL_CERTIFICATES__FLEET_FILE": str(path),
        "AIRFLOW__SSL_CERTIFICATES__FLEET_REMOVE": "False",
        "AIRFLOW__SSL_CERTIFICATES__FLEET_APPROVAL": "False",
    }
    with environment(settings):
        yield path


def run_fleet() -> Any:
    return run_dag(load_dag(FLEET), {})


def overview(client) -> dict[str, Any]:
    response = client.get(f"{PLUGIN}/api/fleet", headers={"Authorization": f"Bearer {token(client)}"})
    assert response.status_code == 200, response.text
    return response.json()


def page(client) -> str:
    response = client.get(f"{PLUGIN}/fleet", headers={"Authorization": f"Bearer {token(client)}"})
    assert response.status_code == 200, response.text
    return response.text


def test_a_file_with_errors_is_shown_with_its_lines(client, aws, fleet_file):
    text = fleet_text(aws, {"page-one": ["one.page-fleet.example"]})
    text += "  - site: Not_A_Site\n    names: [two.page-fleet.example]\n  - site: page-three\n"
    fleet_file.write_text(text)
    result = run_fleet()
    assert result.state == "failed" and result.task_states["read_fleet"] == ["failed"], result.task_states
    problems = result.xcom("read_fleet", "problems")
    assert len(problems) >= 2, problems

    data = overview(client)
    assert data["last_run"]["run_id"] == result.run_id and data["last_run"]["state"] == "failed"
    assert data["last_run"]["problems"] == problems
    html = page(client)
    assert 'id="problems"' in html
    for problem in problems:
        assert f"line {problem['line']}: " in html, (problem, html)
    assert result.run_id in html


def test_sites_in_step_and_a_site_left_out_reported_to_change(client, aws, fleet_file):
    create_site(aws, "page-alpha", ["alpha.page-fleet.example"])
    create_site(aws, "page-beta", ["beta.page-fleet.example", "www.beta.page-fleet.example"])
    fleet_file.write_text(fleet_text(aws, {"page-alpha": ["alpha.page-fleet.example"]}))
    result = run_fleet()
    assert result.state == "success", result.task_states
    assert result.task_states["apply"] == ["skipped"] and result.task_states["approve"] == ["skipped"]

    data = overview(client)
    assert data["last_run"]["run_id"] == result.run_id
    assert data["last_plan"]["run_id"] == result.run_id
    sites = {site["site"]: site for site in data["sites"]}
    assert set(sites) == {"page-alpha", "page-beta"}
    assert sites["page-alpha"]["state"] == "in_step" and sites["page-alpha"]["action"] == "keep"
    beta = sites["page-beta"]
    assert beta["state"] == "to_change" and beta["action"] == "remove" and beta["apply"] is False, beta
    assert "page-beta" in beta["plan_line"] and beta["reasons"], beta
    assert data["counts"] == {"in_step": 1, "to_change": 1, "failed": 0, "drift": 0}
    assert data["settings"]["remove"] is False and data["settings"]["file"] == str(fleet_file)

    html = page(client)
    assert 'data-site="page-alpha" data-state="in_step"' in html
    assert 'data-site="page-beta" data-state="to_change"' in html
    assert data["last_plan"]["text"].splitlines()[0].strip() in html
    assert 'id="nav-fleet"' in html
    assert "beta.page-fleet.example" in html and str(escape(beta["reasons"][0])) in html  # as text
    assert beta["names_before"] == ["beta.page-fleet.example", "www.beta.page-fleet.example"], beta


def test_each_state_from_the_plan_and_the_jobs():
    from cloudfront_ssl.views.fleet import site_state

    keep = {"action": "keep", "drift": False}
    create = {"action": "create", "drift": False}
    drift = {"action": "change", "drift": True}
    failed = {"ended_as": "failed"}
    applied = {"ended_as": "applied"}
    assert site_state(keep, None, None) == "in_step"
    assert site_state(create, None, None) == "to_change"
    assert site_state(drift, None, None) == "drift"
    assert site_state(create, failed, failed) == "failed"  # its job in this run failed
    assert site_state(create, None, failed) == "failed"  # tried again, still going: failed until it succeeds
    assert site_state(create, applied, applied) == "in_step"
    assert site_state(keep, None, failed) == "in_step"  # put right since
    assert site_state(drift, {"ended_as": "rejected"}, None) == "drift"


def test_a_missing_file_is_said_on_the_page(client, aws, fleet_file):
    result = run_fleet()  # fleet_file names a file that does not exist
    assert result.state == "failed" and result.task_states["read_fleet"] == ["failed"], result.task_states
    (problem,) = result.xcom("read_fleet", "problems")
    assert problem["line"] is None and str(fleet_file) in problem["message"], problem
    assert overview(client)["last_run"]["problems"] == [problem]
    assert str(escape(problem["message"])) in page(client)


# --- who may see it ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def some_dags(airflow_db):
    """A real API server whose auth manager limits ``webteam`` to ssl_create_certificates (not ssl_fleet)."""
    passwords = airflow_db / "fleet-permission-passwords.json"
    password = "fleet-permission-password"
    import json

    users = {"admin": "admin", "webteam": "user"}
    passwords.write_text(json.dumps(dict.fromkeys(users, password)))
    settings = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{n}:{r}" for n, r in users.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
    }
    with signed_in_airflow(airflow_db), environment(settings):
        assert FLEET in set(serialize_dags())
        extra = {
            "AIRFLOW__CORE__AUTH_MANAGER": "tests.e2e.auth_managers.SomeDagsAuthManager",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        with api_server(airflow_db, extra) as url:
            headers = {}
            for name in users:
                answer = requests.post(
                    f"{url}/auth/token", json={"username": name, "password": password}, timeout=30
                )
                assert answer.status_code in (200, 201), answer.text
                headers[name] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            yield url, headers


def test_the_fleet_needs_read_access_to_ssl_fleet(some_dags):
    url, headers = some_dags
    for path in (f"{PLUGIN}/fleet", f"{PLUGIN}/api/fleet"):
        assert requests.get(f"{url}{path}", timeout=60).status_code == 401, path
        # Airflow's own answer for this user and ssl_fleet's runs, then the plugin's.
        assert (
            requests.get(
                f"{url}/api/v2/dags/{FLEET}/dagRuns", headers=headers["webteam"], timeout=60
            ).status_code
            == 403
        )
        refused = requests.get(f"{url}{path}", headers=headers["webteam"], timeout=60)
        assert refused.status_code == 403, (path, refused.text)
        assert FLEET in refused.text
        allowed = requests.get(f"{url}{path}", headers=headers["admin"], timeout=60)
        assert allowed.status_code == 200, (path, allowed.text)
    # webteam still has the pages of the job DAG it may read.
    assert requests.get(f"{url}{PLUGIN}/jobs", headers=headers["webteam"], timeout=60).status_code == 200
