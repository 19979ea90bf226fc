"""What the tests need of the emulator: boto3 clients on it, seeding, and reading back what AWS holds."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import requests

from cloudfront_ssl.acm import ALL_KEY_TYPES
from scripts.seed_emulator import source_distribution_config

ACCOUNT_ID = "123456789012"
TOPIC_NAME = "ssl-owners"


class Emulator:
    """The moto server the tests run against, with boto3 clients in the right regions."""

    def __init__(self, url: str) -> None:
        self.url = url
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        self.acm = session.client("acm", endpoint_url=url)
        self.cloudfront = session.client("cloudfront", endpoint_url=url)
        self.sns = session.client("sns", endpoint_url=url)
        self.secretsmanager = session.client("secretsmanager", endpoint_url=url)
        self.source_distribution_id = ""
        self.topic_arn = ""

    def reset(self) -> None:
        """Clear every resource of the emulator."""
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def seed(self) -> None:
        """Create the source distribution and the owners' SNS topic."""
        self.source_distribution_id = self.create_distribution(aliases=[])
        self.topic_arn = self.sns.create_topic(Name=TOPIC_NAME)["TopicArn"]

    def create_distribution(self, aliases: list[str], tags: dict[str, str] | None = None) -> str:
        """Create a distribution outside any job (a source, or a neighbour holding aliases)."""
        config = source_distribution_config(f"seed-{uuid.uuid4().hex}", aliases)
        if tags:
            items = [{"Key": k, "Value": v} for k, v in tags.items()]
            response = self.cloudfront.create_distribution_with_tags(
                DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": items}}
            )
        else:
            response = self.cloudfront.create_distribution(DistributionConfig=config)
        return response["Distribution"]["Id"]

    # --- reading back what AWS holds -------------------------------------------------------------

    def certificates(self) -> list[dict[str, Any]]:
        """Every certificate in us-east-1, described, with its tags under ``Tags``."""
        arns = [
            summary["CertificateArn"]
            for page in self.acm.get_paginator("list_certificates").paginate(
                Includes={"keyTypes": ALL_KEY_TYPES}
            )
            for summary in page["CertificateSummaryList"]
        ]
        described = []
        for arn in arns:
            certificate = self.acm.describe_certificate(CertificateArn=arn)["Certificate"]
            tags = self.acm.list_tags_for_certificate(CertificateArn=arn).get("Tags", [])
            certificate["Tags"] = {tag["Key"]: tag.get("Value", "") for tag in tags}
            described.append(certificate)
        return described

    def certificate_count(self, region: str = "us-east-1") -> int:
        """How many certificates a region holds."""
        client = boto3.client(
            "acm",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return len(client.list_certificates()["CertificateSummaryList"])

    def distributions(self, include_source: bool = False) -> list[dict[str, Any]]:
        """Every distribution (by default without the source), with config and tags."""
        items = [
            item
            for page in self.cloudfront.get_paginator("list_distributions").paginate()
            for item in page["DistributionList"].get("Items", []) or []
        ]
        result = []
        for item in items:
            if item["Id"] == self.source_distribution_id and not include_source:
                continue
            distribution = self.cloudfront.get_distribution(Id=item["Id"])["Distribution"]
            tags = self.cloudfront.list_tags_for_resource(Resource=item["ARN"])["Tags"].get("Items", [])
            distribution["Tags"] = {tag["Key"]: tag["Value"] for tag in tags}
            result.append(distribution)
        return result

    def messages(self, topic_arn: str | None = None) -> list[dict[str, str]]:
        """Messages published to a topic (default: the seeded one), oldest first."""
        from moto.sns.models import sns_backends

        topic_arn = topic_arn or self.topic_arn
        region = topic_arn.split(":")[3]
        topic = sns_backends[ACCOUNT_ID][region].topics[topic_arn]
        result = []
        for sent in topic.sent_notifications:
            message = sent[1]
            try:  # the provider's SnsHook publishes with MessageStructure=json: {"default": text}
                message = json.loads(message)["default"]
            except (ValueError, KeyError, TypeError):
                pass
            result.append({"subject": sent[2] or "", "message": message})
        return result

    def fail_certificate(self, arn: str, reason: str = "CAA_ERROR") -> None:
        """Make ACM report a certificate as FAILED with a reason (moto never fails one by itself)."""
        from moto.acm.models import acm_backends

        bundle = acm_backends[ACCOUNT_ID]["us-east-1"].get_certificate(arn)
        bundle.status = "FAILED"
        describe = bundle.describe

        def describe_failed() -> dict[str, Any]:
            result = describe()
            result["Certificate"]["FailureReason"] = reason
            return result

        bundle.describe = describe_failed
