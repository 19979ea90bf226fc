"""The asynchronous wait for ACM to issue a job's certificates, run by Airflow's triggerer.

This module lives in the installed ``cloudfront_ssl`` package (not in the DAGs folder) so that the
triggerer can import it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from cloudfront_ssl.acm import FAILED_STATUSES, acm_hook, failure_reason

DESCRIBE_CALLS_PER_SECOND = 8
"""Stay under ACM's DescribeCertificate rate (10/s) when many certificates are pending."""


class CertificatesIssuedTrigger(BaseTrigger):
    """Check a job's pending certificates every ``poll_interval_seconds`` until all are ISSUED.

    Each check describes every still-pending certificate once (one ACM call each). The trigger fires
    one event: ``{"status": "issued", "certificate_arns": [...]}`` when all are issued;
    ``{"status": "failed", "certificate_arn": ..., "reason": ...}`` as soon as one is FAILED,
    VALIDATION_TIMED_OUT, REVOKED or otherwise beyond issuance; ``{"status": "timeout", "pending": [...]}``
    once ``deadline`` (a Unix time) has passed.

    :param certificate_arns: the certificates to wait for.
    :param aws_conn_id: the Airflow AWS connection.
    :param poll_interval_seconds: seconds between two checks.
    :param deadline: Unix time after which the wait gives up.
    """

    def __init__(
        self,
        certificate_arns: list[str],
        aws_conn_id: str | None,
        poll_interval_seconds: float,
        deadline: float,
    ) -> None:
        super().__init__()
        self.certificate_arns = list(certificate_arns)
        self.aws_conn_id = aws_conn_id
        self.poll_interval_seconds = poll_interval_seconds
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain arguments only, so that the triggerer can rebuild the trigger."""
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
        """Poll ACM until every certificate is issued, one fails, or the deadline passes."""
        pending = list(self.certificate_arns)
        hook = acm_hook(self.aws_conn_id)
        async with await hook.get_async_conn() as client:
            while True:
                still_pending = []
                for arn in pending:
                    certificate = (await client.describe_certificate(CertificateArn=arn))["Certificate"]
                    status = certificate.get("Status")
                    if status in FAILED_STATUSES:
                        yield TriggerEvent(
                            {
                                "status": "failed",
                                "certificate_arn": arn,
                                "reason": failure_reason(certificate),
                            }
                        )
                        return
                    if status != "ISSUED":
                        still_pending.append(arn)
                    if len(pending) > DESCRIBE_CALLS_PER_SECOND:
                        await asyncio.sleep(1 / DESCRIBE_CALLS_PER_SECOND)
                pending = still_pending
                issued = len(self.certificate_arns) - len(pending)
                self.log.info("%d of %d certificates issued", issued, len(self.certificate_arns))
                if not pending:
                    yield TriggerEvent({"status": "issued", "certificate_arns": self.certificate_arns})
                    return
                remaining = self.deadline - time.time()
                if remaining <= 0:
                    yield TriggerEvent({"status": "timeout", "pending": pending})
                    return
                await asyncio.sleep(min(self.poll_interval_seconds, remaining))
