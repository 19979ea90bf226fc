"""Rotating imported certificates against moto in server mode: the import job's ``certificate_arn`` and
``bundle_secret_id``, and the daily ``ssl_rotate_imported``.

moto drops a certificate's tags on re-import and checks neither key matches nor which names a
distribution serves: these runs prove the jobs do, that a refused bundle leaves ACM as it was, and
that the private key appears in no log line, XCom or message.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests import pki
from tests.dag_runs import load_dag, run_dag, run_dag_cli

IMPORT = "ssl_import_certificate"
ROTATE = "ssl_rotate_imported"
SECRET_TAG = "cloudfront-ssl:bundle-secret"


@pytest.fixture(scope="module")
def ca():
    root = pki.make_root()
    return pki.make_intermediate(root)


def leaf(ca, names, days=365, key_slot="leaf"):
    return pki.make_leaf(ca, names, key=pki.ec_key("P-256", key_slot), validity=pki.window(-1, days))


def bundle_json(ca, issued, *, key_of=None):
    return json.dumps(
        {
            "certificate": issued.cert_pem(),
            "private_key": (key_of or issued).key_pem(),
            "certificate_chain": ca.cert_pem(),
        }
    )


def secret(aws, value):
    return aws.secretsmanager.create_secret(Name=f"site-bundle-{uuid.uuid4().hex[:8]}", SecretString=value)[
        "ARN"
    ]


def served_pem(aws, arn):
    return aws.acm.get_certificate(CertificateArn=arn)["Certificate"]


def tags_of(aws, arn):
    return {
        t["Key"]: t["Value"] for t in aws.acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", [])
    }


def key_fragments(key_pem):
    lines = [line for line in key_pem.splitlines() if line and not line.startswith("-----")]
    return [lines[0], lines[-1]]


def imported_from_secret(aws, ca, names, days=365, key_slot="leaf"):
    """Run the import job from a bundle secret; return (certificate ARN, secret ARN, the leaf)."""
    issued = leaf(ca, names, days, key_slot)
    secret_arn = secret(aws, bundle_json(ca, issued))
    result = run_dag(
        load_dag(IMPORT),
        {"certificate_name": "shop", "bundle_secret_id": secret_arn, "notification_topic_arn": aws.topic_arn},
    )
    assert result.state == "success", result.task_states
    return result.xcom("summary")["certificates"][0]["arn"], secret_arn, issued


def attach(aws, arn, aliases):
    """A distribution serving ``aliases`` with the certificate ``arn``."""
    from tests.aws import source_distribution_config

    config = source_distribution_config(f"uses-{uuid.uuid4().hex}", aliases)
    config["ViewerCertificate"] = {
        "CloudFrontDefaultCertificate": False,
        "ACMCertificateArn": arn,
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    return aws.cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def rotate_conf(aws, arn, issued, ca, **extra):
    return {
        "certificate_arn": arn,
        "certificate_body": issued.cert_pem(),
        "private_key": issued.key_pem(),
        "certificate_chain": ca.cert_pem(),
        "notification_topic_arn": aws.topic_arn,
        **extra,
    }


def test_a_bundle_secret_import_is_tagged_and_rotated_in_place_keeping_every_tag(airflow_db, aws, ca):
    arn, secret_arn, first = imported_from_secret(aws, ca, ["shop.example.com", "www.shop.example.com"], 90)
    tags = tags_of(aws, arn)
    assert tags[SECRET_TAG] == secret_arn and tags["Name"] == "shop"
    distribution = attach(aws, arn, ["shop.example.com", "www.shop.example.com"])

    renewed = leaf(ca, ["shop.example.com", "*.shop.example.com"], 365, key_slot="renewed")
    result, output = run_dag_cli(IMPORT, rotate_conf(aws, arn, renewed, ca))

    assert result.state == "success", result.task_states
    assert served_pem(aws, arn).strip() == renewed.cert_pem().strip()
    assert tags_of(aws, arn) == tags  # all of them, Name and the bundle secret's included
    (only,) = [c for c in aws.certificates() if c["Type"] == "IMPORTED"]
    assert only["CertificateArn"] == arn  # the same ARN: no second certificate
    config = aws.cloudfront.get_distribution_config(Id=distribution)["DistributionConfig"]
    assert config["ViewerCertificate"]["ACMCertificateArn"] == arn
    for fragment in key_fragments(renewed.key_pem()):
        assert fragment not in output
        assert fragment not in result.all_xcom_text()
        assert all(fragment not in m["message"] for m in aws.messages())


def test_a_bundle_that_does_not_cover_a_served_alias_is_refused_and_acm_is_unchanged(airflow_db, aws, ca):
    arn, _, first = imported_from_secret(aws, ca, ["shop.example.com", "www.shop.example.com"])
    distribution = attach(aws, arn, ["shop.example.com", "www.shop.example.com"])
    narrow = leaf(ca, ["shop.example.com"], 400, key_slot="narrow")

    result = run_dag(load_dag(IMPORT), rotate_conf(aws, arn, narrow, ca))

    assert result.state == "failed" and result.task_states["check"] == ["failed"]
    assert served_pem(aws, arn).strip() == first.cert_pem().strip()
    failure = aws.messages()[-1]["message"]
    assert "served_aliases" in failure and "www.shop.example.com" in failure and distribution in failure


def test_an_earlier_expiry_is_refused_unless_allowed(airflow_db, aws, ca):
    arn, _, first = imported_from_secret(aws, ca, ["shop.example.com"], 300)
    shorter = leaf(ca, ["shop.example.com"], 100, key_slot="shorter")

    refused = run_dag(load_dag(IMPORT), rotate_conf(aws, arn, shorter, ca))
    assert refused.state == "failed" and "earlier_expiry" in aws.messages()[-1]["message"]
    assert served_pem(aws, arn).strip() == first.cert_pem().strip()

    allowed = run_dag(load_dag(IMPORT), rotate_conf(aws, arn, shorter, ca, allow_earlier_expiry=True))
    assert allowed.state == "success", allowed.task_states
    assert served_pem(aws, arn).strip() == shorter.cert_pem().strip()


def test_only_an_imported_certificate_can_be_rotated(airflow_db, aws, ca):
    requested = aws.acm.request_certificate(DomainName="shop.example.com", ValidationMethod="DNS")[
        "CertificateArn"
    ]
    result = run_dag(load_dag(IMPORT), rotate_conf(aws, requested, leaf(ca, ["shop.example.com"]), ca))
    assert result.state == "failed" and result.task_states["check"] == ["failed"]
    assert "is not an imported certificate" in aws.messages()[-1]["message"]


def test_the_daily_rotation_rotates_changed_secrets_and_reports_a_bad_one_leaving_it_unchanged(
    airflow_db, aws, ca
):
    good_arn, good_secret, _ = imported_from_secret(aws, ca, ["good.example.com"], 90, key_slot="good")
    bad_arn, bad_secret, bad_first = imported_from_secret(aws, ca, ["bad.example.com"], 90, key_slot="bad")
    same_arn, _, same_first = imported_from_secret(aws, ca, ["same.example.com"], 90, key_slot="same")
    attach(aws, good_arn, ["good.example.com"])
    renewed = leaf(ca, ["good.example.com"], 365, key_slot="good-renewed")
    aws.secretsmanager.put_secret_value(SecretId=good_secret, SecretString=bundle_json(ca, renewed))
    # A renewed certificate with someone else's key: ACM (and moto) would take it; the checks do not.
    mismatched = leaf(ca, ["bad.example.com"], 365, key_slot="bad-renewed")
    stranger = leaf(ca, ["other.example.com"], 365, key_slot="stranger")
    aws.secretsmanager.put_secret_value(
        SecretId=bad_secret, SecretString=bundle_json(ca, mismatched, key_of=stranger)
    )
    messages_before = len(aws.messages())

    result, output = run_dag_cli(ROTATE, {"notification_topic_arn": aws.topic_arn})

    assert result.state == "failed"
    assert result.task_states == {"rotate_certificates": ["success"], "report_refusals": ["failed"]}
    assert served_pem(aws, good_arn).strip() == renewed.cert_pem().strip()
    assert served_pem(aws, bad_arn).strip() == bad_first.cert_pem().strip()
    assert served_pem(aws, same_arn).strip() == same_first.cert_pem().strip()
    assert tags_of(aws, good_arn)[SECRET_TAG] == good_secret and tags_of(aws, good_arn)["Name"] == "shop"
    report = {entry["arn"]: entry for entry in result.xcom("rotate_certificates")["certificates"]}
    assert report[good_arn]["action"] == "rotated"
    assert report[same_arn]["action"] == "unchanged"
    assert report[bad_arn]["action"] == "refused" and "key_mismatch" in report[bad_arn]["reason"]
    (message,) = aws.messages()[messages_before:]
    assert bad_arn in message["message"] and bad_secret in message["message"]
    assert good_arn in message["message"]
    assert f"{bad_arn} ({bad_secret})" in output  # the run's failure names the certificate
    for issued in (renewed, stranger, mismatched):
        for fragment in key_fragments(issued.key_pem()):
            assert fragment not in output
            assert fragment not in result.all_xcom_text()
            assert fragment not in message["message"]

    again = run_dag(load_dag(ROTATE), {"notification_topic_arn": aws.topic_arn, "dry_run": True})
    report = {entry["arn"]: entry["action"] for entry in again.xcom("rotate_certificates")["certificates"]}
    assert report == {good_arn: "unchanged", bad_arn: "refused", same_arn: "unchanged"}
