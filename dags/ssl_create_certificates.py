"""ssl_create_certificates: request ACM certificates, wait for issuance, create CloudFront distributions or tenants.

The job's steps, top to bottom:

1. check                  the conf, the names, the source distribution, the aliases, with Route 53
                          their hosted zones and records; claims the names
2. request_certificates   in ACM us-east-1, then tell the owners which DNS records to add
3. find_validation_records, write_validation_records, wait_for_dns
                          with route53_validation: the validation records missing from Route 53,
                          written one batch per zone, then deferred until Route 53 has applied them
4. wait_for_issuance      deferred: ACM is checked every poll_interval_seconds, no worker is held
hosting: distribution (steps 5-7 are skipped with hosting: tenant)
5. create_distributions   every distribution in one task, copied from the source distribution, a few
                          at a time; each item's result or error is kept, a retry makes only the rest
6. point_aliases          with route53_aliases, each distribution's alias records (one task, per-item
                          results like create_distributions)
7. notify_cname_targets   tell the owners which CNAME target each name points to (or that it does)
hosting: tenant (steps 5t-8t are skipped with hosting: distribution)
5t. create_tenants        one distribution tenant per item on the multi-tenant distribution, with
                          the item's ACM certificate or a certificate CloudFront manages
6t. point_tenant_names    with route53_aliases: CNAME records to the routing endpoint (not at an apex)
7t. notify_routing_endpoints   tell the owners where each name points and what is left to them
8t. wait_for_managed_certificates   deferred (certificate_source: managed): CloudFront verifies the
                          DNS and issues each tenant's certificate; no worker is held
8. summary                the job's result: certificates with validation records, distributions or
                          tenants, the DNS records the job wrote
9. notify_failure, cleanup_on_failure   only when a step failed: one message to the owners, then
                          (with cleanup_on_failure) remove what the job created

The logic of each step lives in ``cloudfront_ssl.steps.create_job``; this file only wires the steps.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, TriggerRule, task

from cloudfront_ssl.rules.config import CreateJobConfig, dag_params
from cloudfront_ssl.steps import create_job
from cloudfront_ssl.steps.claims_wait import check_step
from cloudfront_ssl.steps.dns_wait import WaitForDnsChangesOperator
from cloudfront_ssl.steps.job_dag import (
    closing_steps,
    create_distributions_step,
    item_results,
    job_default_args,
)
from cloudfront_ssl.steps.operators import WaitForCertificatesOperator
from cloudfront_ssl.steps.tenant_wait import WaitForManagedCertificatesOperator
from cloudfront_ssl.vocabulary import (
    CREATE_DAG_ID,
    POINT_ALIASES,
    WAIT_FOR_DNS,
    WAIT_FOR_ISSUANCE,
    WAIT_FOR_MANAGED_CERTIFICATES,
)

with DAG(
    dag_id=CREATE_DAG_ID,
    description="Request ACM certificates for groups of names and create a CloudFront distribution "
    "or distribution tenant per group",
    schedule=None,
    catchup=False,
    max_active_runs=16,
    tags=["ssl", "acm", "cloudfront"],
    params=dag_params(CreateJobConfig, CreateJobConfig.field_order()),
    default_args=job_default_args(),
    doc_md=__doc__,
) as dag:

    @check_step
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

    @task(multiple_outputs=False)
    def find_validation_records(certificates: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        """With route53_validation: the validation records missing from Route 53 (reads only)."""
        return create_job.find_validation_records(params, certificates)

    @task(multiple_outputs=False)
    def write_validation_records(
        dns_plan: dict[str, Any], certificates: list[dict[str, Any]], params: dict[str, Any], run_id: str
    ) -> dict[str, Any]:
        """With route53_validation: write them, one batch per zone; tell the owners what is left."""
        return create_job.write_validation_records(params, dns_plan, certificates, run_id)

    @task(task_id=POINT_ALIASES, multiple_outputs=False)
    def point_aliases(
        distributions: list[dict[str, Any]], params: dict[str, Any], run_id: str, ti: Any
    ) -> list[dict[str, Any]]:
        """With route53_aliases: point each distribution's aliases at it with alias records."""
        return item_results(
            ti, create_job.point_aliases(params, distributions, run_id), "alias record set(s)"
        )

    @task(trigger_rule=TriggerRule.NONE_FAILED, multiple_outputs=False)
    def notify_cname_targets(
        distributions: list[dict[str, Any]] | None,
        pointed: list[dict[str, Any]] | None,
        params: dict[str, Any],
        run_id: str,
    ) -> None:
        """Tell the owners which CNAME target each name points to (or that the job pointed it)."""
        create_job.notify_cname_targets(params, list(distributions or []), run_id, list(pointed or []))

    @task(multiple_outputs=False)
    def create_tenants(
        plan: dict[str, Any],
        certificates: list[dict[str, Any]],
        params: dict[str, Any],
        dag: Any,
        run_id: str,
        ti: Any,
    ) -> list[dict[str, Any]]:
        """With hosting: tenant, one tenant per item on the multi-tenant distribution (idempotent)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from cloudfront_ssl.steps import tenant_job

        if not tenant_job.is_tenant_job(params):
            raise AirflowSkipException("hosting is distribution: the job makes no tenant")
        return tenant_job.create_tenants(
            params, plan, certificates, dag.dag_id, run_id, first_try=ti.try_number <= 1
        )

    @task(multiple_outputs=False)
    def point_tenant_names(
        tenants: list[dict[str, Any]], params: dict[str, Any], run_id: str
    ) -> dict[str, Any]:
        """With route53_aliases: CNAME records from the tenants' names to their routing endpoint."""
        from cloudfront_ssl.steps import tenant_job

        return tenant_job.point_tenant_names(params, tenants, run_id)

    @task(multiple_outputs=False)
    def notify_routing_endpoints(
        tenants: list[dict[str, Any]], pointed: dict[str, Any], params: dict[str, Any], run_id: str
    ) -> None:
        """Tell the owners where each name points (or that the job pointed it)."""
        from cloudfront_ssl.steps import tenant_job

        tenant_job.notify_routing_endpoints(params, tenants, pointed, run_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED, multiple_outputs=False)
    def summary(
        certificates: list[dict[str, Any]],
        issued_arns: list[str],
        distributions: list[dict[str, Any]] | None,
        validation: dict[str, Any],
        pointed: list[dict[str, Any]] | None,
        tenants: list[dict[str, Any]] | None,
        tenant_names: dict[str, Any] | None,
        managed: dict[str, str] | None,
    ) -> dict[str, Any]:
        """The job's result: certificates, distributions or tenants, and the DNS records the job wrote."""
        from cloudfront_ssl.steps.dns_job import dns_records
        from cloudfront_ssl.steps.tenant_job import with_managed_certificates

        result = create_job.summarize(
            certificates,
            issued_arns,
            list(distributions or []),
            dns_records(validation, list(pointed or []) + [tenant_names or {}]),
        )
        if tenants is not None:
            result["tenants"] = with_managed_certificates(tenants, managed)
        return result

    plan = check()
    certificates = request_certificates(plan)
    validation = write_validation_records(find_validation_records(certificates), certificates)
    wait_for_dns = WaitForDnsChangesOperator(task_id=WAIT_FOR_DNS, changes=validation)
    wait_for_issuance = WaitForCertificatesOperator(
        task_id=WAIT_FOR_ISSUANCE,
        certificate_arns=certificate_arns(certificates),
        aws_conn_id="{{ params.aws_conn_id }}",
        poll_interval_seconds="{{ params.poll_interval_seconds }}",
        validation_timeout_hours="{{ params.validation_timeout_hours }}",
    )
    wait_for_dns >> wait_for_issuance
    groups = distributions_to_create(plan, certificates)
    wait_for_issuance >> groups
    distributions = create_distributions_step(CreateJobConfig)(groups)
    pointed = point_aliases(distributions)
    notified = notify_cname_targets(distributions, pointed)

    tenants = create_tenants(plan, certificates)
    wait_for_issuance >> tenants
    tenant_names = point_tenant_names(tenants)
    told = notify_routing_endpoints(tenants, tenant_names)
    wait_for_managed = WaitForManagedCertificatesOperator(
        task_id=WAIT_FOR_MANAGED_CERTIFICATES,
        tenants=tenants,
        certificate_source="{{ params.certificate_source }}",
        aws_conn_id="{{ params.aws_conn_id }}",
        poll_interval_seconds="{{ params.poll_interval_seconds }}",
        validation_timeout_hours="{{ params.validation_timeout_hours }}",
    )
    told >> wait_for_managed

    result = summary(
        certificates,
        wait_for_issuance.output,
        distributions,
        validation,
        pointed,
        tenants,
        tenant_names,
        wait_for_managed.output,
    )
    notified >> result
    closing_steps(after=[distributions, pointed, notified, tenants, tenant_names, told, wait_for_managed])
