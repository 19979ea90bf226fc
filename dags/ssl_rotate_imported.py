"""ssl_rotate_imported: re-import every imported certificate whose bundle secret holds a new certificate.

Runs daily. An imported certificate whose bundle lives in AWS Secrets Manager (imported with
``bundle_secret_id``) carries the tag ``cloudfront-ssl:bundle-secret``. For each such certificate,
``rotate_certificates`` reads the secret; when it holds a different certificate, the bundle is checked
(as the import job checks it, and: it covers every alias of every distribution using the certificate,
it does not expire earlier) and imported into the same ARN, so every distribution serves it unchanged.
A secret that fails the checks leaves its certificate as it was and is reported to the owners; then
``report_refusals`` fails the run, naming each such certificate, after the others were rotated.

The private key is masked the moment it is read and never returned, logged or sent. The logic lives
in ``cloudfront_ssl.steps.rotation``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from cloudfront_ssl.rules.config import RotateImportedConfig, dag_params
from cloudfront_ssl.vocabulary import REPORT_REFUSALS, ROTATE_CERTIFICATES, ROTATE_DAG_ID

with DAG(
    dag_id=ROTATE_DAG_ID,
    description="Daily: re-import each imported certificate whose Secrets Manager bundle holds a new one",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ssl", "acm", "cloudfront"],
    params=dag_params(RotateImportedConfig, RotateImportedConfig.field_order()),
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
) as dag:

    @task(task_id=ROTATE_CERTIFICATES, multiple_outputs=False)
    def rotate_certificates(params: dict[str, Any], run_id: str) -> dict[str, Any]:
        """Rotate every certificate whose secret changed; tell the owners; return the report."""
        from cloudfront_ssl.steps.rotation import rotate_imported

        return rotate_imported(params, run_id)

    @task(task_id=REPORT_REFUSALS, retries=0, multiple_outputs=False)
    def report_refusals(report: dict[str, Any]) -> None:
        """Fail the run, naming each certificate whose secret failed the checks."""
        from cloudfront_ssl.steps.rotation import fail_on_refusals

        fail_on_refusals(report)

    report_refusals(rotate_certificates())
