"""What the job DAGs share: their task defaults and the identity of the running job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cloudfront_ssl.notify import JobFailureNotifier


def job_default_args() -> dict[str, Any]:
    """Task defaults of a job DAG: two retries for passing AWS trouble, and the owners told of a failure.

    Errors that a retry cannot mend (:class:`cloudfront_ssl.errors.FinalError`) fail at once anyway.
    """
    return {
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "on_failure_callback": JobFailureNotifier(),
    }


def cleanup_on_failure_step(after: list[Any]) -> Any:
    """Add the job's ``cleanup_on_failure`` step, run once every step in ``after`` has finished.

    ``after`` must hold the job's mapped distribution step itself (not only a step downstream of it):
    a downstream step is marked upstream-failed as soon as one distribution fails, while its siblings
    may still be creating theirs. The step is skipped when the job succeeded or its conf did not ask
    for clean-up; otherwise it removes what the job created (see :func:`cleanup.cleanup_failed_job`).
    It is a leaf next to ``summary``, so the run's state stays the job's.
    """
    from airflow.sdk import TriggerRule, task

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def cleanup_on_failure() -> dict[str, Any]:
        """With cleanup_on_failure, remove what the failed job created."""
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        from cloudfront_ssl.cleanup import cleanup_failed_job

        params, dag_id, run_id = run_identity()
        failed = 0
        if params.get("cleanup_on_failure"):
            failed = get_current_context()["ti"].get_ti_count(
                dag_id=dag_id, run_ids=[run_id], states=["failed", "upstream_failed"]
            )
        result = cleanup_failed_job(params, dag_id, run_id, failed_steps=failed)
        if result is None:
            raise AirflowSkipException(
                "nothing to clean up: the job succeeded or cleanup_on_failure is false"
            )
        return result

    step = cleanup_on_failure()
    after >> step
    return step


def run_identity() -> tuple[dict[str, Any], str, str]:
    """The running task's params, DAG id and run id (the job id)."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    return dict(context["params"]), context["dag"].dag_id, context["run_id"]
