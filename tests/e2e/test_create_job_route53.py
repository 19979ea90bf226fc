"""ssl_create_certificates with Route 53 on: real DAG runs against moto in server mode.

What a Route 53 administrator would check: the right zone for every name (sub-zones, private zones
and look-alike zones), one validation record per record name, alias records only where asked and
AAAA only with IPv6, nothing changed that the job was not asked to change, bad input refused before
anything is created, a retry that writes nothing twice, and a clean-up that removes only the job's
records that nothing else needs.
"""

from __future__ import annotations

import json
import re
import uuid

import pytest

from cloudfront_ssl.rules.config import CreateJobConfig
from cloudfront_ssl.steps import dns_job
from devstack.fault_proxy import FaultProxy
from devstack.seed import source_distribution_config
from tests.dag_runs import load_dag, run_dag
from tests.route53_support import create_zone, put_record, records, route53_client

DAG_ID = "ssl_create_certificates"
PREFIX = "_d930b28be6c5927595552b219965053e."
"""moto's validation record names: this prefix, then the name (without ``*.``)."""


@pytest.fixture
def dag(airflow_db):
    return load_dag(DAG_ID)


@pytest.fixture
def r53(aws):
    return route53_client(aws.url)


def conf(aws, certificates, **extra):
    return {
        "certificates": certificates,
        "source_distribution_id": aws.source_distribution_id,
        "notification_topic_arn": aws.topic_arn,
        "poll_interval_seconds": 1,
        "route53_validation": True,
        "route53_aliases": True,
        **extra,
    }


def dns_connection(monkeypatch, name: str, url: str) -> str:
    """An Airflow connection (environment variable) to Route 53 at ``url``; returns its id."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{name.upper()}",
        json.dumps(
            {"conn_type": "aws", "login": "testing", "password": "testing", "extra": {"endpoint_url": url}}
        ),
    )
    return name


def failure_reason(aws) -> str:
    (failure,) = [m for m in aws.messages() if "failed" in m["subject"]]
    return failure["message"]


def test_a_job_with_every_name_in_route53_leaves_no_dns_step_to_a_person(dag, aws, r53):
    com = create_zone(r53, "example.com")
    shop = create_zone(r53, "shop.example.com")  # a sub-zone of example.com
    private = create_zone(r53, "example.com", private=True)

    result = run_dag(dag, conf(aws, ["example.com, *.example.com", "a.shop.example.com, b.shop.example.com"]))
    assert result.state == "success", result.task_states
    assert result.task_states["wait_for_dns"] == ["success"]

    domain = {
        tuple(d["DistributionConfig"]["Aliases"]["Items"]): d["DomainName"] for d in aws.distributions()
    }
    first = domain[("example.com", "*.example.com")]
    second = domain[("a.shop.example.com", "b.shop.example.com")]
    assert sorted((r["name"], r["type"], r.get("alias")) for r in records(r53, com)) == [
        ("*.example.com", "A", first),
        ("*.example.com", "AAAA", first),  # the source, and so the copy, has IPv6 on
        (PREFIX + "example.com", "CNAME", None),  # one record for the apex and its wildcard
        ("example.com", "A", first),
        ("example.com", "AAAA", first),
    ]
    assert sorted((r["name"], r["type"], r.get("alias")) for r in records(r53, shop)) == [
        (PREFIX + "a.shop.example.com", "CNAME", None),
        (PREFIX + "b.shop.example.com", "CNAME", None),
        ("a.shop.example.com", "A", second),
        ("a.shop.example.com", "AAAA", second),
        ("b.shop.example.com", "A", second),
        ("b.shop.example.com", "AAAA", second),
    ]
    assert records(r53, private) == []
    assert all(
        r["alias_zone"] == "Z2FDTNDATAQYW2" for r in records(r53, com) + records(r53, shop) if "alias" in r
    )

    summary = result.xcom("summary")
    written = {(entry["zone_id"], entry["name"], entry["type"]) for entry in summary["dns_records"]}
    assert len(summary["dns_records"]) == len(written) == 11
    assert written == {(com, r["name"], r["type"]) for r in records(r53, com)} | {
        (shop, r["name"], r["type"]) for r in records(r53, shop)
    }

    validation, cnames = aws.messages()
    assert "Nothing is left for you to do" in validation["message"]
    assert "Name:" not in validation["message"]
    assert f"{PREFIX}example.com  CNAME" in validation["message"]
    assert "Nothing is left for you to do" in cnames["message"]
    assert f"b.shop.example.com  AAAA  alias {second}" in cnames["message"]


def test_names_in_no_zone_stay_with_their_owners_and_aaaa_needs_ipv6(dag, aws, r53):
    com = create_zone(r53, "example.com")
    look_alike = create_zone(r53, "53shop.com")  # a suffix of r53shop.com, but not on a label boundary
    config = source_distribution_config(f"v4-{uuid.uuid4().hex}", [])
    config["IsIPV6Enabled"] = False
    ipv4_source = aws.cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]

    result = run_dag(
        dag,
        conf(aws, ["www.example.com", "r53shop.com", "www.nowhere.io"], source_distribution_id=ipv4_source),
    )
    assert result.state == "success", result.task_states
    assert records(r53, look_alike) == []
    assert sorted((r["name"], r["type"]) for r in records(r53, com)) == [
        (PREFIX + "www.example.com", "CNAME"),
        ("www.example.com", "A"),  # no AAAA: the distribution has IPv6 off
    ]
    assert [(e["name"], e["type"]) for e in result.xcom("summary")["dns_records"]] == [
        (PREFIX + "www.example.com", "CNAME"),
        ("www.example.com", "A"),
    ]
    assert any("r53shop.com" in note and "www.nowhere.io" in note for note in result.xcom("check")["notes"])

    validation, cnames = aws.messages()
    body = validation["message"]
    assert f"{PREFIX}www.example.com  CNAME" in body.split("add the records below")[0]
    todo = body.split("add the records below")[1]
    assert f"Name:  {PREFIX}r53shop.com." in todo and f"Name:  {PREFIX}www.nowhere.io." in todo
    assert "www.example.com." not in todo
    domain = {
        d["DistributionConfig"]["Aliases"]["Items"][0]: d["DomainName"]
        for d in aws.distributions()
        if d["Id"] != ipv4_source
    }
    assert f"r53shop.com  CNAME  {domain['r53shop.com']}" in cnames["message"]
    assert f"www.nowhere.io  CNAME  {domain['www.nowhere.io']}" in cnames["message"]
    assert f"www.example.com  CNAME  {domain['www.example.com']}" not in cnames["message"]

    # The job view and its export mark what Route 53 holds, and leave the rest to add.
    from airflow.utils.session import create_session

    from cloudfront_ssl.rules.messages import dns_records, records_csv, zone_file_lines
    from cloudfront_ssl.views.jobs import job_detail

    with create_session() as session:
        job = job_detail(session, DAG_ID, result.run_id, read_logs=False)
    rows = dns_records(job["summary"]["certificates"], job["summary"]["distributions"], job["route53_zones"])
    where = {(row["kind"], row["name"].rstrip(".")): row["route53_zone"] for row in rows}
    assert where == {
        ("validation", PREFIX + "www.example.com"): com,
        ("validation", PREFIX + "r53shop.com"): "",
        ("validation", PREFIX + "www.nowhere.io"): "",
        ("cname", "www.example.com"): com,
        ("cname", "r53shop.com"): "",
        ("cname", "www.nowhere.io"): "",
    }
    zone_lines = zone_file_lines(rows).splitlines()
    to_add = [line.split()[0] for line in zone_lines if not line.startswith(";")]
    assert sorted(to_add) == sorted(
        [f"{PREFIX}r53shop.com.", f"{PREFIX}www.nowhere.io.", "r53shop.com.", "www.nowhere.io."]
    )
    held = [line for line in zone_lines if line.startswith(f"; in Route 53 (hosted zone {com})")]
    assert len(held) == 2 and any(
        f"www.example.com.\t300\tIN\tCNAME\t{domain['www.example.com']}." in h for h in held
    )
    assert records_csv(rows).splitlines()[0] == "kind,name,type,value,for,route53_zone"
    # The exports (CSV, zone file) type what Route 53 holds: www.example.com is an A/AAAA alias there.
    from cloudfront_ssl.rules.messages import as_held

    exported = as_held(rows, job["summary"]["dns_records"])
    www = sorted((row["type"], row["value"]) for row in exported if row["name"] == "www.example.com")
    assert www and all(value == domain["www.example.com"] for _, value in www)
    assert {kind for kind, _ in www} <= {"A (alias)", "AAAA (alias)"} and ("A (alias)", www[0][1]) in www
    exported_zone = zone_file_lines(exported)
    assert not [line for line in exported_zone.splitlines() if re.search(r"(^|: )www\.example\.com\.\t", line)]
    assert "nothing to add: www.example.com. is an A alias record to" in exported_zone
    assert "a BIND zone file cannot express an alias record" in exported_zone


def test_a_record_pointing_elsewhere_is_refused_then_replaced_with_overwrite(dag, aws, r53):
    com = create_zone(r53, "example.com")
    put_record(r53, com, "www.example.com", "CNAME", "old-site.example.net")
    put_record(r53, com, "www.example.com", "TXT", '"site-verification=abc"')  # not in the way

    refused = run_dag(dag, conf(aws, ["www.example.com"]))
    assert refused.state == "failed"
    assert refused.task_states["check"] == ["failed"]
    assert aws.certificates() == [] and aws.distributions() == []
    assert "certificates[0] (line 1): www.example.com already has www.example.com CNAME old-site.example.net" in (
        failure_reason(aws)
    )

    result = run_dag(dag, conf(aws, ["www.example.com"], route53_overwrite=True))
    assert result.state == "success", result.task_states
    (distribution,) = aws.distributions()
    held = sorted((r["name"], r["type"], r.get("alias") or r["values"][0]) for r in records(r53, com))
    assert held == [
        (
            PREFIX + "www.example.com",
            "CNAME",
            "_c9edd76ee4a0e2a74388032f3861cc50.ykybfrwcxw.acm-validations.aws.",
        ),
        ("www.example.com", "A", distribution["DomainName"]),
        ("www.example.com", "AAAA", distribution["DomainName"]),
        ("www.example.com", "TXT", '"site-verification=abc"'),
    ]
    replaced = [e for e in result.xcom("summary")["dns_records"] if e.get("replaced")]
    assert {e["type"] for e in replaced} == {"A", "AAAA"}
    assert replaced[0]["replaced"] == ["www.example.com CNAME old-site.example.net"]
    assert "replacing www.example.com CNAME old-site.example.net" in aws.messages()[-1]["message"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"dns_aws_conn_id": "no_such_connection"}, "dns_aws_conn_id: Airflow has no connection"),
        (
            {"route53_zone_ids": ["ZDOESNOTEXIST1"]},
            "route53_zone_ids[0]: hosted zone ZDOESNOTEXIST1 does not exist",
        ),
        (
            {"dns_aws_conn_id": "denied"},
            "dns_aws_conn_id: this connection may not list Route 53 hosted zones",
        ),
    ],
    ids=["missing-connection", "missing-zone", "no-route53-permission"],
)
def test_bad_route53_input_is_refused_before_anything_is_created(dag, aws, r53, monkeypatch, extra, expected):
    create_zone(r53, "example.com")
    with FaultProxy(aws.url) as proxy:
        proxy.fail_always("denied")
        dns_connection(monkeypatch, "denied", proxy.url)
        result = run_dag(dag, conf(aws, ["www.example.com"], **extra))
    assert result.state == "failed"
    assert result.task_states["check"] == ["failed"]
    assert expected in failure_reason(aws)
    assert aws.certificates() == [] and aws.distributions() == []


def test_the_dns_wait_defers_and_a_retried_step_writes_nothing_twice(dag, aws, r53, monkeypatch):
    com = create_zone(r53, "example.com")
    with FaultProxy(aws.url) as proxy:
        connection = dns_connection(monkeypatch, "dns_proxy", proxy.url)
        proxy.hold_pending(2)  # Route 53 reports the validation change PENDING twice
        job = conf(aws, ["example.com, *.example.com", "www.example.com"], dns_aws_conn_id=connection)
        result = run_dag(dag, job)
        assert result.state == "success", result.task_states
        assert proxy.count("GetChange") == 3  # once at first, then the deferred wait until INSYNC
        assert (
            proxy.count("ChangeResourceRecordSets") == 3
        )  # validation records (one zone), then one per distribution

        # The write steps again with the inputs a retry gets: nothing is sent a second time.
        config = CreateJobConfig.model_validate(job)
        again = dns_job.write_validation_records(
            config, result.xcom("find_validation_records"), result.run_id
        )
        assert again["changes"] == [] and len(again["records"]) == 2
        for distribution in result.xcom("create_distributions"):
            pointed = dns_job.point_aliases(config, distribution, ipv6=True, run_id=result.run_id)
            assert pointed["changes"] == [] and pointed["records"]
        assert proxy.count("ChangeResourceRecordSets") == 3
    assert len(records(r53, com)) == 2 + 3 * 2


def test_clean_up_keeps_a_validation_record_another_jobs_certificate_uses(dag, aws, r53):
    com = create_zone(r53, "example.com")
    put_record(r53, com, "owner.example.com", "CNAME", "elsewhere.example.net")
    job = run_dag(dag, conf(aws, ["a.example.com", "b.example.com"]))
    assert job.state == "success", job.task_states
    # Another job later requests a certificate for a.example.com: its validation record is in place.
    other = run_dag(
        load_dag(DAG_ID),
        conf(
            aws,
            ["a.example.com"],
            create_distributions=False,
            source_distribution_id=None,
            route53_aliases=False,
        ),
    )
    assert other.state == "success", other.task_states
    assert other.xcom("summary")["dns_records"] == []  # in place already: not the other job's record

    cleanup = run_dag(load_dag("ssl_cleanup_job"), {"job_run_id": job.run_id, "dry_run": False})
    assert cleanup.state == "success", cleanup.task_states
    assert sorted((r["name"], r["type"]) for r in records(r53, com)) == [
        (PREFIX + "a.example.com", "CNAME"),  # the other job's certificate still validates with it
        ("owner.example.com", "CNAME"),
    ]
    actions = {
        (e["name"], e["type"]): e["action"] for e in cleanup.xcom("remove_job_resources")["dns_records"]
    }
    assert actions[(PREFIX + "a.example.com", "CNAME")] == "kept: a remaining certificate validates with it"
    assert actions[(PREFIX + "b.example.com", "CNAME")] == "deleted"
    assert actions[("a.example.com", "A")] == "deleted"


def test_the_plan_shows_each_names_zone_and_the_dns_conflicts(aws, r53):
    from cloudfront_ssl.steps.plan import plan_create_job

    com = create_zone(r53, "example.com")
    shop = create_zone(r53, "shop.example.com")
    private = create_zone(r53, "example.com", private=True)
    put_record(r53, com, "www.example.com", "A", "192.0.2.1")
    plan = plan_create_job(
        conf(aws, ["www.example.com", "a.shop.example.com, r53shop.com"], route53_zone_ids=[com, shop]),
        run_id=None,
    )
    assert [(entry["name"], entry["zone_id"], entry["zone_name"]) for entry in plan["dns"]] == [
        ("www.example.com", com, "example.com"),
        ("a.shop.example.com", shop, "shop.example.com"),
        ("r53shop.com", None, None),
    ]
    assert plan["conflicts"] == [
        {
            "item": 0,
            "line": 1,
            "name": "www.example.com",
            "held_by": "Route 53 record www.example.com A 192.0.2.1",
            "message": f"www.example.com already has www.example.com A 192.0.2.1 in hosted zone {com}; "
            "remove it, or set route53_overwrite to replace it",
        }
    ]
    assert [(e["field"], e["item"]) for e in plan["errors"]] == [("certificates", 0)]

    overwrite = plan_create_job(
        conf(aws, ["www.example.com"], route53_overwrite=True, route53_zone_ids=[f"/hostedzone/{private}"])
    )
    assert overwrite["errors"] == [
        {
            "field": "route53_zone_ids",
            "item": None,
            "line": None,
            "message": f"route53_zone_ids[0]: hosted zone /hostedzone/{private} (example.com) is private; "
            "the job writes to public zones only",
        }
    ]
    assert overwrite["dns"] == [
        {
            "name": "www.example.com",
            "zone_id": None,
            "zone_name": None,
            "reason": f"its hosted zone {com} (example.com) is not in route53_zone_ids",
        }
    ]
