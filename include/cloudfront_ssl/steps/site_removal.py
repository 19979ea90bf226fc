"""Removing one site: a distribution, its certificate, the Route 53 records that serve it.

``ssl_cleanup_job`` with ``distribution_id`` (instead of a job's ``job_run_id``), in the clean-up's
three steps: :func:`start_site_removal` deletes the distribution's Route 53 alias records, while they
still point at it, and disables it; the clean-up's deferred wait (no worker held) lets CloudFront deploy
that; :func:`finish_site_removal` deletes it; then its certificate, when a job of this package made it
and nothing else uses it; last the certificate's DNS validation records that no remaining certificate
validates with (ACM renews with them). A distribution that no job of this package made is refused
unless ``force``. A dry run lists all this and changes nothing; a second run finds nothing to do.

The records are found by what they hold, not by which job wrote them: an alias record goes only while
it points at this distribution, a validation record only while it holds the certificate's value.
"""

from __future__ import annotations

import logging
from typing import Any

from cloudfront_ssl.aws import acm, cloudfront
from cloudfront_ssl.errors import JobInputError, is_in_use, is_not_found
from cloudfront_ssl.rules.config import CleanupConfig
from cloudfront_ssl.rules.tags import JOB_DAG_IDS, TAG_DAG_ID

log = logging.getLogger(__name__)


def made_by_this_package(tags: dict[str, str]) -> bool:
    """Whether a job of this package made a resource (its ``airflow:dag_id`` is one of the job DAGs)."""
    return tags.get(TAG_DAG_ID) in JOB_DAG_IDS


def alias_records_pointing_at(
    config: Any, names: list[str], domain_name: str, *, dry_run: bool
) -> list[dict[str, Any]]:
    """Delete (or, in a dry run, list) the Route 53 alias records (A, AAAA) of ``names`` that point at
    the distribution ``domain_name``. A record that points elsewhere is kept; a name in no hosted zone
    of the Route 53 connection is left to its owner. Returns each record looked at, with ``action``."""
    from cloudfront_ssl.aws import route53, route53_changes
    from cloudfront_ssl.rules.dns_records import alias_record_set, job_record
    from cloudfront_ssl.steps import dns_job

    if not names:
        return []
    client = route53.route53_client(dns_job.dns_conn_id(config))
    zones = dns_job.zone_map(client, config)
    candidates = []
    for name in names:
        zone = zones.lookup(name)
        if zone is None:
            log.info("%s: %s; its records are left to its owner", name, zones.reason(name))
            continue
        for record_type in ("A", "AAAA"):
            candidates.append(job_record(zone, alias_record_set(name, record_type, domain_name)))
    done = route53_changes.delete_job_records(
        client, candidates, distribution_domains=[domain_name], validation_in_use=(), dry_run=dry_run
    )
    for entry in done:
        log.info("Alias record %s %s: %s", entry["name"], entry["type"], entry["action"])
    return [entry for entry in done if entry["action"] != "gone"]


def _validation_records(
    config: CleanupConfig, certificate: dict[str, Any] | None, *, dry_run: bool
) -> list[dict[str, Any]]:
    """The certificate's validation records that Route 53 holds with its value and that no remaining
    certificate validates with: deleted (or listed)."""
    from cloudfront_ssl.aws import route53, route53_changes
    from cloudfront_ssl.rules.dns_records import job_record, validation_record_set
    from cloudfront_ssl.steps import dns_job

    records = acm.validation_records(certificate) if certificate else []
    if not records:
        return []
    client = route53.route53_client(dns_job.dns_conn_id(config))
    zones = dns_job.zone_map(client, config)
    candidates = []
    for record in records:
        zone = zones.lookup(record["name"])
        if zone is not None:
            candidates.append(job_record(zone, validation_record_set(record)))
    if not candidates:
        return []
    in_use = dns_job.validation_records_in_use(
        acm.acm_hook(config.aws_conn_id).conn, [entry["name"] for entry in candidates]
    )
    done = route53_changes.delete_job_records(
        client, candidates, distribution_domains=[], validation_in_use=in_use, dry_run=dry_run
    )
    for entry in done:
        log.info("Validation record %s: %s", entry["name"], entry["action"])
    return done


def start_site_removal(config: CleanupConfig) -> dict[str, Any]:
    """The removal's first phase: refuse a distribution the package did not make (without ``force``),
    delete its alias records and disable it (or, with ``dry_run``, list what would go).

    Returns plain JSON for the next phases: ``{"aws_conn_id", "dns_aws_conn_id", "dry_run",
    "deploying": [the distribution id, while CloudFront deploys the disabling], "site": {"id",
    "domain_name", "aliases", "certificate_arn"} or null when it is gone already, "result"}`` where
    ``result`` is the clean-up's result so far (``distributions``, ``certificates``, ``dns_records``,
    each entry with its ``action``).
    """
    from cloudfront_ssl.steps.cleanup import disable_distribution

    assert config.distribution_id is not None  # the model requires it without job_run_id
    distribution_id, dry_run = config.distribution_id, config.dry_run
    started: dict[str, Any] = {
        "aws_conn_id": config.aws_conn_id,
        "dns_aws_conn_id": config.dns_aws_conn_id,
        "dry_run": dry_run,
        "deploying": [],
        "site": None,
        "result": {"dry_run": dry_run, "distributions": [], "certificates": [], "dns_records": []},
    }
    cf = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    try:
        distribution = cloudfront.read_distribution(cf, distribution_id)
    except cloudfront.DistributionError:
        log.info("Distribution %s does not exist (any more): nothing to remove", distribution_id)
        return started
    tags = cloudfront.distribution_tags(cf, distribution["ARN"])
    if not made_by_this_package(tags):
        if not config.force:
            raise JobInputError(
                f"distribution_id: distribution {distribution_id} was not made by a job of this package "
                f"(no {TAG_DAG_ID} tag of {', '.join(JOB_DAG_IDS)}); set force to remove it anyway"
            )
        log.warning("force: removing distribution %s, which no job of this package made", distribution_id)
    site_config = distribution["DistributionConfig"]
    site = {
        "id": distribution_id,
        "domain_name": distribution["DomainName"],
        "aliases": cloudfront.summary_aliases(site_config),
        "certificate_arn": cloudfront.distribution_certificate(site_config),
    }
    started["site"] = site
    log.info(
        "Site %s (%s): %s; certificate %s%s",
        distribution_id,
        site["domain_name"],
        ", ".join(site["aliases"]) or "no alias",
        site["certificate_arn"] or "CloudFront's default",
        " (dry run: nothing is removed)" if dry_run else "",
    )
    result = started["result"]
    # Alias records first, while they still point at the distribution.
    result["dns_records"] = alias_records_pointing_at(
        config, site["aliases"], site["domain_name"], dry_run=dry_run
    )
    result["distributions"].append(
        {
            "id": distribution_id,
            "aliases": site["aliases"],
            "action": "would delete" if dry_run else "disabled",
        }
    )
    if not dry_run:
        if disable_distribution(cf, distribution_id):
            log.info("Disabled distribution %s", distribution_id)
        started["deploying"] = [distribution_id]
    return started


def finish_site_removal(started: dict[str, Any]) -> dict[str, Any]:
    """The removal's last phase, once CloudFront has deployed the disabling: delete the distribution,
    then its certificate (if the package made it and nothing else uses it), then the certificate's
    validation records that no remaining certificate uses. Returns the clean-up's result; raises
    :class:`cloudfront_ssl.steps.cleanup.CleanupError` after doing all it could when the distribution
    could not be deleted (its certificate is then kept: running the clean-up again finishes it)."""
    from cloudfront_ssl.steps.cleanup import CleanupError

    result: dict[str, Any] = started["result"]
    site = started.get("site")
    if not site:
        return result
    dry_run = bool(started["dry_run"])
    config = CleanupConfig.model_validate(
        {
            "distribution_id": site["id"],
            "aws_conn_id": started["aws_conn_id"],
            "dns_aws_conn_id": started.get("dns_aws_conn_id"),
            "dry_run": dry_run,
            "force": True,  # checked in the first phase
        }
    )
    cf = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    acm_client = acm.acm_hook(config.aws_conn_id).conn
    problems: list[str] = []
    if not dry_run:
        entry = result["distributions"][0]
        try:
            response = cf.get_distribution(Id=site["id"])
            if response["Distribution"].get("Status") != "Deployed":
                raise CleanupError(
                    f"distribution {site['id']} is still deploying its disabling; run the clean-up again later"
                )
            cf.delete_distribution(Id=site["id"], IfMatch=response["ETag"])
            entry["action"] = "deleted"
            log.info("Deleted distribution %s", site["id"])
        except CleanupError as error:
            entry["action"] = f"failed: {error}"
            problems.append(str(error))
        except Exception as error:
            if not is_not_found(error):
                raise
            entry["action"] = "deleted"
    _finish_certificate(config, acm_client, cf, result, site, problems, kind="distribution")
    return result


def _finish_certificate(
    config: CleanupConfig,
    acm_client: Any,
    cf: Any,
    result: dict[str, Any],
    site: dict[str, Any],
    problems: list[str],
    *,
    kind: str,
) -> None:
    """The last phase's second half, for a site (``kind`` "distribution") or a tenant: its ACM
    certificate (``site["certificate_arn"]``) kept while the resource is not deleted yet, else deleted
    when nothing else serves it; then the certificate's validation records that no remaining
    certificate uses. Raises :class:`cloudfront_ssl.steps.cleanup.CleanupError` naming ``problems``."""
    from cloudfront_ssl.steps.cleanup import CleanupError

    dry_run = config.dry_run
    certificate = None
    if site.get("certificate_arn"):
        try:
            certificate = acm_client.describe_certificate(CertificateArn=site["certificate_arn"])["Certificate"]
        except Exception as error:
            if not is_not_found(error):
                raise
    if certificate is not None and problems:
        result["certificates"].append(
            {
                "arn": certificate["CertificateArn"],
                "names": acm.certificate_names(certificate),
                "action": f"kept: its {kind} is not deleted yet; run the clean-up again",
            }
        )
    elif certificate is not None:
        users = certificate_users(cf, removed=site["id"]).get(certificate["CertificateArn"], [])
        result["certificates"].append(_remove_certificate(acm_client, certificate, users, dry_run=dry_run))
    result["dns_records"] += _validation_records(config, certificate, dry_run=dry_run or bool(problems))
    if problems:
        raise CleanupError("; ".join(problems))


def certificate_users(cf: Any, *, removed: str) -> dict[str, list[str]]:
    """``{certificate ARN: ["distribution ID" | "tenant ID", ...]}``: what serves each certificate,
    but the resource being removed (still listed on a dry run, or while deploying). Tenants are listed
    only when the account has a multi-tenant distribution."""
    from cloudfront_ssl.aws import tenants

    summaries = list(cloudfront.list_distributions(cf))
    users = {
        arn: [f"distribution {user}" for user in ids if user != removed]
        for arn, ids in cloudfront.certificate_users(cf, summaries).items()
    }
    for tenant in tenants.account_tenants(cf, summaries):
        arn = tenants.tenant_certificate(tenant)
        if arn and tenant["Id"] != removed:
            users.setdefault(arn, []).append(f"tenant {tenant['Id']}")
    return users


def _remove_certificate(
    acm_client: Any, certificate: dict[str, Any], users: list[str], *, dry_run: bool
) -> dict[str, Any]:
    """Delete a removed site's or tenant's certificate if a job of this package made it and nothing in
    ``users`` (:func:`certificate_users`) serves it."""
    arn = certificate["CertificateArn"]
    entry: dict[str, Any] = {"arn": arn, "names": acm.certificate_names(certificate), "action": "deleted"}
    if not made_by_this_package(acm.certificate_tags(acm_client, arn)):
        entry["action"] = "kept: no job of this package made it"
        return entry
    if users:
        entry["action"] = "kept: in use by " + ", ".join(users)
        return entry
    if dry_run:
        entry["action"] = "would delete (if nothing else uses it)"
        return entry
    try:
        acm_client.delete_certificate(CertificateArn=arn)
        log.info("Deleted certificate %s (%s)", arn, ", ".join(entry["names"]))
    except Exception as error:
        if is_in_use(error):
            entry["action"] = "kept: in use"
        elif not is_not_found(error):
            raise
    return entry


# --- one distribution tenant ---------------------------------------------------------------------


def cname_records_pointing_at(
    config: Any, names: list[str], endpoint: str, *, dry_run: bool
) -> list[dict[str, Any]]:
    """Delete (or, in a dry run, list) the Route 53 CNAME records of ``names`` whose value is the
    routing endpoint ``endpoint`` (what the tenant jobs write). A record that points elsewhere is kept;
    a name in no hosted zone of the Route 53 connection is left to its owner. Returns each record
    looked at (those Route 53 does not hold left out), with ``action``."""
    from cloudfront_ssl.aws import route53, route53_changes
    from cloudfront_ssl.rules.dns_records import job_record, validation_record_set
    from cloudfront_ssl.steps import dns_job

    if not names or not endpoint:
        return []
    client = route53.route53_client(dns_job.dns_conn_id(config))
    zones = dns_job.zone_map(client, config)
    candidates = []
    for name in names:
        zone = zones.lookup(name)
        if zone is None:
            log.info("%s: %s; its records are left to its owner", name, zones.reason(name))
            continue
        record = {"name": name, "type": "CNAME", "value": endpoint}
        candidates.append(job_record(zone, validation_record_set(record)))
    done = route53_changes.delete_job_records(
        client, candidates, distribution_domains=[], validation_in_use=(), dry_run=dry_run
    )
    for entry in done:
        if entry["action"].startswith("kept"):
            entry["action"] = "kept: it does not point at this tenant's routing endpoint"
        log.info("CNAME record %s: %s", entry["name"], entry["action"])
    return [entry for entry in done if entry["action"] != "gone"]


def start_tenant_removal(config: CleanupConfig) -> dict[str, Any]:
    """Removing one distribution tenant, first phase: refuse a tenant the package did not make
    (without ``force``), delete the CNAME records of its names that point at its routing endpoint, and
    disable it (or, with ``dry_run``, list what would go).

    Returns plain JSON for the next phases: ``{"aws_conn_id", "dns_aws_conn_id", "dry_run",
    "deploying": [], "deploying_tenants": [the tenant id while CloudFront deploys the disabling],
    "tenant": {"id", "name", "domains", "routing_endpoint", "certificate_arn", "managed"} or null when
    it is gone already, "result"}``; ``result`` as for a distribution, with ``tenants``.
    """
    from cloudfront_ssl.aws import tenants

    assert config.tenant_id is not None  # the model requires it here
    tenant_id, dry_run = config.tenant_id, config.dry_run
    started: dict[str, Any] = {
        "aws_conn_id": config.aws_conn_id,
        "dns_aws_conn_id": config.dns_aws_conn_id,
        "dry_run": dry_run,
        "deploying": [],
        "deploying_tenants": [],
        "tenant": None,
        "result": {"dry_run": dry_run, "tenants": [], "distributions": [], "certificates": [], "dns_records": []},
    }
    cf = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    try:
        tenant = tenants.read_tenant(cf, tenant_id)
    except tenants.TenantError:
        log.info("Tenant %s does not exist (any more): nothing to remove", tenant_id)
        return started
    tags = tenants.tenant_tags(cf, tenant["Arn"])
    if not made_by_this_package(tags):
        if not config.force:
            raise JobInputError(
                f"tenant_id: tenant {tenant_id} ({tenant['Name']}) was not made by a job of this package "
                f"(no {TAG_DAG_ID} tag of {', '.join(JOB_DAG_IDS)}); set force to remove it anyway"
            )
        log.warning("force: removing tenant %s, which no job of this package made", tenant_id)
    site = {
        "id": tenant_id,
        "name": tenant["Name"],
        "domains": tenants.tenant_domains(tenant),
        "routing_endpoint": tenants.routing_endpoint(cf, tenant),
        "certificate_arn": tenants.tenant_certificate(tenant),
        "managed": tenants.tenant_certificate(tenant) is None,
    }
    started["tenant"] = site
    log.info(
        "Tenant %s (%s): %s; certificate %s%s",
        tenant_id,
        site["name"],
        ", ".join(site["domains"]),
        site["certificate_arn"] or "managed by CloudFront",
        " (dry run: nothing is removed)" if dry_run else "",
    )
    result = started["result"]
    # CNAME records first, while the names still point at the tenant.
    result["dns_records"] = cname_records_pointing_at(
        config, site["domains"], site["routing_endpoint"], dry_run=dry_run
    )
    result["tenants"].append(
        {
            "id": tenant_id,
            "name": site["name"],
            "domains": site["domains"],
            "action": "would delete" if dry_run else "disabled",
        }
    )
    if not dry_run:
        if tenants.disable_tenant(cf, tenant_id):
            log.info("Disabled tenant %s", tenant_id)
        started["deploying_tenants"] = [tenant_id]
    return started


def finish_tenant_removal(started: dict[str, Any]) -> dict[str, Any]:
    """Removing one tenant, last phase (once CloudFront has deployed the disabling): delete it, then its
    ACM certificate (if the package made it and no distribution or other tenant uses it), then that
    certificate's validation records no remaining certificate uses. A managed certificate is
    CloudFront's and goes with the tenant. Raises :class:`cloudfront_ssl.steps.cleanup.CleanupError`
    after doing all it could when the tenant could not be deleted (its certificate is then kept)."""
    from cloudfront_ssl.steps.cleanup import delete_deployed_tenants

    result: dict[str, Any] = started["result"]
    site = started.get("tenant")
    if not site:
        return result
    dry_run = bool(started["dry_run"])
    config = CleanupConfig.model_validate(
        {
            "tenant_id": site["id"],
            "aws_conn_id": started["aws_conn_id"],
            "dns_aws_conn_id": started.get("dns_aws_conn_id"),
            "dry_run": dry_run,
            "force": True,  # checked in the first phase
        }
    )
    cf = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    acm_client = acm.acm_hook(config.aws_conn_id).conn
    problems: list[str] = []
    if not dry_run:
        delete_deployed_tenants(cf, result, [site["id"]], problems)
    _finish_certificate(config, acm_client, cf, result, site, problems, kind="tenant")
    return result
