"""The wait as it was before the shared view, kept only as the benchmark's reference.

Each trigger opens its own aiobotocore client (with ``role_arn``: its own session and STS client)
and describes each of its pending certificates at every poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.triggers.base import BaseTrigger, TriggerEvent


class OneClientPerJobTrigger(BaseTrigger):
    """The old ``CertificatesIssuedTrigger`` (reduced to the issued path): one client per job."""

    def __init__(
        self, certificate_arns: list[str], aws_conn_id: str, poll_interval_seconds: float, deadline: float
    ) -> None:
        super().__init__()
        self.certificate_arns = list(certificate_arns)
        self.aws_conn_id = aws_conn_id
        self.poll_interval_seconds = poll_interval_seconds
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain arguments, as the triggerer needs."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "certificate_arns": self.certificate_arns,
                "aws_conn_id": self.aws_conn_id,
                "poll_interval_seconds": self.poll_interval_seconds,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Describe every pending certificate at every poll, pacing 8 calls/s inside this job only."""
        pending = list(self.certificate_arns)
        hook = AwsBaseHook(aws_conn_id=self.aws_conn_id, client_type="acm", region_name="us-east-1")
        async with await hook.get_async_conn() as client:
            while True:
                still_pending = []
                for arn in pending:
                    certificate = (await client.describe_certificate(CertificateArn=arn))["Certificate"]
                    if certificate.get("Status") != "ISSUED":
                        still_pending.append(arn)
                    if len(pending) > 8:
                        await asyncio.sleep(1 / 8)
                pending = still_pending
                if not pending:
                    yield TriggerEvent({"status": "issued", "certificate_arns": self.certificate_arns})
                    return
                await asyncio.sleep(self.poll_interval_seconds)
