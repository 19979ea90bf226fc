"""The steps of ``ssl_update_site``: change the names a live distribution serves, and its certificate.

A *site* is one distribution serving a set of names with one certificate. The job takes the names the
site serves afterwards; the names it keeps, gains and loses follow from what the distribution serves
now. It requests a certificate for them (or takes an issued one) with the create job's own steps:
the request, the validation records (with Route 53), the wait without a worker. Then one
``UpdateDistribution`` sets aliases and certificate together on the config just read, so that every
other setting stays and no name is ever served by a certificate that does not cover it. Alias records
follow; the replaced certificate goes once nothing uses it, if a job of this package made it.

The create job's steps are reused through :func:`create_params`, which states an update's certificate
as the one-item create-job conf that would request it (no distribution to create).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from pydantic import ValidationError

from cloudfront_ssl.aws import acm, cloudfront, notify
from cloudfront_ssl.aws.connections import require_connection
from cloudfront_ssl.errors import (
    FinalError,
    JobInputError,
    is_access_refused,
    is_in_use,
    is_not_found,
    is_request_refused,
)
from cloudfront_ssl.rules import site_messages
from cloudfront_ssl.rules.config import UpdateSiteConfig, parse_config
from cloudfront_ssl.rules.names import (
    MAX_NAMES_PER_CERTIFICATE,
    MAX_NAMES_PER_SITE,
    InvalidNameError,
    covers,
    normalize_item,
    plan_certificates,
)
from cloudfront_ssl.rules.tags import SITE_TAG, site_tags
from cloudfront_ssl.steps.claims import ClaimReader, TaskClaims
from cloudfront_ssl.steps.plan import Error, config_errors, error
from cloudfront_ssl.steps.site_removal import made_by_this_package
from cloudfront_ssl.vocabulary import UPDATE_DAG_ID

log = logging.getLogger(__name__)

SITE_CLAIM_PREFIX = "site:"
"""A job changing a distribution claims ``site:<distribution id>`` beside its names: a second job on
the same distribution is refused while the first runs."""


def site_claim(distribution_id: str) -> str:
    """The claim a job holds on the distribution it changes."""
    return f"{SITE_CLAIM_PREFIX}{distribution_id.lower()}"


def create_params(config: UpdateSiteConfig, certificate_names: list[str]) -> dict[str, Any]:
    """The create-job conf that requests the update's certificate: one item, no distribution.

    The create job's request, Route 53 and notification steps read this; every key they read means
    the same in both jobs.
    """
    return {
        "certificates": [certificate_names],
        "create_distributions": False,
        "tags": dict(config.tags),
        "notification_topic_arn": config.notification_topic_arn,
        "aws_conn_id": config.aws_conn_id,
        "route53_validation": config.route53_validation,
        "route53_zone_ids": config.route53_zone_ids,
        "dns_aws_conn_id": config.dns_aws_conn_id,
        "poll_interval_seconds": config.poll_interval_seconds,
        "validation_timeout_hours": config.validation_timeout_hours,
        # The site's tag moves onto the certificate the update requests.
        "site": config.site,
    }


def uncovered(names: list[str], certificate_names: list[str]) -> list[str]:
    """The names that none of a certificate's names covers."""
    return [name for name in names if not any(covers(held, name) for held in certificate_names)]


def _as_names_error(entry: Error) -> Error:
    """A refusal the create job's Route 53 check made about ``certificates[0]``, said about ``names``."""
    if entry.get("field") != "certificates":
        return entry
    message = re.sub(r"^certificates\[0\]( \(line 1\))?: ", "", str(entry["message"]))
    return {**entry, "field": "names", "item": None, "line": None, "message": f"names: {message}"}


def _certificate_names(config: UpdateSiteConfig, names: list[str], result: dict[str, Any]) -> list[str]:
    """The names of the certificate the update would request for ``names``, its notes and covered
    names in ``result``.

    A site may serve up to :data:`MAX_NAMES_PER_SITE` names; a requested certificate holds at most
    :data:`MAX_NAMES_PER_CERTIFICATE`. With ``aggregate``, a name a wildcard among the names covers is
    not requested again, so many names under a few wildcards fit one certificate; with
    ``certificate_arn``, nothing is requested and that certificate must cover them all.
    """
    if config.aggregate:
        wildcards = [name for name in names if name.startswith("*.")]
        requested = [name for name in names if not any(w != name and covers(w, name) for w in wildcards)]
    else:
        requested = list(names)
    if config.certificate_arn is None and len(requested) > MAX_NAMES_PER_CERTIFICATE:
        advice = "" if config.aggregate else " or aggregate with wildcards that cover them"
        raise InvalidNameError(
            f"names: the certificate for these names would hold {len(requested)} names and ACM takes at "
            f"most {MAX_NAMES_PER_CERTIFICATE}: give certificate_arn (an issued certificate that covers "
            f"them all, such as a wildcard){advice}"
        )
    if len(requested) > MAX_NAMES_PER_CERTIFICATE:
        return requested  # nothing is requested: certificate_arn must cover them all (checked in ACM)
    plan = plan_certificates(
        [names if len(names) <= MAX_NAMES_PER_CERTIFICATE else requested],
        aggregate=config.aggregate,
        create_distributions=True,
    )
    result["notes"] = [re.sub(r"certificates\[0\]( \(line 1\))?", "names", note) for note in plan.notes]
    result["covered"] = [{**entry, "line": None} for entry in plan.covered]
    result["covered"] += [
        {
            "item": 0,
            "line": None,
            "name": name,
            "covered_by": next(w for w in names if w != name and covers(w, name)),
            "certificate_item": 0,
        }
        for name in names
        if name not in requested and not any(entry["name"] == name for entry in result["covered"])
    ]
    return list(plan.certificates[0].names) if plan.certificates else list(requested)


def plan_update_site(
    params: dict[str, Any],
    *,
    dag_id: str = UPDATE_DAG_ID,
    run_id: str | None = None,
    read_aws: bool = True,
    claims: ClaimReader | None = None,
    require_connection: Callable[..., None] | None = None,
) -> dict[str, Any]:
    """The dry run of an update: what it would change, and every reason to refuse it. Changes nothing.

    Returns the create plan's keys (``valid``, ``errors``, ``certificates``, ``covered``,
    ``distributions``, ``conflicts``, ``dns``, ``notes``) plus ``site``: ``distribution_id``,
    ``domain_name``, ``names_before``, ``names_after``, ``names_added``, ``names_removed``,
    ``certificate_before``, ``certificate_arn`` (the one given, or null when one is requested).
    """
    result: dict[str, Any] = {
        "valid": False,
        "errors": [],
        "certificates": [],
        "covered": [],
        "distributions": [],
        "conflicts": [],
        "dns": [],
        "notes": [],
        "site": None,
    }
    errors: list[Error] = result["errors"]
    try:
        config = UpdateSiteConfig.model_validate(dict(params))
    except ValidationError as problem:
        errors += config_errors(problem)
        return result
    try:
        names = normalize_item(config.name_list(), "names", max_names=MAX_NAMES_PER_SITE)
        certificate_names = _certificate_names(config, names, result)
    except InvalidNameError as refusal:
        errors.append(error("names", str(refusal)))
        return result
    if config.certificate_arn is None:
        result["certificates"] = [{"item": 0, "line": None, "names": certificate_names}]
    site: dict[str, Any] = {
        "distribution_id": config.distribution_id,
        "tenant_id": config.tenant_id,
        "domain_name": None,
        "names_before": [],
        "names_after": names,
        "names_added": names,
        "names_removed": [],
        "certificate_before": None,
        "certificate_arn": config.certificate_arn,
        "certificate_names": certificate_names,
    }
    result["site"] = site

    if claims is not None:
        wanted = [*names, site_claim(config.site_id)]
        for name, holder in sorted(claims.held(wanted).items()):
            if name.startswith(SITE_CLAIM_PREFIX):
                kind = "tenant" if config.tenant_id else "distribution"
                field, message = (
                    f"{kind}_id",
                    (
                        f"{kind} {config.site_id} is being changed by {holder}, which is still "
                        "running; wait until it ends"
                    ),
                )
            else:
                field, message = (
                    "names",
                    f"{name} is claimed by {holder}, which is still running; wait until it ends",
                )
            result["conflicts"].append(
                {"item": None, "line": None, "name": name, "held_by": holder, "message": message}
            )
            errors.append(error(field, message))

    if config.tenant_id is not None:
        from cloudfront_ssl.steps import tenant_update

        if read_aws:
            tenant_update.check_aws(config, names, site, dag_id, run_id, result, require_connection)
        else:
            errors += tenant_update.domain_limit_errors(config, names, [], managed=False)
        result["tenants"] = [
            {
                "item": 0,
                "line": None,
                "id": config.tenant_id,
                "domains": names,
                "certificate_item": None if site.get("managed") else 0,
            }
        ]
        site["certificate_names"] = [] if site.get("managed") else certificate_names
        result["valid"] = not errors
        return result
    if read_aws:
        _check_aws(config, names, site, dag_id, run_id, result, require_connection)
    result["distributions"] = [
        {"item": 0, "line": None, "id": config.distribution_id, "aliases": names, "certificate_item": 0}
    ]
    result["valid"] = not errors
    return result


def check_connection_and_topic(
    config: UpdateSiteConfig, errors: list[Error], require_connection: Callable[..., None] | None
) -> bool:
    """The job's connection may be used and its topic exists; False when the connection is refused
    (then nothing in AWS can be read)."""
    if require_connection is not None:
        try:
            require_connection(config.aws_conn_id)
        except FinalError as refusal:
            errors.append(error("aws_conn_id", str(refusal)))
            return False
    try:
        problem = notify.topic_problem(
            config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn)
        )
    except Exception as failure:  # the Variable store or SNS unreachable: say so, do not guess
        problem = f"could not be checked: {type(failure).__name__}: {failure}"
    if problem:
        errors.append(error("notification_topic_arn", problem))
    return True


def check_nothing_to_change(
    config: UpdateSiteConfig, site: dict[str, Any], result: dict[str, Any], what: str
) -> None:
    """A note when the site serves these names already (``what``: "distribution" or "tenant")."""
    if (
        site["names_added"]
        or site["names_removed"]
        or config.certificate_arn not in (None, site["certificate_before"])
    ):
        return
    if config.certificate_arn is not None:
        note = f"nothing to change: the {what} serves these names with this certificate already"
    elif site.get("managed"):
        note = f"nothing to change: the {what} serves these names already"
    else:
        note = f"names: the {what} serves exactly these names already; the job gives it a new certificate"
    result["notes"].append(note)


def check_added_names(
    client: Any,
    config: UpdateSiteConfig,
    site: dict[str, Any],
    dag_id: str,
    run_id: str | None,
    result: dict[str, Any],
) -> None:
    """No name the site gains is served by another distribution or tenant (the site itself may hold
    one: an earlier try of this job)."""
    for name, holder in cloudfront.name_holders(client, set(site["names_added"]), dag_id, run_id):
        if holder == f"distribution {config.distribution_id}" or holder.startswith(
            f"tenant {config.tenant_id} ("
        ):
            continue
        message = cloudfront.name_taken_message(name, holder)
        result["conflicts"].append(
            {"item": None, "line": None, "name": name, "held_by": holder, "message": message}
        )
        result["errors"].append(error("names", message))


def check_route53(
    config: UpdateSiteConfig,
    names: list[str],
    site: dict[str, Any],
    own_targets: list[str],
    result: dict[str, Any],
    require_connection: Callable[..., None] | None,
) -> None:
    """With Route 53: the create job's DNS checks for the names the site gains, said about ``names``."""
    from cloudfront_ssl.steps import dns_job

    if not dns_job.uses_route53(config):
        return
    if not config.dns_aws_conn_id and any(entry["field"] == "aws_conn_id" for entry in result["errors"]):
        return
    checked: dict[str, Any] = {"errors": [], "notes": result["notes"], "conflicts": [], "dns": []}
    dns_job.check_dns(
        config,
        checked,
        names=names,
        item_of_alias=dict.fromkeys(site["names_added"], 0),
        own_targets=own_targets,
        error=error,
        require_connection=require_connection,
    )
    result["dns"] = checked["dns"]
    result["errors"] += [_as_names_error(entry) for entry in checked["errors"]]
    result["conflicts"] += [_as_names_error(entry) for entry in checked["conflicts"]]


def _check_aws(
    config: UpdateSiteConfig,
    names: list[str],
    site: dict[str, Any],
    dag_id: str,
    run_id: str | None,
    result: dict[str, Any],
    require_connection: Callable[..., None] | None,
) -> None:
    """The checks only AWS can answer: the distribution, the names it would gain, the certificate, DNS."""
    errors: list[Error] = result["errors"]
    if not check_connection_and_topic(config, errors, require_connection):
        return
    assert config.distribution_id is not None
    client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    try:
        distribution = cloudfront.read_distribution(client, config.distribution_id)
    except cloudfront.DistributionError as refusal:
        errors.append(error("distribution_id", str(refusal)))
        return
    before = cloudfront.summary_aliases(distribution["DistributionConfig"])
    site["domain_name"] = distribution["DomainName"]
    site["names_before"] = before
    site["names_added"] = [name for name in names if name not in before]
    site["names_removed"] = [name for name in before if name not in names]
    site["certificate_before"] = cloudfront.distribution_certificate(distribution["DistributionConfig"])
    check_nothing_to_change(config, site, result, "distribution")
    check_added_names(client, config, site, dag_id, run_id, result)
    if config.certificate_arn is not None:
        check_given_certificate(config, names, errors)
    check_route53(config, names, site, [distribution["DomainName"]], result, require_connection)


def check_given_certificate(config: UpdateSiteConfig, names: list[str], errors: list[Error]) -> None:
    """The ``certificate_arn`` given is issued and covers every name."""
    assert config.certificate_arn is not None
    client = acm.acm_hook(config.aws_conn_id).conn
    try:
        certificate = client.describe_certificate(CertificateArn=config.certificate_arn)["Certificate"]
    except Exception as failure:
        if is_not_found(failure) or is_request_refused(failure) or is_access_refused(failure):
            errors.append(
                error("certificate_arn", f"ACM (us-east-1) has no certificate {config.certificate_arn}")
            )
            return
        raise
    if certificate.get("Status") != "ISSUED":
        errors.append(
            error(
                "certificate_arn",
                f"certificate {config.certificate_arn} is {certificate.get('Status')}, not ISSUED: "
                "CloudFront serves issued certificates only",
            )
        )
    missing = uncovered(names, acm.certificate_names(certificate))
    if missing:
        errors.append(
            error(
                "certificate_arn",
                f"certificate {config.certificate_arn} does not cover {', '.join(missing)} "
                f"(it covers {', '.join(acm.certificate_names(certificate))})",
            )
        )


# --- the steps -----------------------------------------------------------------------------------


def _config(params: dict[str, Any]) -> UpdateSiteConfig:
    try:
        return parse_config(UpdateSiteConfig, params)
    except ValueError as refusal:
        raise JobInputError(str(refusal)) from None


def _claimed_names(params: dict[str, Any]) -> list[str]:
    """What the job claims before it checks: its names, as well as they read, and its distribution."""
    raw = params.get("names")
    claimed: list[str] = []
    try:
        claimed = normalize_item(raw if isinstance(raw, list | str) else [], "names", MAX_NAMES_PER_SITE)
    except InvalidNameError:
        pass  # refused by the check anyway
    for key in ("distribution_id", "tenant_id"):
        site_id = params.get(key)
        if isinstance(site_id, str) and site_id.strip():
            claimed.append(site_claim(site_id.strip()))
    return claimed


def check(params: dict[str, Any], dag_id: str, run_id: str, ti: Any = None) -> dict[str, Any]:
    """Refuse a bad update before anything changes; claim its names and its distribution; return its plan.

    Every refusal is in the error, each naming its field. With ``ti`` (the running task instance) the
    claims are published first (:mod:`cloudfront_ssl.steps.claims`).
    """
    claims = TaskClaims(ti, dag_id, run_id) if ti is not None else None
    if claims is not None:
        claims.publish(_claimed_names(params))
    # Refused, or AWS could not be read: this job goes no further, so it holds no claim (a wait for
    # earlier jobs' claims keeps it).
    with claims.withdrawn_on_failure() if claims is not None else nullcontext():
        result = plan_update_site(
            params, dag_id=dag_id, run_id=run_id, claims=claims, require_connection=require_connection
        )
        if not result["valid"]:
            raise JobInputError("; ".join(entry["message"] for entry in result["errors"]))
    for note in result["notes"]:
        log.info("%s", note)
    site = result["site"]
    log.info(
        "%s %s (%s): keeps %s; gains %s; loses %s; certificate %s -> %s",
        "Tenant" if site.get("tenant_id") else "Distribution",
        site.get("tenant_id") or site["distribution_id"],
        site["domain_name"],
        ", ".join(name for name in site["names_after"] if name in site["names_before"]) or "nothing",
        ", ".join(site["names_added"]) or "nothing",
        ", ".join(site["names_removed"]) or "nothing",
        site["certificate_before"] or "CloudFront's default",
        site["certificate_arn"]
        or (
            "one CloudFront manages, issued for the new names"
            if site.get("managed")
            else "one requested for " + ", ".join(site["certificate_names"])
        ),
    )
    return {**site, "certificates": result["certificates"]}


def request_certificate(
    params: dict[str, Any], plan: dict[str, Any], run_id: str, *, first_try: bool = False
) -> list[dict[str, Any]]:
    """Request the site's new certificate, as the create job does (and tell the owners its validation
    records); nothing when the conf gives ``certificate_arn``."""
    from cloudfront_ssl.steps import create_job

    if not plan["certificates"]:
        log.info("Using the given certificate %s: nothing to request", plan["certificate_arn"])
        return []
    config = _config(params)
    return create_job.request_certificates(
        create_params(config, plan["certificate_names"]), plan, UPDATE_DAG_ID, run_id, first_try=first_try
    )


def find_validation_records(
    params: dict[str, Any], plan: dict[str, Any], certificates: list[dict[str, Any]]
) -> dict[str, Any]:
    """With ``route53_validation``: the validation records missing from Route 53 (the create job's step)."""
    from cloudfront_ssl.steps import create_job

    if not certificates:  # a given certificate, or one CloudFront manages: nothing to validate
        return {"write": [], "in_place": [], "not_automated": [], "zones": {}}
    return create_job.find_validation_records(
        create_params(_config(params), plan["certificate_names"]), certificates
    )


def write_validation_records(
    params: dict[str, Any],
    plan: dict[str, Any],
    dns_plan: dict[str, Any],
    certificates: list[dict[str, Any]],
    run_id: str,
) -> dict[str, Any]:
    """With ``route53_validation``: write them and tell the owners what is left (the create job's step)."""
    from cloudfront_ssl.steps import create_job

    if not certificates:
        return {"changes": [], "records": [], "in_place": [], "not_automated": []}
    return create_job.write_validation_records(
        create_params(_config(params), plan["certificate_names"]), dns_plan, certificates, run_id
    )


def update_distribution(
    params: dict[str, Any], plan: dict[str, Any], certificates: list[dict[str, Any]]
) -> dict[str, Any]:
    """Give the distribution its names and certificate in one ``UpdateDistribution`` (idempotent).

    The certificate is checked once more right before: issued, and covering every name, so that no
    name is ever served without a certificate that covers it. Returns the distribution's summary entry
    with ``names_added``, ``names_removed``, ``replaced_certificate_arn``, ``ipv6`` and ``changed``.
    """
    config = _config(params)
    if config.distribution_id is None:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException("the job changes a tenant (update_tenant)")
    certificate_arn = config.certificate_arn or certificates[0]["arn"]
    names: list[str] = plan["names_after"]
    described = acm.acm_hook(config.aws_conn_id).conn.describe_certificate(CertificateArn=certificate_arn)
    certificate = described["Certificate"]
    missing = uncovered(names, acm.certificate_names(certificate))
    if certificate.get("Status") != "ISSUED" or missing:
        raise FinalError(
            f"certificate {certificate_arn} is {certificate.get('Status')}"
            + (f" and does not cover {', '.join(missing)}" if missing else "")
            + f": distribution {config.distribution_id} was not changed"
        )
    client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    result = cloudfront.set_aliases_and_certificate(
        client, config.distribution_id, aliases=names, certificate_arn=certificate_arn
    )
    log.info(
        "Distribution %s %s: serves %s with %s",
        config.distribution_id,
        "changed" if result.pop("changed") else "already changed by an earlier try",
        ", ".join(result["aliases"]),
        certificate_arn,
    )
    result.pop("etag", None)
    replaced = plan["certificate_before"] if plan["certificate_before"] != certificate_arn else None
    if config.site:
        mark_site(config, client, result["arn"], names, certificate_arn, replaced)
    return {
        **result,
        # For the deferred wait before the replaced certificate goes: ACM refuses to delete a
        # certificate while CloudFront still deploys the change that stopped serving it.
        "aws_conn_id": config.aws_conn_id,
        "deploying": [config.distribution_id],
        "names_added": plan["names_added"],
        "names_removed": plan["names_removed"],
        "replaced_certificate_arn": plan["certificate_before"]
        if plan["certificate_before"] != certificate_arn
        else None,
    }


def mark_site(
    config: UpdateSiteConfig,
    cloudfront_client: Any,
    distribution_arn: str,
    names: list[str],
    certificate_arn: str | None,
    replaced: str | None,
) -> None:
    """With ``site``: tag the distribution (or tenant) as the site serving ``names`` with ``certificate_arn``
    (None: a certificate CloudFront manages)
    (:func:`cloudfront_ssl.rules.tags.site_tags`), and take the site's tag off the certificate it no
    longer serves, so that the site's tag sits on the certificate the site serves only. Idempotent."""
    cloudfront_client.tag_resource(
        Resource=distribution_arn, Tags={"Items": site_tags(config.site, names, certificate_arn)}
    )
    if not replaced:
        return
    acm_client = acm.acm_hook(config.aws_conn_id).conn
    try:
        if acm.certificate_tags(acm_client, replaced).get(SITE_TAG) == config.site:
            acm_client.remove_tags_from_certificate(
                CertificateArn=replaced, Tags=[{"Key": SITE_TAG, "Value": config.site}]
            )
            log.info("Took the tag %s=%s off the replaced certificate %s", SITE_TAG, config.site, replaced)
    except Exception as failure:
        if not is_not_found(failure):
            raise


def point_added_names(params: dict[str, Any], distribution: dict[str, Any], run_id: str) -> dict[str, Any]:
    """With ``route53_aliases``: alias records for the names the distribution gained (the create job's
    alias step, on those names only)."""
    from cloudfront_ssl.steps import dns_job

    config = _config(params)
    added = {**distribution, "aliases": distribution["names_added"]}
    if not added["aliases"]:
        return {
            "dns_aws_conn_id": dns_job.dns_conn_id(config),
            "distribution_id": distribution["id"],
            "changes": [],
            "records": [],
            "not_automated": [],
        }
    return dns_job.point_aliases(config, added, ipv6=bool(distribution.get("ipv6")), run_id=run_id)


def remove_alias_records(params: dict[str, Any], distribution: dict[str, Any]) -> list[dict[str, Any]]:
    """With ``route53_aliases``: delete the alias records of the removed names that point at this
    distribution (A and AAAA); a record that points elsewhere, or any other record, is left alone."""
    from cloudfront_ssl.steps.site_removal import alias_records_pointing_at

    config = _config(params)
    if not config.route53_aliases or not distribution["names_removed"]:
        return []
    return alias_records_pointing_at(
        config, distribution["names_removed"], distribution["domain_name"], dry_run=False
    )


def delete_replaced_certificate(params: dict[str, Any], distribution: dict[str, Any]) -> dict[str, Any]:
    """Delete the certificate the distribution served before, once no distribution uses it, if a job
    of this package made it and ``delete_replaced_certificate`` is on. Returns ``{"arn", "deleted",
    "reason"}``; a certificate still in use (by any distribution or tenant, or anything ACM knows of)
    is kept. ``distribution`` is the changed site's entry (a distribution's or a tenant's)."""
    config = _config(params)
    arn: str = distribution.get("replaced_certificate_arn") or ""
    outcome: dict[str, Any] = {"arn": arn or None, "deleted": False, "reason": None}
    if not arn:
        outcome["reason"] = "the site had no other ACM certificate"
    elif not config.delete_replaced_certificate:
        outcome["reason"] = "kept: delete_replaced_certificate is false"
    if outcome["reason"]:
        log.info("Replaced certificate: %s", outcome["reason"])
        return outcome
    acm_client = acm.acm_hook(config.aws_conn_id).conn
    try:
        tags = acm.certificate_tags(acm_client, arn)
    except Exception as failure:
        if not is_not_found(failure):
            raise
        outcome["reason"] = "gone already"
        return outcome
    if not made_by_this_package(tags):
        outcome["reason"] = "kept: no job of this package made it"
    else:
        from cloudfront_ssl.aws import tenants

        cf = cloudfront.cloudfront_hook(config.aws_conn_id).conn
        users = [f"distribution {user}" for user in cloudfront.certificate_users(cf).get(arn, [])]
        users += [f"tenant {user}" for user in tenants.certificate_tenants(cf).get(arn, [])]
        if users:
            outcome["reason"] = "kept: in use by " + ", ".join(users)
        else:
            in_use_by = acm_client.describe_certificate(CertificateArn=arn)["Certificate"].get("InUseBy")
            if in_use_by:
                outcome["reason"] = "kept: in use by " + ", ".join(in_use_by)
    if outcome["reason"] is None:
        try:
            acm_client.delete_certificate(CertificateArn=arn)
            outcome["deleted"] = True
        except Exception as failure:
            if is_in_use(failure):
                outcome["reason"] = "kept: ACM says it is still in use; delete it later"
            elif is_not_found(failure):
                outcome["reason"] = "gone already"
            else:
                raise
    log.info("Replaced certificate %s: %s", arn, "deleted" if outcome["deleted"] else outcome["reason"])
    return outcome


def notify_owners(
    params: dict[str, Any], distribution: dict[str, Any], pointed: dict[str, Any] | None, run_id: str
) -> None:
    """Tell the owners what the site serves now and where to point the names it gained."""
    config = _config(params)
    if "routing_endpoint" in distribution:  # a tenant's entry
        subject, body = site_messages.tenant_updated_message(run_id, distribution, pointed or {})
    else:
        subject, body = site_messages.site_updated_message(run_id, distribution, pointed or {})
    notify.publish(config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn), subject, body)


def summarize(
    plan: dict[str, Any],
    certificates: list[dict[str, Any]],
    distribution: dict[str, Any],
    replaced: dict[str, Any],
    dns_records: list[dict[str, Any]],
) -> dict[str, Any]:
    """The update's summary: the site's fields (docs/live-site.md shows them) beside the jobs' usual ones.

    ``distribution`` is the changed site's entry: a distribution's, or a tenant's (then the summary has
    ``tenant_id`` and ``tenants`` instead of ``distribution_id`` and ``distributions``).
    """
    if "routing_endpoint" in distribution:
        tenant = distribution
        return {
            "tenant_id": tenant["id"],
            "names_before": plan["names_before"],
            "names_after": tenant["domains"],
            "names_added": tenant["names_added"],
            "names_removed": tenant["names_removed"],
            "certificate_before": plan["certificate_before"],
            "certificate_arn": tenant["certificate_arn"],
            "managed": bool(tenant.get("managed")),
            "replaced_certificate_arn": tenant.get("replaced_certificate_arn"),
            "replaced_certificate_deleted": bool(replaced.get("deleted")),
            "certificates": [
                {
                    "arn": certificate["arn"],
                    "names": certificate["names"],
                    "status": "ISSUED",
                    "validation_records": certificate["validation_records"],
                }
                for certificate in certificates
            ],
            "distributions": [],
            "tenants": [
                {
                    key: tenant.get(key)
                    for key in (
                        "id",
                        "arn",
                        "name",
                        "domains",
                        "routing_endpoint",
                        "certificate_arn",
                        "managed",
                    )
                }
            ],
            "dns_records": dns_records,
        }
    return {
        "distribution_id": distribution["id"],
        "names_before": plan["names_before"],
        "names_after": distribution["aliases"],
        "names_added": distribution["names_added"],
        "names_removed": distribution["names_removed"],
        "certificate_before": plan["certificate_before"],
        "certificate_arn": distribution["certificate_arn"],
        "replaced_certificate_arn": distribution["replaced_certificate_arn"],
        "replaced_certificate_deleted": bool(replaced.get("deleted")),
        "certificates": [
            {
                "arn": certificate["arn"],
                "names": certificate["names"],
                "status": "ISSUED",
                "validation_records": certificate["validation_records"],
            }
            for certificate in certificates
        ],
        "distributions": [
            {key: distribution[key] for key in ("id", "arn", "domain_name", "aliases", "certificate_arn")}
        ],
        "dns_records": dns_records,
    }
