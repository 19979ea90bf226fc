"""Waiting, without holding a worker slot, until CloudFront has deployed changed distributions and tenants.

CloudFront refuses to delete a distribution (or a distribution tenant) until its disabling is
deployed to every edge location (minutes, sometimes a quarter of an hour), and ACM refuses to delete
a certificate that a change being deployed stopped serving. The jobs wait for that in the triggerer,
so a clean-up of a whole fleet holds no worker while CloudFront works: distributions with botocore's
own waiter (``distribution_deployed``) through the Amazon provider's waiter trigger; tenants, which
have no botocore waiter, with :class:`TenantsDeployedTrigger` (one ``GetDistributionTenant`` per
tenant still deploying per poll). This module lives in the installed package, so the triggerer can
import it.

Used by ``ssl_cleanup_job`` and ``ssl_update_site`` (:class:`WaitForDistributionsDeployedOperator`, a
step of its own) and by every job DAG's ``cleanup_on_failure`` step (:class:`CleanupOnFailureOperator`,
which defers itself).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.providers.common.compat.sdk import DecoratedOperator, task_decorator_factory
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

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


class TenantsDeployedTrigger(BaseTrigger):
    """Wait until every given distribution tenant is ``Deployed`` (or gone); fires ``{"status":
    "success", "tenant_ids"}``, or ``{"status": "error", "message", "tenant_ids"}`` once ``timeout_seconds``
    have passed or CloudFront answers with a final error.

    :param tenant_ids: the tenants to wait for.
    :param aws_conn_id: the Airflow connection that reaches CloudFront.
    :param poll_seconds: seconds between two polls (each reads only the tenants still deploying).
    :param timeout_seconds: give up after this long.
    """

    def __init__(
        self,
        *,
        tenant_ids: list[str],
        aws_conn_id: str | None,
        poll_seconds: float = DEFAULT_DELAY_SECONDS,
        timeout_seconds: float = DEFAULT_DELAY_SECONDS * DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        super().__init__()
        self.tenant_ids = list(tenant_ids)
        self.aws_conn_id = aws_conn_id
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain arguments only, so that the triggerer can rebuild the trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "tenant_ids": self.tenant_ids,
                "aws_conn_id": self.aws_conn_id,
                "poll_seconds": self.poll_seconds,
                "timeout_seconds": self.timeout_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll the tenants still deploying until none is, on one client."""
        from cloudfront_ssl.aws.tenants import is_deployed
        from cloudfront_ssl.errors import describe_error, is_final

        deadline = time.monotonic() + float(self.timeout_seconds)
        pending = list(self.tenant_ids)
        async with await cloudfront_hook(self.aws_conn_id).get_async_conn() as client:
            while pending:
                for tenant_id in list(pending):
                    try:
                        tenant = (await client.get_distribution_tenant(Identifier=tenant_id))[
                            "DistributionTenant"
                        ]
                    except Exception as error:
                        if is_not_found(error):
                            pending.remove(tenant_id)
                            continue
                        if is_final(error):
                            yield TriggerEvent(
                                {
                                    "status": "error",
                                    "message": describe_error(error),
                                    "tenant_ids": self.tenant_ids,
                                }
                            )
                            return
                        self.log.warning("Tenant %s could not be read (%s); trying again", tenant_id, error)
                        continue
                    if is_deployed(tenant):
                        self.log.info("Tenant %s is deployed", tenant_id)
                        pending.remove(tenant_id)
                if not pending:
                    break
                if time.monotonic() >= deadline:
                    yield TriggerEvent(
                        {
                            "status": "error",
                            "message": f"tenant(s) {', '.join(pending)} still deploying after "
                            f"{self.timeout_seconds:.0f} s",
                            "tenant_ids": self.tenant_ids,
                        }
                    )
                    return
                await asyncio.sleep(float(self.poll_seconds))
        yield TriggerEvent({"status": "success", "tenant_ids": self.tenant_ids})


def _deploying(started: Any, key: str) -> list[str]:
    """The ids under ``key`` of one step result or of several (a step that did not run gives None)."""
    results = started if isinstance(started, list) else [started]
    return [item for result in results if isinstance(result, dict) for item in result.get(key) or []]


def _conn_id(started: Any) -> str | None:
    results = started if isinstance(started, list) else [started]
    return next(
        (
            result.get("aws_conn_id")
            for result in results
            if isinstance(result, dict) and result.get("aws_conn_id")
        ),
        None,
    )


def undeployed(client: Any, distribution_ids: list[str]) -> list[str]:
    """The distributions CloudFront is still deploying (each read once; one gone already is not)."""
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


def undeployed_tenants(client: Any, tenant_ids: list[str]) -> list[str]:
    """The distribution tenants CloudFront is still deploying (each read once; one gone is not)."""
    from cloudfront_ssl.aws.tenants import is_deployed

    pending = []
    for tenant_id in tenant_ids:
        try:
            tenant = client.get_distribution_tenant(Identifier=tenant_id)["DistributionTenant"]
        except Exception as error:
            if is_not_found(error):
                continue
            raise
        if not is_deployed(tenant):
            pending.append(tenant_id)
    return pending


def deployment_timeout(pending: list[str], waiter_delay: int, waiter_max_attempts: int) -> timedelta:
    """How long Airflow lets a deferred wait for ``pending`` last (the trigger gives up before that)."""
    return timedelta(seconds=len(pending) * waiter_delay * waiter_max_attempts + 600)


def tenants_timeout(waiter_delay: int, waiter_max_attempts: int) -> timedelta:
    """How long Airflow lets a deferred wait for tenants last (they are polled together)."""
    return timedelta(seconds=waiter_delay * waiter_max_attempts + 600)


class WaitForDistributionsDeployedOperator(BaseOperator):
    """Wait until CloudFront has deployed the distributions and tenants a job changed, deferring meanwhile.

    It checks each distribution and tenant once; when all are deployed it returns at once, otherwise
    it defers to :class:`DistributionsDeployedTrigger` and then (for tenants) to
    :class:`TenantsDeployedTrigger`. It never fails on one still deploying: the next step deletes what
    is deployed and names what is not (running the clean-up again finishes it).

    :param started: the step result (or a list of step results, None for a step that did not run)
        with ``aws_conn_id``, ``deploying`` (distribution ids) and ``deploying_tenants`` (tenant ids),
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
        """Check every distribution and tenant once; return when all are deployed, defer otherwise."""
        distribution_ids = _deploying(self.started, "deploying")
        if not distribution_ids and not _deploying(self.started, "deploying_tenants"):
            self.log.info("Nothing to wait for")
            return []
        client = cloudfront_hook(_conn_id(self.started)).conn
        pending = undeployed(client, distribution_ids)
        if not pending:
            self.log.info("CloudFront has deployed all %d distribution(s)", len(distribution_ids))
            return self._wait_for_tenants(client)
        self.log.info("%d distribution(s) deploying: %s", len(pending), pending)
        self.defer(
            trigger=DistributionsDeployedTrigger(
                distribution_ids=pending,
                aws_conn_id=_conn_id(self.started),
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
            ),
            method_name="execute_complete",
            timeout=deployment_timeout(pending, self.waiter_delay, self.waiter_max_attempts),
        )
        return distribution_ids  # not reached: defer() raises

    def _wait_for_tenants(self, client: Any = None) -> list[str]:
        """Return the ids waited for when every tenant is deployed; defer for those that are not."""
        distribution_ids = _deploying(self.started, "deploying")
        tenant_ids = _deploying(self.started, "deploying_tenants")
        if not tenant_ids:
            return distribution_ids
        client = client or cloudfront_hook(_conn_id(self.started)).conn
        pending = undeployed_tenants(client, tenant_ids)
        if not pending:
            self.log.info("CloudFront has deployed all %d tenant(s)", len(tenant_ids))
            return distribution_ids + tenant_ids
        self.log.info("%d tenant(s) deploying: %s", len(pending), pending)
        self.defer(
            trigger=TenantsDeployedTrigger(
                tenant_ids=pending,
                aws_conn_id=_conn_id(self.started),
                poll_seconds=self.waiter_delay,
                timeout_seconds=self.waiter_delay * self.waiter_max_attempts,
            ),
            method_name="execute_complete_tenants",
            timeout=tenants_timeout(self.waiter_delay, self.waiter_max_attempts),
        )
        return tenant_ids  # not reached: defer() raises

    def execute_complete(self, context: Any, event: dict[str, Any]) -> list[str]:
        """Resume after the distributions' wait; then the tenants' (a distribution still deploying is
        named by the next step)."""
        if event.get("status") != "success":
            self.log.warning("The wait for CloudFront ended: %s", event.get("message"))
        return self._wait_for_tenants()

    def execute_complete_tenants(self, context: Any, event: dict[str, Any]) -> list[str]:
        """Resume after the tenants' wait; a tenant still deploying is named by the next step."""
        if event.get("status") != "success":
            self.log.warning("The wait for CloudFront ended: %s", event.get("message"))
        return _deploying(self.started, "deploying") + _deploying(self.started, "deploying_tenants")


STARTED_XCOM_KEY = "cleanup_started"
"""The XCom where ``cleanup_on_failure`` keeps its first half's result while it waits."""


class CleanupOnFailureOperator(DecoratedOperator, PythonOperator):
    """A job DAG's ``cleanup_on_failure`` task (TaskFlow) that waits for CloudFront without a worker.

    The decorated function starts removing a failed job's resources and returns what
    :func:`cloudfront_ssl.steps.cleanup.start_failed_job_cleanup` returns (alias records removed,
    distributions and tenants disabled). While CloudFront still deploys a disabled distribution the
    task defers to :class:`DistributionsDeployedTrigger`, then while it deploys a disabled tenant to
    :class:`TenantsDeployedTrigger`, as ``ssl_cleanup_job`` does; then (or at once when nothing
    deploys) it deletes what the job made (:func:`cloudfront_ssl.steps.cleanup.finish_cleanup`) and
    returns the clean-up's result.

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
        return self._wait_or_finish(context, started, distributions_done=False)

    def _wait_or_finish(self, context: Any, started: dict[str, Any], *, distributions_done: bool) -> Any:
        """Defer for the distributions (unless waited for already), then the tenants; else finish."""
        conn_id = started.get("aws_conn_id")
        client = cloudfront_hook(conn_id).conn
        if not distributions_done and (pending := undeployed(client, list(started.get("deploying") or []))):
            self._keep(context, started, pending, "distribution(s)")
            self.defer(
                trigger=DistributionsDeployedTrigger(
                    distribution_ids=pending,
                    aws_conn_id=conn_id,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                ),
                method_name="execute_complete",
                timeout=deployment_timeout(pending, self.waiter_delay, self.waiter_max_attempts),
            )
        if pending_tenants := undeployed_tenants(client, list(started.get("deploying_tenants") or [])):
            self._keep(context, started, pending_tenants, "tenant(s)")
            self.defer(
                trigger=TenantsDeployedTrigger(
                    tenant_ids=pending_tenants,
                    aws_conn_id=conn_id,
                    poll_seconds=self.waiter_delay,
                    timeout_seconds=self.waiter_delay * self.waiter_max_attempts,
                ),
                method_name="execute_complete_tenants",
                timeout=tenants_timeout(self.waiter_delay, self.waiter_max_attempts),
            )
        return finish_cleanup(started)

    def _keep(self, context: Any, started: dict[str, Any], pending: list[str], what: str) -> None:
        """Keep the first half's result for the resumed task, in an XCom of its own (a deferral's
        kwargs are lost under ``dag.test``)."""
        self.log.info("%d %s deploying: %s; waiting without holding a worker", len(pending), what, pending)
        context["ti"].xcom_push(key=STARTED_XCOM_KEY, value=started)

    def _started(self, context: Any, event: dict[str, Any] | None) -> dict[str, Any]:
        if event and event.get("status") != "success":
            self.log.warning("The wait for CloudFront ended: %s", event.get("message"))
        return context["ti"].xcom_pull(task_ids=self.task_id, key=STARTED_XCOM_KEY)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """After the distributions' wait: the tenants' wait if any is deploying, else delete."""
        return self._wait_or_finish(context, self._started(context, event), distributions_done=True)

    def execute_complete_tenants(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Delete what is deployed once the wait ends; what is still deploying is named in the error."""
        return finish_cleanup(self._started(context, event))


def cleanup_step(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """``@task`` for a job DAG's ``cleanup_on_failure``: :class:`CleanupOnFailureOperator`."""
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=False,
        decorated_operator_class=CleanupOnFailureOperator,
        **kwargs,
    )
