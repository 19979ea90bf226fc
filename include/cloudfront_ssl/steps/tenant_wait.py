"""Waiting, without holding a worker slot, until CloudFront has issued the managed certificates of a job's tenants.

A tenant with a managed certificate (``certificate_source: managed``) gets it once its names point at
the connection group's routing endpoint: CloudFront then validates over HTTP and issues. At every poll
the wait asks CloudFront to verify each pending tenant's DNS (``VerifyDnsConfiguration``), logs what it
says about a name that is not right yet, and reads the certificate (``GetManagedCertificateDetails``).
This module lives in the installed package, so the triggerer can import it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from cloudfront_ssl.aws.tenants import DNS_VALID, MANAGED_FAILED, MANAGED_ISSUED
from cloudfront_ssl.errors import FinalError, describe_error, is_final, is_not_found
from cloudfront_ssl.steps.triggers import ERROR_GRACE_SECONDS


class ManagedCertificateError(FinalError):
    """CloudFront will not issue a tenant's managed certificate, or not in time."""


async def check_tenant(client: Any, tenant_id: str) -> dict[str, Any]:
    """One check of a tenant: ``{"status", "certificate_arn", "dns": [{"domain", "status", "reason"}]}``.

    ``VerifyDnsConfiguration`` first: it is how CloudFront learns that the names point at it.
    """
    verified = await client.verify_dns_configuration(Identifier=tenant_id)
    dns = [
        {"domain": entry["Domain"], "status": entry["Status"], "reason": entry.get("Reason", "")}
        for entry in verified.get("DnsConfigurationList") or []
    ]
    details = (await client.get_managed_certificate_details(Identifier=tenant_id)).get(
        "ManagedCertificateDetails"
    ) or {}
    return {
        "status": details.get("CertificateStatus") or "pending-validation",
        "certificate_arn": details.get("CertificateArn"),
        "dns": dns,
    }


class ManagedCertificatesTrigger(BaseTrigger):
    """Check a job's tenants every ``poll_interval_seconds`` until each managed certificate is issued.

    Fires one event: ``{"status": "issued", "certificates": {tenant id: ARN}}``; ``{"status": "failed",
    "tenant_id", "reason"}`` when a certificate reaches a status it is never issued from, or when
    CloudFront answers in a way asking again cannot change (access denied, an unknown tenant);
    ``{"status": "timeout", "pending", "dns"}`` at ``deadline``; ``{"status": "error", "message",
    "pending"}`` after passing AWS errors with no successful poll for ``error_grace_seconds``.

    :param tenant_ids: the tenants to wait for.
    :param aws_conn_id: the Airflow AWS connection (its CloudFront endpoint).
    :param poll_interval_seconds: seconds between two polls.
    :param deadline: Unix time after which the wait gives up.
    :param error_grace_seconds: how long passing errors may last with no successful poll.
    """

    def __init__(
        self,
        tenant_ids: list[str],
        aws_conn_id: str | None,
        poll_interval_seconds: float,
        deadline: float,
        error_grace_seconds: float = ERROR_GRACE_SECONDS,
    ) -> None:
        super().__init__()
        self.tenant_ids = list(tenant_ids)
        self.aws_conn_id = aws_conn_id
        self.poll_interval_seconds = poll_interval_seconds
        self.deadline = deadline
        self.error_grace_seconds = error_grace_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain arguments only, so that the triggerer can rebuild the trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "tenant_ids": self.tenant_ids,
                "aws_conn_id": self.aws_conn_id,
                "poll_interval_seconds": self.poll_interval_seconds,
                "deadline": self.deadline,
                "error_grace_seconds": self.error_grace_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until every certificate is issued, one fails, the deadline passes or AWS stays unreachable."""
        from cloudfront_ssl.aws.cloudfront import cloudfront_hook

        async with await cloudfront_hook(self.aws_conn_id).get_async_conn() as client:
            event = await self._wait(client)
        yield TriggerEvent(event)

    async def _wait(self, client: Any) -> dict[str, Any]:
        pending = list(self.tenant_ids)
        issued: dict[str, str] = {}
        last_dns: dict[str, list[dict[str, Any]]] = {}
        last_success = time.monotonic()
        while True:
            try:
                for tenant_id in list(pending):
                    check = await check_tenant(client, tenant_id)
                    last_dns[tenant_id] = check["dns"]
                    if check["status"] == MANAGED_ISSUED:
                        issued[tenant_id] = check["certificate_arn"] or ""
                        pending.remove(tenant_id)
                        self.log.info(
                            "Tenant %s: managed certificate %s issued", tenant_id, check["certificate_arn"]
                        )
                        continue
                    if check["status"] in MANAGED_FAILED:
                        return {
                            "status": "failed",
                            "tenant_id": tenant_id,
                            "reason": f"its managed certificate is {check['status']}",
                        }
                    for entry in check["dns"]:
                        if entry["status"] != DNS_VALID:
                            self.log.info(
                                "Tenant %s: %s is %s%s; waiting",
                                tenant_id,
                                entry["domain"],
                                entry["status"],
                                f" ({entry['reason']})" if entry["reason"] else "",
                            )
            except Exception as error:
                if is_final(error) or is_not_found(error):  # a tenant gone while waiting is final too
                    return {
                        "status": "failed",
                        "tenant_id": pending[0] if pending else "",
                        "reason": describe_error(error),
                    }
                if time.monotonic() - last_success >= float(self.error_grace_seconds):
                    return {
                        "status": "error",
                        "message": f"CloudFront could not be read: {describe_error(error)}",
                        "pending": pending,
                    }
                self.log.warning(
                    "CloudFront could not be read (%s); trying again at the next poll", describe_error(error)
                )
            else:
                last_success = time.monotonic()
            self.log.info("%d of %d managed certificates issued", len(issued), len(self.tenant_ids))
            if not pending:
                return {"status": "issued", "certificates": issued}
            if time.time() >= self.deadline:
                return {
                    "status": "timeout",
                    "pending": pending,
                    "dns": {t: last_dns.get(t, []) for t in pending},
                }
            await asyncio.sleep(min(float(self.poll_interval_seconds), max(self.deadline - time.time(), 0)))


class WaitForManagedCertificatesOperator(BaseOperator):
    """Wait, holding no worker slot, until the managed certificate of each of the job's tenants is issued.

    Skips itself when the tenants use ACM certificates (the ACM wait covered them) or when the job
    makes no tenants. Returns ``{tenant id: managed certificate ARN}``.

    :param tenants: the tenant step's result (templated: an XCom).
    :param params_source: ``"{{ params.certificate_source }}"``.
    :param aws_conn_id: the Airflow AWS connection (templated).
    :param poll_interval_seconds: seconds between two polls (templated).
    :param validation_timeout_hours: give up after this many hours (templated).
    """

    template_fields: Sequence[str] = (
        "tenants",
        "certificate_source",
        "aws_conn_id",
        "poll_interval_seconds",
        "validation_timeout_hours",
    )
    ui_color = "#f3e9c6"

    def __init__(
        self,
        *,
        tenants: Any,
        certificate_source: Any = "managed",
        aws_conn_id: Any = "aws_default",
        poll_interval_seconds: Any = 300,
        validation_timeout_hours: Any = 72,
        error_grace_seconds: float = ERROR_GRACE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.tenants = tenants
        self.certificate_source = certificate_source
        self.aws_conn_id = aws_conn_id
        self.poll_interval_seconds = poll_interval_seconds
        self.validation_timeout_hours = validation_timeout_hours
        self.error_grace_seconds = error_grace_seconds

    def execute(self, context: Any) -> dict[str, str]:
        """Defer to the trigger for the tenants with a managed certificate."""
        from airflow.sdk.exceptions import AirflowSkipException

        from cloudfront_ssl.steps.operators import poll_interval

        managed = [tenant["id"] for tenant in self.tenants or [] if tenant.get("managed")]
        if self.certificate_source != "managed" or not managed:
            raise AirflowSkipException("no managed certificate to wait for")
        interval = poll_interval(float(self.poll_interval_seconds))
        deadline = time.time() + float(self.validation_timeout_hours) * 3600
        self.log.info(
            "Waiting for the managed certificates of %d tenant(s), checking every %s s",
            len(managed),
            interval,
        )
        self.defer(
            trigger=ManagedCertificatesTrigger(
                tenant_ids=managed,
                aws_conn_id=self.aws_conn_id,
                poll_interval_seconds=interval,
                deadline=deadline,
                error_grace_seconds=float(self.error_grace_seconds),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=max(deadline - time.time(), 0) + 2 * interval + 600),
        )
        return {}  # not reached: defer() raises

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, str]:
        """Resume after the trigger: the issued certificates, or the reason the wait failed."""
        status = event.get("status")
        if status == "issued":
            self.log.info("Every managed certificate is issued")
            return dict(event["certificates"])
        if status == "failed":
            raise ManagedCertificateError(
                f"CloudFront will not issue the managed certificate of tenant {event['tenant_id']}: {event['reason']}"
            )
        if status == "timeout":
            dns = event.get("dns") or {}
            said = "; ".join(
                f"{entry['domain']} {entry['status']}"
                + (f" ({entry['reason']})" if entry.get("reason") else "")
                for tenant in event["pending"]
                for entry in dns.get(tenant, [])
            )
            raise ManagedCertificateError(
                f"{len(event['pending'])} tenant(s) still without an issued certificate after "
                f"{self.validation_timeout_hours} hours: {', '.join(event['pending'])}. "
                f"Check that each name is a CNAME of the routing endpoint. CloudFront last said: {said or 'nothing'}"
            )
        raise ManagedCertificateError(f"{event.get('message') or event!r}")
