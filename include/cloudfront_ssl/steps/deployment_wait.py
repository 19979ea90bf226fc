"""Waiting, without holding a worker slot, until CloudFront has deployed disabled distributions.

Used by ``ssl_cleanup_job`` (:class:`WaitForDistributionsDeployedOperator`, a step of its own) and by
every job DAG's ``cleanup_on_failure`` step (:class:`CleanupOnFailureOperator`, which defers itself).

CloudFront refuses to delete a distribution until its disabling is deployed to every edge location
(minutes, sometimes a quarter of an hour). The clean-up waits for that with botocore's own waiter
(``distribution_deployed``) through the Amazon provider's waiter trigger, in the triggerer, so a
clean-up of a whole fleet holds no worker while CloudFront works. This module lives in the installed
package, so the triggerer can import it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.providers.common.compat.sdk import DecoratedOperator, task_decorator_factory
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import BaseOperator
from airflow.triggers.base import TriggerEvent

from cloudfront_ssl.aws.cloudfront import cloudfront_hook
from cloudfront_ssl.errors import is_not_found
from cloudfront_ssl.steps.cleanup import finish_cleanup

WAITER = "distribution_deployed"
DEFAULT_DELAY_SECONDS = 20
DEFAULT_MAX_ATTEMPTS = 90
"""Thirty minutes at twenty seconds per distribution: CloudFront normally needs a few minutes."""


class DistributionsDeployedTrigger(AwsBaseWaiterTrigger):
    """Wait until every given distribution is ``Deployed``; fires ``{"status": "success", "distribution_ids"}``.

    The distributions are waited for one after the other on one client: CloudFront deploys them in
    parallel, so by the time the first is deployed the others mostly are too. On failure or after
    ``waiter_max_attempts`` it fires ``{"status": "error", "message", "distribution_ids"}``.

    :param distribution_ids: the distributions to wait for.
    :param aws_conn_id: the Airflow connection that reaches CloudFront.
    :param waiter_delay: seconds between two checks of a distribution.
    :param waiter_max_attempts: checks of one distribution before giving up.
    """

    def __init__(
        self,
        *,
        distribution_ids: list[str],
        aws_conn_id: str | None,
        waiter_delay: int = DEFAULT_DELAY_SECONDS,
        waiter_max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"distribution_ids": list(distribution_ids)},
            waiter_name=WAITER,
            waiter_args={},
            failure_message="CloudFront did not deploy the distribution",
            status_message="Distribution status",
            status_queries=["Distribution.Status"],
            return_key="distribution_ids",
            return_value=list(distribution_ids),
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )
        self.distribution_ids = list(distribution_ids)

    def hook(self) -> Any:
        """The provider's hook for CloudFront on the trigger's connection."""
        return cloudfront_hook(self.aws_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for each distribution in turn with the provider's logging async waiter."""
        from airflow.exceptions import AirflowException
        from airflow.providers.amazon.aws.utils.waiter_with_logging import async_wait

        hook = self.hook()
        async with await hook.get_async_conn() as client:
            waiter = hook.get_waiter(self.waiter_name, deferrable=True, client=client)
            for distribution_id in self.distribution_ids:
                try:
                    await async_wait(
                        waiter,
                        self.waiter_delay,
                        self.attempts,
                        {"Id": distribution_id},
                        self.failure_message,
                        self.status_message,
                        self.status_queries,
                    )
                except AirflowException as error:
                    yield self._event_from_exception(error)
                    return
                self.log.info("Distribution %s is deployed", distribution_id)
        yield TriggerEvent({"status": "success", "distribution_ids": self.distribution_ids})


def undeployed(aws_conn_id: str | None, distribution_ids: list[str]) -> list[str]:
    """The distributions CloudFront is still deploying (each read once; one gone already is not)."""
    client = cloudfront_hook(aws_conn_id).conn
    pending = []
    for distribution_id in distribution_ids:
        try:
            status = client.get_distribution(Id=distribution_id)["Distribution"].get("Status")
        except Exception as error:
            if is_not_found(error):
                continue  # gone already: nothing to wait for
            raise
        if status != "Deployed":
            pending.append(distribution_id)
    return pending


def deployment_timeout(pending: list[str], waiter_delay: int, waiter_max_attempts: int) -> timedelta:
    """How long Airflow lets a deferred wait for ``pending`` last (the trigger gives up before that)."""
    return timedelta(seconds=len(pending) * waiter_delay * waiter_max_attempts + 600)


class WaitForDistributionsDeployedOperator(BaseOperator):
    """Wait until CloudFront has deployed the distributions a clean-up disabled, deferring meanwhile.

    It checks each distribution once; when all are deployed it returns at once, otherwise it defers
    to :class:`DistributionsDeployedTrigger`. It never fails on a distribution still deploying: the
    next step deletes what is deployed and names what is not (running the clean-up again finishes it).

    :param started: the clean-up's first step's result (``{"aws_conn_id", "deploying": [ids], ...}``),
        templated (an XCom).
    :param waiter_delay: seconds between two checks while deferred.
    :param waiter_max_attempts: checks of one distribution before the wait gives up.
    """

    template_fields: Sequence[str] = ("started",)
    ui_color = "#e9dff3"

    def __init__(
        self,
        *,
        started: Any,
        waiter_delay: int = DEFAULT_DELAY_SECONDS,
        waiter_max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.started = started
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Any) -> list[str]:
        """Check every distribution once; return when all are deployed, defer otherwise."""
        started = self.started or {}
        distribution_ids = list(started.get("deploying") or [])
        if not distribution_ids:
            self.log.info("No distribution to wait for")
            return []
        pending = undeployed(started.get("aws_conn_id"), distribution_ids)
        if not pending:
            self.log.info("CloudFront has deployed all %d distribution(s)", len(distribution_ids))
            return distribution_ids
        self.log.info("%d distribution(s) deploying: %s", len(pending), pending)
        self.defer(
            trigger=DistributionsDeployedTrigger(
                distribution_ids=pending,
                aws_conn_id=started.get("aws_conn_id"),
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
            ),
            method_name="execute_complete",
            timeout=deployment_timeout(pending, self.waiter_delay, self.waiter_max_attempts),
        )
        return distribution_ids  # not reached: defer() raises

    def execute_complete(self, context: Any, event: dict[str, Any]) -> list[str]:
        """Resume after the trigger; a distribution still deploying is named by the next step."""
        if event.get("status") != "success":
            self.log.warning("The wait for CloudFront ended: %s", event.get("message"))
        return list(event.get("distribution_ids") or [])


STARTED_XCOM_KEY = "cleanup_started"
"""The XCom where ``cleanup_on_failure`` keeps its first half's result while it waits."""


class CleanupOnFailureOperator(DecoratedOperator, PythonOperator):
    """A job DAG's ``cleanup_on_failure`` task (TaskFlow) that waits for CloudFront without a worker.

    The decorated function starts removing a failed job's resources and returns what
    :func:`cloudfront_ssl.steps.cleanup.start_failed_job_cleanup` returns (alias records removed,
    distributions disabled). When CloudFront is still deploying a disabled distribution the task
    defers to :class:`DistributionsDeployedTrigger`, as ``ssl_cleanup_job`` does; then (or at once
    when nothing deploys) it deletes the distributions and certificates
    (:func:`cloudfront_ssl.steps.cleanup.finish_cleanup`) and returns the clean-up's result.

    :param waiter_delay: seconds between two checks while deferred.
    :param waiter_max_attempts: checks of one distribution before the wait gives up.
    """

    template_fields: Sequence[str] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}
    custom_operator_name: str = "@task"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Any,
        op_kwargs: Any,
        waiter_delay: int = DEFAULT_DELAY_SECONDS,
        waiter_max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            kwargs_to_upstream={
                "python_callable": python_callable,
                "op_args": op_args,
                "op_kwargs": op_kwargs,
            },
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Any) -> Any:
        """Start the clean-up; defer while CloudFront deploys, or finish it at once."""
        started = super().execute(context)
        pending = undeployed(started.get("aws_conn_id"), list(started.get("deploying") or []))
        if pending:
            self.log.info(
                "%d distribution(s) deploying: %s; waiting without holding a worker", len(pending), pending
            )
            # Kept for the resumed task in an XCom of its own (a deferral's kwargs are lost under dag.test).
            context["ti"].xcom_push(key=STARTED_XCOM_KEY, value=started)
            self.defer(
                trigger=DistributionsDeployedTrigger(
                    distribution_ids=pending,
                    aws_conn_id=started.get("aws_conn_id"),
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                ),
                method_name="execute_complete",
                timeout=deployment_timeout(pending, self.waiter_delay, self.waiter_max_attempts),
            )
        return finish_cleanup(started)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Delete what is deployed once the wait ends; a distribution still deploying is named in the error."""
        if event and event.get("status") != "success":
            self.log.warning("The wait for CloudFront ended: %s", event.get("message"))
        started = context["ti"].xcom_pull(task_ids=self.task_id, key=STARTED_XCOM_KEY)
        return finish_cleanup(started)


def cleanup_step(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """``@task`` for a job DAG's ``cleanup_on_failure``: :class:`CleanupOnFailureOperator`."""
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=False,
        decorated_operator_class=CleanupOnFailureOperator,
        **kwargs,
    )
