"""ssl_cleanup_job: remove the certificates and distributions that one earlier job created.

Give the job's ``job_run_id`` (and ``job_dag_id`` for an import job). With ``dry_run`` (the default)
it only lists what it would remove. Otherwise:

1. disable_distributions    the job's Route 53 alias records go, its distributions are disabled
2. wait_for_distributions   deferred: CloudFront deploys the disabling; no worker is held
3. remove_job_resources     the deployed distributions are deleted, then the job's certificates that
                            nothing else uses, then its validation records that no certificate needs

Only resources tagged with that job's ``airflow:dag_id`` and ``airflow:run_id`` are touched, a job
that is still running is refused, and a second run finds nothing left to do.

With ``distribution_id`` instead of ``job_run_id`` the same three steps remove one site: its alias
records and the disabling first, then (once deployed) the distribution, its certificate if a job of
this package made it and nothing else uses it, and the validation records no certificate needs. A
distribution that no job of this package made is refused unless ``force``
(``cloudfront_ssl.steps.site_removal``).

The logic lives in ``cloudfront_ssl.steps.cleanup``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from cloudfront_ssl.rules.config import CleanupConfig, dag_params
from cloudfront_ssl.steps import cleanup
from cloudfront_ssl.steps.deployment_wait import WaitForDistributionsDeployedOperator
from cloudfront_ssl.vocabulary import (
    CLEANUP_DAG_ID,
    DISABLE_DISTRIBUTIONS,
    REMOVE_JOB_RESOURCES,
    WAIT_FOR_DISTRIBUTIONS,
)

with DAG(
    dag_id=CLEANUP_DAG_ID,
    description="Remove the distributions and certificates of one earlier job (dry run by default)",
    schedule=None,
    catchup=False,
    tags=["ssl", "acm", "cloudfront"],
    params=dag_params(CleanupConfig, CleanupConfig.field_order()),
    default_args={"retries": 1},
    doc_md=__doc__,
) as dag:

    @task(task_id=DISABLE_DISTRIBUTIONS, multiple_outputs=False)
    def disable_distributions(params: dict[str, Any], ti: Any) -> dict[str, Any]:
        """List (dry run) the job's resources, or remove its alias records and disable its distributions."""
        from cloudfront_ssl.steps.dns_job import pull_dns_results

        return cleanup.start_cleanup(
            params,
            job_state=lambda dag_id, run_id: cleanup.run_state(ti, dag_id, run_id),
            job_dns=lambda dag_id, run_id: pull_dns_results(ti, dag_id, run_id),
        )

    @task(task_id=REMOVE_JOB_RESOURCES, multiple_outputs=False)
    def remove_job_resources(started: dict[str, Any]) -> dict[str, Any]:
        """Delete the deployed distributions, then the job's unused certificates and validation records."""
        return cleanup.finish_cleanup(started)

    started = disable_distributions()
    waited = WaitForDistributionsDeployedOperator(task_id=WAIT_FOR_DISTRIBUTIONS, started=started)
    waited >> remove_job_resources(started)
