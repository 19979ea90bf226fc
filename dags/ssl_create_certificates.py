"""ssl_create_certificates: request ACM certificates, wait for issuance, create CloudFront distributions.

The job's steps, top to bottom:

1. check                  the conf, the names, the source distribution, the aliases; claims the names
2. request_certificates   in ACM us-east-1, then tell the owners which DNS records to add
3. wait_for_issuance      deferred: ACM is checked every poll_interval_seconds, no worker is held
4. create_distribution    one mapped task per distribution, copied from the source distribution
5. notify_cname_targets   tell the owners which CNAME target each name points to
6. summary                the job's result: certificates with validation records, distributions
7. notify_failure, cleanup_on_failure   only when a step failed: one message to the owners, then
                          (with cleanup_on_failure) remove what the job created

The logic of each step lives in ``cloudfront_ssl.create_job``; this file only wires the steps.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, TriggerRule, task

from cloudfront_ssl import create_job
from cloudfront_ssl.config import CreateJobConfig, dag_params
from cloudfront_ssl.job_dag import closing_steps, create_distribution_step, job_default_args
from cloudfront_ssl.operators import WaitForCertificatesOperator

with DAG(
    dag_id="ssl_create_certificates",
    description="Request ACM certificates for groups of names and create a CloudFront distribution per group",
    schedule=None,
    catchup=False,
    max_active_runs=16,
    tags=["ssl", "acm", "cloudfront"],
    params=dag_params(CreateJobConfig, CreateJobConfig.field_order()),
    default_args=job_default_args(),
    doc_md=__doc__,
) as dag:

    @task(retries=0, multiple_outputs=False)
    def check(params: dict[str, Any], dag: Any, run_id: str, ti: Any) -> dict[str, Any]:
        """Refuse a bad conf before anything is created; claim the names; return the plan."""
        return create_job.check(params, dag.dag_id, run_id, ti)

    @task(multiple_outputs=False)
    def request_certificates(
        plan: dict[str, Any], params: dict[str, Any], dag: Any, run_id: str, ti: Any
    ) -> list[dict[str, Any]]:
        """Request the certificates (idempotent) and send the owners the DNS validation records."""
        return create_job.request_certificates(params, plan, dag.dag_id, run_id, first_try=ti.try_number <= 1)

    @task(multiple_outputs=False)
    def certificate_arns(certificates: list[dict[str, Any]]) -> list[str]:
        """The ARNs to wait for."""
        return [certificate["arn"] for certificate in certificates]

    @task(multiple_outputs=False)
    def distributions_to_create(
        plan: dict[str, Any], certificates: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """One entry per distribution, with its certificate (empty when no distribution is wanted)."""
        return create_job.distributions_to_create(plan, certificates)

    @task(trigger_rule=TriggerRule.NONE_FAILED, multiple_outputs=False)
    def notify_cname_targets(
        distributions: list[dict[str, Any]] | None, params: dict[str, Any], run_id: str
    ) -> None:
        """Tell the owners which CNAME target each name points to."""
        create_job.notify_cname_targets(params, list(distributions or []), run_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED, multiple_outputs=False)
    def summary(
        certificates: list[dict[str, Any]], issued_arns: list[str], distributions: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        """The job's result: certificates with their validation records, distributions with CNAME targets."""
        return create_job.summarize(certificates, issued_arns, list(distributions or []))

    plan = check()
    certificates = request_certificates(plan)
    wait_for_issuance = WaitForCertificatesOperator(
        task_id="wait_for_issuance",
        certificate_arns=certificate_arns(certificates),
        aws_conn_id="{{ params.aws_conn_id }}",
        poll_interval_seconds="{{ params.poll_interval_seconds }}",
        validation_timeout_hours="{{ params.validation_timeout_hours }}",
    )
    groups = distributions_to_create(plan, certificates)
    wait_for_issuance >> groups
    distributions = create_distribution_step(CreateJobConfig).expand(group=groups)
    notified = notify_cname_targets(distributions)
    notified >> summary(certificates, wait_for_issuance.output, distributions)
    closing_steps(after=[distributions, notified])
