"""The asynchronous wait for ACM to issue a job's certificates, run by Airflow's triggerer.

This module lives in the installed ``cloudfront_ssl`` package (not in the DAGs folder) so that the
triggerer can import it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from cloudfront_ssl.aws.acm_status import assess, status_view
from cloudfront_ssl.errors import (
    describe_error,
    error_kind,
    is_final,
    is_worth_checking_again,
    refusal_message,
)

ERROR_GRACE_SECONDS = 3600.0
"""Give up after AWS errors with no successful check for this long."""


def next_check(now: float, interval: float) -> float:
    """The next multiple of ``interval`` after ``now`` (``time.monotonic()``).

    Every job with the same poll interval checks at the same instants, so that one sweep answers
    them all, and each job still checks once per interval.
    """
    return (math.floor(now / interval) + 1) * interval


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


class CertificatesIssuedTrigger(BaseTrigger):
    """Check a job's pending certificates every ``poll_interval_seconds`` until all are ISSUED.

    The checks read ACM through the view that every wait on the same connection shares in this
    triggerer process (:mod:`cloudfront_ssl.aws.acm_status`): one ListCertificates sweep per poll
    interval for all jobs, plus a DescribeCertificate for a certificate that fails (to read ACM's
    reason). An error worth checking again (throttling, a dropped connection, a 5xx, credentials being
    refreshed: :func:`cloudfront_ssl.errors.is_worth_checking_again`) is logged and the check is tried
    again at the next poll; a final one (access denied, an unknown key, a malformed request) ends the
    wait at once.

    The trigger fires one event: ``{"status": "issued", "certificate_arns": [...]}`` when all are
    issued; ``{"status": "failed", "certificate_arn": ..., "reason": ...}`` as soon as one is FAILED,
    VALIDATION_TIMED_OUT, REVOKED or otherwise beyond issuance; ``{"status": "timeout", "pending":
    [...]}`` once ``deadline`` (a Unix time) has passed; ``{"status": "error", "message": ...,
    "pending": [...]}`` after AWS errors with no successful check for ``error_grace_seconds``;
    ``{"status": "refused", "message": ..., "pending": [...]}`` at once on a final AWS error, the
    message naming the AWS action and what the policy must allow.

    :param certificate_arns: the certificates to wait for.
    :param aws_conn_id: the Airflow AWS connection.
    :param poll_interval_seconds: seconds between two checks.
    :param deadline: Unix time after which the wait gives up.
    :param error_grace_seconds: how long AWS errors may last with no successful check.
    """

    def __init__(
        self,
        certificate_arns: list[str],
        aws_conn_id: str | None,
        poll_interval_seconds: float,
        deadline: float,
        error_grace_seconds: float = ERROR_GRACE_SECONDS,
    ) -> None:
        super().__init__()
        self.certificate_arns = list(certificate_arns)
        self.aws_conn_id = aws_conn_id
        self.poll_interval_seconds = poll_interval_seconds
        self.deadline = deadline
        self.error_grace_seconds = error_grace_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain arguments only, so that the triggerer can rebuild the trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "certificate_arns": self.certificate_arns,
                "aws_conn_id": self.aws_conn_id,
                "poll_interval_seconds": self.poll_interval_seconds,
                "deadline": self.deadline,
                "error_grace_seconds": self.error_grace_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Check ACM until every certificate is issued, one fails, the deadline passes or AWS stays unreachable."""
        view = status_view(self.aws_conn_id)
        view.watch(self.certificate_arns)
        watching = True
        try:
            event = await self._wait(view)
            # Let go of the shared view before firing: the triggerer may cancel us right after.
            watching = False
            await view.release(self.certificate_arns)
            yield TriggerEvent(event)
        finally:
            if watching:  # cancelled (task cleared, triggerer stopping): no await is safe here
                view.unwatch(self.certificate_arns)

    async def _wait(self, view: Any) -> dict[str, Any]:
        interval = max(float(self.poll_interval_seconds), 0.001)
        total = len(self.certificate_arns)
        pending = list(self.certificate_arns)
        last_success = time.monotonic()
        failures: Counter[str] = Counter()
        last_error = ""
        due = next_check(time.monotonic(), interval)
        while True:
            to_deadline = self.deadline - time.time()
            final = to_deadline <= due - time.monotonic()
            if final:
                await asyncio.sleep(max(to_deadline, 0))
                due = time.monotonic()
            else:
                await asyncio.sleep(max(due - time.monotonic(), 0))
            try:
                snapshot = await view.snapshot(not_before=due)
            except Exception as error:
                if is_final(error):
                    return {"status": "refused", "message": refusal_message(error, "acm"), "pending": pending}
                if not is_worth_checking_again(error):
                    raise
                failures[error_kind(error)] += 1
                last_error = describe_error(error)
                failing_for = time.monotonic() - last_success
                if failing_for >= float(self.error_grace_seconds):
                    message = self._error_message(failures, last_error, failing_for)
                    return {"status": "error", "message": message, "pending": pending}
                self.log.warning(
                    "ACM could not be read at this check (%s); trying again at the next one. "
                    "No successful check for %s; the wait gives up after %s without one.",
                    last_error,
                    _duration(failing_for),
                    _duration(float(self.error_grace_seconds)),
                )
                if final:
                    return {"status": "timeout", "pending": pending}
                due = next_check(time.monotonic(), interval)
                continue
            if failures:
                self.log.info("ACM answers again after %d failed check(s)", sum(failures.values()))
            last_success, failures = time.monotonic(), Counter()
            check = assess(pending, snapshot)
            if check.failed:
                arn, reason = next(iter(check.failed.items()))
                return {"status": "failed", "certificate_arn": arn, "reason": reason}
            pending = check.pending
            self.log.info("%d of %d certificates issued", total - len(pending), total)
            if not pending:
                return {"status": "issued", "certificate_arns": self.certificate_arns}
            if final:
                return {"status": "timeout", "pending": pending}
            due = next_check(time.monotonic(), interval)

    def _error_message(self, failures: Counter[str], last_error: str, failing_for: float) -> str:
        kinds = ", ".join(f"{kind} x{count}" for kind, count in failures.most_common())
        return (
            f"ACM could not be read for {_duration(failing_for)}: {sum(failures.values())} checks in a row "
            f"failed ({kinds}); the last one: {last_error}"
        )
