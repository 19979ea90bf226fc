"""The steps of the create job (``ssl_create_certificates``), as plain functions the DAG's tasks call.

Each step takes the run's params and identity and returns plain JSON for XCom. No step returns or
logs anything secret: the create job has no secret input.
"""

from __future__ import annotations

import logging
from typing import Any

from cloudfront_ssl import acm, cloudfront, messages, notify
from cloudfront_ssl.config import ConfigError, CreateJobConfig, parse_config
from cloudfront_ssl.errors import JobInputError
from cloudfront_ssl.names import InvalidNameError, plan_certificates

log = logging.getLogger(__name__)


def check(params: dict[str, Any], dag_id: str, run_id: str) -> dict[str, Any]:
    """Validate the conf, plan the certificates and distributions, and check the source and aliases.

    Reads AWS (the source distribution, the account's aliases) but changes nothing. Returns the plan
    (:meth:`CertificatePlan.to_dict`).
    """
    try:
        config = parse_config(CreateJobConfig, params)
        plan = plan_certificates(
            config.certificates, aggregate=config.aggregate, create_distributions=config.create_distributions
        )
    except (ConfigError, InvalidNameError) as error:
        raise JobInputError(str(error)) from None
    for note in plan.notes:
        log.info("%s", note)

    if config.create_distributions:
        client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
        assert config.source_distribution_id  # the model requires it with create_distributions
        try:
            cloudfront.get_source_config(client, config.source_distribution_id)
        except cloudfront.DistributionError as error:
            raise JobInputError(str(error)) from None
        wanted = {group.item: group.aliases for group in plan.groups}
        conflicts = cloudfront.alias_conflicts(client, wanted, dag_id, run_id)
        if conflicts:
            raise JobInputError(
                "; ".join(conflicts)
                + ". CloudFront allows an alias on one distribution only: remove the name "
                "from that distribution or from this job"
            )
    log.info(
        "Plan: %d certificate(s) to request, %d distribution(s) to create",
        len(plan.certificates),
        len(plan.groups),
    )
    return plan.to_dict()


def request_certificates(
    params: dict[str, Any], plan: dict[str, Any], dag_id: str, run_id: str
) -> list[dict[str, Any]]:
    """Request the plan's certificates in us-east-1 and tell the owners which DNS records to add.

    Idempotent: certificates an earlier try of this job requested are found (idempotency token within
    an hour, tags after that) and not requested again. Returns one entry per certificate: the summary
    fields of spec section 7 plus ``item``, the ``certificates`` index it was requested for.
    """
    config = parse_config(CreateJobConfig, params)
    client = acm.acm_hook(config.aws_conn_id).conn
    wanted = [request["names"] for request in plan["certificates"]]
    existing = acm.find_job_certificates(client, dag_id, run_id, wanted)
    tags = acm.job_tags(dag_id, run_id, config.tags)
    request_client = acm.acm_hook(config.aws_conn_id, botocore_retries=False).conn
    arns = []
    for index, names in enumerate(wanted):
        if index in existing:
            log.info("Found %s requested by an earlier try for %s", existing[index], ", ".join(names))
            arns.append(existing[index])
            continue
        token = acm.idempotency_token(dag_id, run_id, names)
        arn = acm.request_certificate(request_client, names, token, tags)
        log.info("Requested %s for %s", arn, ", ".join(names))
        arns.append(arn)

    results = []
    for request, arn in zip(plan["certificates"], arns, strict=True):
        certificate = acm.describe_until_records(client, arn)
        results.append({"item": request["item"], **acm.certificate_result(certificate)})

    subject, body = messages.validation_message(run_id, results)
    notify.publish(config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn), subject, body)
    return results


def distributions_to_create(plan: dict[str, Any], certificates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per distribution of the plan, with the ARN of the certificate it uses."""
    arn_by_item = {certificate["item"]: certificate["arn"] for certificate in certificates}
    return [
        {
            "item": group["item"],
            "aliases": group["aliases"],
            "certificate_arn": arn_by_item[group["certificate_item"]],
        }
        for group in plan["groups"]
    ]


def create_distribution(
    params: dict[str, Any], group: dict[str, Any], dag_id: str, run_id: str
) -> dict[str, Any]:
    """Create one distribution from the source's current config (idempotent across retries)."""
    config = parse_config(CreateJobConfig, params)
    assert config.source_distribution_id  # the model requires it with create_distributions
    result = cloudfront.create_distribution_for_job(
        config.aws_conn_id,
        config.source_distribution_id,
        group,
        dag_id=dag_id,
        run_id=run_id,
        user_tags=config.tags,
    )
    log.info(
        "Distribution %s (%s) serves %s", result["id"], result["domain_name"], ", ".join(result["aliases"])
    )
    return result


def notify_cname_targets(params: dict[str, Any], distributions: list[dict[str, Any]], run_id: str) -> None:
    """Tell the owners which CNAME target each alias points to."""
    if not distributions:
        log.info("No distribution was created: no CNAME message to send")
        return
    config = parse_config(CreateJobConfig, params)
    subject, body = messages.cname_message(run_id, distributions)
    notify.publish(config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn), subject, body)


def summarize(
    certificates: list[dict[str, Any]], issued_arns: list[str], distributions: list[dict[str, Any]]
) -> dict[str, Any]:
    """The job's summary (spec section 7).

    ``issued_arns`` is what the wait step saw issued, so no ACM call is needed to update the statuses
    the request step recorded.
    """
    issued = set(issued_arns or [])
    summary_certificates = [
        {
            "arn": certificate["arn"],
            "names": certificate["names"],
            "status": "ISSUED" if certificate["arn"] in issued else certificate["status"],
            "validation_records": certificate["validation_records"],
        }
        for certificate in certificates
    ]
    return {"certificates": summary_certificates, "distributions": list(distributions)}
