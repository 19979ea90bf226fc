"""End-to-end runs of ssl_create_certificates with dag.test() against moto in server mode."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from tests.dag_runs import load_dag, run_dag

DAG_ID = "ssl_create_certificates"


@pytest.fixture
def dag(airflow_db):
    return load_dag(DAG_ID)


def conf(aws, certificates, **extra):
    return {
        "certificates": certificates,
        "source_distribution_id": aws.source_distribution_id,
        "notification_topic_arn": aws.topic_arn,
        "poll_interval_seconds": 1,
        **extra,
    }


def names_of(certificate: dict) -> list[str]:
    return [certificate["DomainName"]] + [
        name for name in certificate.get("SubjectAlternativeNames", []) if name != certificate["DomainName"]
    ]


def test_three_items_with_aggregation(dag, aws):
    result = run_dag(
        dag,
        conf(
            aws,
            [
                "Shop.Example.com, www.shop.example.com",
                ["*.example.org", "example.org."],
                "a.example.org b.example.org",
            ],
            aggregate=True,
            tags={"team": "web", "cost-centre": "42"},
        ),
    )
    assert result.state == "success", result.task_states

    # ACM (us-east-1 only, although the connection's region is eu-west-1) holds two certificates.
    certificates = aws.certificates()
    assert aws.certificate_count("eu-west-1") == 0
    assert sorted(names_of(c) for c in certificates) == [
        ["*.example.org", "example.org"],
        ["shop.example.com", "www.shop.example.com"],
    ]
    for certificate in certificates:
        assert certificate["Tags"] == {
            "team": "web",
            "cost-centre": "42",
            "airflow:dag_id": DAG_ID,
            "airflow:run_id": result.run_id,
        }
    arn_of = {names_of(c)[0]: c["CertificateArn"] for c in certificates}

    # CloudFront holds one distribution per item, copied from the source, the third on the wildcard.
    distributions = {tuple(d["DistributionConfig"]["Aliases"]["Items"]): d for d in aws.distributions()}
    assert set(distributions) == {
        ("shop.example.com", "www.shop.example.com"),
        ("*.example.org", "example.org"),
        ("a.example.org", "b.example.org"),
    }
    expected_certificate = {
        ("shop.example.com", "www.shop.example.com"): arn_of["shop.example.com"],
        ("*.example.org", "example.org"): arn_of["*.example.org"],
        ("a.example.org", "b.example.org"): arn_of["*.example.org"],
    }
    source = aws.cloudfront.get_distribution_config(Id=aws.source_distribution_id)["DistributionConfig"]
    for aliases, distribution in distributions.items():
        config = distribution["DistributionConfig"]
        viewer = config["ViewerCertificate"]
        assert viewer["ACMCertificateArn"] == expected_certificate[aliases]
        assert viewer["SSLSupportMethod"] == "sni-only"
        assert viewer["MinimumProtocolVersion"] == "TLSv1.2_2021"
        assert viewer["CloudFrontDefaultCertificate"] is False
        assert config["Origins"] == source["Origins"]
        assert (
            config["DefaultCacheBehavior"]["TargetOriginId"]
            == source["DefaultCacheBehavior"]["TargetOriginId"]
        )
        assert distribution["Tags"] == {
            "team": "web",
            "cost-centre": "42",
            "airflow:dag_id": DAG_ID,
            "airflow:run_id": result.run_id,
        }

    # The owners were told the validation records, then the CNAME targets.
    sent = aws.messages()
    assert len(sent) == 2
    validation, cnames = sent
    assert "DNS records" in validation["subject"] and len(validation["subject"]) < 100
    for certificate in certificates:
        description = aws.acm.describe_certificate(CertificateArn=certificate["CertificateArn"])[
            "Certificate"
        ]
        for option in description["DomainValidationOptions"]:
            record = option["ResourceRecord"]
            assert record["Name"] in validation["message"]
            assert record["Value"] in validation["message"]
    # The apex and its wildcard share one record, listed once: 2 records for shop, 1 for example.org.
    assert "Certificate 1: shop.example.com, www.shop.example.com" in validation["message"]
    assert "Certificate 2: *.example.org, example.org" in validation["message"]
    assert validation["message"].count("Name:") == 3
    assert "CloudFront" in cnames["subject"]
    for aliases, distribution in distributions.items():
        for alias in aliases:
            assert f"{alias}  CNAME  {distribution['DomainName']}" in cnames["message"]

    # The last task's summary (spec section 7).
    summary = result.xcom("summary")
    assert [c["names"] for c in summary["certificates"]] == [
        ["shop.example.com", "www.shop.example.com"],
        ["*.example.org", "example.org"],
    ]
    assert all(c["status"] == "ISSUED" and c["validation_records"] for c in summary["certificates"])
    assert {tuple(d["aliases"]) for d in summary["distributions"]} == set(distributions)
    for entry in summary["distributions"]:
        assert set(entry) == {"id", "arn", "domain_name", "aliases", "certificate_arn"}
        assert entry["certificate_arn"] == expected_certificate[tuple(entry["aliases"])]


def test_without_distributions_only_certificates_are_made(dag, aws):
    result = run_dag(
        dag, conf(aws, ["a.example.net"], create_distributions=False, source_distribution_id=None)
    )
    assert result.state == "success", result.task_states
    assert [names_of(c) for c in aws.certificates()] == [["a.example.net"]]
    assert aws.distributions() == []
    summary = result.xcom("summary")
    assert summary["distributions"] == [] and len(summary["certificates"]) == 1
    assert len(aws.messages()) == 1  # validation records only: no distribution, no CNAME message


@pytest.mark.parametrize(
    ("certificates", "extra", "message"),
    [
        # An IP address has the shape of a name (the trigger-time pattern lets it through): the check's
        # name rules refuse it.
        (["a.example.com", "192.0.2.19"], {}, r"certificates\[1\] \(line 2\): '192.0.2.19'.*IP address"),
        (
            ["a.example.com", "b.example.com, A.example.com"],
            {},
            r"certificates\[1\] \(line 2\): a.example.com is already in",
        ),
        ([[f"n{i}.example.com" for i in range(11)]], {}, r"certificates\[0\] \(line 1\): holds 11 names"),
        (
            ["a.example.com"],
            {"source_distribution_id": "EDOESNOTEXIST"},
            "distribution EDOESNOTEXIST does not exist",
        ),
        (["a.example.com"], {"surprise": 1}, "surprise: is not a setting"),
    ],
)
def test_a_refused_conf_leaves_aws_untouched(dag, aws, certificates, extra, message):
    result = run_dag(dag, conf(aws, certificates, **extra))
    assert result.state == "failed"
    assert result.task_states["check"] == ["failed"]
    assert result.task_states["request_certificates"] == ["upstream_failed"]
    assert aws.certificates() == []
    assert aws.distributions() == []
    # The owners hear which step failed and why.
    (failure,) = aws.messages()
    assert "check" in failure["subject"]
    assert re.search(message, failure["message"])


def test_a_line_that_is_not_a_list_of_names_is_refused_at_trigger_time(dag, aws):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="bad_name.example.com"):
        run_dag(dag, conf(aws, ["a.example.com", "bad_name.example.com"]))
    assert aws.certificates() == []
    assert aws.distributions() == []


def test_every_refusal_is_reported_at_once(dag, aws):
    result = run_dag(
        dag,
        conf(
            aws,
            ["a.example.com", "", "192.0.2.1", "x" * 64 + ".example.com", "A.example.com"],
            tags={"t": "a#b"},
        ),
    )
    assert result.task_states["check"] == ["failed"]
    (failure,) = aws.messages()
    for expected in (
        r"tags: tag 't'",
        r"certificates\[2\] \(line 3\): '192.0.2.1'",
        r"certificates\[3\] \(line 4\):",
        r"certificates\[4\] \(line 5\): a.example.com is already in",
    ):
        assert re.search(expected, failure["message"]), expected
    assert aws.certificates() == []


def test_an_alias_already_on_another_distribution_is_refused(dag, aws):
    neighbour = aws.create_distribution(aliases=["www.taken.example.com"])
    result = run_dag(dag, conf(aws, ["free.example.com", "taken.example.com, WWW.taken.example.com"]))
    assert result.state == "failed"
    assert result.task_states["check"] == ["failed"]
    assert aws.certificates() == []
    assert [d["Id"] for d in aws.distributions()] == [neighbour]
    (failure,) = aws.messages()
    assert (
        f"certificates[1] (line 2): www.taken.example.com is already an alias of distribution {neighbour}"
        in failure["message"]
    )


def test_a_certificate_that_acm_fails_ends_the_job_with_the_reason(dag, aws, monkeypatch):
    from moto.acm.models import AWSCertificateManagerBackend

    request = AWSCertificateManagerBackend.request_certificate

    def request_and_fail(self, domain_name, *args, **kwargs):
        arn = request(self, domain_name, *args, **kwargs)
        if domain_name.startswith("caa-blocked"):
            aws.fail_certificate(arn, "CAA_ERROR")
        return arn

    monkeypatch.setattr(AWSCertificateManagerBackend, "request_certificate", request_and_fail)
    result = run_dag(dag, conf(aws, ["ok.example.com", "caa-blocked.example.com"]))
    assert result.state == "failed"
    assert result.task_states["wait_for_issuance"] == ["failed"]
    assert result.task_states["create_distributions"] == ["upstream_failed"]
    assert aws.distributions() == []
    validation, failure = aws.messages()
    assert "wait_for_issuance" in failure["subject"]
    assert "caa-blocked.example.com is FAILED (CAA_ERROR)" in failure["message"]


def test_the_wait_gives_up_after_the_validation_timeout(dag, aws, monkeypatch):
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 3600)
    started = time.monotonic()
    result = run_dag(dag, conf(aws, ["slow.example.com"], validation_timeout_hours=3 / 3600))
    assert result.state == "failed"
    assert result.task_states["wait_for_issuance"] == ["failed"]
    assert time.monotonic() - started < 120
    failure = aws.messages()[-1]
    assert "still pending validation after" in failure["message"]
    assert aws.distributions() == []


def test_a_retried_request_step_creates_no_duplicate(dag, aws, monkeypatch):
    """The first try requests the certificates, then fails; the retry must find them, not request more."""
    from moto.acm.models import acm_backends

    from cloudfront_ssl.aws import notify

    publish = notify.publish
    calls = {"count": 0}

    def fail_first_publish(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == 1:
            # Also forget the idempotency tokens, as ACM does after an hour: the retry must use the tags.
            acm_backends["123456789012"]["us-east-1"]._idempotency_tokens.clear()
            raise RuntimeError("SNS is unavailable")
        return publish(*args, **kwargs)

    monkeypatch.setattr(notify, "publish", fail_first_publish)
    task = dag.get_task("request_certificates")
    monkeypatch.setattr(task, "retry_delay", timedelta(seconds=0))
    result = run_dag(dag, conf(aws, ["a.example.com, www.a.example.com", "b.example.com"]))
    assert result.state == "success", result.task_states
    certificates = aws.certificates()
    assert sorted(names_of(c) for c in certificates) == [
        ["a.example.com", "www.a.example.com"],
        ["b.example.com"],
    ]
    assert {
        d["DistributionConfig"]["ViewerCertificate"]["ACMCertificateArn"] for d in aws.distributions()
    } == {c["CertificateArn"] for c in certificates}


def test_a_retried_distribution_step_creates_no_duplicate(aws):
    """A second try of one distribution finds the one the first try made (by alias and tags)."""
    from cloudfront_ssl.aws import cloudfront

    client = aws.cloudfront
    certificate_arn = aws.acm.request_certificate(DomainName="r.example.com", ValidationMethod="DNS")[
        "CertificateArn"
    ]
    source = cloudfront.get_source_config(client, aws.source_distribution_id)
    arguments = dict(
        aliases=["r.example.com"],
        certificate_arn=certificate_arn,
        dag_id=DAG_ID,
        run_id="manual__retry",
        item=0,
        tags=[
            {"Key": "airflow:dag_id", "Value": DAG_ID},
            {"Key": "airflow:run_id", "Value": "manual__retry"},
        ],
    )
    first = cloudfront.create_job_distribution(client, source, **arguments)
    second = cloudfront.create_job_distribution(client, source, **arguments)
    assert first == second
    assert len(aws.distributions()) == 1
    # Another job asking for the same alias is refused, naming the distribution.
    with pytest.raises(cloudfront.DistributionError, match=f"already an alias of distribution {first['id']}"):
        cloudfront.create_job_distribution(client, source, **{**arguments, "run_id": "manual__other"})


def test_a_hundred_item_job(dag, aws):
    started = time.monotonic()
    items = [f"site{i}.example.com, www.site{i}.example.com" for i in range(100)]
    result = run_dag(dag, conf(aws, items))
    elapsed = time.monotonic() - started
    print(f"100-item create job: {elapsed:.1f} s")
    assert result.state == "success", result.task_states
    assert len(aws.certificates()) == 100
    distributions = aws.distributions()
    assert len(distributions) == 100
    assert (
        len({d["DistributionConfig"]["ViewerCertificate"]["ACMCertificateArn"] for d in distributions}) == 100
    )
    summary = result.xcom("summary")
    assert len(summary["certificates"]) == 100 and len(summary["distributions"]) == 100
    assert len(aws.messages()) == 2


def test_the_topic_defaults_to_the_airflow_variable(dag, aws, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_SSL_NOTIFICATION_TOPIC_ARN", aws.topic_arn)
    job = conf(aws, ["var.example.com"], create_distributions=False, source_distribution_id=None)
    del job["notification_topic_arn"]
    result = run_dag(dag, job)
    assert result.state == "success", result.task_states
    (message,) = aws.messages()
    assert "var.example.com" in message["message"]


def test_without_any_topic_the_job_runs_silently(dag, aws, monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_SSL_NOTIFICATION_TOPIC_ARN", raising=False)
    job = conf(aws, ["quiet.example.com"], create_distributions=False, source_distribution_id=None)
    del job["notification_topic_arn"]
    result = run_dag(dag, job)
    assert result.state == "success", result.task_states
    assert aws.messages() == []
    assert len(aws.certificates()) == 1


def test_a_first_try_reads_no_more_of_the_account_than_the_check_needs(dag, aws, monkeypatch):
    """Only the check pages through the distributions (aliases taken); no step lists certificates."""
    from cloudfront_ssl.aws import acm, cloudfront

    calls = {"list_distributions": 0, "list_certificates": 0}
    list_distributions, list_certificates = cloudfront.list_distributions, acm.list_certificates

    def counting_distributions(client):
        calls["list_distributions"] += 1
        return list_distributions(client)

    def counting_certificates(client, statuses=None):
        calls["list_certificates"] += 1
        return list_certificates(client, statuses)

    monkeypatch.setattr(cloudfront, "list_distributions", counting_distributions)
    monkeypatch.setattr(acm, "list_certificates", counting_certificates)
    for n in range(20):
        aws.create_distribution(aliases=[f"neighbour{n}.example.net"])
    result = run_dag(dag, conf(aws, [f"s{i}.example.com" for i in range(5)]))
    assert result.state == "success", result.task_states
    assert calls == {"list_distributions": 1, "list_certificates": 0}
    assert len(aws.distributions()) == 20 + 5  # the source distribution is not listed


def test_the_owners_get_one_message_naming_every_item_not_created(dag, aws, monkeypatch):
    """Two of three distributions refused: the third is still made; one message names both items."""
    from cloudfront_ssl.aws import cloudfront

    create = cloudfront.create_job_distribution

    def refuse_two(client, source, **kwargs):
        if kwargs["item"] in (0, 2):
            raise cloudfront.DistributionError(
                f"certificates[{kwargs['item']}] ({kwargs['aliases'][0]}): CloudFront refused the distribution: "
                "InvalidViewerCertificate: the certificate does not cover the aliases"
            )
        return create(client, source, **kwargs)

    monkeypatch.setattr(cloudfront, "create_job_distribution", refuse_two)
    result = run_dag(dag, conf(aws, ["m0.example.com", "m1.example.com", "m2.example.com"]))
    assert result.state == "failed"
    assert result.task_states["create_distributions"] == ["failed"]  # refused: no retry would help
    (made,) = aws.distributions()
    assert made["DistributionConfig"]["Aliases"]["Items"] == ["m1.example.com"]
    # The step kept each item's result although it failed.
    kept = result.xcom("create_distributions")
    assert [(r["item"], r["state"]) for r in kept] == [(0, "failed"), (1, "success"), (2, "failed")]
    assert kept[1]["id"] == made["Id"]
    validation, failure = aws.messages()
    assert "create_distributions" in failure["subject"]
    assert "2 of 3 distribution(s) failed" in failure["message"]
    for name in ("certificates[0] (m0.example.com)", "certificates[2] (m2.example.com)"):
        assert f"{name}: CloudFront refused the distribution: InvalidViewerCertificate" in failure["message"]
    assert "m1.example.com" not in failure["message"]


def test_a_retry_of_the_distributions_step_creates_only_the_missing_one(dag, aws, monkeypatch):
    """One create fails for a passing reason: the others are made; Airflow's retry of the step finds
    them by their tags and creates only the missing one, so every item has exactly one distribution."""
    from moto.cloudfront.exceptions import CloudFrontException
    from moto.cloudfront.models import CloudFrontBackend

    from cloudfront_ssl.steps import distributions

    sent: list[list[str]] = []
    tries: list[int] = []
    store = CloudFrontBackend.create_distribution_with_tags

    def unavailable_on_the_first_try(self, distribution_config, tags):
        aliases = alias_items(distribution_config)
        sent.append(aliases)
        if aliases == ["r1.example.com"] and len(tries) == 1:
            raise CloudFrontException(
                "ServiceUnavailable", "CloudFront could not take the request; try again"
            )
        return store(self, distribution_config, tags)

    step = distributions.create_distributions

    def counting_tries(*args, **kwargs):
        tries.append(kwargs["try_number"])
        return step(*args, **kwargs)

    monkeypatch.setattr(CloudFrontBackend, "create_distribution_with_tags", unavailable_on_the_first_try)
    monkeypatch.setattr(distributions, "create_distributions", counting_tries)
    monkeypatch.setattr(dag.get_task("create_distributions"), "retry_delay", timedelta(seconds=0))
    result = run_dag(dag, conf(aws, ["r0.example.com", "r1.example.com", "r2.example.com"]))
    assert result.state == "success", result.task_states
    assert tries == [1, 2]
    # r1 was sent on both tries (refused, then made); r0 and r2 once, on the first.
    assert sorted(a[0] for a in sent) == [
        "r0.example.com",
        "r1.example.com",
        "r1.example.com",
        "r2.example.com",
    ]
    made = sorted(d["DistributionConfig"]["Aliases"]["Items"][0] for d in aws.distributions())
    assert made == ["r0.example.com", "r1.example.com", "r2.example.com"]
    kept = result.xcom("create_distributions")
    assert [(r["aliases"][0], r["state"], r["found"], r["try_number"]) for r in kept] == [
        ("r0.example.com", "success", True, 2),
        ("r1.example.com", "success", False, 2),
        ("r2.example.com", "success", True, 2),
    ]
    assert len(result.xcom("summary")["distributions"]) == 3


def alias_items(distribution_config: dict) -> list[str]:
    """The aliases of a distribution config as moto received it (its XML read as a dict)."""
    items = (distribution_config.get("Aliases") or {}).get("Items") or []
    if isinstance(items, dict):
        items = items.get("CNAME") or []
    return [items] if isinstance(items, str) else list(items)


def test_a_missing_topic_or_connection_is_refused_before_anything_is_created(dag, aws):
    missing_topic = aws.topic_arn.rsplit(":", 1)[0] + ":no-such-topic"
    result = run_dag(dag, conf(aws, ["t.example.com"], notification_topic_arn=missing_topic))
    assert result.task_states["check"] == ["failed"]
    result = run_dag(dag, conf(aws, ["t.example.com"], aws_conn_id="aws_defualt"))
    assert result.task_states["check"] == ["failed"]
    assert aws.certificates() == [] and aws.distributions() == []
