"""Operators of the job DAGs: thin orchestration around the library's AWS functions."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from cloudfront_ssl.aws.acm import acm_hook
from cloudfront_ssl.aws.acm_status import check_issuance
from cloudfront_ssl.errors import (
    AwsRefusedError,
    FinalError,
    describe_error,
    is_final,
    is_worth_checking_again,
    refused,
)
from cloudfront_ssl.steps.triggers import ERROR_GRACE_SECONDS, CertificatesIssuedTrigger


def poll_interval(asked: float) -> float:
    """The job's poll interval, capped by ``[ssl_certificates] max_poll_interval_seconds`` when set.

    The setting is unset on a real deployment, so ``poll_interval_seconds`` means what it says; a
    development stack on the emulator (``make up``), where certificates are issued in seconds, sets
    it low so that a job started with the form's defaults does not wait five minutes for nothing.
    """
    from airflow.configuration import conf

    cap = conf.getfloat("ssl_certificates", "max_poll_interval_seconds", fallback=0.0)
    return min(asked, cap) if cap and cap > 0 else asked


class CertificateIssuanceError(FinalError):
    """ACM will not issue a certificate of the job, or not in time."""


class AcmUnreachableError(AirflowException):
    """ACM could not be read for a long time; a retry of the step resumes the wait."""


class WaitForCertificatesOperator(BaseOperator):
    """Wait, holding no worker slot, until ACM has issued every given certificate.

    It checks once at once (a job whose certificates are already issued needs no wait), then defers
    to :class:`~cloudfront_ssl.steps.triggers.CertificatesIssuedTrigger`, which checks every
    ``poll_interval_seconds``. Both read ACM the same way (:mod:`cloudfront_ssl.aws.acm_status`): one
    ListCertificates sweep, and a DescribeCertificate only for a certificate that failed. It fails
    at once, naming the certificate and ACM's reason, when one is FAILED, VALIDATION_TIMED_OUT or
    REVOKED; after ``validation_timeout_hours`` counted from the earliest certificate's request; and
    when AWS errors last ``error_grace_seconds`` with no successful check (errors worth checking
    again are logged and checked again at the next poll); and at once, naming the AWS action and
    what the policy must allow, on an error that trying again cannot mend (access denied, an
    unknown key, a malformed request).

    :param certificate_arns: the certificates to wait for (templated; an XCom of the request step).
    :param aws_conn_id: the Airflow AWS connection (templated).
    :param poll_interval_seconds: seconds between two checks (templated).
    :param validation_timeout_hours: give up after this many hours (templated).
    :param error_grace_seconds: how long AWS errors may last with no successful check (one hour).
    """

    template_fields: Sequence[str] = (
        "certificate_arns",
        "aws_conn_id",
        "poll_interval_seconds",
        "validation_timeout_hours",
    )
    ui_color = "#f3e9c6"

    def __init__(
        self,
        *,
        certificate_arns: Any,
        aws_conn_id: str | None = "aws_default",
        poll_interval_seconds: Any = 300,
        validation_timeout_hours: Any = 72,
        error_grace_seconds: float = ERROR_GRACE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.certificate_arns = certificate_arns
        self.aws_conn_id = aws_conn_id
        self.poll_interval_seconds = poll_interval_seconds
        self.validation_timeout_hours = validation_timeout_hours
        self.error_grace_seconds = error_grace_seconds

    def execute(self, context: Any) -> list[str]:
        """Check once; return if all are issued, otherwise defer to the trigger."""
        arns = list(self.certificate_arns or [])
        if not arns:
            self.log.info("No certificate to wait for")
            return []
        pending, requested_at = arns, [time.time()]
        try:
            check, snapshot = check_issuance(acm_hook(self.aws_conn_id).conn, arns)
        except Exception as error:
            if is_final(error):
                raise refused(error, "acm") from None
            if not is_worth_checking_again(error):
                raise
            # The trigger checks again at its first poll: such an error must not cost a try.
            self.log.warning(
                "ACM could not be read (%s); the wait checks again shortly", describe_error(error)
            )
        else:
            if check.failed:
                arn, reason = next(iter(check.failed.items()))
                raise CertificateIssuanceError(f"ACM will not issue {arn}: {reason}")
            if not check.pending:
                self.log.info("All %d certificates are issued", len(arns))
                return arns
            pending = check.pending
            requested_at = list(snapshot.requested_at.values()) or requested_at
        hours = float(self.validation_timeout_hours)
        deadline = min(requested_at) + hours * 3600
        interval = poll_interval(float(self.poll_interval_seconds))
        self.log.info(
            "%d of %d certificates pending validation; checking every %s s until %s (UTC)",
            len(pending),
            len(arns),
            int(interval) if interval.is_integer() else interval,
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(deadline)),
        )
        self.defer(
            trigger=CertificatesIssuedTrigger(
                certificate_arns=pending,
                aws_conn_id=self.aws_conn_id,
                poll_interval_seconds=interval,
                deadline=deadline,
                error_grace_seconds=float(self.error_grace_seconds),
            ),
            method_name="execute_complete",
            # A safety net only: the trigger itself reports the deadline with a clear message.
            timeout=timedelta(seconds=max(deadline - time.time(), 0) + 2 * interval + 600),
        )
        return arns  # not reached: defer() raises

    def execute_complete(self, context: Any, event: dict[str, Any]) -> list[str]:
        """Resume after the trigger: succeed when all are issued, fail with the reason otherwise."""
        status = event.get("status")
        if status == "issued":
            self.log.info("All certificates are issued")
            return list(self.certificate_arns)
        if status == "failed":
            raise CertificateIssuanceError(
                f"ACM will not issue {event['certificate_arn']}: {event['reason']}. "
                "A failed request cannot be retried: fix the cause (DNS records, CAA) and start a new job."
            )
        if status == "timeout":
            raise CertificateIssuanceError(
                f"{len(event['pending'])} certificate(s) still pending validation after "
                f"{self.validation_timeout_hours} hours: {', '.join(event['pending'])}. "
                "Check that the DNS validation records are in place."
            )
        if status == "refused":
            raise AwsRefusedError(event["message"])
        if status == "error":
            raise AcmUnreachableError(
                f"{event['message']}. {len(event['pending'])} certificate(s) were still pending validation; "
                "a retry of this step resumes the wait."
            )
        raise CertificateIssuanceError(f"unexpected event from the wait: {event!r}")
