"""Copying a source distribution's config for a new distribution (aws-notes: CloudFront)."""

from __future__ import annotations

import pytest

from cloudfront_ssl.aws.cloudfront import DistributionError, caller_reference, clone_config
from tests.aws import source_distribution_config

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


def source() -> dict:
    config = source_distribution_config("source-ref", ["old.example.com"])
    config["ViewerCertificate"] = {
        "CloudFrontDefaultCertificate": False,
        "IAMCertificateId": "ASCAOLD",
        "Certificate": "ASCAOLD",
        "CertificateSource": "iam",
        "SSLSupportMethod": "vip",
        "MinimumProtocolVersion": "TLSv1",
    }
    config["ContinuousDeploymentPolicyId"] = "policy-1"
    config["Staging"] = True
    config["Logging"] = {
        "Enabled": True,
        "IncludeCookies": False,
        "Bucket": "logs.s3.amazonaws.com",
        "Prefix": "cf/",
    }
    return config


def test_the_copy_gets_new_aliases_certificate_and_reference() -> None:
    original = source()
    copy = clone_config(
        original,
        aliases=["a.example.com", "b.example.com"],
        certificate_arn=CERT,
        caller_ref="ref-1",
        comment="c",
    )
    assert copy["CallerReference"] == "ref-1"
    assert copy["Aliases"] == {"Quantity": 2, "Items": ["a.example.com", "b.example.com"]}
    assert copy["ViewerCertificate"] == {
        "CloudFrontDefaultCertificate": False,
        "ACMCertificateArn": CERT,
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    assert copy["ContinuousDeploymentPolicyId"] == ""
    assert copy["Staging"] is False


def test_everything_else_is_copied_as_it_is_and_the_source_is_untouched() -> None:
    original = source()
    copy = clone_config(
        original, aliases=["a.example.com"], certificate_arn=CERT, caller_ref="r", comment="c"
    )
    for key in ("Origins", "DefaultCacheBehavior", "Enabled", "PriceClass", "HttpVersion", "Logging"):
        assert copy[key] == original[key]
    assert original == source()


def test_a_copy_of_a_source_on_the_default_certificate_is_valid() -> None:
    original = source_distribution_config("ref", [])
    copy = clone_config(
        original, aliases=["a.example.com"], certificate_arn=CERT, caller_ref="r", comment="c"
    )
    assert copy["ViewerCertificate"]["CloudFrontDefaultCertificate"] is False
    assert "ContinuousDeploymentPolicyId" not in copy


def test_the_comment_fits_cloudfront_limit() -> None:
    copy = clone_config(
        source(), aliases=["a.example.com"], certificate_arn=CERT, caller_ref="r", comment="x" * 500
    )
    assert len(copy["Comment"]) <= 128


def test_more_than_100_aliases_are_refused() -> None:
    with pytest.raises(DistributionError, match="at most 100 aliases"):
        clone_config(
            source(),
            aliases=[f"n{i}.example.com" for i in range(101)],
            certificate_arn=CERT,
            caller_ref="r",
            comment="c",
        )


def test_caller_reference_is_stable_per_job_and_item() -> None:
    assert caller_reference("d", "r", 1) == caller_reference("d", "r", 1)
    assert caller_reference("d", "r", 1) != caller_reference("d", "r", 2)
    assert caller_reference("d", "r", 1) != caller_reference("d", "r2", 1)
