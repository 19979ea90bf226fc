"""ssl_update_site: change the names a live CloudFront distribution (or distribution tenant) serves,
and its certificate.

Give the distribution (``distribution_id``) or the tenant (``tenant_id``) and every name it serves
afterwards: the names it keeps, gains and loses follow from what it serves now. No name it keeps is
ever served without a certificate that covers it.

The job's steps, top to bottom:

1. check                     the conf, the names, the site, the names it gains (not another
                             distribution's alias or tenant's domain, not claimed by a running job), a
                             given certificate (issued, covering every name), Route 53; claims the
                             names and the site
2. request_certificates      unless certificate_arn is given or the tenant's certificate is managed by
                             CloudFront: one certificate for the names, as the create job requests it,
                             and the owners told its validation records
3. find_validation_records, write_validation_records, wait_for_dns
                             with route53_validation, as in the create job
4. wait_for_issuance         deferred: no worker is held while ACM validates
5. a distribution:
   update_distribution       one UpdateDistribution on the config just read (its ETag as IfMatch):
                             aliases and certificate together, every other setting kept
   point_aliases             with route53_aliases: alias records for the names it gained
   remove_alias_records      with route53_aliases: the removed names' alias records that point at it
   a tenant:
   update_tenant             one UpdateDistributionTenant on the tenant just read (ETag as IfMatch):
                             ACM, domains and certificate together; managed, the new names added
                             beside the old ones with a request for a certificate covering all
   point_tenant_names        with route53_aliases: CNAMEs to the routing endpoint for the names gained
   wait_for_managed_certificates   managed: deferred until CloudFront has verified the new names'
                             DNS and issued their certificate
   drop_old_domains          managed: a second UpdateDistributionTenant leaves only the job's names
   remove_cname_records      with route53_aliases: the removed names' CNAMEs that point at the endpoint
6. wait_for_distributions, delete_replaced_certificate
                             deferred until CloudFront has deployed the change (no worker held),
                             then the ACM certificate the site had, once nothing uses it, if this
                             package made it
7. notify_owners, summary    what it serves now; the job's result
8. notify_failure, cleanup_on_failure   only when a step failed

The logic of each step lives in ``cloudfront_ssl.steps.update_site`` and (tenants)
``cloudfront_ssl.steps.tenant_update``; this file only wires the steps.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, TriggerRule, task

from cloudfront_ssl.rules.config import UpdateSiteConfig, dag_params
from cloudfront_ssl.steps import update_site
from cloudfront_ssl.steps.claims_wait import check_step
from cloudfront_ssl.steps.deployment_wait import WaitForDistributionsDeployedOperator
from cloudfront_ssl.steps.dns_wait import WaitForDnsChangesOperator
from cloudfront_ssl.steps.job_dag import closing_steps, job_default_args
from cloudfront_ssl.steps.operators import WaitForCertificatesOperator
from cloudfront_ssl.steps.tenant_wait import WaitForManagedCertificatesOperator
from cloudfront_ssl.vocabulary import (
    DROP_OLD_DOMAINS,
    POINT_TENANT_NAMES,
    REMOVE_CNAME_RECORDS,
    UPDATE_DAG_ID,
    UPDATE_TENANT,
    WAIT_FOR_DISTRIBUTIONS,
    WAIT_FOR_DNS,
    WAIT_FOR_ISSUANCE,
    WAIT_FOR_MANAGED_CERTIFICATES,
)

with DAG(
    dag_id=UPDATE_DAG_ID,
    description="Change the names a CloudFront distribution or tenant serves and its certificate, with no "
    "uncovered moment",
    schedule=None,
    catchup=False,
    max_active_runs=16,
    tags=["ssl", "acm", "cloudfront"],
    params=dag_params(UpdateSiteConfig, UpdateSiteConfig.field_order()),
    default_args=job_default_args(),
    doc_md=__doc__,
) as dag:

    @check_step
    def check(params: dict[str, Any], dag: Any, run_id: str, ti: Any) -> dict[str, Any]:
        """Refuse a bad update before anything changes; claim the names and the distribution."""
        return update_site.check(params, dag.dag_id, run_id, ti)

    @task(multiple_outputs=False)
    def request_certificates(
        plan: dict[str, Any], params: dict[str, Any], run_id: str, ti: Any
    ) -> list[dict[str, Any]]:
        """Request the new certificate (idempotent), unless certificate_arn is given."""
        return update_site.request_certificate(params, plan, run_id, first_try=ti.try_number <= 1)

    @task(multiple_outputs=False)
    def certificate_arns(certificates: list[dict[str, Any]]) -> list[str]:
        """The ARNs to wait for (none with a given certificate)."""
        return [certificate["arn"] for certificate in certificates]

    @task(multiple_outputs=False)
    def find_validation_records(
        plan: dict[str, Any], certificates: list[dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        """With route53_validation: the validation records missing from Route 53 (reads only)."""
        return update_site.find_validation_records(params, plan, certificates)

    @task(multiple_outputs=False)
    def write_validation_records(
        plan: dict[str, Any],
        dns_plan: dict[str, Any],
        certificates: list[dict[str, Any]],
        params: dict[str, Any],
        run_id: str,
    ) -> dict[str, Any]:
        """With route53_validation: write them, one batch per zone; tell the owners what is left."""
        return update_site.write_validation_records(params, plan, dns_plan, certificates, run_id)

    @task(multiple_outputs=False)
    def update_distribution(
        plan: dict[str, Any], certificates: list[dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        """Aliases and certificate in one UpdateDistribution on the config just read."""
        return update_site.update_distribution(params, plan, certificates)

    @task(multiple_outputs=False)
    def point_aliases(distribution: dict[str, Any], params: dict[str, Any], run_id: str) -> dict[str, Any]:
        """With route53_aliases: alias records for the names the distribution gained."""
        return update_site.point_added_names(params, distribution, run_id)

    @task(multiple_outputs=False)
    def remove_alias_records(distribution: dict[str, Any], params: dict[str, Any]) -> list[dict[str, Any]]:
        """With route53_aliases: the removed names' alias records that point at the distribution."""
        return update_site.remove_alias_records(params, distribution)

    @task(task_id=UPDATE_TENANT, multiple_outputs=False)
    def update_tenant(
        plan: dict[str, Any], certificates: list[dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        """A tenant: its domains (and ACM certificate) in one UpdateDistributionTenant on the tenant just read."""
        from airflow.sdk.exceptions import AirflowSkipException

        from cloudfront_ssl.steps import tenant_update

        if not tenant_update.is_tenant_update(plan):
            raise AirflowSkipException("the job changes a distribution (update_distribution)")
        return tenant_update.update_tenant(params, plan, certificates)

    @task(task_id=POINT_TENANT_NAMES, multiple_outputs=False)
    def point_tenant_names(tenant: dict[str, Any], params: dict[str, Any], run_id: str) -> dict[str, Any]:
        """With route53_aliases: CNAME records from the names the tenant gained to its routing endpoint."""
        from cloudfront_ssl.steps import tenant_update

        return tenant_update.point_added_names(params, tenant, run_id)

    @task(task_id=DROP_OLD_DOMAINS, trigger_rule=TriggerRule.NONE_FAILED, multiple_outputs=False)
    def drop_old_domains(
        tenant: dict[str, Any] | None, issued: dict[str, str] | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Managed: once the new certificate is issued, the tenant keeps only the job's names."""
        from cloudfront_ssl.steps import tenant_update

        return tenant_update.drop_old_domains(params, tenant, issued)

    @task(task_id=REMOVE_CNAME_RECORDS, multiple_outputs=False)
    def remove_cname_records(tenant: dict[str, Any], params: dict[str, Any]) -> list[dict[str, Any]]:
        """With route53_aliases: the removed names' CNAME records that point at the routing endpoint."""
        from cloudfront_ssl.steps import tenant_update

        return tenant_update.remove_cname_records(params, tenant)

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, multiple_outputs=False)
    def delete_replaced_certificate(
        distribution: dict[str, Any] | None, tenant: dict[str, Any] | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The certificate the site had, once nothing uses it, if this package made it."""
        return update_site.delete_replaced_certificate(params, distribution or tenant or {})

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, multiple_outputs=False)
    def notify_owners(
        distribution: dict[str, Any] | None,
        pointed: dict[str, Any] | None,
        tenant: dict[str, Any] | None,
        tenant_names: dict[str, Any] | None,
        params: dict[str, Any],
        run_id: str,
    ) -> None:
        """Tell the owners what the site serves now, and where to point the names it gained."""
        if distribution is not None:
            update_site.notify_owners(params, distribution, pointed, run_id)
        elif tenant is not None:
            update_site.notify_owners(params, tenant, tenant_names, run_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, multiple_outputs=False)
    def summary(
        plan: dict[str, Any],
        certificates: list[dict[str, Any]],
        distribution: dict[str, Any] | None,
        tenant: dict[str, Any] | None,
        replaced: dict[str, Any] | None,
        validation: dict[str, Any],
        pointed: dict[str, Any] | None,
        tenant_names: dict[str, Any] | None,
        removed: list[dict[str, Any]] | None,
        cnames_removed: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        """The job's result: the site before and after, and the DNS records the job wrote."""
        from cloudfront_ssl.steps.dns_job import dns_records

        site = distribution if distribution is not None else tenant
        assert site is not None  # one of the two branches ran (the trigger rule)
        result = update_site.summarize(
            plan,
            certificates,
            site,
            replaced or {},
            dns_records(validation, [pointed or {}, tenant_names or {}]),
        )
        return {**result, "dns_records_removed": list(removed or []) + list(cnames_removed or [])}

    plan = check()
    certificates = request_certificates(plan)
    validation = write_validation_records(plan, find_validation_records(plan, certificates), certificates)
    wait_for_dns = WaitForDnsChangesOperator(task_id=WAIT_FOR_DNS, changes=validation)
    wait_for_issuance = WaitForCertificatesOperator(
        task_id=WAIT_FOR_ISSUANCE,
        certificate_arns=certificate_arns(certificates),
        aws_conn_id="{{ params.aws_conn_id }}",
        poll_interval_seconds="{{ params.poll_interval_seconds }}",
        validation_timeout_hours="{{ params.validation_timeout_hours }}",
    )
    wait_for_dns >> wait_for_issuance

    # A distribution (update_tenant and what follows it skip themselves) ...
    distribution = update_distribution(plan, certificates)
    wait_for_issuance >> distribution
    pointed = point_aliases(distribution)
    removed = remove_alias_records(distribution)

    # ... or a tenant (update_distribution and what follows it skip themselves).
    changed = update_tenant(plan, certificates)
    wait_for_issuance >> changed
    tenant_names = point_tenant_names(changed)
    wait_for_managed = WaitForManagedCertificatesOperator(
        task_id=WAIT_FOR_MANAGED_CERTIFICATES,
        tenants=[changed],
        aws_conn_id="{{ params.aws_conn_id }}",
        poll_interval_seconds="{{ params.poll_interval_seconds }}",
        validation_timeout_hours="{{ params.validation_timeout_hours }}",
    )
    tenant_names >> wait_for_managed
    tenant = drop_old_domains(changed, wait_for_managed.output)
    cnames_removed = remove_cname_records(tenant)

    deployed = WaitForDistributionsDeployedOperator(
        task_id=WAIT_FOR_DISTRIBUTIONS,
        started=[distribution, changed],
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )
    replaced = delete_replaced_certificate(distribution, tenant)
    deployed >> replaced
    notified = notify_owners(distribution, pointed, tenant, tenant_names)
    notified >> summary(
        plan,
        certificates,
        distribution,
        tenant,
        replaced,
        validation,
        pointed,
        tenant_names,
        removed,
        cnames_removed,
    )
    closing_steps(
        after=[
            distribution,
            pointed,
            removed,
            changed,
            tenant_names,
            wait_for_managed,
            tenant,
            cnames_removed,
            replaced,
            notified,
        ]
    )
