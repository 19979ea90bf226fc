"""The create job's tenant steps (``hosting: tenant``): check, create the tenants, point their names, tell.

One distribution tenant per ``certificates`` item on ``multi_tenant_distribution_id``, named from the
item's first name, tagged like every resource of a job, with the item's ACM certificate
(``certificate_source: acm``) or a certificate CloudFront manages (``managed``). The wait for managed
certificates is :mod:`cloudfront_ssl.steps.tenant_wait`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cloudfront_ssl.aws import notify, tenants
from cloudfront_ssl.rules.config import CreateJobConfig, parse_config
from cloudfront_ssl.rules.hosted_zones import normalize

log = logging.getLogger(__name__)

APEX_REASON = "a zone apex cannot hold a CNAME record"


def is_tenant_job(params: dict[str, Any]) -> bool:
    """Whether a create job's conf asks for tenants."""
    return params.get("hosting") == "tenant"


# --- check ---------------------------------------------------------------------------------------


def domain_limit_errors(items: dict[int, list[str]]) -> list[tuple[int, str]]:
    """``(item, message)`` for every item with more names than a tenant takes (``domains_per_tenant``)."""
    limit = tenants.TenantQuotas.configured().domains_per_tenant
    return [
        (
            item,
            f"{len(names)} names, but a tenant takes at most {limit} domains "
            "([ssl_certificates] domains_per_tenant): split the line",
        )
        for item, names in sorted(items.items())
        if len(names) > limit
    ]


def check_tenants(
    config: CreateJobConfig,
    item_of_name: dict[str, int],
    dag_id: str,
    run_id: str | None,
    result: dict[str, Any],
    error: Callable[..., dict[str, Any]],
    refused_fields: set[str],
) -> list[str]:
    """The tenant checks only AWS can answer; refusals go into ``result["errors"]``.

    The multi-tenant distribution exists and is multi-tenant; ``tenant_parameters`` fit its template;
    the connection group exists; no name is a domain of another tenant or an alias of a distribution;
    the account and the connection group have room for the new tenants. Returns the routing endpoint
    the names will point at, as a list (empty while the account has no default connection group yet).
    """
    from cloudfront_ssl.aws import cloudfront

    errors = result["errors"]
    client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    quotas = tenants.TenantQuotas.configured()
    template_id = config.multi_tenant_distribution_id
    if template_id and "multi_tenant_distribution_id" not in refused_fields:
        try:
            template = tenants.multi_tenant_template(client, template_id)
        except tenants.TenantError as refusal:
            errors.append(error("multi_tenant_distribution_id", str(refusal)))
        else:
            declared = tenants.template_parameters(template)
            for problem in tenants.parameter_problems(declared, config.tenant_parameters):
                errors.append(error("tenant_parameters", problem))

    group = tenants.connection_group(client, config.connection_group_id)
    if config.connection_group_id and group is None:
        errors.append(
            error(
                "connection_group_id",
                f"connection group {config.connection_group_id} does not exist (or this connection may not read it)",
            )
        )

    wanted = set(item_of_name)
    for name, holder in cloudfront.name_holders(client, wanted, dag_id, run_id):
        item = item_of_name[name]
        message = cloudfront.name_taken_message(name, holder)
        result["conflicts"].append(
            {"item": item, "line": item + 1, "name": name, "held_by": holder, "message": message}
        )
        errors.append(error("certificates", message, item))

    new = len({item for item in item_of_name.values()})
    existing = list(tenants.list_tenants(client))
    own = {tenant["Name"] for tenant in existing} & {name.removeprefix("*.") for name in item_of_name}
    new -= len(own)  # a re-run's tenants exist already
    if len(existing) + new > quotas.tenants_per_account:
        errors.append(
            error(
                "certificates",
                f"the account holds {len(existing)} tenants; {new} more would pass the quota of "
                f"{quotas.tenants_per_account} ([ssl_certificates] tenants_per_account)",
            )
        )
    if group is not None:
        in_group = sum(1 for tenant in existing if tenant.get("ConnectionGroupId") == group["Id"])
        if in_group + new > quotas.tenants_per_connection_group:
            errors.append(
                error(
                    "connection_group_id",
                    f"connection group {group['Id']} holds {in_group} tenants; {new} more would pass the "
                    f"quota of {quotas.tenants_per_connection_group} "
                    "([ssl_certificates] tenants_per_connection_group)",
                )
            )
    endpoint = (group or {}).get("RoutingEndpoint")
    if endpoint:
        result["notes"].append(f"Tenants: the names will point at routing endpoint {endpoint}")
    return [endpoint] if endpoint else []


# --- create --------------------------------------------------------------------------------------


def tenants_to_create(plan: dict[str, Any], certificates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per tenant of the plan, with the ARN of its ACM certificate (None: managed)."""
    arn_by_item = {certificate["item"]: certificate["arn"] for certificate in certificates}
    return [
        {
            "item": tenant["item"],
            "names": tenant["names"],
            "certificate_arn": None
            if tenant["certificate_item"] is None
            else arn_by_item[tenant["certificate_item"]],
        }
        for tenant in plan.get("tenants") or []
    ]


def create_tenants(
    params: dict[str, Any],
    plan: dict[str, Any],
    certificates: list[dict[str, Any]],
    dag_id: str,
    run_id: str,
    *,
    first_try: bool,
) -> list[dict[str, Any]]:
    """Create the job's tenants (finding those an earlier try made); return the summary's ``tenants``."""
    config = parse_config(CreateJobConfig, params)
    assert config.multi_tenant_distribution_id  # the model requires it with hosting: tenant
    from cloudfront_ssl.aws.cloudfront import cloudfront_hook

    client = cloudfront_hook(config.aws_conn_id).conn
    endpoints: dict[str, str] = {}
    created = []
    for group in tenants_to_create(plan, certificates):
        tenant = tenants.create_tenant_for_job(
            config.aws_conn_id,
            group,
            distribution_id=config.multi_tenant_distribution_id,
            connection_group_id=config.connection_group_id,
            parameters=config.tenant_parameters,
            dag_id=dag_id,
            run_id=run_id,
            user_tags=config.tags,
            first_try=first_try,
            client=client,
            endpoints=endpoints,
            site=config.site,
        )
        log.info(
            "Tenant %s (%s) serves %s; its names point at %s",
            tenant["name"],
            tenant["id"],
            ", ".join(tenant["domains"]),
            tenant["routing_endpoint"],
        )
        created.append(tenant)
    return created


# --- DNS -----------------------------------------------------------------------------------------


def point_tenant_names(params: dict[str, Any], created: list[dict[str, Any]], run_id: str) -> dict[str, Any]:
    """With ``route53_aliases``: a CNAME record from each name to its tenant's routing endpoint.

    A zone apex cannot hold a CNAME: it is left to its owner, with the reason. A record that points
    elsewhere is replaced only with ``route53_overwrite`` (the check refused it otherwise). Idempotent.
    Returns ``{"dns_aws_conn_id", "changes", "records", "not_automated"}``, as the alias step does.
    """
    return point_names(parse_config(CreateJobConfig, params), created, run_id)


def point_names(config: Any, created: list[dict[str, Any]], run_id: str) -> dict[str, Any]:
    """:func:`point_tenant_names` for any job's config (``route53_aliases``, ``route53_overwrite``, the
    Route 53 connection and zones): a CNAME from each of the tenants' ``domains`` to their
    ``routing_endpoint``."""
    from cloudfront_ssl.aws import route53, route53_changes
    from cloudfront_ssl.rules.dns_records import job_record, validation_record_set
    from cloudfront_ssl.steps import dns_job

    result: dict[str, Any] = {
        "dns_aws_conn_id": dns_job.dns_conn_id(config),
        "changes": [],
        "records": [],
        "not_automated": [],
    }
    if not config.route53_aliases:
        return result
    client = route53.route53_client(dns_job.dns_conn_id(config))
    zones = dns_job.zone_map(client, config)
    zone_names: dict[str, str] = {}
    for tenant in created:
        for name in tenant["domains"]:
            zone = zones.lookup(name)
            if zone is None:
                result["not_automated"].append({"name": name, "reason": zones.reason(name)})
                continue
            if normalize(zone.name) == normalize(name):
                result["not_automated"].append({"name": name, "reason": APEX_REASON})
                continue
            record = {"name": name, "type": "CNAME", "value": tenant["routing_endpoint"]}
            entry = job_record(zone, validation_record_set(record))
            if config.route53_overwrite:
                entry["replaced"] = ["whatever record the name had"]
            result["records"].append(entry)
            zone_names[zone.id] = zone.name
    if result["records"]:
        result["changes"] = route53_changes.write_records(
            client,
            result["records"],
            comment=f"CloudFront tenants, job {run_id}"[:256],
            zone_names=zone_names,
        )
    for entry in result["records"]:
        entry.pop("replaced", None)
        log.info("%s CNAME -> %s", entry["name"], entry["value"])
    for entry in result["not_automated"]:
        log.info("%s is left to its owner: %s", entry["name"], entry["reason"])
    return result


def notify_routing_endpoints(
    params: dict[str, Any], created: list[dict[str, Any]], pointed: dict[str, Any] | None, run_id: str
) -> None:
    """Tell the owners where each name points (or that the job pointed it), and what is left to them."""
    from cloudfront_ssl.rules.tenant_messages import routing_message

    config = parse_config(CreateJobConfig, params)
    subject, body = routing_message(
        run_id,
        created,
        pointed if config.route53_aliases else None,
        managed=config.certificate_source == "managed",
    )
    log.info("%s\n%s", subject, body)
    notify.publish(config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn), subject, body)


def with_managed_certificates(
    created: list[dict[str, Any]], issued: dict[str, str] | None
) -> list[dict[str, Any]]:
    """The tenants with the ARN of each managed certificate the wait saw issued."""
    issued = issued or {}
    return [
        {**tenant, "certificate_arn": tenant["certificate_arn"] or issued.get(tenant["id"])}
        for tenant in created
    ]
