"""ssl_update_site: change the names a live CloudFront distribution serves, and its certificate.

Give the distribution and every name it serves afterwards: the names it keeps, gains and loses follow
from what it serves now. No name it keeps is ever served without a certificate that covers it.

The job's steps, top to bottom:

1. check                     the conf, the names, the distribution, the names it gains (not an alias
                             of another distribution, not claimed by a running job), a given
                             certificate (issued, covering every name), Route 53; claims the names
                             and the distribution
2. request_certificates      unless certificate_arn is given: one certificate for the names, as the
                             create job requests it, and the owners told its validation records
3. find_validation_records, write_validation_records, wait_for_dns
                             with route53_validation, as in the create job
4. wait_for_issuance         deferred: no worker is held while ACM validates
5. update_distribution       one UpdateDistribution on the config just read (its ETag as IfMatch):
                             aliases and certificate together, every other setting kept
6. point_aliases             with route53_aliases: alias records for the names it gained
7. remove_alias_records      with route53_aliases: the removed names' alias records that point at it
8. wait_for_distributions, delete_replaced_certificate
                             deferred until CloudFront has deployed the change (no worker held),
                             then the certificate it had, once nothing uses it, if this package made it
9. notify_owners, summary    what it serves now; the job's result
10. notify_failure, cleanup_on_failure   only when a step failed

The logic of each step lives in ``cloudfront_ssl.steps.update_site``; this file only wires the steps.
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
from cloudfront_ssl.vocabulary import UPDATE_DAG_ID, WAIT_FOR_DISTRIBUTIONS, WAIT_FOR_DNS, WAIT_FOR_ISSUANCE

with DAG(
    dag_id=UPDATE_DAG_ID,
    description="Change the names a CloudFront distribution serves and its certificate, with no uncovered moment",
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

    @task(multiple_outputs=False)
    def delete_replaced_certificate(distribution: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """The certificate the distribution had, once nothing uses it, if this package made it."""
        return update_site.delete_replaced_certificate(params, distribution)

    @task(trigger_rule=TriggerRule.NONE_FAILED, multiple_outputs=False)
    def notify_owners(
        distribution: dict[str, Any], pointed: dict[str, Any], params: dict[str, Any], run_id: str
    ) -> None:
        """Tell the owners what the site serves now, and where to point the names it gained."""
        update_site.notify_owners(params, distribution, pointed, run_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED, multiple_outputs=False)
    def summary(
        plan: dict[str, Any],
        certificates: list[dict[str, Any]],
        distribution: dict[str, Any],
        replaced: dict[str, Any],
        validation: dict[str, Any],
        pointed: dict[str, Any],
        removed: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The job's result: the site before and after, and the DNS records the job wrote."""
        from cloudfront_ssl.steps.dns_job import dns_records

        result = update_site.summarize(
            plan, certificates, distribution, replaced, dns_records(validation, [pointed])
        )
        return {**result, "dns_records_removed": removed}

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
    distribution = update_distribution(plan, certificates)
    wait_for_issuance >> distribution
    pointed = point_aliases(distribution)
    removed = remove_alias_records(distribution)
    deployed = WaitForDistributionsDeployedOperator(task_id=WAIT_FOR_DISTRIBUTIONS, started=distribution)
    replaced = delete_replaced_certificate(distribution)
    deployed >> replaced
    notified = notify_owners(distribution, pointed)
    notified >> summary(plan, certificates, distribution, replaced, validation, pointed, removed)
    closing_steps(after=[distribution, pointed, removed, replaced, notified])
