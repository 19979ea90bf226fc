"""ssl_create_certificates: request ACM certificates, wait for issuance, create CloudFront distributions.

The job's steps, top to bottom:

1. check                  the conf, the names (spec section 5), the source distribution, the aliases
2. request_certificates   in ACM us-east-1, then tell the owners which DNS records to add
3. wait_for_issuance      deferred: ACM is checked every poll_interval_seconds, no worker is held
4. create_distribution    one mapped task per distribution, copied from the source distribution
5. notify_cname_targets   tell the owners which CNAME target each name points to
6. summary                the job's result (spec section 7)

The logic of each step lives in ``cloudfront_ssl.create_job``; this file only wires the steps.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, TriggerRule, get_current_context, task

from cloudfront_ssl.config import CreateJobConfig, dag_params
from cloudfront_ssl.job_dag import cleanup_on_failure_step, job_default_args, run_identity
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

    @task(retries=0)
    def check() -> dict[str, Any]:
        """Refuse a bad conf before anything is created; return the plan."""
        from cloudfront_ssl import create_job

        return create_job.check(*run_identity())

    @task
    def request_certificates(plan: dict[str, Any]) -> list[dict[str, Any]]:
        """Request the certificates (idempotent) and send the owners the DNS validation records."""
        from cloudfront_ssl import create_job

        params, dag_id, run_id = run_identity()
        return create_job.request_certificates(params, plan, dag_id, run_id)

    @task
    def certificate_arns(certificates: list[dict[str, Any]]) -> list[str]:
        """The ARNs to wait for."""
        return [certificate["arn"] for certificate in certificates]

    @task
    def distributions_to_create(
        plan: dict[str, Any], certificates: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """One entry per distribution, with its certificate (empty when no distribution is wanted)."""
        from cloudfront_ssl import create_job

        return create_job.distributions_to_create(plan, certificates)

    @task(map_index_template="{{ first_alias }}")
    def create_distribution(group: dict[str, Any]) -> dict[str, Any]:
        """Create one distribution (idempotent across retries)."""
        from cloudfront_ssl import create_job

        get_current_context()["first_alias"] = group["aliases"][0]  # type: ignore[typeddict-unknown-key]
        params, dag_id, run_id = run_identity()
        return create_job.create_distribution(params, group, dag_id, run_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def notify_cname_targets(distributions: list[dict[str, Any]] | None) -> None:
        """Tell the owners which CNAME target each name points to."""
        from cloudfront_ssl import create_job

        params, _, run_id = run_identity()
        create_job.notify_cname_targets(params, list(distributions or []), run_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def summary(
        certificates: list[dict[str, Any]], issued_arns: list[str], distributions: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        """The job's result: certificates with their validation records, distributions with CNAME targets."""
        from cloudfront_ssl import create_job

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
    distributions = create_distribution.expand(group=groups)
    notified = notify_cname_targets(distributions)
    notified >> summary(certificates, wait_for_issuance.output, distributions)
    cleanup_on_failure_step(after=[distributions, notified])
