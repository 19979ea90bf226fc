"""Waiting, without holding a worker slot, until Route 53 has applied a job's DNS changes (INSYNC).

Route 53 applies a change batch to its name servers in the background (tens of seconds, sometimes
minutes) and reports it ``INSYNC`` through ``GetChange``. The wait uses botocore's own waiter for
that (``resource_record_sets_changed``) through the Amazon provider's waiter trigger, in the
triggerer. This module lives in the installed package, so the triggerer can import it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.sdk import BaseOperator
from airflow.triggers.base import TriggerEvent

from cloudfront_ssl.aws.pacing import Route53Hook
from cloudfront_ssl.aws.route53 import change_status, route53_client
from cloudfront_ssl.errors import (
    AwsRefusedError,
    FinalError,
    describe_error,
    is_final,
    is_worth_checking_again,
    refusal_message,
    refused,
)

WAITER = "resource_record_sets_changed"
DEFAULT_DELAY_SECONDS = 10
DEFAULT_MAX_ATTEMPTS = 180
"""Thirty minutes at ten seconds: Route 53 normally needs under a minute."""


class DnsChangeError(FinalError):
    """Route 53 did not apply a change in time."""


class DnsChangesInsyncTrigger(AwsBaseWaiterTrigger):
    """Wait until every given Route 53 change is ``INSYNC``; fires ``{"status": "success", "change_ids"}``.

    The changes are waited for one after the other on one client: Route 53 applies them in
    parallel, so by the time the first is in sync the others mostly are too. On failure or after
    ``waiter_max_attempts`` it fires ``{"status": "error", "message", "change_ids"}``.

    :param change_ids: the Route 53 change ids (from ChangeResourceRecordSets).
    :param aws_conn_id: the Airflow connection that reaches Route 53.
    :param waiter_delay: seconds between two checks of a change.
    :param waiter_max_attempts: checks of one change before giving up.
    """

    aws_hook_class = Route53Hook

    def __init__(
        self,
        *,
        change_ids: list[str],
        aws_conn_id: str | None,
        waiter_delay: int = DEFAULT_DELAY_SECONDS,
        waiter_max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"change_ids": list(change_ids)},
            waiter_name=WAITER,
            waiter_args={},
            failure_message="Route 53 did not apply the change",
            status_message="Route 53 change",
            status_queries=["ChangeInfo.Status"],
            return_key="change_ids",
            return_value=list(change_ids),
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )
        self.change_ids = list(change_ids)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Check each change in turn every ``waiter_delay`` seconds until it is ``INSYNC``.

        An error worth checking again (throttling, a dropped connection, a 5xx) is logged and
        checked again at the next poll; a final one (access denied, an unknown key) ends the wait
        at once with ``{"status": "refused", "message"}`` naming the AWS action.
        """
        import asyncio

        hook = self.hook()
        async with await hook.get_async_conn() as client:
            for change_id in self.change_ids:
                for attempt in range(1, self.attempts + 1):
                    try:
                        status = (await client.get_change(Id=change_id))["ChangeInfo"]["Status"]
                    except Exception as error:
                        if is_final(error):
                            message = refusal_message(error, "route53")
                            yield TriggerEvent(
                                {"status": "refused", "message": message, "change_ids": self.change_ids}
                            )
                            return
                        if not is_worth_checking_again(error):
                            raise
                        self.log.warning(
                            "Route 53 could not be read (%s); checking again in %s s",
                            describe_error(error),
                            self.waiter_delay,
                        )
                        status = None
                    if status == "INSYNC":
                        self.log.info("Route 53 change %s is INSYNC", change_id)
                        break
                    if attempt == self.attempts:
                        yield TriggerEvent(
                            {
                                "status": "error",
                                "message": f"{self.failure_message}: {change_id} still {status or 'unread'} "
                                f"after {self.attempts} checks",
                                "change_ids": self.change_ids,
                            }
                        )
                        return
                    await asyncio.sleep(self.waiter_delay)
        yield TriggerEvent({"status": "success", "change_ids": self.change_ids})


class WaitForDnsChangesOperator(BaseOperator):
    """Wait until Route 53 reports the given changes ``INSYNC``, deferring while they are pending.

    It checks each change once; when all are in sync it returns at once, otherwise it defers to
    :class:`DnsChangesInsyncTrigger`. A retry of this task resumes the same changes by their ids: it
    never sends them again.

    :param changes: ``[{"zone_id", "change_id"}]``, or the whole result of the step that wrote them
        (``{"dns_aws_conn_id", "changes", ...}``, whose connection then wins). Templated.
    :param aws_conn_id: the connection that reaches Route 53 (templated).
    :param waiter_delay: seconds between two checks while deferred.
    :param waiter_max_attempts: checks of one change before the wait fails.
    """

    template_fields: Sequence[str] = ("changes", "aws_conn_id")
    ui_color = "#dfe9f3"

    def __init__(
        self,
        *,
        changes: Any,
        aws_conn_id: Any = "aws_default",
        waiter_delay: int = DEFAULT_DELAY_SECONDS,
        waiter_max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.changes = changes
        self.aws_conn_id = aws_conn_id
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def _change_ids(self) -> list[str]:
        changes = self.changes or {}
        if isinstance(changes, dict):  # the writing step's whole result
            changes = changes.get("changes") or []
        return [change["change_id"] for change in changes]

    def _conn_id(self) -> str | None:
        if isinstance(self.changes, dict) and self.changes.get("dns_aws_conn_id"):
            return self.changes["dns_aws_conn_id"]
        return self.aws_conn_id or None

    def execute(self, context: Any) -> list[str]:
        """Check every change once; return when all are in sync, defer otherwise."""
        change_ids = self._change_ids()
        if not change_ids:
            self.log.info("No Route 53 change to wait for")
            return []
        client = route53_client(self._conn_id())
        try:
            pending = [change_id for change_id in change_ids if change_status(client, change_id) != "INSYNC"]
        except Exception as error:
            if is_final(error):
                raise refused(error, "route53") from None
            raise
        if not pending:
            self.log.info("Route 53 has applied all %d change(s)", len(change_ids))
            return change_ids
        self.log.info("%d of %d Route 53 change(s) pending: %s", len(pending), len(change_ids), pending)
        self.defer(
            trigger=DnsChangesInsyncTrigger(
                change_ids=pending,
                aws_conn_id=self._conn_id(),
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=len(pending) * self.waiter_delay * self.waiter_max_attempts + 600),
        )
        return change_ids  # not reached: defer() raises

    def execute_complete(self, context: Any, event: dict[str, Any]) -> list[str]:
        """Resume after the trigger."""
        if event.get("status") == "success":
            self.log.info("Route 53 has applied the change(s) %s", event.get("change_ids"))
            return self._change_ids()
        if event.get("status") == "refused":
            raise AwsRefusedError(event["message"])
        raise DnsChangeError(
            f"Route 53 did not apply the change(s) {event.get('change_ids')}: {event.get('message')}. "
            "Retrying this step waits for the same changes again."
        )
