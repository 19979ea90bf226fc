"""What the job DAGs share: their task defaults and the identity of the running job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cloudfront_ssl.notify import JobFailureNotifier


def job_default_args() -> dict[str, Any]:
    """Task defaults of a job DAG: two retries for passing AWS trouble; on a task's final failure, the
    owners are told, then (with ``cleanup_on_failure``) what the job created is removed.

    Errors that a retry cannot mend (:class:`cloudfront_ssl.errors.FinalError`) fail at once anyway.
    The clean-up runs in the failed task's worker, not in the DAG processor, because waiting for
    CloudFront to deploy a disabled distribution takes minutes.
    """
    from cloudfront_ssl.cleanup import CleanupOnFailure

    return {
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "on_failure_callback": [JobFailureNotifier(), CleanupOnFailure()],
    }


def run_identity() -> tuple[dict[str, Any], str, str]:
    """The running task's params, DAG id and run id (the job id)."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    return dict(context["params"]), context["dag"].dag_id, context["run_id"]
