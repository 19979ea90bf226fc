"""Waiting, without holding a worker slot, until CloudFront has issued the managed certificates of a job's tenants.

A tenant with a managed certificate (``certificate_source: managed``, or ``ssl_update_site`` adding
names to such a tenant) gets it once its names point at the connection group's routing endpoint:
CloudFront then validates over HTTP and issues. At every poll the wait reads each pending tenant's
certificate (``GetManagedCertificateDetails``); while it is not issued, it asks CloudFront to verify
the DNS (``VerifyDnsConfiguration``) of a tenant whose names CloudFront has not yet found right, and
logs what it says. So a poll costs one call per pending tenant, two while its DNS is still wrong, and
nothing for a tenant already done.

Every wait of a triggerer process on one Airflow connection shares one aiobotocore client
(:func:`shared_client`): a thousand waits open one client, not a thousand. This module lives in the
installed package, so the triggerer can import it.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from cloudfront_ssl.aws.tenants import DNS_VALID, MANAGED_FAILED, MANAGED_ISSUED, managed_details
from cloudfront_ssl.errors import FinalError, describe_error, is_final, is_not_found
from cloudfront_ssl.steps.triggers import ERROR_GRACE_SECONDS


class ManagedCertificateError(FinalError):
    """CloudFront will not issue a tenant's managed certificate, or not in time."""


async def check_tenant(client: Any, tenant_id: str, *, verify_dns: bool = True) -> dict[str, Any]:
    """One check of a tenant: ``{"status", "certificate_arn", "domains", "dns": [{"domain", "status",
    "reason"}]}``.

    The certificate first; only while it is not issued, and with ``verify_dns``, CloudFront is asked
    to verify the DNS (how it learns that the names point at it, and what the log says while they do
    not).
    """
    details = managed_details(
        (await client.get_managed_certificate_details(Identifier=tenant_id)).get("ManagedCertificateDetails")
        or {}
    )
    dns: list[dict[str, Any]] = []
    if details["status"] != MANAGED_ISSUED and verify_dns:
        verified = await client.verify_dns_configuration(Identifier=tenant_id)
        dns = [
            {"domain": entry["Domain"], "status": entry["Status"], "reason": entry.get("Reason", "")}
            for entry in verified.get("DnsConfigurationList") or []
        ]
    return {
        "status": details["status"] or "pending-validation",
        "certificate_arn": details["arn"],
        "domains": details["domains"],
        "dns": dns,
    }


def is_awaited_certificate(check: dict[str, Any], previous: str | None, domains: list[str]) -> bool:
    """Whether a check shows the certificate the wait is for issued: issued, and, when the tenant had a
    managed certificate before (an update adding names), a new one, or one whose validated names
    cover ``domains``."""
    if check["status"] != MANAGED_ISSUED:
        return False
    if domains and check.get("domains"):
        return set(domains) <= set(check["domains"])
    return not previous or check["certificate_arn"] != previous


class SharedClient:
    """One aiobotocore CloudFront client on one Airflow connection, shared by every wait of a triggerer
    process; opened by the first wait that needs it, closed when the last one lets go."""

    def __init__(self, aws_conn_id: str | None) -> None:
        self.aws_conn_id = aws_conn_id
        self.users = 0
        self.opened = 0
        self._context: Any = None
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def acquire(self) -> Any:
        """The client (opened now if no wait holds it)."""
        from cloudfront_ssl.aws.cloudfront import cloudfront_hook

        async with self._lock:
            self.users += 1
            if self._client is None:
                context = await cloudfront_hook(self.aws_conn_id).get_async_conn()
                self._client = await context.__aenter__()
                self._context = context
                self.opened += 1
            return self._client

    async def release(self) -> None:
        """Let go of the client; the last wait closes it."""
        async with self._lock:
            self.users -= 1
            if self.users <= 0:
                await self._close()

    def release_nowait(self) -> None:
        """Let go of the client from a cancelled wait (no await is safe there); closed in the background."""
        self.users -= 1
        if self.users <= 0:
            try:
                asyncio.get_running_loop().create_task(self.release_if_idle())
            except RuntimeError:  # no loop any more
                pass

    async def release_if_idle(self) -> None:
        """Close the client if no wait holds it."""
        async with self._lock:
            if self.users <= 0:
                await self._close()

    async def _close(self) -> None:
        context, self._context, self._client = self._context, None, None
        self.users = 0
        if context is not None:
            try:
                await context.__aexit__(None, None, None)
            except Exception:  # closing a broken connection must not hide why a wait failed
                pass


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str | None, SharedClient]] = (
    weakref.WeakKeyDictionary()
)


def shared_client(aws_conn_id: str | None) -> SharedClient:
    """The CloudFront client every managed-certificate wait of this event loop shares on a connection."""
    clients = _clients.setdefault(asyncio.get_running_loop(), {})
    client = clients.get(aws_conn_id)
    if client is None:
        client = clients[aws_conn_id] = SharedClient(aws_conn_id)
    return client


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
    :param previous: tenant id -> the managed certificate it had before (an update adding names): that
        one issued does not count.
    :param domains: tenant id -> the names the awaited certificate must cover.
    :param issued: tenant id -> certificate ARN of tenants found issued before the wait (by the
        operator's first check): not polled, reported in the event with the others.
    """

    def __init__(
        self,
        tenant_ids: list[str],
        aws_conn_id: str | None,
        poll_interval_seconds: float,
        deadline: float,
        error_grace_seconds: float = ERROR_GRACE_SECONDS,
        previous: dict[str, str] | None = None,
        domains: dict[str, list[str]] | None = None,
        issued: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.tenant_ids = list(tenant_ids)
        self.aws_conn_id = aws_conn_id
        self.poll_interval_seconds = poll_interval_seconds
        self.deadline = deadline
        self.error_grace_seconds = error_grace_seconds
        self.previous = dict(previous or {})
        self.domains = {key: list(value) for key, value in (domains or {}).items()}
        self.issued = dict(issued or {})

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
                "previous": self.previous,
                "domains": self.domains,
                "issued": self.issued,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until every certificate is issued, one fails, the deadline passes or AWS stays unreachable."""
        shared = shared_client(self.aws_conn_id)
        client = await shared.acquire()
        holding = True
        try:
            event = await self._wait(client)
            holding = False
            await shared.release()
            yield TriggerEvent(event)
        finally:
            if holding:  # cancelled (task cleared, triggerer stopping): no await is safe here
                shared.release_nowait()

    async def _wait(self, client: Any) -> dict[str, Any]:
        pending = [tenant_id for tenant_id in self.tenant_ids if tenant_id not in self.issued]
        issued: dict[str, str] = dict(self.issued)
        last_dns: dict[str, list[dict[str, Any]]] = {}
        dns_right: set[str] = set()  # tenants whose names CloudFront found pointed right: not asked again
        last_success = time.monotonic()
        while True:
            try:
                for tenant_id in list(pending):
                    check = await check_tenant(client, tenant_id, verify_dns=tenant_id not in dns_right)
                    if check["dns"]:
                        last_dns[tenant_id] = check["dns"]
                        if all(entry["status"] == DNS_VALID for entry in check["dns"]):
                            dns_right.add(tenant_id)
                    if is_awaited_certificate(
                        check, self.previous.get(tenant_id), self.domains.get(tenant_id) or []
                    ):
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

    :param tenants: the tenant step's result (templated: an XCom): entries with ``id``, ``managed``,
        ``domains`` and, from an update, ``wait_for_certificate`` and ``previous_certificate_arn``.
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

        waited = [
            tenant
            for tenant in self.tenants or []
            if isinstance(tenant, dict) and tenant.get("managed") and tenant.get("wait_for_certificate", True)
        ]
        managed = [tenant["id"] for tenant in waited]
        if self.certificate_source != "managed" or not managed:
            raise AirflowSkipException("no managed certificate to wait for")
        interval = poll_interval(float(self.poll_interval_seconds))
        deadline = time.time() + float(self.validation_timeout_hours) * 3600
        previous = {
            tenant["id"]: tenant["previous_certificate_arn"]
            for tenant in waited
            if tenant.get("previous_certificate_arn")
        }
        domains = {tenant["id"]: list(tenant.get("domains") or []) for tenant in waited}
        issued = self._first_check(managed, previous, domains)
        if len(issued) == len(managed):
            self.log.info("Every managed certificate is issued already")
            return issued
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
                previous=previous,
                domains=domains,
                issued=issued,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=max(deadline - time.time(), 0) + 2 * interval + 600),
        )
        return {}  # not reached: defer() raises

    def _first_check(
        self, tenant_ids: list[str], previous: dict[str, str], domains: dict[str, list[str]]
    ) -> dict[str, str]:
        """One read of each certificate on the worker (one call per tenant): those issued already need
        no deferral. A passing error leaves the tenants to the trigger; a final one fails the step."""
        from cloudfront_ssl.aws.cloudfront import cloudfront_hook
        from cloudfront_ssl.aws.tenants import managed_certificate

        client = cloudfront_hook(self.aws_conn_id).conn
        issued: dict[str, str] = {}
        for tenant_id in tenant_ids:
            try:
                details = managed_certificate(client, tenant_id)
            except Exception as error:
                if is_final(error) or is_not_found(error):
                    raise ManagedCertificateError(
                        f"the managed certificate of tenant {tenant_id} cannot be read: {describe_error(error)}"
                    ) from None
                self.log.warning(
                    "CloudFront could not be read (%s); the wait tries again", describe_error(error)
                )
                return issued
            check = {
                "status": details["status"],
                "certificate_arn": details["arn"],
                "domains": details["domains"],
            }
            if is_awaited_certificate(check, previous.get(tenant_id), domains.get(tenant_id) or []):
                issued[tenant_id] = details["arn"] or ""
        return issued

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
