"""``POST /ssl-certificates/api/plan`` and *Start* (``POST /ssl-certificates/api/jobs``), against the emulator.

The plan is the create job's own ``check`` step run as a dry run: these tests look at what a user
sees in it (line numbers as the form counts them, every error at once, what aggregation covers, the
conflicts) and that it creates nothing.
"""

from __future__ import annotations

import pytest

from tests.plugin_support import reset_catalog_cache, serialize_dags, signed_in_airflow, token

API = "/ssl-certificates/api"
CREATE = "ssl_create_certificates"


@pytest.fixture(scope="module")
def client(airflow_db):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with signed_in_airflow(airflow_db), TestClient(create_app()) as test_client:
        assert CREATE in serialize_dags()
        yield test_client


@pytest.fixture
def auth(client, aws):
    reset_catalog_cache()
    return {"Authorization": f"Bearer {token(client)}"}


def _plan(client, auth, conf):
    return client.post(f"{API}/plan", json=conf, headers=auth)


def test_a_valid_plan_with_aggregation_shows_what_each_wildcard_covers(client, auth, aws):
    response = _plan(
        client,
        auth,
        {
            "certificates": [
                "*.example.com, example.com",
                "a.example.com, b.example.com",
                "shop.example.org",
                "",
            ],
            "aggregate": True,
            "source_distribution_id": aws.source_distribution_id,
        },
    )
    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["valid"] is True and plan["errors"] == []
    # Line 2 is covered entirely by line 1's wildcard: no certificate of its own.
    assert [(c["line"], c["names"]) for c in plan["certificates"]] == [
        (1, ["*.example.com", "example.com"]),
        (3, ["shop.example.org"]),
    ]
    covered = {(c["line"], c["name"], c["covered_by"], c["certificate_item"]) for c in plan["covered"]}
    assert covered == {
        (2, "a.example.com", "*.example.com", 0),
        (2, "b.example.com", "*.example.com", 0),
    }
    # Every line still gets its distribution; line 2's uses line 1's certificate.
    assert [(d["line"], d["aliases"], d["certificate_item"]) for d in plan["distributions"]] == [
        (1, ["*.example.com", "example.com"], 0),
        (2, ["a.example.com", "b.example.com"], 0),
        (3, ["shop.example.org"], 2),
    ]
    assert plan["conflicts"] == []
    # A dry run: nothing was created.
    assert aws.certificates() == [] and aws.distributions() == []


def test_every_error_at_once_each_naming_its_field_and_line(client, auth, aws):
    too_many = ", ".join(f"n{i}.example.com" for i in range(11))
    response = _plan(
        client,
        auth,
        {
            "certificates": [
                "good.example.com",
                "bad_name!.example.com",
                "",
                "twice.example.com",
                "twice.example.com, other.example.com",
                too_many,
            ],
            "source_distribution_id": aws.source_distribution_id,
            "poll_interval_seconds": 0,
            "tags": {"aws:team": "web"},
            "colour": "blue",
        },
    )
    assert response.status_code == 422, response.text
    plan = response.json()
    assert plan["valid"] is False
    errors = plan["errors"]
    lines = {error["line"] for error in errors if error["field"] == "certificates"}
    assert {2, 5, 6} <= lines, errors
    assert 3 not in lines and 1 not in lines  # a blank line is ignored; a good line is no error
    fields = {error["field"] for error in errors}
    assert {"certificates", "poll_interval_seconds", "tags", "colour"} <= fields, errors
    assert all(error["message"] for error in errors)
    by_line = {error["line"]: error["message"] for error in errors if error["field"] == "certificates"}
    assert "bad_name!.example.com" in by_line[2]
    assert "twice.example.com" in by_line[5]


def test_conflicts_with_existing_distributions_and_a_missing_source(client, auth, aws):
    holder = aws.create_distribution(aliases=["shop.example.com"])
    response = _plan(
        client,
        auth,
        {
            "certificates": ["new.example.com", "shop.example.com, www.shop.example.com"],
            "source_distribution_id": aws.source_distribution_id,
        },
    )
    assert response.status_code == 422, response.text
    (conflict,) = response.json()["conflicts"]
    assert conflict["line"] == 2 and conflict["name"] == "shop.example.com"
    assert holder in conflict["held_by"]

    response = _plan(
        client, auth, {"certificates": ["new.example.com"], "source_distribution_id": "E0NOSUCHDIST1"}
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["source_distribution_id"]
    assert aws.certificates() == []


def test_a_refused_line_does_not_hide_an_alias_taken_on_another_line(client, auth, aws):
    holder = aws.create_distribution(aliases=["taken.example.com"])
    response = _plan(
        client,
        auth,
        {
            "certificates": [
                "good.example.com",
                "typo_.example.com",
                "",
                "taken.example.com, www.taken.example.com",
            ],
            "source_distribution_id": aws.source_distribution_id,
        },
    )
    assert response.status_code == 422, response.text
    plan = response.json()
    by_line = {error["line"]: error["message"] for error in plan["errors"]}
    assert set(by_line) == {2, 4}, plan["errors"]
    assert by_line[2].startswith("certificates[1] (line 2): 'typo_.example.com' has '_' in the label"), (
        by_line
    )
    assert by_line[4] == (
        f"certificates[3] (line 4): taken.example.com is already an alias of distribution {holder}; "
        "CloudFront allows an alias on one distribution only: remove the name from that distribution or "
        "from this job"
    )
    assert [(c["line"], c["name"]) for c in plan["conflicts"]] == [(4, "taken.example.com")]
    assert aws.certificates() == []


def test_start_refuses_a_bad_conf_and_starts_a_good_one_without_its_blank_lines(client, auth, aws):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    def runs():
        with create_session() as session:
            return {run.run_id: run.conf for run in session.query(DagRun).filter_by(dag_id=CREATE)}

    before = runs()
    refused = client.post(f"{API}/jobs", json={"certificates": ["bad_name!.example.com"]}, headers=auth)
    assert refused.status_code == 422 and refused.json()["errors"]
    assert runs() == before

    started = client.post(
        f"{API}/jobs",
        json={
            "certificates": ["start.example.com, www.start.example.com", "", "  "],
            "source_distribution_id": aws.source_distribution_id,
            "tags": {"team": "web"},
        },
        headers=auth,
    )
    assert started.status_code == 200, started.text
    body = started.json()
    try:
        assert set(runs()) - set(before) == {body["run_id"]}
        conf = runs()[body["run_id"]]
        assert conf["certificates"] == ["start.example.com, www.start.example.com"]
        assert conf["tags"] == {"team": "web"}
        assert body["href"] == f"jobs/{CREATE}/{body['run_id'].replace(':', '%3A').replace('+', '%2B')}"
        assert client.get(f"/ssl-certificates/{body['href']}", headers=auth).status_code == 200
    finally:
        client.delete(f"/api/v2/dags/{CREATE}/dagRuns/{body['run_id']}", headers=auth)


def test_a_tenant_plan_lists_the_tenants_it_would_create_and_creates_none(client, auth, tenant_aws):
    template = tenant_aws.template({"origin_domain": True})
    conf = tenant_aws.conf(
        template,
        ["shop.example.com, www.shop.example.com", "", "*.brand.example.org"],
        tenant_parameters={"origin_domain": "app.example.net"},
    )

    response = _plan(client, auth, conf)

    assert response.status_code == 200, response.text
    plan = response.json()
    assert plan["valid"] is True and plan["errors"] == []
    assert plan["distributions"] == []
    assert [(t["line"], t["names"], t["certificate_item"]) for t in plan["tenants"]] == [
        (1, ["shop.example.com", "www.shop.example.com"], 0),
        (3, ["*.brand.example.org"], 2),
    ]
    assert [(c["line"], c["names"]) for c in plan["certificates"]] == [
        (1, ["shop.example.com", "www.shop.example.com"]),
        (3, ["*.brand.example.org"]),
    ]

    # With certificates CloudFront manages, the same tenants and no ACM certificate to request.
    managed = _plan(client, auth, {**conf, "certificate_source": "managed"}).json()
    assert managed["valid"] is True, managed["errors"]
    assert managed["certificates"] == []
    assert [(t["line"], t["certificate_item"]) for t in managed["tenants"]] == [(1, None), (3, None)]

    # A dry run: no tenant and no certificate was made.
    assert tenant_aws.tenants() == [] and tenant_aws.aws.certificates() == []


def test_a_tenant_plan_names_a_domain_another_tenant_holds(client, auth, tenant_aws):
    template = tenant_aws.template()
    tenant_aws.tenant_of_someone(template, "held.example.com", ["held.example.com"])

    plan = _plan(client, auth, tenant_aws.conf(template, ["new.example.com", "held.example.com"])).json()

    assert plan["valid"] is False
    assert [(e["field"], e["line"]) for e in plan["errors"]] == [("certificates", 2)]
    assert "held.example.com is already a domain of tenant" in plan["errors"][0]["message"]
    assert [tenant["Name"] for tenant in tenant_aws.tenants()] == ["held.example.com"]  # nothing made


def test_a_distribution_plan_refuses_a_name_a_tenant_serves(client, auth, tenant_aws):
    """CloudFront serves a name from one distribution or tenant: a create or update plan for
    distributions meets the account's tenants too (listed because it has a multi-tenant distribution)."""
    from tests.tenants import TENANT_CONN_ID

    template = tenant_aws.template()
    holder = tenant_aws.tenant_of_someone(template, "held.example.com", ["held.example.com"])
    source = tenant_aws.regular_distribution()
    site = tenant_aws.regular_distribution(["site.example.com"])
    on_ministack = {"aws_conn_id": TENANT_CONN_ID, "notification_topic_arn": tenant_aws.aws.topic_arn}

    create = _plan(
        client,
        auth,
        {
            "certificates": ["new.example.com", "held.example.com"],
            "source_distribution_id": source,
            **on_ministack,
        },
    ).json()
    assert create["valid"] is False
    assert [(e["field"], e["line"]) for e in create["errors"]] == [("certificates", 2)], create["errors"]
    assert (
        f"held.example.com is already a domain of tenant {holder} (held.example.com)"
        in create["errors"][0]["message"]
    )

    update = client.post(
        f"{API}/plan",
        json={"distribution_id": site, "names": ["site.example.com", "held.example.com"], **on_ministack},
        headers=auth,
    )
    assert update.status_code == 422, update.text
    (error,) = update.json()["errors"]
    assert error["field"] == "names" and f"a domain of tenant {holder}" in error["message"], error
    assert [tenant["Name"] for tenant in tenant_aws.tenants()] == ["held.example.com"]
    assert tenant_aws.aws.certificates() == []  # nothing made
