"""ssl_create_certificates with ``hosting: tenant``: real DAG runs on moto (ACM, SNS, Route 53) and
ministack (CloudFront SaaS Manager), each reached through the connection's per-service endpoints.

What a SaaS operator would check: one tenant per line on the multi-tenant distribution, with the
line's certificate (ACM or managed), the template's parameters and the job's tags; the owners told
where to point each name; every refusal before anything is created; Route 53 CNAMEs (an apex left
to its owner); a managed certificate that CloudFront issues only after a while, or never; and a
clean-up that removes the job's tenants.
"""

from __future__ import annotations

import pytest

from tests.dag_runs import load_dag, run_dag

DAG_ID = "ssl_create_certificates"


@pytest.fixture
def dag(airflow_db):
    return load_dag(DAG_ID)


def test_acm_certificates_tenants_with_parameters_and_tags(dag, tenant_aws):
    template = tenant_aws.template({"origin_domain": True, "tier": False})
    conf = tenant_aws.conf(
        template,
        ["shop.example.com, www.shop.example.com", "*.brand.example.org"],
        tenant_parameters={"origin_domain": "app.example.net"},
        tags={"team": "saas"},
    )

    result = run_dag(dag, conf)

    assert result.state == "success", result.task_states
    summary = result.xcom("summary")
    certificates = {c["names"][0]: c["arn"] for c in summary["certificates"]}
    assert set(certificates) == {"shop.example.com", "*.brand.example.org"}
    assert summary["distributions"] == []
    tenants = {tenant["Name"]: tenant for tenant in tenant_aws.tenants()}
    assert set(tenants) == {"shop.example.com", "brand.example.org"}  # a wildcard's *. dropped
    shop = tenants["shop.example.com"]
    assert [d["Domain"] for d in shop["Domains"]] == ["shop.example.com", "www.shop.example.com"]
    assert shop["DistributionId"] == template
    assert shop["Customizations"]["Certificate"]["Arn"] == certificates["shop.example.com"]
    assert shop["Parameters"] == [{"Name": "origin_domain", "Value": "app.example.net"}]
    assert shop["Tags"] == {"team": "saas", "airflow:dag_id": DAG_ID, "airflow:run_id": result.run_id}

    listed = {tenant["name"]: tenant for tenant in summary["tenants"]}
    assert listed["shop.example.com"]["id"] == shop["Id"]
    assert listed["shop.example.com"]["certificate_arn"] == certificates["shop.example.com"]
    assert listed["shop.example.com"]["managed"] is False
    endpoint = listed["shop.example.com"]["routing_endpoint"]
    assert endpoint.endswith(".cloudfront.net")
    told = [m for m in tenant_aws.aws.messages() if "tenant" in m["message"]]
    assert len(told) == 1
    assert f"shop.example.com  CNAME  {endpoint}" in told[0]["message"]
    assert f"*.brand.example.org  CNAME  {endpoint}" in told[0]["message"]


def test_managed_certificates_need_no_acm_request(dag, tenant_aws):
    template = tenant_aws.template()
    conf = tenant_aws.conf(template, ["app.customer.example"], certificate_source="managed")

    result = run_dag(dag, conf)

    assert result.state == "success", result.task_states
    summary = result.xcom("summary")
    assert summary["certificates"] == []
    assert tenant_aws.aws.certificates() == []
    (tenant,) = summary["tenants"]
    assert tenant["managed"] is True
    assert tenant["certificate_arn"].startswith("arn:aws:acm:us-east-1:")
    (held,) = tenant_aws.tenants()
    assert "Certificate" not in (held.get("Customizations") or {})
    messages = tenant_aws.aws.messages()
    assert not any("validate" in m["subject"] for m in messages)  # no ACM validation records to add
    assert any("CloudFront requests each tenant's certificate itself" in m["message"] for m in messages)


def test_refused_before_anything_is_created(dag, tenant_aws, monkeypatch):
    regular = tenant_aws.regular_distribution()
    six_names = ", ".join(f"n{i}.example.com" for i in range(6))

    first = run_dag(dag, tenant_aws.conf(regular, ["a.example.com", six_names]))

    assert first.state == "failed"
    refusal = _refusal(first, tenant_aws)
    assert f"distribution {regular} is a regular distribution, not a multi-tenant one" in refusal
    assert "certificates[1] (line 2): 6 names, but a tenant takes at most 5 domains" in refusal

    template = tenant_aws.template({"origin_domain": True})
    tenant_aws.tenant_of_someone(template, "held.example.com", ["held.example.com"])
    tenant_aws.regular_distribution(["alias.example.com"])
    second = run_dag(
        dag,
        tenant_aws.conf(
            template,
            ["new.example.com", "held.example.com", "alias.example.com"],
            tenant_parameters={"colour": "blue"},
        ),
    )

    assert second.state == "failed"
    refusal = _refusal(second, tenant_aws)
    assert "tenant_parameters: colour is not a parameter of the multi-tenant distribution" in refusal
    assert "origin_domain is required by the multi-tenant distribution" in refusal
    assert "certificates[1] (line 2): held.example.com is already a domain of tenant" in refusal
    assert "certificates[2] (line 3): alias.example.com is already an alias of distribution" in refusal
    assert [t["Name"] for t in tenant_aws.tenants()] == ["held.example.com"]
    assert tenant_aws.aws.certificates() == []

    monkeypatch.setenv("AIRFLOW__SSL_CERTIFICATES__TENANTS_PER_ACCOUNT", "2")
    third = run_dag(
        dag,
        tenant_aws.conf(
            template, ["x.example.com", "y.example.com"], tenant_parameters={"origin_domain": "o.example.net"}
        ),
    )
    assert third.state == "failed"
    assert "the account holds 1 tenants; 2 more would pass the quota of 2" in _refusal(third, tenant_aws)
    assert tenant_aws.aws.certificates() == []


def _refusal(result, tenant_aws) -> str:
    """The check's refusal, as the owners were told it (the newest message)."""
    assert result.task_states["check"] == ["failed"]
    assert result.task_states["create_tenants"] == ["upstream_failed"]
    failure = tenant_aws.aws.messages()[-1]
    assert "check" in failure["subject"]
    return failure["message"]


def test_route53_cnames_apex_left_to_its_owner_and_cleanup(dag, tenant_aws, airflow_db):
    from tests.route53_support import create_zone, put_record, records, route53_client

    r53 = route53_client(tenant_aws.aws.url)
    zone = create_zone(r53, "example.com")
    put_record(r53, zone, "taken.example.com", "CNAME", "elsewhere.example.net")
    template = tenant_aws.template()

    refused = run_dag(dag, tenant_aws.conf(template, ["taken.example.com"], route53_aliases=True))
    assert refused.state == "failed"
    assert "taken.example.com already has taken.example.com CNAME elsewhere.example.net" in _refusal(
        refused, tenant_aws
    )

    result = run_dag(
        dag,
        tenant_aws.conf(
            template, ["example.com, shop.example.com"], route53_aliases=True, route53_validation=True
        ),
    )

    assert result.state == "success", result.task_states
    (tenant,) = result.xcom("summary")["tenants"]
    cnames = [r for r in records(r53, zone) if r["type"] == "CNAME" and r["name"] != "taken.example.com"]
    tenant_cnames = [r for r in cnames if not r["name"].startswith("_")]
    assert tenant_cnames == [
        {"name": "shop.example.com", "type": "CNAME", "values": [tenant["routing_endpoint"]]}
    ]
    told = tenant_aws.aws.messages()[-1]["message"]
    assert f"shop.example.com  CNAME  {tenant['routing_endpoint']}" in told  # what the job did
    assert (
        f"example.com  CNAME  {tenant['routing_endpoint']}   (a zone apex cannot hold a CNAME record)" in told
    )
    assert {
        "zone_id": zone,
        "name": "shop.example.com",
        "type": "CNAME",
        "value": tenant["routing_endpoint"],
    } in (result.xcom("summary")["dns_records"])

    cleanup = run_dag(
        load_dag("ssl_cleanup_job"),
        {"job_run_id": result.run_id, "dry_run": False, "aws_conn_id": tenant_aws_conn()},
    )

    assert cleanup.state == "success", cleanup.task_states
    assert tenant_aws.tenants() == []
    assert tenant_aws.aws.certificates() == []
    left = [r["name"] for r in records(r53, zone)]
    assert left == ["taken.example.com"]  # the job's CNAME and validation record gone, the owner's kept


def tenant_aws_conn() -> str:
    from tests.tenants import TENANT_CONN_ID

    return TENANT_CONN_ID


@pytest.fixture
def proxied(tenant_aws):
    """A connection whose CloudFront goes through the fault proxy to ministack."""
    from devstack.fault_proxy import FaultProxy
    from tests.conftest import tenant_connection

    with FaultProxy(tenant_aws.ministack.url) as proxy:
        tenant_connection("aws_tenants_proxied", proxy.url)
        yield proxy


ISSUED = b"<CertificateStatus>issued</CertificateStatus>"
VALID = b"<Status>valid-configuration</Status>"


def test_managed_certificate_pending_then_issued_waits_for_it(dag, tenant_aws, proxied):
    proxied.rewrite(
        "GetManagedCertificateDetails",
        ISSUED,
        b"<CertificateStatus>pending-validation</CertificateStatus>",
        3,
    )
    proxied.rewrite(
        "VerifyDnsConfiguration", VALID, b"<Status>invalid-configuration</Status><Reason>no CNAME</Reason>", 3
    )
    conf = tenant_aws.conf(
        tenant_aws.template(),
        ["app.customer.example"],
        certificate_source="managed",
        aws_conn_id="aws_tenants_proxied",
    )

    result = run_dag(dag, conf)

    assert result.state == "success", result.task_states
    # One read on the worker before deferring, then the trigger's polls: pending, pending, issued.
    assert proxied.count("GetManagedCertificateDetails") == 4
    # CloudFront asked to check the DNS at every poll while the certificate was pending, not once it was issued.
    assert proxied.count("VerifyDnsConfiguration") == 2
    (tenant,) = result.xcom("summary")["tenants"]
    assert tenant["certificate_arn"]


@pytest.mark.parametrize(
    ("status", "hours", "expected"),
    [
        ("failed", 72, "will not issue the managed certificate of tenant dt_"),
        ("pending-validation", 0.001, "still without an issued certificate after 0.001 hours"),
    ],
)
def test_managed_certificate_that_is_never_issued_fails_the_wait(
    dag, tenant_aws, proxied, status, hours, expected
):
    proxied.rewrite(
        "GetManagedCertificateDetails", ISSUED, f"<CertificateStatus>{status}</CertificateStatus>".encode()
    )
    proxied.rewrite(
        "VerifyDnsConfiguration", VALID, b"<Status>invalid-configuration</Status><Reason>no CNAME</Reason>"
    )
    conf = tenant_aws.conf(
        tenant_aws.template(),
        ["app.customer.example"],
        certificate_source="managed",
        aws_conn_id="aws_tenants_proxied",
        validation_timeout_hours=hours,
    )

    result = run_dag(dag, conf)

    assert result.state == "failed"
    assert result.task_states["wait_for_managed_certificates"] == ["failed"]
    failure = tenant_aws.aws.messages()[-1]["message"]
    assert expected in failure
    if status == "pending-validation":
        assert "app.customer.example invalid-configuration (no CNAME)" in failure


def test_a_failed_tenant_job_with_cleanup_on_failure_removes_its_tenant_waiting_deferred(
    dag, tenant_aws, proxied, capfd, caplog
):
    """A managed certificate that CloudFront never issues fails the job; its cleanup_on_failure step
    disables the tenant, gives its worker up while CloudFront deploys that, then deletes the tenant."""
    proxied.rewrite(
        "GetManagedCertificateDetails", ISSUED, b"<CertificateStatus>failed</CertificateStatus>"
    )
    template = tenant_aws.template()
    before = {tenant["Id"] for tenant in tenant_aws.tenants()}
    conf = tenant_aws.conf(
        template,
        ["cleaned.customer.example"],
        certificate_source="managed",
        aws_conn_id="aws_tenants_proxied",
        cleanup_on_failure=True,
    )
    dag.get_task("cleanup_on_failure").waiter_delay = 1
    made_before = proxied.count("CreateDistributionTenant")
    capfd.readouterr()
    # The disabling deploys for a few polls.
    proxied.rewrite(
        "GetDistributionTenant",
        b"<Enabled>false</Enabled>",
        b"<Enabled>false</Enabled><Status>InProgress</Status>",
        3,
    )

    result = run_dag(dag, conf)

    output = capfd.readouterr()
    logged = output.out + output.err + caplog.text
    assert result.state == "failed"
    assert proxied.count("CreateDistributionTenant") == made_before + 1  # the job made its tenant
    assert result.task_states["cleanup_on_failure"] == ["success"], logged[-6000:]
    assert "tenant(s) deploying" in logged and "Pausing task as DEFERRED" in logged
    removed = result.xcom("cleanup_on_failure")
    assert [tenant["action"] for tenant in removed["tenants"]] == ["deleted"]
    assert {tenant["Id"] for tenant in tenant_aws.tenants()} == before
    assert proxied.count("DeleteDistributionTenant") == 1
