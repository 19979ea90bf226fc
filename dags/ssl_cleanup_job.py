"""ssl_cleanup_job: remove the certificates and distributions that one earlier job created.

Give the job's ``job_run_id`` (and ``job_dag_id`` for an import job). With ``dry_run`` (the default)
it only lists what it would remove. Otherwise it disables the job's distributions, waits until
CloudFront has deployed that, deletes them, then deletes the job's certificates that nothing else
uses. Route 53 records the job wrote go too: its alias records first, while they still point at its
distributions, and its validation records last, unless a remaining certificate uses them. Only resources tagged with that job's ``airflow:dag_id`` and ``airflow:run_id`` are touched, a
job that is still running is refused, and a second run finds nothing left to do.

The logic lives in ``cloudfront_ssl.steps.cleanup``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from cloudfront_ssl.rules.config import CleanupConfig, dag_params
from cloudfront_ssl.steps import cleanup
from cloudfront_ssl.vocabulary import CLEANUP_DAG_ID

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

    @task(multiple_outputs=False)
    def remove_job_resources(params: dict[str, Any], ti: Any) -> dict[str, Any]:
        """List (dry run) or remove the job's distributions, then its unused certificates."""
        from cloudfront_ssl.steps.dns_job import pull_dns_results

        return cleanup.run_cleanup(
            params,
            job_state=lambda dag_id, run_id: cleanup.run_state(ti, dag_id, run_id),
            job_dns=lambda dag_id, run_id: pull_dns_results(ti, dag_id, run_id),
        )

    remove_job_resources()
