"""The steps of the create job (``ssl_create_certificates``), as plain functions the DAG's tasks call.

Each step takes the run's params and identity and returns plain JSON for XCom. No step returns or
logs anything secret: the create job has no secret input.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Any

from cloudfront_ssl.aws import acm, notify
from cloudfront_ssl.aws.connections import require_connection
from cloudfront_ssl.errors import JobInputError
from cloudfront_ssl.rules import messages
from cloudfront_ssl.rules.config import CreateJobConfig, parse_config
from cloudfront_ssl.rules.tags import job_tags
from cloudfront_ssl.steps.claims import TaskClaims
from cloudfront_ssl.steps.plan import plan_create_job

log = logging.getLogger(__name__)


def check(params: dict[str, Any], dag_id: str, run_id: str, ti: Any = None) -> dict[str, Any]:
    """Refuse a bad job before anything is created; return its plan for the later steps.

    The same planning as the page's dry run (:func:`cloudfront_ssl.steps.plan.plan_create_job`), reading
    AWS but changing nothing; with ``ti`` (the running task instance) it also claims the job's names
    so that no other running job works on them (:mod:`cloudfront_ssl.steps.claims`). Every refusal is in
    the error, each naming its field and item.
    """
    claims = TaskClaims(ti, dag_id, run_id) if ti is not None else None
    if claims is not None:
        claims.publish(_names_of(params))
    # Refused, or AWS could not be read: this job goes no further, so it holds no claim (a wait for
    # earlier jobs' claims keeps it).
    with claims.withdrawn_on_failure() if claims is not None else nullcontext():
        result = plan_create_job(
            params, dag_id=dag_id, run_id=run_id, claims=claims, require_connection=require_connection
        )
        if not result["valid"]:
            raise JobInputError("; ".join(entry["message"] for entry in result["errors"]))
    for note in result["notes"]:
        log.info("%s", note)
    log.info(
        "Plan: %d certificate(s) to request, %d distribution(s) and %d tenant(s) to create",
        len(result["certificates"]),
        len(result["distributions"]),
        len(result["tenants"]),
    )
    return {
        "certificates": result["certificates"],
        "groups": result["distributions"],
        "tenants": result["tenants"],
        "covered": result["covered"],
        "notes": result["notes"],
    }


def _names_of(params: dict[str, Any]) -> list[str]:
    """The names a conf asks for, as well as they can be read (the claim is published before checking)."""
    from cloudfront_ssl.rules.names import InvalidNameError, is_blank_item, normalize_item

    names: list[str] = []
    items = params.get("certificates")
    for index, item in enumerate(items if isinstance(items, list) else []):
        if is_blank_item(item):
            continue
        try:
            names += normalize_item(item, f"certificates[{index}]")
        except InvalidNameError:
            continue  # refused by the check anyway
    return names


def request_certificates(
    params: dict[str, Any], plan: dict[str, Any], dag_id: str, run_id: str, *, first_try: bool = False
) -> list[dict[str, Any]]:
    """Request the plan's certificates in us-east-1 and tell the owners which DNS records to add.

    Idempotent: certificates an earlier try of this job requested are found (idempotency token within
    an hour, tags after that) and not requested again. On the job's first try nothing can exist yet,
    so the account is not searched. Returns one entry per certificate: the job summary's fields plus
    ``item``, the ``certificates`` index it was requested for.
    """
    config = parse_config(CreateJobConfig, params)
    client = acm.acm_hook(config.aws_conn_id).conn
    wanted = [request["names"] for request in plan["certificates"]]
    existing = {} if first_try else acm.find_earlier_requests(client, dag_id, run_id, wanted)
    tags = job_tags(dag_id, run_id, config.tags, config.site)
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
    log.info(
        "DNS validation records of the job's certificates:\n%s", messages.records_table(certificates=results)
    )

    if config.route53_validation or not results:
        # The owners hear once the job has written what it can to Route 53 (write_validation_records);
        # a job whose tenants take managed certificates requests none and has nothing to say here.
        return results
    subject, body = messages.validation_message(run_id, results)
    notify.publish(config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn), subject, body)
    return results


def find_validation_records(params: dict[str, Any], certificates: list[dict[str, Any]]) -> dict[str, Any]:
    """With ``route53_validation``: the validation records missing from Route 53 (reads only)."""
    from cloudfront_ssl.steps import dns_job

    return dns_job.find_validation_records(parse_config(CreateJobConfig, params), certificates)


def write_validation_records(
    params: dict[str, Any], dns_plan: dict[str, Any], certificates: list[dict[str, Any]], run_id: str
) -> dict[str, Any]:
    """With ``route53_validation``: write the planned validation records, then tell the owners what
    the job wrote and which records are still theirs to add."""
    from cloudfront_ssl.steps import dns_job

    config = parse_config(CreateJobConfig, params)
    result = dns_job.write_validation_records(config, dns_plan, run_id)
    if config.route53_validation:
        subject, body = messages.dns_validation_message(run_id, certificates, result)
        notify.publish(config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn), subject, body)
    return result


def point_aliases(
    params: dict[str, Any], distributions: list[dict[str, Any]], run_id: str
) -> list[dict[str, Any]]:
    """With ``route53_aliases``: point each new distribution's aliases at it (A, and AAAA with IPv6).

    One result per distribution, in the job's order: what :func:`cloudfront_ssl.steps.dns_job.point_aliases`
    returns (``records`` written...) with the item's ``item``, ``aliases`` and ``state``; an item that
    failed has ``state`` failed and its ``error`` instead, and the others are still pointed. Each item
    is idempotent, so a retry of the step sends only what is not in place yet.
    """
    from cloudfront_ssl.aws import cloudfront
    from cloudfront_ssl.errors import FinalError
    from cloudfront_ssl.steps import dns_job
    from cloudfront_ssl.steps.distributions import created, item_name
    from cloudfront_ssl.vocabulary import FAILED, SUCCESS

    config = parse_config(CreateJobConfig, params)
    client = cloudfront.cloudfront_hook(config.aws_conn_id).conn if config.route53_aliases else None
    results = []
    for distribution in created(distributions):
        where = {"item": distribution.get("item"), "aliases": list(distribution["aliases"])}
        try:
            # The copy's IPv6 setting is the source's at the time it was made: read the copy's own.
            ipv6 = client is not None and bool(
                client.get_distribution_config(Id=distribution["id"])["DistributionConfig"].get(
                    "IsIPV6Enabled"
                )
            )
            pointed = dns_job.point_aliases(config, distribution, ipv6=ipv6, run_id=run_id)
        except Exception as error:
            from cloudfront_ssl.aws.notify import describe_exception

            results.append(
                {
                    **where,
                    "state": FAILED,
                    "distribution_id": distribution["id"],
                    "error": f"{item_name(where)}: {describe_exception(error)}",
                    "final": isinstance(error, FinalError),
                }
            )
            log.error("Alias records not written: %s", results[-1]["error"])
            continue
        results.append({**where, "state": SUCCESS, **pointed})
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


def notify_cname_targets(
    params: dict[str, Any],
    distributions: list[dict[str, Any]],
    run_id: str,
    pointed: list[dict[str, Any]] | None = None,
) -> None:
    """Tell the owners which CNAME target each alias points to.

    With ``route53_aliases``, ``pointed`` holds what the alias step did: the message says which names
    the job pointed and lists only the others.
    """
    from cloudfront_ssl.steps.distributions import created

    distributions = created(distributions)
    if not distributions:
        log.info("No distribution was created: no CNAME message to send")
        return
    log.info("CNAME targets of the job's names:\n%s", messages.records_table(distributions=distributions))
    config = parse_config(CreateJobConfig, params)
    if config.route53_aliases:
        subject, body = messages.dns_cname_message(run_id, distributions, list(pointed or []))
    else:
        subject, body = messages.cname_message(run_id, distributions)
    notify.publish(config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn), subject, body)


def summarize(
    certificates: list[dict[str, Any]],
    issued_arns: list[str],
    distributions: list[dict[str, Any]],
    dns_records: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The job's summary: its certificates with their validation records, its distributions, and the
    DNS records it wrote in Route 53 (``dns_records``, empty without Route 53).

    ``issued_arns`` is what the wait step saw issued, so no ACM call is needed to update the statuses
    the request step recorded. ``distributions`` are the distributions step's per-item results.
    """
    from cloudfront_ssl.steps.distributions import summary_entries

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
    return {
        "certificates": summary_certificates,
        "distributions": summary_entries(distributions),
        "dns_records": list(dns_records or []),
    }
