"""The AWS emulator: moto in server mode on 127.0.0.1, seeded for the jobs, and what it holds read back.

moto runs in the calling process (``ThreadedMotoServer``); every Airflow process reaches it over HTTP
through the ``aws_default`` connection's ``endpoint_url``, so DAG runs in the caller, ``airflow
standalone`` and separate Celery workers all see the same AWS.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import boto3
import requests

from devstack.processes import free_port
from devstack.seed import TOPIC_NAME, seed, source_distribution_config

ACCOUNT_ID = "123456789012"
"""moto's default account."""


class Emulator:
    """moto in server mode, with boto3 clients on it in us-east-1 (where CloudFront's certificates live)."""

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
        self._server: Any = None

    @classmethod
    def start(cls, validation_wait_seconds: float, port: int | None = None) -> Emulator:
        """Start moto on 127.0.0.1 (a free port unless given); certificates turn ISSUED after the wait.

        ``MOTO_ACM_VALIDATION_WAIT`` is read once when moto is imported; its ``settings`` value is read
        at every check, so setting it here works whenever moto was imported.
        """
        from moto import settings
        from moto.server import ThreadedMotoServer

        settings.ACM_VALIDATION_WAIT = validation_wait_seconds
        # One log line per AWS call would drown the caller's output (Airflow logs werkzeug at INFO).
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        port = port or free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        emulator = cls(f"http://127.0.0.1:{port}")
        emulator._server = server
        return emulator

    def stop(self) -> None:
        """Stop the server this object started."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def reset(self) -> None:
        """Clear every resource of the emulator."""
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def seed(self) -> None:
        """Create (or find again) the source distribution and the owners' SNS topic."""
        seeded = seed(self.url)
        self.source_distribution_id = seeded.source_distribution_id
        self.topic_arn = seeded.topic_arn

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
        # Imported here: the library imports Airflow, which must not start before the caller's settings.
        from cloudfront_ssl.aws.acm import ALL_KEY_TYPES

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
        """Messages published to a topic (default: the seeded one), oldest first, from moto's state dump."""
        topic_arn = topic_arn or self.topic_arn
        data = requests.get(f"{self.url}/moto-api/data.json", timeout=30).json()
        result = []
        for topic in data.get("sns", {}).get("Topic", []):
            if topic.get("arn") != topic_arn:
                continue
            for sent in topic.get("sent_notifications", []):
                message = sent[1]
                try:  # the provider's SnsHook publishes with MessageStructure=json: {"default": text}
                    message = json.loads(message)["default"]
                except (ValueError, KeyError, TypeError):
                    pass
                result.append({"subject": sent[2] or "", "message": message})
        return result


__all__ = ["ACCOUNT_ID", "TOPIC_NAME", "Emulator", "source_distribution_config"]
