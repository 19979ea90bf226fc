"""What the job DAGs share: their task defaults, the distributions step, and the two closing steps.

Every task function here gets the running job's ``params``, ``dag``, ``run_id`` and ``ti`` from
TaskFlow, which fills a task function's arguments that are named like the task's context keys.
Nothing heavy is imported at module level: the DAG files import this module when they are parsed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from cloudfront_ssl.aws.notify import FailureRecorder
from cloudfront_ssl.vocabulary import (
    CHECK,
    CLEANUP_ON_FAILURE,
    CLOSING_STEPS,
    CREATE_DISTRIBUTIONS,
    FAILED,
    NOTIFY_FAILURE,
    SUCCESS,
    UPSTREAM_FAILED,
)

RETURN_VALUE = "return_value"
"""Airflow's XCom key of a task's result."""


def job_default_args() -> dict[str, Any]:
    """Task defaults of a job DAG: two retries for passing AWS trouble, and each failure recorded.

    A failed step records its reason (:class:`~cloudfront_ssl.aws.notify.FailureRecorder`); the job's
    ``notify_failure`` step then tells the owners once, naming every failed step. Errors that a retry
    cannot mend (:class:`cloudfront_ssl.errors.FinalError`) fail at once anyway.
    """
    return {
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "on_failure_callback": FailureRecorder(),
    }


def create_distributions_step(model: type[BaseModel]) -> Any:
    """The ``create_distributions`` step of a job DAG: one task that creates all its distributions.

    Each item's result (the distribution, or why it was not made) is kept in the step's XCom, in the
    job's order; when an item fails the others are still made, and a retry makes only the missing
    ones (:mod:`cloudfront_ssl.steps.distributions`). With nothing to create, the step is skipped.

    :param model: the job's config model (it has ``aws_conn_id``, ``source_distribution_id``, ``tags``).
    """
    from airflow.sdk import task

    @task(task_id=CREATE_DISTRIBUTIONS, multiple_outputs=False)
    def create_distributions(
        groups: list[dict[str, Any]], params: dict[str, Any], dag: Any, run_id: str, ti: Any
    ) -> list[dict[str, Any]]:
        """Create the job's distributions from the source's current config (idempotent across retries)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from cloudfront_ssl.rules.config import parse_config
        from cloudfront_ssl.steps import distributions

        if not groups:
            raise AirflowSkipException("no distribution to create")
        config: Any = parse_config(model, params)
        results = distributions.create_distributions(
            config.aws_conn_id,
            config.source_distribution_id,
            list(groups),
            dag_id=dag.dag_id,
            run_id=run_id,
            user_tags=config.tags,
            try_number=ti.try_number,
            site=getattr(config, "site", None),  # the import job makes no fleet site
        )
        return item_results(ti, results, "distribution(s)")

    return create_distributions


def item_results(ti: Any, results: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    """Return a step's per-item results, or keep them in its XCom and fail it when an item failed.

    A failed task pushes no return value of its own; the results are pushed under the same key, so
    that the job view shows which items were done and why the others were not, and the failure names
    each failed item (:func:`cloudfront_ssl.steps.distributions.failure_of`). Airflow clears them when
    the step is tried again.
    """
    from cloudfront_ssl.steps.distributions import failure_of

    error = failure_of(results, what)
    if error is None:
        return results
    ti.xcom_push(key=RETURN_VALUE, value=results)
    raise error


def closing_steps(after: list[Any]) -> Any:
    """Add the job's two closing steps, run once every step in ``after`` has finished.

    ``notify_failure`` tells the owners once that the job failed, naming every failed step and why;
    then ``cleanup_on_failure`` removes what the job created when its conf asks for it. Both are
    skipped when the job succeeded. ``after`` must hold the job's distributions step itself (not only
    a step downstream of it), so that clean-up waits until it has finished. ``cleanup_on_failure`` is
    the job's last step and a leaf beside ``summary``, so the run's state stays the job's.
    """
    from airflow.sdk import TriggerRule, task

    from cloudfront_ssl.steps.deployment_wait import cleanup_step

    @task(task_id=NOTIFY_FAILURE, trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
    def notify_failure(params: dict[str, Any], dag: Any, run_id: str, ti: Any) -> list[str]:
        """When a step failed, tell the owners once which steps failed and why."""
        from airflow.sdk.exceptions import AirflowSkipException

        from cloudfront_ssl.aws.notify import notify_job_failure

        failed = notify_job_failure(params, dag, run_id, ti)
        if not failed:
            raise AirflowSkipException("no step failed")
        return failed

    @cleanup_step(task_id=CLEANUP_ON_FAILURE, trigger_rule=TriggerRule.ALL_DONE)
    def cleanup_on_failure(params: dict[str, Any], dag: Any, run_id: str, ti: Any) -> dict[str, Any]:
        """With cleanup_on_failure, start removing what the failed job created (the step then waits,
        deferred, for CloudFront to deploy the disabled distributions, and deletes them)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from cloudfront_ssl.steps.cleanup import start_failed_job_cleanup

        failed = created = 0
        if params.get("cleanup_on_failure"):
            states = [FAILED, UPSTREAM_FAILED]
            failed = ti.get_ti_count(dag_id=dag.dag_id, run_ids=[run_id], states=states)
            # Steps that create something in AWS: only when one of them ran is there anything to find.
            creating = [task_id for task_id in dag.task_ids if task_id not in (CHECK, *CLOSING_STEPS)]
            created = ti.get_ti_count(
                dag_id=dag.dag_id, run_ids=[run_id], task_ids=creating, states=[SUCCESS, FAILED]
            )
        dns_results = None
        if failed and created:
            from cloudfront_ssl.steps.dns_job import pull_dns_results

            dns_results = pull_dns_results(ti, dag.dag_id, run_id)
        result = start_failed_job_cleanup(
            params,
            dag.dag_id,
            run_id,
            failed_steps=failed,
            created_anything=created > 0,
            dns_results=dns_results,
        )
        if result is None:
            raise AirflowSkipException(
                "nothing to clean up: the job succeeded, created nothing, or cleanup_on_failure is false"
            )
        return result

    notified = notify_failure()  # type: ignore[call-arg,misc]  # Airflow passes the context arguments
    after >> notified
    step = cleanup_on_failure()
    notified >> step
    return step
