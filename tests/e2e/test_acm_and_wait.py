"""ACM behaviour the emulator does not produce by itself, and the deferrable wait in isolation."""

from __future__ import annotations

import asyncio
import time

import boto3
import pytest
from botocore.stub import Stubber

from cloudfront_ssl.aws import acm
from cloudfront_ssl.steps.triggers import CertificatesIssuedTrigger

ACCOUNT = "123456789012"


def offline_client():
    return boto3.client("acm", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


def test_a_quota_fails_at_once_with_a_clear_message(aws):
    client = acm.acm_hook("aws_default", botocore_retries=False).conn
    names = [f"n{i}.example.com" for i in range(11)]  # moto answers LimitExceededException, as ACM would
    started = time.monotonic()
    with pytest.raises(acm.CertificateRequestError, match="ACM quota reached .* retrying will not help"):
        acm.request_certificate(client, names, "token1", [])
    assert time.monotonic() - started < 5
    assert aws.certificates() == []


def test_throttling_is_waited_out():
    client = offline_client()
    stubber = Stubber(client)
    stubber.add_client_error("request_certificate", "ThrottlingException", "Rate exceeded")
    stubber.add_client_error("request_certificate", "ThrottlingException", "Rate exceeded")
    stubber.add_response("request_certificate", {"CertificateArn": "arn:aws:acm:us-east-1:1:certificate/x"})
    with stubber:
        arn = acm.request_certificate(client, ["a.example.com"], "token", [], backoff_seconds=0)
    assert arn.endswith("/x")
    stubber.assert_no_pending_responses()


def test_a_refused_name_is_final():
    client = offline_client()
    stubber = Stubber(client)
    stubber.add_client_error("request_certificate", "InvalidDomainValidationOptionsException", "bad domain")
    with (
        stubber,
        pytest.raises(acm.CertificateRequestError, match="ACM refused the certificate for a.example.com"),
    ):
        acm.request_certificate(client, ["a.example.com"], "token", [])


def test_validation_records_are_awaited_until_every_name_has_one():
    client = offline_client()
    stubber = Stubber(client)
    arn = "arn:aws:acm:us-east-1:1:certificate/x"
    pending = {"DomainName": "a.example.com", "ValidationStatus": "PENDING_VALIDATION"}
    record = {"Name": "_x.a.example.com.", "Type": "CNAME", "Value": "_y.acm-validations.aws."}
    base = {"CertificateArn": arn, "DomainName": "a.example.com", "Status": "PENDING_VALIDATION"}
    stubber.add_response(
        "describe_certificate", {"Certificate": {**base, "DomainValidationOptions": [pending]}}
    )
    stubber.add_response(
        "describe_certificate",
        {"Certificate": {**base, "DomainValidationOptions": [{**pending, "ResourceRecord": record}]}},
    )
    with stubber:
        certificate = acm.describe_until_records(client, arn, interval_seconds=0)
    assert acm.validation_records(certificate) == [
        {"name": "_x.a.example.com.", "type": "CNAME", "value": "_y.acm-validations.aws."}
    ]


def test_an_apex_and_its_wildcard_share_one_record():
    record = {"Name": "_x.example.org.", "Type": "CNAME", "Value": "_y.acm-validations.aws."}
    certificate = {
        "DomainValidationOptions": [
            {"DomainName": "*.example.org", "ResourceRecord": record},
            {"DomainName": "example.org", "ResourceRecord": record},
        ]
    }
    assert len(acm.validation_records(certificate)) == 1


def run_trigger(trigger: CertificatesIssuedTrigger) -> dict:
    async def first_event():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(first_event())


@pytest.fixture
def count_acm_calls(monkeypatch):
    """Count ListCertificates sweeps and DescribeCertificate calls (by certificate) that reach the emulator."""
    from moto.acm.models import AWSCertificateManagerBackend

    calls: dict[str, list] = {"list": [], "describe": []}
    describe = AWSCertificateManagerBackend.describe_certificate
    list_certificates = AWSCertificateManagerBackend.list_certificates

    def counting_describe(self, arn):
        calls["describe"].append(arn)
        return describe(self, arn)

    def counting_list(self, statuses, includes):
        calls["list"].append(statuses)
        return list_certificates(self, statuses, includes)

    monkeypatch.setattr(AWSCertificateManagerBackend, "describe_certificate", counting_describe)
    monkeypatch.setattr(AWSCertificateManagerBackend, "list_certificates", counting_list)
    return calls


def request(aws, name: str) -> str:
    return aws.acm.request_certificate(DomainName=name, ValidationMethod="DNS")["CertificateArn"]


def test_the_wait_checks_only_pending_certificates_once_per_poll(aws, monkeypatch, count_acm_calls):
    from moto import settings
    from moto.acm.models import acm_backends

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 3600)
    issued, slow_1, slow_2 = (request(aws, f"{n}.example.com") for n in ("issued", "slow1", "slow2"))
    acm_backends[ACCOUNT]["us-east-1"].get_certificate(issued).status = "ISSUED"
    count_acm_calls["list"].clear()
    count_acm_calls["describe"].clear()
    started = time.monotonic()
    event = run_trigger(
        CertificatesIssuedTrigger([issued, slow_1, slow_2], "aws_default", 0.3, deadline=time.time() + 1.2)
    )
    elapsed = time.monotonic() - started
    assert event == {"status": "timeout", "pending": [slow_1, slow_2]}
    # Every check is one ListCertificates sweep for all three (statuses in bulk), at most one per
    # poll interval; a certificate is described only when it fails, to read ACM's reason.
    assert 2 <= len(count_acm_calls["list"]) <= int(elapsed / 0.3) + 1
    assert count_acm_calls["describe"] == []


def test_the_wait_reports_a_failed_certificate_with_its_reason(aws, monkeypatch):
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 3600)
    good, bad = request(aws, "good.example.com"), request(aws, "bad.example.com")
    aws.fail_certificate(bad, "DOMAIN_NOT_ALLOWED")
    event = run_trigger(CertificatesIssuedTrigger([good, bad], "aws_default", 0.2, deadline=time.time() + 30))
    assert event["status"] == "failed"
    assert event["certificate_arn"] == bad
    assert event["reason"] == "bad.example.com is FAILED (DOMAIN_NOT_ALLOWED)"


def test_the_wait_succeeds_once_all_are_issued(aws, monkeypatch):
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 1)
    arns = [request(aws, f"s{i}.example.com") for i in range(3)]
    started = time.monotonic()
    event = run_trigger(CertificatesIssuedTrigger(arns, "aws_default", 0.5, deadline=time.time() + 60))
    assert event == {"status": "issued", "certificate_arns": arns}
    assert time.monotonic() - started < 30


def test_the_trigger_serializes_to_plain_arguments():
    trigger = CertificatesIssuedTrigger(["arn:1"], "aws_default", 300, 1.5)
    path, kwargs = trigger.serialize()
    assert path == "cloudfront_ssl.steps.triggers.CertificatesIssuedTrigger"
    assert kwargs == {
        "certificate_arns": ["arn:1"],
        "aws_conn_id": "aws_default",
        "poll_interval_seconds": 300,
        "deadline": 1.5,
        "error_grace_seconds": 3600.0,
    }
