"""The certificates page, its API and an update of a live site (``ssl_update_site``), against the emulator.

A distribution's row links to an update form filled with its names; ``POST api/plan`` with an update
conf is the update's own ``check`` as a dry run; ``POST api/sites`` starts it; the job view of an
update shows the site before and after.
"""

from __future__ import annotations

import pytest

from tests.dag_runs import load_dag, run_dag
from tests.e2e.test_update_site import conf, issued_certificate, make_site
from tests.plugin_support import reset_catalog_cache, serialize_dags, signed_in_airflow, token

API = "/ssl-certificates/api"
UPDATE = "ssl_update_site"


@pytest.fixture(scope="module")
def client(airflow_db):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with signed_in_airflow(airflow_db), TestClient(create_app()) as test_client:
        assert UPDATE in serialize_dags()
        yield test_client


@pytest.fixture
def auth(client, aws):
    reset_catalog_cache()
    return {"Authorization": f"Bearer {token(client)}"}


def test_plan_of_an_update_says_what_changes_and_refuses_a_name_another_distribution_holds(client, auth, aws):
    distribution_id, domain, certificate = make_site(aws, ["shop.example.com", "old.example.com"])
    neighbour = aws.create_distribution(["taken.example.com"])
    certificates_before = len(aws.certificates())

    planned = client.post(
        f"{API}/plan",
        json={"distribution_id": distribution_id, "names": ["shop.example.com", "www.shop.example.com"]},
        headers=auth,
    )
    assert planned.status_code == 200, planned.text
    site = planned.json()["site"]
    assert site["domain_name"] == domain
    assert site["names_before"] == ["shop.example.com", "old.example.com"]
    assert site["names_added"] == ["www.shop.example.com"] and site["names_removed"] == ["old.example.com"]
    assert site["certificate_before"] == certificate and site["certificate_arn"] is None
    assert planned.json()["certificates"][0]["names"] == ["shop.example.com", "www.shop.example.com"]

    refused = client.post(
        f"{API}/plan",
        json={"distribution_id": distribution_id, "names": "shop.example.com, taken.example.com"},
        headers=auth,
    )
    assert refused.status_code == 422
    (error,) = refused.json()["errors"]
    assert error["field"] == "names" and f"alias of distribution {neighbour}" in error["message"]
    missing = client.post(
        f"{API}/plan", json={"distribution_id": "E0000000000000", "names": ["a.example.com"]}, headers=auth
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "distribution_id"
    assert len(aws.certificates()) == certificates_before  # a plan creates nothing


def test_a_distribution_row_links_to_an_update_form_filled_with_its_names_that_starts_the_job(
    client, auth, aws
):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    distribution_id, _, _ = make_site(aws, ["shop.example.com", "www.shop.example.com"])
    page = client.get("/ssl-certificates/", headers=auth)
    assert page.status_code == 200
    assert f'href="./new?distribution_id={distribution_id}"' in page.text

    form = client.get(f"/ssl-certificates/new?distribution_id={distribution_id}", headers=auth)
    assert form.status_code == 200, form.text
    assert "shop.example.com\nwww.shop.example.com</textarea>" in form.text
    assert 'data-option="certificate_arn"' in form.text and 'data-option="route53_aliases"' in form.text
    assert client.get("/ssl-certificates/new?distribution_id=E0000000000000", headers=auth).status_code == 404

    refused = client.post(
        f"{API}/sites", json={"distribution_id": distribution_id, "names": []}, headers=auth
    )
    assert refused.status_code == 422
    started = client.post(
        f"{API}/sites", json={"distribution_id": distribution_id, "names": ["shop.example.com"]}, headers=auth
    )
    assert started.status_code == 200, started.text
    body = started.json()
    try:
        with create_session() as session:
            run = session.query(DagRun).filter_by(dag_id=UPDATE, run_id=body["run_id"]).one()
            assert run.conf["distribution_id"] == distribution_id
        assert body["href"].startswith(f"jobs/{UPDATE}/")
    finally:
        client.delete(f"/api/v2/dags/{UPDATE}/dagRuns/{body['run_id']}", headers=auth)


def test_the_job_view_of_an_update_shows_the_site_before_and_after(client, auth, aws):
    distribution_id, _, old = make_site(aws, ["shop.example.com", "old.example.com"])
    wide = issued_certificate(aws, ["shop.example.com", "*.shop.example.com"])
    result = run_dag(
        load_dag(UPDATE),
        conf(aws, distribution_id, ["shop.example.com", "a.shop.example.com"], certificate_arn=wide),
    )
    assert result.state == "success", result.task_states

    job = client.get(f"{API}/jobs/{UPDATE}/{result.run_id}", headers=auth).json()
    assert job["summary"]["site"]["names_before"] == ["shop.example.com", "old.example.com"]
    assert job["summary"]["site"]["names_after"] == ["shop.example.com", "a.shop.example.com"]
    assert job["summary"]["site"]["certificate_before"] == old
    assert job["summary"]["site"]["certificate_arn"] == wide
    page = client.get(f"/ssl-certificates/jobs/{UPDATE}/{result.run_id}", headers=auth)
    assert page.status_code == 200
    assert 'id="site"' in page.text
    assert 'old.example.com <span class="muted">(removed)</span>' in page.text
    assert 'a.shop.example.com <span class="muted">(added)</span>' in page.text
    assert old in page.text and wide in page.text
    listed = client.get(f"{API}/jobs?dag_id={UPDATE}", headers=auth).json()["jobs"]
    assert result.run_id in {entry["run_id"] for entry in listed}
