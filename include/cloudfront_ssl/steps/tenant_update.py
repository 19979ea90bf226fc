"""``ssl_update_site`` with ``tenant_id``: change the names a live distribution tenant serves.

The tenant keeps its kind of certificate, and no name it keeps is ever served without a certificate
that covers it:

- **ACM certificate** (the tenant's ``Customizations.Certificate``): the update job's own steps
  request and validate a certificate for the new names first (or take ``certificate_arn``); then one
  ``UpdateDistributionTenant`` (on the tenant just read, its ``ETag`` as ``IfMatch``) sets the
  domains and the certificate together (:func:`update_tenant`).
- **managed certificate** (CloudFront's own, HTTP-validated): the first ``UpdateDistributionTenant``
  *adds* the new names, keeping the old ones, and asks CloudFront for a managed certificate covering
  all of them; the new names are pointed at the routing endpoint (Route 53, or the owners told);
  the job waits, holding no worker, until CloudFront has verified their DNS and issued that
  certificate; only then does a second ``UpdateDistributionTenant`` drop the old names
  (:func:`drop_old_domains`).

Route 53 (``route53_aliases``): a CNAME to the routing endpoint for each added name (an apex is left
to its owner), and the CNAME of each removed name deleted only while it points at that endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cloudfront_ssl.aws import acm, cloudfront, tenants
from cloudfront_ssl.errors import FinalError
from cloudfront_ssl.rules.config import UpdateSiteConfig, parse_config
from cloudfront_ssl.steps.plan import Error, error

log = logging.getLogger(__name__)


def _config(params: dict[str, Any]) -> UpdateSiteConfig:
    from cloudfront_ssl.errors import JobInputError

    try:
        return parse_config(UpdateSiteConfig, params)
    except ValueError as refusal:
        raise JobInputError(str(refusal)) from None


def is_tenant_update(plan: dict[str, Any] | None) -> bool:
    """Whether an update's plan (its check's result) changes a tenant rather than a distribution."""
    return bool((plan or {}).get("tenant_id"))


# --- check ---------------------------------------------------------------------------------------


def domain_limit_errors(
    config: UpdateSiteConfig, names: list[str], before: list[str], managed: bool
) -> list[Error]:
    """The tenant's domain limit (``[ssl_certificates] domains_per_tenant``): for the names after the
    job, and with a managed certificate for the old and new names together (they are served side by
    side until the new certificate is issued)."""
    limit = tenants.TenantQuotas.configured().domains_per_tenant
    if len(names) > limit:
        return [
            error(
                "names",
                f"{len(names)} names, but a tenant takes at most {limit} domains "
                "([ssl_certificates] domains_per_tenant)",
            )
        ]
    union = list(dict.fromkeys([*before, *names]))
    if managed and len(union) > limit and len(union) > len(names):
        return [
            error(
                "names",
                f"with a managed certificate the tenant serves its old and new names together ({len(union)}) "
                f"until CloudFront has issued the new certificate, but a tenant takes at most {limit} domains "
                "([ssl_certificates] domains_per_tenant): drop names in one job, add the others in a second",
            )
        ]
    return []


def check_aws(
    config: UpdateSiteConfig,
    names: list[str],
    site: dict[str, Any],
    dag_id: str,
    run_id: str | None,
    result: dict[str, Any],
    require_connection: Callable[..., None] | None,
) -> None:
    """The checks only AWS can answer for a tenant: it exists, the names it gains are no other tenant's
    domain nor a distribution's alias, its domain limit, a given certificate, Route 53. Fills ``site``."""
    from cloudfront_ssl.steps import update_site

    errors: list[Error] = result["errors"]
    if not update_site.check_connection_and_topic(config, errors, require_connection):
        return
    assert config.tenant_id is not None
    client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    try:
        tenant = tenants.read_tenant(client, config.tenant_id)
    except tenants.TenantError as refusal:
        errors.append(error("tenant_id", str(refusal)))
        return
    before = tenants.tenant_domains(tenant)
    endpoint = tenants.routing_endpoint(client, tenant)
    managed = tenants.tenant_certificate(tenant) is None and config.certificate_arn is None
    site.update(
        {
            "tenant_name": tenant["Name"],
            "domain_name": endpoint,
            "routing_endpoint": endpoint,
            "managed": managed,
            "names_before": before,
            "names_added": [name for name in names if name not in before],
            "names_removed": [name for name in before if name not in names],
            "certificate_before": tenants.tenant_certificate(tenant),
        }
    )
    if managed:
        site["certificate_before"] = tenants.managed_certificate(client, config.tenant_id)["arn"]
        result["certificates"] = []  # CloudFront requests and validates it
        result["notes"].append(
            "tenant_id: the tenant's certificate is managed by CloudFront: it is issued for the new names "
            "(once they point at the routing endpoint) before the old names are dropped"
        )
    errors += domain_limit_errors(config, names, before, managed)
    update_site.check_nothing_to_change(config, site, result, "tenant")
    update_site.check_added_names(client, config, site, dag_id, run_id, result)
    if config.certificate_arn is not None:
        update_site.check_given_certificate(config, names, errors)
    update_site.check_route53(config, names, site, [endpoint] if endpoint else [], result, require_connection)


# --- the steps -----------------------------------------------------------------------------------


def update_tenant(
    params: dict[str, Any], plan: dict[str, Any], certificates: list[dict[str, Any]]
) -> dict[str, Any]:
    """The tenant's first (with an ACM certificate: only) ``UpdateDistributionTenant``. Idempotent.

    ACM: the certificate is checked once more right before (issued, covering every name), then the
    domains and the certificate are set together. Managed: the new names are added beside the old ones
    with a request for a managed certificate covering all of them (nothing is sent when no name is
    added: the old names are dropped by :func:`drop_old_domains`).

    Returns the tenant's entry: ``id``, ``arn``, ``name``, ``domains``, ``routing_endpoint``,
    ``certificate_arn``, ``managed``, plus ``names_after``, ``names_added``, ``names_removed``,
    ``certificate_before``, ``replaced_certificate_arn``, ``wait_for_certificate`` (a managed
    certificate to wait for) and ``aws_conn_id``.
    """
    from cloudfront_ssl.steps.update_site import mark_site, uncovered

    config = _config(params)
    assert config.tenant_id is not None
    names: list[str] = plan["names_after"]
    client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    wait = False
    if plan.get("managed"):
        if plan["names_added"]:
            union = list(dict.fromkeys([*plan["names_before"], *names]))
            tenant = tenants.set_tenant_domains(
                client, config.tenant_id, domains=union, managed_primary=names[0]
            )
            if not tenant["changed"]:
                # A retry: the earlier try sent it. Its certificate request stands.
                log.info("Tenant %s serves %s already", config.tenant_id, ", ".join(union))
            wait = True
        else:
            tenant = tenants.read_tenant(client, config.tenant_id)
        certificate_arn = None
    else:
        certificate_arn = config.certificate_arn or certificates[0]["arn"]
        certificate = acm.acm_hook(config.aws_conn_id).conn.describe_certificate(
            CertificateArn=certificate_arn
        )["Certificate"]
        missing = uncovered(names, acm.certificate_names(certificate))
        if certificate.get("Status") != "ISSUED" or missing:
            raise FinalError(
                f"certificate {certificate_arn} is {certificate.get('Status')}"
                + (f" and does not cover {', '.join(missing)}" if missing else "")
                + f": tenant {config.tenant_id} was not changed"
            )
        tenant = tenants.set_tenant_domains(
            client, config.tenant_id, domains=names, certificate_arn=certificate_arn
        )
    log.info(
        "Tenant %s (%s) %s: serves %s with %s",
        config.tenant_id,
        tenant["Name"],
        "changed" if tenant.get("changed") else "unchanged",
        ", ".join(tenants.tenant_domains(tenant)),
        certificate_arn or "a certificate managed by CloudFront",
    )
    entry = tenants.tenant_result(client, tenant, managed=bool(plan.get("managed")))
    if config.site and certificate_arn:
        # The fleet's marks follow the change: the names and certificate the site serves now. A
        # managed tenant is marked once its old names are dropped (drop_old_domains).
        replaced = plan["certificate_before"] if plan["certificate_before"] != certificate_arn else None
        mark_site(config, client, entry["arn"], names, certificate_arn, replaced)
    return {
        **entry,
        "aws_conn_id": config.aws_conn_id,
        "names_after": names,
        "names_added": plan["names_added"],
        "names_removed": plan["names_removed"],
        "certificate_before": plan["certificate_before"],
        "certificate_arn": certificate_arn or plan["certificate_before"],
        "replaced_certificate_arn": plan["certificate_before"]
        if certificate_arn and plan["certificate_before"] != certificate_arn
        else None,
        "wait_for_certificate": wait,
        "previous_certificate_arn": plan["certificate_before"],
        # The ACM change is deployed before the replaced certificate goes (ACM refuses it before).
        "deploying_tenants": [config.tenant_id] if certificate_arn else [],
    }


def point_added_names(params: dict[str, Any], tenant: dict[str, Any] | None, run_id: str) -> dict[str, Any]:
    """With ``route53_aliases``: a CNAME to the routing endpoint for each name the tenant gained (the
    create job's tenant step on those names only). Skipped for a distribution."""
    from airflow.sdk.exceptions import AirflowSkipException

    from cloudfront_ssl.steps import tenant_job

    if tenant is None:
        raise AirflowSkipException("the job changes a distribution")
    config = _config(params)
    added = {**tenant, "domains": tenant["names_added"]}
    return tenant_job.point_names(config, [added], run_id)


def drop_old_domains(
    params: dict[str, Any], tenant: dict[str, Any] | None, issued: dict[str, str] | None
) -> dict[str, Any]:
    """Managed: once CloudFront has issued the certificate for the old and new names, the second
    ``UpdateDistributionTenant`` leaves only the names of the job. ACM: nothing left to do. Idempotent.

    Returns the tenant's entry with its domains and certificate now.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    if tenant is None:
        raise AirflowSkipException("the job changes a distribution")
    if not tenant.get("managed"):
        return tenant
    from cloudfront_ssl.steps.update_site import mark_site

    config = _config(params)
    assert config.tenant_id is not None
    client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    certificate = tenants.managed_certificate(client, config.tenant_id)
    if tenant.get("wait_for_certificate") and (issued or {}).get(config.tenant_id) is None:
        raise FinalError(f"tenant {config.tenant_id}: the wait did not see its new certificate issued")
    updated = tenants.set_tenant_domains(client, config.tenant_id, domains=tenant["names_after"])
    if config.site:
        mark_site(config, client, tenant["arn"], tenant["names_after"], None, None)
    log.info(
        "Tenant %s: serves %s (%s); managed certificate %s",
        config.tenant_id,
        ", ".join(tenants.tenant_domains(updated)),
        "old names dropped" if updated["changed"] else "unchanged",
        certificate["arn"],
    )
    return {
        **tenant,
        "domains": tenants.tenant_domains(updated),
        "certificate_arn": certificate["arn"] or tenant["certificate_arn"],
    }


def remove_cname_records(params: dict[str, Any], tenant: dict[str, Any] | None) -> list[dict[str, Any]]:
    """With ``route53_aliases``: delete the CNAME records of the removed names that point at the
    tenant's routing endpoint; a record that points elsewhere, or any other record, is left alone."""
    from airflow.sdk.exceptions import AirflowSkipException

    from cloudfront_ssl.steps.site_removal import cname_records_pointing_at

    if tenant is None:
        raise AirflowSkipException("the job changes a distribution")
    config = _config(params)
    if not config.route53_aliases or not tenant["names_removed"]:
        return []
    return cname_records_pointing_at(
        config, tenant["names_removed"], tenant["routing_endpoint"], dry_run=False
    )
