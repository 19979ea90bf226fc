"""ACM's certificate statuses read in bulk, and the one place that says issued, pending or failed.

A check of a job's certificates is one ``ListCertificates`` sweep (its pages; every key type; every
status from which a certificate may still be, or become, issued) plus one ``DescribeCertificate``
for each certificate whose status turned to one from which it will never be issued (to read ACM's
``FailureReason``) or that the sweep did not list. Its cost does not grow with the number of jobs:

- the wait step's first check, on the worker, makes one sweep for its job (:func:`check_issuance`);
- in the triggerer, the waits of every job on one Airflow connection share one
  :class:`SharedStatusView`: one aiobotocore client and at most one sweep per poll interval,
  whatever the number of jobs waiting. Module-level state is shared by every trigger of a
  triggerer process because they all run in one asyncio event loop.

Every call goes through the process-wide ACM pace of :mod:`cloudfront_ssl.aws.pacing`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cloudfront_ssl.aws.acm import ALL_KEY_TYPES, FAILED_STATUSES, acm_hook, failure_reason
from cloudfront_ssl.errors import is_not_found

log = logging.getLogger(__name__)

ISSUED = "issued"
PENDING = "pending"
FAILED = "failed"

NOT_FOUND = "NOT_FOUND"
"""Pseudo-status of a certificate that ACM no longer knows (deleted while the job waited)."""

SWEPT_STATUSES = ["PENDING_VALIDATION", "ISSUED", "FAILED", "VALIDATION_TIMED_OUT", "REVOKED"]
"""The statuses a sweep lists: leaving out EXPIRED and INACTIVE keeps an old account's sweep short.
A waited-for certificate in one of those is missing from the sweep, and so gets described."""

PAGE_SIZE = 1000
"""ListCertificates' largest page."""


def classify(status: str | None) -> str:
    """Whether a certificate with this ACM status is ``issued``, still ``pending``, or ``failed`` for good.

    The one decision shared by the wait step's first check and the trigger.
    """
    if status == "ISSUED":
        return ISSUED
    if status in FAILED_STATUSES or status == NOT_FOUND:
        return FAILED
    return PENDING


@dataclass(frozen=True)
class StatusSnapshot:
    """What one sweep learnt about the certificates being waited for.

    :param started_at: ``time.monotonic()`` when the sweep began: it shows every change made before.
    :param statuses: ACM status (or :data:`NOT_FOUND`) by certificate ARN.
    :param reasons: a readable reason by ARN, for the certificates that will not be issued.
    :param requested_at: Unix time of each certificate's request, where ACM gave it.
    """

    started_at: float
    statuses: dict[str, str]
    reasons: dict[str, str] = field(default_factory=dict)
    requested_at: dict[str, float] = field(default_factory=dict)


@dataclass
class IssuanceCheck:
    """A job's certificates sorted by :func:`classify`; ``failed`` maps each ARN to ACM's reason."""

    issued: list[str]
    pending: list[str]
    failed: dict[str, str]


def assess(arns: Iterable[str], snapshot: StatusSnapshot) -> IssuanceCheck:
    """Sort a job's certificates by what the snapshot says of them.

    A certificate the snapshot does not know yet (its job started watching while the sweep ran)
    counts as pending: the next check will tell.
    """
    check = IssuanceCheck(issued=[], pending=[], failed={})
    for arn in arns:
        state = classify(snapshot.statuses.get(arn))
        if state == ISSUED:
            check.issued.append(arn)
        elif state == FAILED:
            check.failed[arn] = snapshot.reasons.get(arn) or f"{arn} is {snapshot.statuses[arn]}"
        else:
            check.pending.append(arn)
    return check


def _list_kwargs() -> dict[str, Any]:
    return {
        "Includes": {"keyTypes": ALL_KEY_TYPES},
        "CertificateStatuses": SWEPT_STATUSES,
        "PaginationConfig": {"PageSize": PAGE_SIZE},
    }


def _record_page(
    page: dict[str, Any], watched: Any, statuses: dict[str, str], requested_at: dict[str, float]
) -> None:
    """Keep the status (and request time) of the watched certificates a page lists."""
    for summary in page.get("CertificateSummaryList", []):
        arn = summary["CertificateArn"]
        if arn in watched:
            statuses[arn] = summary.get("Status", "")
            created = summary.get("CreatedAt")
            if created is not None:
                requested_at[arn] = created.timestamp()


def _to_describe(
    watched: Iterable[str], statuses: dict[str, str], known_reasons: dict[str, str]
) -> list[str]:
    """The certificates a sweep must describe: unlisted ones, and failed ones whose reason is unknown."""
    return [
        arn
        for arn in watched
        if arn not in statuses or (classify(statuses[arn]) == FAILED and arn not in known_reasons)
    ]


def _record_description(
    arn: str,
    certificate: dict[str, Any] | None,
    statuses: dict[str, str],
    reasons: dict[str, str],
    requested_at: dict[str, float],
) -> None:
    """Keep what a DescribeCertificate said (``None``: ACM does not know the certificate)."""
    if certificate is None:
        statuses[arn] = NOT_FOUND
        reasons[arn] = f"{arn} no longer exists in ACM (deleted while the job waited)"
        return
    statuses[arn] = certificate.get("Status", "")
    if classify(statuses[arn]) == FAILED:
        reasons[arn] = failure_reason(certificate)
    if certificate.get("CreatedAt") is not None:
        requested_at[arn] = certificate["CreatedAt"].timestamp()


def check_issuance(client: Any, arns: list[str]) -> tuple[IssuanceCheck, StatusSnapshot]:
    """One synchronous check of a job's certificates: one sweep, and describes only where needed.

    :param client: a boto3 ACM client from :func:`cloudfront_ssl.aws.acm.acm_hook` (paced).
    :param arns: the job's certificates.
    """
    from botocore.exceptions import ClientError

    started = time.monotonic()
    watched = set(arns)
    statuses: dict[str, str] = {}
    requested_at: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for page in client.get_paginator("list_certificates").paginate(**_list_kwargs()):
        _record_page(page, watched, statuses, requested_at)
    for arn in _to_describe(arns, statuses, reasons):
        try:
            certificate = client.describe_certificate(CertificateArn=arn)["Certificate"]
        except ClientError as error:
            if not is_not_found(error):
                raise
            certificate = None
        _record_description(arn, certificate, statuses, reasons, requested_at)
    snapshot = StatusSnapshot(started, statuses, reasons, requested_at)
    return assess(arns, snapshot), snapshot


def current_statuses(client: Any, arns: list[str]) -> dict[str, str]:
    """ACM's status now of each of ``arns`` (:data:`NOT_FOUND` when deleted), for a job's view.

    The same sweep as :func:`check_issuance`: its cost is the account's ListCertificates pages plus one
    DescribeCertificate per certificate of the job that the sweep does not list, never one call per
    certificate of the account.
    """
    if not arns:
        return {}
    _, snapshot = check_issuance(client, arns)
    return snapshot.statuses


class SharedStatusView:
    """One process's view of ACM's statuses on one Airflow connection, shared by every waiting job.

    Jobs :meth:`watch` their certificates and ask for a :meth:`snapshot` not older than a point in
    time; the view runs at most one sweep at a time, and a sweep that started after that point
    answers every job that asks for it. The aiobotocore client is opened at the first sweep and
    closed once no job watches any more (with ``role_arn``, the provider refreshes its credentials).

    :param aws_conn_id: the Airflow AWS connection.
    """

    def __init__(self, aws_conn_id: str | None) -> None:
        self.aws_conn_id = aws_conn_id
        self.watched: Counter[str] = Counter()
        self.sweeps = 0
        self._reasons: dict[str, str] = {}
        self._client_context: Any = None
        self._client: Any = None
        self._running: asyncio.Task[StatusSnapshot] | None = None
        self._running_started = 0.0
        self._last_started = -math.inf
        self._last: StatusSnapshot | BaseException | None = None

    # --- who is waiting ---------------------------------------------------------------------------

    def watch(self, arns: Iterable[str]) -> None:
        """Start watching a job's certificates (counted: two jobs may watch one certificate)."""
        self.watched.update(arns)

    def unwatch(self, arns: Iterable[str]) -> None:
        """Stop watching a job's certificates; close the client in the background once nobody watches."""
        self._forget(arns)
        if not self.watched and self._client_context is not None and self._running is None:
            try:
                asyncio.get_running_loop().create_task(self._close_if_idle())
            except RuntimeError:  # no loop any more: nothing left to close it with
                pass

    async def release(self, arns: Iterable[str]) -> None:
        """Stop watching a job's certificates and, if nobody watches any more, close the client now."""
        self._forget(arns)
        await self._close_if_idle()

    def _forget(self, arns: Iterable[str]) -> None:
        for arn in arns:
            if self.watched[arn] > 1:
                self.watched[arn] -= 1
            else:
                self.watched.pop(arn, None)
                self._reasons.pop(arn, None)

    # --- sweeps ------------------------------------------------------------------------------------

    async def snapshot(self, not_before: float) -> StatusSnapshot:
        """ACM's statuses from a sweep that started at or after ``not_before`` (``time.monotonic()``).

        Joins the sweep under way or starts one; raises the sweep's error if it failed (every job
        that asked for that sweep gets the same error, and none starts another in the meantime).
        """
        while True:
            if self._last is not None and self._last_started >= not_before:
                if isinstance(self._last, BaseException):
                    raise self._last
                return self._last
            if self._running is None:
                self._running_started = time.monotonic()
                self._running = asyncio.get_running_loop().create_task(self._sweep(self._running_started))
            running, started = self._running, self._running_started
            # asyncio.wait, not await: a job that stops waiting must not cancel the sweep others wait for.
            await asyncio.wait({running})
            if started >= not_before and not running.cancelled():
                return running.result()

    async def _sweep(self, started: float) -> StatusSnapshot:
        from botocore.exceptions import ClientError

        try:
            snapshot = await self._read_statuses(started)
        except Exception as error:
            self._last, self._last_started = error, started
            if not isinstance(error, ClientError):
                # A connection or credential error may have left the client unusable: start afresh.
                await self._close_client()
            raise
        else:
            self._last, self._last_started = snapshot, started
            return snapshot
        finally:
            self._running = None
            self.sweeps += 1
            if not self.watched:
                await self._close_client()

    async def _read_statuses(self, started: float) -> StatusSnapshot:
        client = await self._open_client()
        watched = set(self.watched)
        statuses: dict[str, str] = {}
        requested_at: dict[str, float] = {}
        async for page in client.get_paginator("list_certificates").paginate(**_list_kwargs()):
            _record_page(page, watched, statuses, requested_at)
        reasons = {arn: self._reasons[arn] for arn in watched if arn in self._reasons}
        for arn in _to_describe(watched, statuses, reasons):
            try:
                certificate = (await client.describe_certificate(CertificateArn=arn))["Certificate"]
            except Exception as error:
                if not is_not_found(error):
                    raise
                certificate = None
            _record_description(arn, certificate, statuses, reasons, requested_at)
        self._reasons.update({arn: reason for arn, reason in reasons.items() if arn in self.watched})
        return StatusSnapshot(started, statuses, reasons, requested_at)

    # --- the client --------------------------------------------------------------------------------

    async def _open_client(self) -> Any:
        if self._client is None:
            context = await acm_hook(self.aws_conn_id).get_async_conn()
            self._client = await context.__aenter__()
            self._client_context = context
        return self._client

    async def _close_if_idle(self) -> None:
        if not self.watched and self._running is None:
            await self._close_client()

    async def _close_client(self) -> None:
        context, self._client_context, self._client = self._client_context, None, None
        if context is not None:
            try:
                await context.__aexit__(None, None, None)
            except Exception:  # closing a broken connection must not hide why the sweep failed
                log.debug("Closing the ACM client failed", exc_info=True)


_views: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str | None, SharedStatusView]] = (
    weakref.WeakKeyDictionary()
)


def status_view(aws_conn_id: str | None) -> SharedStatusView:
    """The view of ACM on this connection shared by every job waiting in this process's event loop.

    One per event loop: an aiobotocore client belongs to the loop it was opened in.
    """
    views = _views.setdefault(asyncio.get_running_loop(), {})
    view = views.get(aws_conn_id)
    if view is None:
        view = views[aws_conn_id] = SharedStatusView(aws_conn_id)
    return view
