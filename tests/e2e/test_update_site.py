"""End-to-end runs of ssl_update_site with dag.test() against moto in server mode.

moto ignores IfMatch and checks neither alias coverage nor alias uniqueness: these runs prove that the
job does, that a change someone makes to the distribution while the job waits is kept, and that at no
moment does the distribution serve a name its certificate does not cover.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from tests.aws import source_distribution_config
from tests.dag_runs import load_dag, run_dag
from tests.route53_support import create_zone, records, route53_client

DAG_ID = "ssl_update_site"
CREATOR = {"airflow:dag_id": "ssl_create_certificates", "airflow:run_id": "earlier-job"}
"""Tags of a site that an earlier create job of the package made."""


def issued_certificate(aws, names, tags=None, timeout=30.0):
    """A certificate for ``names`` (moto issues it after a couple of seconds), waited for."""
    kwargs = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}
    arn = aws.acm.request_certificate(
        DomainName=names[0], SubjectAlternativeNames=list(names), ValidationMethod="DNS", **kwargs
    )["CertificateArn"]
    deadline = time.monotonic() + timeout
    while aws.acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] != "ISSUED":
        assert time.monotonic() < deadline, "the emulator did not issue the certificate"
        time.sleep(0.3)
    return arn


def make_site(aws, names, tags=CREATOR, certificate_tags=CREATOR):
    """A live distribution serving ``names`` with its own certificate, as a create job leaves it."""
    certificate = issued_certificate(aws, names, certificate_tags)
    config = source_distribution_config(f"site-{uuid.uuid4().hex}", names)
    config["ViewerCertificate"] = {
        "CloudFrontDefaultCertificate": False,
        "ACMCertificateArn": certificate,
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    config["IsIPV6Enabled"] = True
    response = aws.cloudfront.create_distribution_with_tags(
        DistributionConfigWithTags={
            "DistributionConfig": config,
            "Tags": {"Items": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]},
        }
    )
    return response["Distribution"]["Id"], response["Distribution"]["DomainName"], certificate


def conf(aws, distribution_id, names, **extra):
    return {
        "distribution_id": distribution_id,
        "names": names,
        "notification_topic_arn": aws.topic_arn,
        "poll_interval_seconds": 1,
        **extra,
    }


def distribution_config(aws, distribution_id):
    return aws.cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"]


def aliases_and_certificate(aws, distribution_id):
    config = distribution_config(aws, distribution_id)
    return sorted(config["Aliases"].get("Items") or []), config["ViewerCertificate"].get("ACMCertificateArn")


def certificate_arns(aws):
    return {certificate["CertificateArn"] for certificate in aws.certificates()}


@pytest.fixture
def dag(airflow_db):
    return load_dag(DAG_ID)


class DistributionWatcher:
    """Reads a distribution's config every ``interval`` seconds from a thread, and records every moment
    at which an alias is not covered by the certificate the distribution points at."""

    def __init__(self, aws, distribution_id, interval=0.1):
        from cloudfront_ssl.rules.names import covers

        self.aws, self.distribution_id, self.interval = aws, distribution_id, interval
        self.covers = covers
        self.reads = 0
        self.states: list[tuple[tuple[str, ...], str | None]] = []
        self.uncovered: list[str] = []
        self._names: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _certificate_names(self, arn):
        if arn not in self._names:
            certificate = self.aws.acm.describe_certificate(CertificateArn=arn)["Certificate"]
            self._names[arn] = [certificate["DomainName"], *certificate.get("SubjectAlternativeNames", [])]
        return self._names[arn]

    def _run(self):
        while not self._stop.is_set():
            config = distribution_config(self.aws, self.distribution_id)
            aliases = tuple(sorted(config["Aliases"].get("Items") or []))
            arn = config["ViewerCertificate"].get("ACMCertificateArn")
            self.reads += 1
            if not self.states or self.states[-1] != (aliases, arn):
                self.states.append((aliases, arn))
            names = self._certificate_names(arn) if arn else []
            for alias in aliases:
                if not any(self.covers(name, alias) for name in names):
                    self.uncovered.append(f"{alias} served with {arn} covering {names}")
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)


def test_update_requests_a_certificate_swaps_in_one_change_and_keeps_a_concurrent_edit(dag, aws):
    distribution_id, _, old_certificate = make_site(aws, ["shop.example.com", "old.example.com"])
    edited = {}

    def edit_while_the_job_waits():
        # Once the job has requested its certificate it waits for ACM: change the distribution then,
        # as a person in the console would.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            requested = [c for c in aws.certificates() if c["Tags"].get("airflow:dag_id") == DAG_ID]
            if requested:
                response = aws.cloudfront.get_distribution_config(Id=distribution_id)
                config = response["DistributionConfig"]
                edited["aliases_then"] = sorted(config["Aliases"]["Items"])
                config["Comment"] = "changed by a person while the job waited"
                config["PriceClass"] = "PriceClass_All"
                aws.cloudfront.update_distribution(
                    Id=distribution_id, IfMatch=response["ETag"], DistributionConfig=config
                )
                edited["status"] = requested[0]["Status"]
                return
            time.sleep(0.1)

    editor = threading.Thread(target=edit_while_the_job_waits, daemon=True)
    editor.start()
    with DistributionWatcher(aws, distribution_id) as watcher:
        result = run_dag(dag, conf(aws, distribution_id, ["shop.example.com", "www.shop.example.com"]))
    editor.join(timeout=30)

    assert result.state == "success", result.task_states
    # The edit landed after the job had requested its certificate and before the swap (the emulator
    # issues within seconds: on a loaded machine the certificate may be issued already).
    assert edited["aliases_then"] == ["old.example.com", "shop.example.com"]
    assert edited["status"] in ("PENDING_VALIDATION", "ISSUED")
    config = distribution_config(aws, distribution_id)
    assert config["Comment"] == "changed by a person while the job waited"
    assert config["PriceClass"] == "PriceClass_All"
    assert config["IsIPV6Enabled"] is True
    assert sorted(config["Aliases"]["Items"]) == ["shop.example.com", "www.shop.example.com"]

    summary = result.xcom("summary")
    (new_certificate,) = summary["certificates"]
    assert sorted(new_certificate["names"]) == ["shop.example.com", "www.shop.example.com"]
    assert config["ViewerCertificate"]["ACMCertificateArn"] == new_certificate["arn"]
    assert summary["distribution_id"] == distribution_id
    assert summary["names_added"] == ["www.shop.example.com"]
    assert summary["names_removed"] == ["old.example.com"]
    assert summary["certificate_arn"] == new_certificate["arn"]
    assert summary["replaced_certificate_arn"] == old_certificate
    assert summary["replaced_certificate_deleted"] is True
    assert old_certificate not in certificate_arns(aws)

    # Watched throughout: two states only (before, after), never an uncovered alias.
    assert watcher.reads > 10
    assert watcher.uncovered == []
    assert [state[1] for state in watcher.states] == [old_certificate, new_certificate["arn"]]

    message = aws.messages()[-1]
    assert distribution_id in message["message"] and "www.shop.example.com  CNAME" in message["message"]


def test_a_name_another_distribution_holds_is_refused_before_anything_changes(dag, aws):
    distribution_id, _, certificate = make_site(aws, ["shop.example.com"])
    neighbour = aws.create_distribution(["taken.example.com"])
    before = (aliases_and_certificate(aws, distribution_id), certificate_arns(aws))

    result = run_dag(dag, conf(aws, distribution_id, "shop.example.com, taken.example.com"))

    assert result.state == "failed"
    assert result.task_states["check"] == ["failed"]
    assert (aliases_and_certificate(aws, distribution_id), certificate_arns(aws)) == before
    failure = aws.messages()[-1]["message"]
    assert f"taken.example.com is already an alias of distribution {neighbour}" in failure


def test_a_given_certificate_must_be_issued_and_cover_every_name(dag, aws):
    distribution_id, _, certificate = make_site(aws, ["shop.example.com"])
    narrow = issued_certificate(aws, ["shop.example.com"])
    before = (aliases_and_certificate(aws, distribution_id), certificate_arns(aws))

    refused = run_dag(
        dag, conf(aws, distribution_id, ["shop.example.com", "www.shop.example.com"], certificate_arn=narrow)
    )
    assert refused.state == "failed" and refused.task_states["check"] == ["failed"]
    assert "does not cover www.shop.example.com" in aws.messages()[-1]["message"]
    missing = run_dag(
        dag,
        conf(
            aws,
            distribution_id,
            ["shop.example.com"],
            certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
        ),
    )
    assert missing.state == "failed" and missing.task_states["check"] == ["failed"]
    assert (aliases_and_certificate(aws, distribution_id), certificate_arns(aws)) == before

    wide = issued_certificate(aws, ["shop.example.com", "*.shop.example.com"])
    result = run_dag(
        dag,
        conf(aws, distribution_id, ["shop.example.com", "www.shop.example.com"], certificate_arn=wide),
    )
    assert result.state == "success", result.task_states
    assert aliases_and_certificate(aws, distribution_id) == (
        ["shop.example.com", "www.shop.example.com"],
        wide,
    )
    summary = result.xcom("summary")
    assert summary["certificates"] == [] and summary["certificate_arn"] == wide
    # The replaced certificate was made by a create job and nothing uses it any more.
    assert summary["replaced_certificate_deleted"] is True
    assert certificate not in certificate_arns(aws)


def test_a_certificate_no_job_of_the_package_made_is_kept(dag, aws):
    distribution_id, _, certificate = make_site(aws, ["shop.example.com"], tags=None, certificate_tags=None)
    wide = issued_certificate(aws, ["shop.example.com", "www.shop.example.com"])

    result = run_dag(
        dag, conf(aws, distribution_id, ["shop.example.com", "www.shop.example.com"], certificate_arn=wide)
    )

    assert result.state == "success", result.task_states
    summary = result.xcom("summary")
    assert summary["replaced_certificate_arn"] == certificate
    assert summary["replaced_certificate_deleted"] is False
    assert certificate in certificate_arns(aws)
    assert result.xcom("delete_replaced_certificate")["reason"] == "kept: no job of this package made it"


def test_route53_points_added_names_and_removes_only_records_pointing_at_the_site(dag, aws):
    from cloudfront_ssl.rules.dns_records import alias_record_set

    dns = route53_client(aws.url)
    zone = create_zone(dns, "example.com")
    distribution_id, domain, _ = make_site(aws, ["shop.example.com", "old.example.com", "gone.example.com"])
    elsewhere = aws.create_distribution([])
    elsewhere_domain = aws.cloudfront.get_distribution(Id=elsewhere)["Distribution"]["DomainName"]
    dns.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {"Action": "CREATE", "ResourceRecordSet": alias_record_set("old.example.com", "A", domain)},
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": alias_record_set("old.example.com", "AAAA", domain),
                },
                {"Action": "CREATE", "ResourceRecordSet": alias_record_set("shop.example.com", "A", domain)},
                # Someone pointed this name elsewhere already: not the job's to delete.
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": alias_record_set("gone.example.com", "A", elsewhere_domain),
                },
            ]
        },
    )

    result = run_dag(
        dag,
        conf(
            aws,
            distribution_id,
            ["shop.example.com", "new.example.com"],
            route53_validation=True,
            route53_aliases=True,
        ),
    )

    assert result.state == "success", result.task_states
    held = {(r["name"], r["type"]): r.get("alias") or r.get("values") for r in records(dns, zone)}
    assert held[("new.example.com", "A")] == domain and held[("new.example.com", "AAAA")] == domain
    assert held[("shop.example.com", "A")] == domain
    assert ("old.example.com", "A") not in held and ("old.example.com", "AAAA") not in held
    assert held[("gone.example.com", "A")] == elsewhere_domain
    summary = result.xcom("summary")
    written = {(r["name"], r["type"]) for r in summary["dns_records"]}
    assert {("new.example.com", "A"), ("new.example.com", "AAAA")} <= written
    assert any(r["type"] == "CNAME" for r in summary["dns_records"])  # the validation record
    assert {(r["name"], r["type"]) for r in summary["dns_records_removed"] if r["action"] == "deleted"} == {
        ("old.example.com", "A"),
        ("old.example.com", "AAAA"),
    }


def test_a_site_another_running_job_is_changing_is_refused(dag, aws):
    from tests.e2e.test_claims import claim_variables, finish_stray_runs, set_running

    finish_stray_runs()
    distribution_id, _, _ = make_site(aws, ["shop.example.com"])
    wide = issued_certificate(aws, ["shop.example.com", "*.shop.example.com"])
    first = run_dag(
        dag, conf(aws, distribution_id, ["shop.example.com", "a.shop.example.com"], certificate_arn=wide)
    )
    assert first.state == "success", first.task_states
    (claim,) = [c for c in claim_variables().values() if c["run_id"] == first.run_id]
    assert f"site:{distribution_id.lower()}" in claim["names"] and claim["held"]
    set_running(DAG_ID, first.run_id, running=True)
    try:
        before = aliases_and_certificate(aws, distribution_id)
        second = run_dag(dag, conf(aws, distribution_id, ["shop.example.com"], certificate_arn=wide))
        assert second.task_states["check"] == ["failed"]
        assert aliases_and_certificate(aws, distribution_id) == before
        failure = aws.messages()[-1]["message"]
        assert f"distribution {distribution_id} is being changed by job {first.run_id}" in failure
    finally:
        set_running(DAG_ID, first.run_id, running=False)


def test_precondition_failed_reads_the_distribution_again_and_keeps_the_other_change():
    """CloudFront answers PreconditionFailed when the distribution changed between the read and the
    write (moto never does): the change is made again on the config read anew."""
    import boto3
    from botocore.stub import Stubber

    from cloudfront_ssl.aws.cloudfront import set_aliases_and_certificate

    client = boto3.client(
        "cloudfront", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    old = "arn:aws:acm:us-east-1:123456789012:certificate/old"
    new = "arn:aws:acm:us-east-1:123456789012:certificate/new"
    base = source_distribution_config("site", ["shop.example.com"])
    base["ViewerCertificate"] = {
        "CloudFrontDefaultCertificate": False,
        "ACMCertificateArn": old,
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2019",
    }
    edited = {**base, "Comment": "edited in between"}
    wanted_aliases = {"Quantity": 2, "Items": ["shop.example.com", "www.shop.example.com"]}
    wanted_viewer = {**base["ViewerCertificate"], "ACMCertificateArn": new}
    distribution = {
        "Id": "E1SITE",
        "ARN": "arn:aws:cloudfront::123456789012:distribution/E1SITE",
        "Status": "InProgress",
        "LastModifiedTime": "2026-01-01T00:00:00Z",
        "InProgressInvalidationBatches": 0,
        "DomainName": "d1.cloudfront.net",
        "ActiveTrustedSigners": {"Enabled": False, "Quantity": 0},
        "DistributionConfig": {**edited, "Aliases": wanted_aliases, "ViewerCertificate": wanted_viewer},
    }
    with Stubber(client) as stub:
        stub.add_response(
            "get_distribution_config", {"DistributionConfig": base, "ETag": "E1"}, {"Id": "E1SITE"}
        )
        stub.add_client_error("update_distribution", "PreconditionFailed", http_status_code=412)
        stub.add_response(
            "get_distribution_config", {"DistributionConfig": edited, "ETag": "E2"}, {"Id": "E1SITE"}
        )
        stub.add_response(
            "update_distribution",
            {"Distribution": distribution, "ETag": "E3"},
            {
                "Id": "E1SITE",
                "IfMatch": "E2",
                "DistributionConfig": {
                    **edited,
                    "Aliases": wanted_aliases,
                    "ViewerCertificate": wanted_viewer,
                },
            },
        )
        result = set_aliases_and_certificate(
            client, "E1SITE", aliases=["shop.example.com", "www.shop.example.com"], certificate_arn=new
        )
        stub.assert_no_pending_responses()
    assert result["changed"] is True and result["certificate_arn"] == new


def test_an_update_makes_one_update_distribution_and_few_other_calls(dag, aws, monkeypatch, capsys):
    """Every AWS call of an update counted by the fault proxy (the job's connection goes through it)."""
    import json

    from devstack.fault_proxy import FaultProxy

    dns = route53_client(aws.url)
    create_zone(dns, "example.com")
    distribution_id, _, _ = make_site(aws, ["shop.example.com", "old.example.com"])
    with FaultProxy(aws.url) as proxy:
        monkeypatch.setenv(
            "AIRFLOW_CONN_COUNTED",
            json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": proxy.url},
                }
            ),
        )
        started = time.monotonic()
        result = run_dag(
            dag,
            conf(
                aws,
                distribution_id,
                ["shop.example.com", "www.shop.example.com"],
                aws_conn_id="counted",
                route53_validation=True,
                route53_aliases=True,
            ),
        )
        elapsed = time.monotonic() - started
        calls = proxy.operations()
    assert result.state == "success", result.task_states
    assert calls["UpdateDistribution"] == 1
    assert calls["RequestCertificate"] == 1
    assert calls["DeleteCertificate"] == 1
    assert calls["CreateDistribution"] == calls["CreateDistributionWithTags"] == 0
    with capsys.disabled():
        print(
            f"\nupdate on the emulator: {elapsed:.1f} s, {sum(calls.values())} AWS calls: {dict(sorted(calls.items()))}"
        )


def test_the_watcher_sees_an_alias_its_certificate_does_not_cover(aws):
    """The watch above can fail: a change that serves a name without a covering certificate is seen."""
    distribution_id, _, _ = make_site(aws, ["shop.example.com"])
    with DistributionWatcher(aws, distribution_id, interval=0.05) as watcher:
        time.sleep(0.3)
        response = aws.cloudfront.get_distribution_config(Id=distribution_id)
        config = response["DistributionConfig"]
        config["Aliases"] = {"Quantity": 2, "Items": ["shop.example.com", "uncovered.example.com"]}
        aws.cloudfront.update_distribution(
            Id=distribution_id, IfMatch=response["ETag"], DistributionConfig=config
        )
        time.sleep(0.3)
    assert any(entry.startswith("uncovered.example.com served with") for entry in watcher.uncovered)


def test_a_site_with_more_names_than_a_certificate_takes_is_updated_under_a_wildcard(dag, aws):
    """A site may serve up to 100 names; a requested certificate holds at most 10: twenty names under
    one wildcard take a certificate of that wildcard (with aggregate) or one given that covers them."""
    many = [f"shop{n}.example.com" for n in range(20)]
    distribution_id, _, _ = make_site(aws, many[:2])
    before = (aliases_and_certificate(aws, distribution_id), certificate_arns(aws))

    refused = run_dag(dag, conf(aws, distribution_id, many))
    assert refused.state == "failed" and refused.task_states["check"] == ["failed"]
    assert "would hold 20 names and ACM takes at most 10" in aws.messages()[-1]["message"]
    assert (aliases_and_certificate(aws, distribution_id), certificate_arns(aws)) == before

    result = run_dag(dag, conf(aws, distribution_id, ["*.example.com", *many], aggregate=True))
    assert result.state == "success", result.task_states
    (requested,) = result.xcom("summary")["certificates"]
    assert requested["names"] == ["*.example.com"]
    aliases, served_by = aliases_and_certificate(aws, distribution_id)
    assert sorted(aliases) == sorted(["*.example.com", *many]) and served_by == requested["arn"]

    wide = issued_certificate(aws, ["*.example.com"])
    given = run_dag(dag, conf(aws, distribution_id, many, certificate_arn=wide))
    assert given.state == "success", given.task_states
    assert aliases_and_certificate(aws, distribution_id) == (sorted(many), wide)
