"""Seed an AWS emulator (moto in server mode) with what the jobs need: a source distribution and a topic.

Used by :mod:`devstack.emulator` (so by ``scripts/demo.py`` and the tests), and through
``scripts/seed_emulator.py`` by the ``emulator`` profile of ``docker-compose.yaml``. Running it
twice against the same emulator creates nothing new: the source distribution is found again by its
comment, and SNS returns the existing topic for the same name.

    python scripts/seed_emulator.py --endpoint-url http://127.0.0.1:5000          # JSON
    python scripts/seed_emulator.py --endpoint-url http://moto:5000 --shell       # shell variables
"""

from __future__ import annotations

import argparse
import json
import shlex
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TOPIC_NAME = "ssl-owners"
SOURCE_COMMENT = "cloudfront-ssl demo source distribution"
"""How a later run finds the source distribution an earlier run created."""


def source_distribution_config(caller_reference: str, aliases: Sequence[str] = ()) -> dict[str, Any]:
    """A plausible web distribution (by default with no aliases): the source the jobs copy.

    The tests and the page measurement script build their distributions from it too.
    """
    return {
        "CallerReference": caller_reference,
        "Aliases": {"Quantity": len(aliases), "Items": list(aliases)},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "web-origin",
                    "DomainName": "origin.example.net",
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                    },
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "web-origin",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",  # AWS managed: CachingOptimized
        },
        "Comment": SOURCE_COMMENT,
        "Enabled": True,
        "PriceClass": "PriceClass_100",
        "HttpVersion": "http2",
        "ViewerCertificate": {"CloudFrontDefaultCertificate": True},
    }


def emulator_client(endpoint_url: str, service: str) -> Any:
    """A boto3 client on the emulator, in us-east-1 (where CloudFront's certificates live)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class Seeded:
    """What the emulator holds for the jobs."""

    source_distribution_id: str
    topic_arn: str


def seed(endpoint_url: str) -> Seeded:
    """Create (or find again) the source distribution and the domain owners' SNS topic."""
    cloudfront = emulator_client(endpoint_url, "cloudfront")
    existing = [
        item["Id"]
        for page in cloudfront.get_paginator("list_distributions").paginate()
        for item in page.get("DistributionList", {}).get("Items", []) or []
        if item.get("Comment") == SOURCE_COMMENT
    ]
    if existing:
        distribution_id = existing[0]
    else:
        created = cloudfront.create_distribution(
            DistributionConfig=source_distribution_config(f"demo-source-{uuid.uuid4().hex}")
        )
        distribution_id = created["Distribution"]["Id"]
    topic_arn = emulator_client(endpoint_url, "sns").create_topic(Name=TOPIC_NAME)["TopicArn"]
    return Seeded(distribution_id, topic_arn)


def main(argv: list[str] | None = None) -> None:
    """Seed the emulator and print what it holds, as JSON or as shell variable assignments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint-url", required=True, help="the emulator, e.g. http://127.0.0.1:5000")
    parser.add_argument(
        "--shell", action="store_true", help="print SOURCE_DISTRIBUTION_ID=... TOPIC_ARN=... for eval"
    )
    args = parser.parse_args(argv)
    seeded = seed(args.endpoint_url)
    if args.shell:
        print(f"SOURCE_DISTRIBUTION_ID={shlex.quote(seeded.source_distribution_id)}")
        print(f"TOPIC_ARN={shlex.quote(seeded.topic_arn)}")
    else:
        print(
            json.dumps(
                {"source_distribution_id": seeded.source_distribution_id, "topic_arn": seeded.topic_arn}
            )
        )


if __name__ == "__main__":
    main()
