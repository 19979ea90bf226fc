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
