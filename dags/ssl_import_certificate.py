"""ssl_import_certificate: check a PEM certificate bundle locally, import it into ACM, optionally
create a CloudFront distribution for it, and tell the owners.

The job's steps, top to bottom:

1. check                 the conf, the bundle (PEM, key match, key type, validity, chain), the source
                         distribution and the aliases
2. import_certificate    into ACM us-east-1 with the job's tags (a retry re-imports into the same ARN)
3. create_distributions  only with create_distributions: copied from the source distribution
4. notify_owners         the certificate's ARN and expiry, and each alias's CNAME target
5. summary               the job's result: the certificate and its distribution
6. notify_failure, cleanup_on_failure   only when a step failed: one message to the owners, then
                         (with cleanup_on_failure) remove what the job created

The private key is read from the conf or from Secrets Manager inside each task that needs it,
masked in the logs at once, and never passed between tasks. The logic of each step lives in
``cloudfront_ssl.steps.import_job``; this file only wires the steps.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, TriggerRule, task

from cloudfront_ssl.rules.config import ImportJobConfig, dag_params
from cloudfront_ssl.steps import import_job
from cloudfront_ssl.steps.claims_wait import check_step
from cloudfront_ssl.steps.job_dag import closing_steps, create_distributions_step, job_default_args
from cloudfront_ssl.vocabulary import IMPORT_DAG_ID

with DAG(
    dag_id=IMPORT_DAG_ID,
    description="Check a PEM certificate bundle, import it into ACM and optionally create a distribution",
    schedule=None,
    catchup=False,
    tags=["ssl", "acm", "cloudfront"],
    params=dag_params(ImportJobConfig, ImportJobConfig.field_order()),
    default_args=job_default_args(),
    doc_md=__doc__,
) as dag:

    @check_step
    def check(params: dict[str, Any], dag: Any, run_id: str, ti: Any) -> dict[str, Any]:
        """Refuse a bad bundle before anything reaches AWS; return the certificate's facts (no key)."""
        return import_job.check(params, dag.dag_id, run_id, ti)

    @task(multiple_outputs=False)
    def import_certificate(
        facts: dict[str, Any], params: dict[str, Any], dag: Any, run_id: str, ti: Any
    ) -> dict[str, Any]:
        """Import the bundle into ACM (idempotent across retries)."""
        return import_job.import_certificate(params, facts, dag.dag_id, run_id, first_try=ti.try_number <= 1)

    @task(multiple_outputs=False)
    def distributions_to_create(
        facts: dict[str, Any], certificate: dict[str, Any], params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The distribution to create, or none without create_distributions."""
        return import_job.distributions_to_create(params, facts, certificate)

    @task(trigger_rule=TriggerRule.NONE_FAILED, multiple_outputs=False)
    def notify_owners(
        facts: dict[str, Any],
        certificate: dict[str, Any],
        distributions: list[dict[str, Any]] | None,
        params: dict[str, Any],
        run_id: str,
    ) -> None:
        """Tell the owners the certificate is imported, and the CNAME targets."""
        import_job.notify_imported(params, facts, certificate, list(distributions or []), run_id)

    @task(trigger_rule=TriggerRule.NONE_FAILED, multiple_outputs=False)
    def summary(certificate: dict[str, Any], distributions: list[dict[str, Any]] | None) -> dict[str, Any]:
        """The job's result: the imported certificate and its distribution."""
        from cloudfront_ssl.steps.distributions import summary_entries

        return {"certificates": [certificate], "distributions": summary_entries(distributions)}

    facts = check()
    certificate = import_certificate(facts)
    groups = distributions_to_create(facts, certificate)
    distributions = create_distributions_step(ImportJobConfig)(groups)
    notified = notify_owners(facts, certificate, distributions)
    notified >> summary(certificate, distributions)
    closing_steps(after=[distributions, notified])
