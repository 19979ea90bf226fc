"""Tenant mode in the tests: moto for ACM, SNS and Route 53, ministack for CloudFront (SaaS Manager)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devstack.ministack import MiniStack, seed_template
from devstack.seed import source_distribution_config
from tests.aws import Emulator

TENANT_CONN_ID = "aws_tenants"


@dataclass
class TenantWorld:
    """The two emulators of a tenant-mode test, with what a test needs to arrange and read back."""

    aws: Emulator
    ministack: MiniStack

    def __post_init__(self) -> None:
        self.cloudfront = self.ministack.client()

    def template(self, parameters: dict[str, bool] | None = None) -> str:
        """A multi-tenant distribution on ministack (``parameters``: name -> required); its id."""
        return seed_template(self.cloudfront, parameters)

    def regular_distribution(self, aliases: list[str] = ()) -> str:  # type: ignore[assignment]
        """A regular (``direct``) distribution on ministack; its id."""
        import uuid

        config = source_distribution_config(f"regular-{uuid.uuid4().hex}", list(aliases))
        return str(self.cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"])

    def tenant_of_someone(self, template_id: str, name: str, domains: list[str]) -> str:
        """A tenant made outside any job; its id."""
        tenant = self.cloudfront.create_distribution_tenant(
            DistributionId=template_id, Name=name, Domains=[{"Domain": d} for d in domains]
        )
        return str(tenant["DistributionTenant"]["Id"])

    def tenants(self) -> list[dict[str, Any]]:
        """Every tenant ministack holds, read whole (``GetDistributionTenant``), with ``Tags`` as a dict."""
        found = []
        for page in self.cloudfront.get_paginator("list_distribution_tenants").paginate():
            for summary in page.get("DistributionTenantList") or []:
                tenant = self.cloudfront.get_distribution_tenant(Identifier=summary["Id"])[
                    "DistributionTenant"
                ]
                tags = (
                    self.cloudfront.list_tags_for_resource(Resource=tenant["Arn"])["Tags"].get("Items") or []
                )
                tenant["Tags"] = {tag["Key"]: tag["Value"] for tag in tags}
                found.append(tenant)
        return found

    def conf(self, template_id: str, certificates: list[str], **extra: Any) -> dict[str, Any]:
        """A tenant-mode create-job conf on the tests' tenant connection."""
        return {
            "certificates": certificates,
            "hosting": "tenant",
            "multi_tenant_distribution_id": template_id,
            "notification_topic_arn": self.aws.topic_arn,
            "poll_interval_seconds": 1,
            "aws_conn_id": TENANT_CONN_ID,
            **extra,
        }
