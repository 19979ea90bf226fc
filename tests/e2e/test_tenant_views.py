"""Tenants where a user looks: the certificates API and page, the distributions a New job lists, the
inventory. ACM, SNS and Route 53 on moto, CloudFront (SaaS Manager) on ministack (``tests/tenants.py``).

The certificates come from moto's ACM through two connections (``aws_default``: CloudFront on moto;
``aws_tenants``: CloudFront on ministack), so a test reads the ``aws_tenants`` account's entries.
"""

from __future__ import annotations

import re

import pytest

from tests.dag_runs import load_dag, run_dag
from tests.plugin_support import reset_catalog_cache, signed_in_airflow, token
from tests.tenants import TENANT_CONN_ID

API = "/ssl-certificates/api"


@pytest.fixture(scope="module")
def client(airflow_db):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with signed_in_airflow(airflow_db), TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def auth(client, tenant_aws, monkeypatch):
    monkeypatch.setenv("AIRFLOW__SSL_CERTIFICATES__AWS_CONN_IDS", TENANT_CONN_ID)
    reset_catalog_cache()
    return {"Authorization": f"Bearer {token(client)}"}


def _request(tenant_aws, names: list[str]) -> str:
    kwargs = {"SubjectAlternativeNames": names} if len(names) > 1 else {}
    return tenant_aws.aws.acm.request_certificate(DomainName=names[0], ValidationMethod="DNS", **kwargs)[
        "CertificateArn"
    ]


def _tenant(tenant_aws, template: str, name: str, domains: list[str], certificate_arn: str | None) -> str:
    kwargs = (
        {"Customizations": {"Certificate": {"Arn": certificate_arn}}}
        if certificate_arn
        else {
            "ManagedCertificateRequest": {
                "ValidationTokenHost": "cloudfront",
                "PrimaryDomainName": domains[0],
            }
        }
    )
    tenant = tenant_aws.cloudfront.create_distribution_tenant(
        DistributionId=template, Name=name, Domains=[{"Domain": d} for d in domains], **kwargs
    )
    return str(tenant["DistributionTenant"]["Id"])


def _certificates(client, auth, **params) -> dict[str, dict]:
    response = client.get(f"{API}/certificates", params=params, headers=auth)
    assert response.status_code == 200, response.text
    return {entry["arn"]: entry for entry in response.json()["certificates"]}


def test_the_certificates_api_and_page_name_the_tenants_that_serve_a_certificate(client, auth, tenant_aws):
    template = tenant_aws.template()
    shop = _request(tenant_aws, ["shop.tenant.example", "www.shop.tenant.example"])
    shop_tenant = _tenant(tenant_aws, template, "shop.tenant.example", ["shop.tenant.example"], shop)
    # A certificate whose names do not cover its tenant's domain: found by the tenant's domain all the same.
    legacy = _request(tenant_aws, ["legacy.tenant.example"])
    odd_tenant = _tenant(tenant_aws, template, "odd-customer", ["odd.customer.example"], legacy)
    unused = _request(tenant_aws, ["nobody.tenant.example"])

    found = _certificates(client, auth)
    assert {shop, legacy, unused} <= set(found)
    entry = found[shop]
    assert entry["in_use_by"] == [shop_tenant]
    assert entry["tenants"] == [
        {
            "id": shop_tenant,
            "name": "shop.tenant.example",
            "distribution_id": template,
            "domains": ["shop.tenant.example"],
        }
    ]
    (user,) = entry["used_by"]
    assert user["kind"] == "tenant" and user["distribution_id"] == template
    assert user["domain_name"].endswith(".cloudfront.net")  # the template's
    assert found[unused]["in_use_by"] == [] and found[unused]["tenants"] == []
    assert entry["account"]["conn_id"] == TENANT_CONN_ID

    # The search finds a certificate by the domains of the tenants that use it.
    assert set(_certificates(client, auth, cname="odd.customer.example")) == {legacy}
    assert set(_certificates(client, auth, q="odd.customer")) == {legacy}
    assert set(_certificates(client, auth, cname="shop.tenant.example")) == {shop}
    assert _certificates(client, auth, cname="nothing.customer.example") == {}
    assert found[legacy]["in_use_by"] == [odd_tenant]

    page = client.get("/ssl-certificates/", params={"cname": "odd.customer.example"}, headers=auth)
    assert page.status_code == 200
    row = re.search(r'<tr data-arn="' + re.escape(legacy) + r'">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    assert f'data-tenant="{odd_tenant}"' in row.group(1) and "odd-customer" in row.group(1)
    assert template in row.group(1)
    # One account configured: no Account column.
    assert ">Account</th>" not in page.text


def test_the_account_column_shows_when_several_accounts_are_listed(client, auth, tenant_aws, monkeypatch):
    arn = _request(tenant_aws, ["accounts.tenant.example"])
    monkeypatch.setenv("AIRFLOW__SSL_CERTIFICATES__AWS_CONN_IDS", f"aws_default,{TENANT_CONN_ID}")
    reset_catalog_cache()
    page = client.get("/ssl-certificates/", params={"cname": "accounts.tenant.example"}, headers=auth)
    assert page.status_code == 200
    assert ">Account</th>" in page.text
    rows = re.findall(r'<tr data-arn="' + re.escape(arn) + r'">(.*?)</tr>', page.text, re.S)
    # moto's ACM is behind both connections: the certificate is listed once per account read.
    cells = sorted(re.search(r'<td class="account"[^>]*><code>([^<]+)</code>', row).group(1) for row in rows)
    assert cells == ["aws_default", TENANT_CONN_ID]


def test_distributions_are_listed_from_the_chosen_account_and_a_foreign_one_refused(client, auth, tenant_aws):
    template = tenant_aws.template()
    regular = tenant_aws.regular_distribution(["regular.tenant.example"])

    def listed(**params) -> set[str]:
        response = client.get(f"{API}/distributions", params=params, headers=auth)
        assert response.status_code == 200, response.text
        return {entry["id"] for entry in response.json()["distributions"]}

    assert listed(aws_conn_id=TENANT_CONN_ID, multi_tenant="true") == {template}
    assert listed(aws_conn_id=TENANT_CONN_ID, multi_tenant="false") == {regular}
    assert listed(aws_conn_id=TENANT_CONN_ID) == {template, regular}
    # Without an account: the default connection's (moto's CloudFront: the seeded source only).
    assert listed() == {tenant_aws.aws.source_distribution_id}
    # A connection that is not configured is refused, the field named.
    refused = client.get(f"{API}/distributions", params={"aws_conn_id": "aws_someone_else"}, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith(
        "aws_conn_id: aws_someone_else is not an account this page reads"
    )


def _issued(arn: str) -> None:
    """The requested certificate ISSUED now (an unused issued one would be alerted on)."""
    from moto.acm.models import acm_backends

    from tests.aws import ACCOUNT_ID

    acm_backends[ACCOUNT_ID]["us-east-1"].get_certificate(arn).status = "ISSUED"


@pytest.fixture
def proxied(tenant_aws):
    """A connection whose CloudFront goes through the fault proxy to ministack."""
    from devstack.fault_proxy import FaultProxy
    from tests.conftest import tenant_connection

    with FaultProxy(tenant_aws.ministack.url) as proxy:
        tenant_connection("aws_tenants_inventory", proxy.url)
        yield proxy


def test_the_inventory_reports_tenants_and_the_certificates_cloudfront_manages(
    airflow_db, tenant_aws, proxied
):
    template = tenant_aws.template()
    served = _request(tenant_aws, ["served.tenant.example"])
    _issued(served)
    served_tenant = _tenant(tenant_aws, template, "served.tenant.example", ["served.tenant.example"], served)
    managed_tenant = _tenant(tenant_aws, template, "managed.tenant.example", ["managed.tenant.example"], None)
    failing_tenant = _tenant(tenant_aws, template, "failing.tenant.example", ["failing.tenant.example"], None)
    issued = b"<CertificateStatus>issued</CertificateStatus>"
    proxied.rewrite(
        "GetManagedCertificateDetails", issued, b"<CertificateStatus>failed</CertificateStatus>", 1
    )

    result = run_dag(
        load_dag("ssl_certificate_inventory"),
        {"notification_topic_arn": tenant_aws.aws.topic_arn, "aws_conn_id": "aws_tenants_inventory"},
    )

    assert result.state == "success", result.task_states
    inventory = result.xcom("inventory")
    entry = next(e for e in inventory["certificates"] if e["arn"] == served)
    assert entry["in_use_by"] == [served_tenant]
    assert entry["tenants"][0]["name"] == "served.tenant.example"
    assert entry["tenants"][0]["distribution_id"] == template
    managed = {m["tenant"]["id"]: m for m in inventory["managed_certificates"]}
    assert set(managed) == {managed_tenant, failing_tenant}  # not the tenant with an ACM certificate
    # The listing gives the tenants in creation order; the first managed one read got "failed".
    assert managed[managed_tenant]["status"] == "failed"
    assert managed[failing_tenant]["status"] == "issued"
    assert managed[failing_tenant]["certificate_arn"].startswith("arn:aws:acm:us-east-1:")
    assert managed[failing_tenant]["tenant"]["domains"] == ["failing.tenant.example"]
    assert managed[failing_tenant]["in_acm"] is False and managed[failing_tenant]["not_after"] is None
    # A certificate a tenant serves is not unused; a managed certificate CloudFront will not issue is told.
    kinds = {(alert["kind"], tuple(alert["names"])) for alert in inventory["alerts"]}
    assert ("unused", ("served.tenant.example",)) not in kinds
    assert ("managed_failed", ("managed.tenant.example",)) in kinds
    assert not any(kind == "managed_failed" and names == ("failing.tenant.example",) for kind, names in kinds)
    (message,) = [m for m in tenant_aws.aws.messages() if "need attention" in m["subject"]]
    assert "Certificate CloudFront manages for a tenant that it will not issue" in message["message"]
    assert f"tenant managed.tenant.example ({managed_tenant}) is failed" in message["message"]
