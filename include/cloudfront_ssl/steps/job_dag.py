"""What the job DAGs share: their task defaults, the distribution step, and the two closing steps.

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
    FAILED,
    NOTIFY_FAILURE,
    SUCCESS,
    UPSTREAM_FAILED,
)


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


def create_distribution_step(model: type[BaseModel]) -> Any:
    """The mapped ``create_distribution`` step of a job DAG, one task instance per distribution.

    :param model: the job's config model (it has ``aws_conn_id``, ``source_distribution_id``, ``tags``).
    """
    from airflow.sdk import task

    @task(map_index_template="{{ first_alias }}", multiple_outputs=False)
    def create_distribution(
        group: dict[str, Any], params: dict[str, Any], dag: Any, run_id: str, ti: Any
    ) -> dict[str, Any]:
        """Create one distribution from the source's current config (idempotent across retries)."""
        import logging

        from airflow.sdk import get_current_context

        from cloudfront_ssl.aws.cloudfront import create_distribution_for_job
        from cloudfront_ssl.rules.config import parse_config

        get_current_context()["first_alias"] = group["aliases"][0]  # type: ignore[typeddict-unknown-key]
        config: Any = parse_config(model, params)
        result = create_distribution_for_job(
            config.aws_conn_id,
            config.source_distribution_id,
            group,
            dag_id=dag.dag_id,
            run_id=run_id,
            user_tags=config.tags,
            first_try=ti.try_number <= 1,
        )
        logging.getLogger(__name__).info(
            "Distribution %s (%s) serves %s",
            result["id"],
            result["domain_name"],
            ", ".join(result["aliases"]),
        )
        return result

    return create_distribution


def closing_steps(after: list[Any]) -> Any:
    """Add the job's two closing steps, run once every step in ``after`` has finished.

    ``notify_failure`` tells the owners once that the job failed, naming every failed step and why;
    then ``cleanup_on_failure`` removes what the job created when its conf asks for it. Both are
    skipped when the job succeeded. ``after`` must hold the job's mapped distribution step itself
    (not only a step downstream of it): a downstream step is marked upstream-failed as soon as one
    distribution fails, while its siblings may still be creating theirs. ``cleanup_on_failure`` is
    the job's last step and a leaf beside ``summary``, so the run's state stays the job's.
    """
    from airflow.sdk import TriggerRule, task

    @task(task_id=NOTIFY_FAILURE, trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
    def notify_failure(params: dict[str, Any], dag: Any, run_id: str, ti: Any) -> list[str]:
        """When a step failed, tell the owners once which steps failed and why."""
        from airflow.sdk.exceptions import AirflowSkipException

        from cloudfront_ssl.aws.notify import notify_job_failure

        failed = notify_job_failure(params, dag, run_id, ti)
        if not failed:
            raise AirflowSkipException("no step failed")
        return failed

    @task(task_id=CLEANUP_ON_FAILURE, trigger_rule=TriggerRule.ALL_DONE, multiple_outputs=False)
    def cleanup_on_failure(params: dict[str, Any], dag: Any, run_id: str, ti: Any) -> dict[str, Any]:
        """With cleanup_on_failure, remove what the failed job created."""
        from airflow.sdk.exceptions import AirflowSkipException

        from cloudfront_ssl.steps.cleanup import cleanup_failed_job

        failed = created = 0
        if params.get("cleanup_on_failure"):
            states = [FAILED, UPSTREAM_FAILED]
            failed = ti.get_ti_count(dag_id=dag.dag_id, run_ids=[run_id], states=states)
            # Steps that create something in AWS: only when one of them ran is there anything to find.
            creating = [
                task_id
                for task_id in dag.task_ids
                if task_id not in (CHECK, *CLOSING_STEPS)
            ]
            created = ti.get_ti_count(
                dag_id=dag.dag_id, run_ids=[run_id], task_ids=creating, states=[SUCCESS, FAILED]
            )
        dns_results = None
        if failed and created:
            from cloudfront_ssl.steps.dns_job import pull_dns_results

            dns_results = pull_dns_results(ti, dag.dag_id, run_id)
        result = cleanup_failed_job(
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
    step = cleanup_on_failure()  # type: ignore[call-arg,misc]
    notified >> step
    return step
