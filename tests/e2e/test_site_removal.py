"""Removing one site with ``ssl_cleanup_job`` and ``distribution_id``, against moto in server mode.

The site is made by a real create job with Route 53; the removal must take its distribution, its
certificate and the alias records that point at it, and keep what anything else still needs: a
validation record another certificate validates with, a record pointing elsewhere, a distribution or
a certificate no job of the package made (unless ``force``).
"""

from __future__ import annotations

import pytest

from tests.dag_runs import load_dag, run_dag
from tests.e2e.test_update_site import issued_certificate, make_site
from tests.route53_support import create_zone, records, route53_client

CLEANUP = "ssl_cleanup_job"


def remove(distribution_id, **extra):
    return run_dag(load_dag(CLEANUP), {"distribution_id": distribution_id, "dry_run": False, **extra})


def held(dns, zone):
    return {(r["name"], r["type"]): r.get("alias") or r.get("values") for r in records(dns, zone)}


@pytest.fixture
def site(airflow_db, aws):
    """A site made by a create job, its names pointed and validated in Route 53."""
    dns = route53_client(aws.url)
    zone = create_zone(dns, "example.com")
    created = run_dag(
        load_dag("ssl_create_certificates"),
        {
            "certificates": ["shop.example.com, www.shop.example.com"],
            "source_distribution_id": aws.source_distribution_id,
            "notification_topic_arn": aws.topic_arn,
            "poll_interval_seconds": 1,
            "route53_validation": True,
            "route53_aliases": True,
        },
    )
    assert created.state == "success", created.task_states
    summary = created.xcom("summary")
    (distribution,) = summary["distributions"]
    (certificate,) = summary["certificates"]
    return dns, zone, distribution, certificate


def test_removing_a_site_keeps_a_validation_record_another_certificate_uses(site, aws):
    dns, zone, distribution, certificate = site
    # Another certificate for www.shop.example.com validates with the same record (ACM's record names
    # are fixed per name): that record must stay; shop.example.com's own record goes.
    neighbour = issued_certificate(aws, ["www.shop.example.com"])
    validation = {r["name"]: r for r in certificate["validation_records"]}
    assert len(validation) == 2
    before = held(dns, zone)
    assert before[("shop.example.com", "A")] == distribution["domain_name"]

    listed = remove(distribution["id"], dry_run=True)
    assert listed.state == "success", listed.task_states
    assert held(dns, zone) == before
    assert distribution["id"] in {d["Id"] for d in aws.distributions()}
    plan = listed.xcom("remove_job_resources")
    assert plan["distributions"] == [
        {"id": distribution["id"], "aliases": distribution["aliases"], "action": "would delete"}
    ]

    result = remove(distribution["id"])

    assert result.state == "success", result.task_states
    assert distribution["id"] not in {d["Id"] for d in aws.distributions(include_source=True)}
    arns = {c["CertificateArn"] for c in aws.certificates()}
    assert certificate["arn"] not in arns and neighbour in arns
    after = held(dns, zone)
    assert not {key for key in after if key[0] in ("shop.example.com", "www.shop.example.com")}
    shop_record = next(
        name for name in validation if name.rstrip(".").endswith(".shop.example.com") and "www" not in name
    )
    www_record = next(name for name in validation if ".www." in name)
    assert (shop_record.rstrip(".").lower(), "CNAME") not in after
    assert (www_record.rstrip(".").lower(), "CNAME") in after  # the neighbour still validates with it
    actions = {
        (r["name"], r["type"]): r["action"] for r in result.xcom("remove_job_resources")["dns_records"]
    }
    assert (
        actions[(www_record.rstrip(".").lower(), "CNAME")]
        == "kept: a remaining certificate validates with it"
    )

    again = remove(distribution["id"])
    assert again.state == "success" and again.xcom("remove_job_resources")["distributions"] == []


def test_a_distribution_no_job_of_the_package_made_is_refused_unless_forced(airflow_db, aws):
    distribution_id, _, certificate = make_site(aws, ["legacy.example.com"], tags=None, certificate_tags=None)

    refused = remove(distribution_id)
    assert refused.state == "failed"
    assert distribution_id in {d["Id"] for d in aws.distributions()}

    forced = remove(distribution_id, force=True)
    assert forced.state == "success", forced.task_states
    assert distribution_id not in {d["Id"] for d in aws.distributions()}
    (kept,) = forced.xcom("remove_job_resources")["certificates"]
    assert kept == {
        "arn": certificate,
        "names": ["legacy.example.com"],
        "action": "kept: no job of this package made it",
    }
    assert certificate in {c["CertificateArn"] for c in aws.certificates()}


def test_the_distribution_is_deleted_once_its_disabling_is_deployed_and_then_its_certificate(airflow_db, aws):
    """CloudFront refuses to delete a distribution before its disabling is deployed; the certificate
    it served goes only after the distribution."""
    from moto.moto_api import state_manager

    from cloudfront_ssl.rules.config import CleanupConfig
    from cloudfront_ssl.steps import site_removal

    distribution_id, _, certificate = make_site(aws, ["slow.example.com"])
    config = CleanupConfig.model_validate({"distribution_id": distribution_id, "dry_run": False})
    # Eight status reads before CloudFront (moto) reports "Deployed": more than the first phase makes.
    state_manager.set_transition("cloudfront::distribution", {"progression": "manual", "times": 8})
    try:
        started = site_removal.start_site_removal(config)
        assert started["deploying"] == [distribution_id]
        # Straight on, before the disabling is deployed: nothing is deleted, the certificate is kept.
        early = site_removal.finish_site_removal(
            {
                **started,
                "result": {
                    **started["result"],
                    "distributions": [dict(started["result"]["distributions"][0])],
                },
            }
        )
    except Exception as error:
        early = {"error": str(error)}
    finally:
        state_manager.unset_transition("cloudfront::distribution")
    assert "still deploying" in early.get("error", "")
    assert distribution_id in {d["Id"] for d in aws.distributions()}
    assert certificate in {c["CertificateArn"] for c in aws.certificates()}

    # The clean-up DAG as shipped: the deferred wait lets CloudFront deploy the disabling first.
    state_manager.set_transition("cloudfront::distribution", {"progression": "manual", "times": 8})
    try:
        removed = remove(distribution_id)
    finally:
        state_manager.unset_transition("cloudfront::distribution")
    assert removed.state == "success", removed.task_states
    assert removed.task_states["wait_for_distributions"] == ["success"]
    assert removed.xcom("disable_distributions")["deploying"] == [distribution_id]
    result = removed.xcom("remove_job_resources")
    assert [d["action"] for d in result["distributions"]] == ["deleted"]
    assert [c["action"] for c in result["certificates"]] == ["deleted"]
    assert distribution_id not in {d["Id"] for d in aws.distributions()}
    assert certificate not in {c["CertificateArn"] for c in aws.certificates()}
