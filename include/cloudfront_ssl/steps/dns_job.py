"""The create job's DNS steps with Route 53: what the check finds, what the job writes, what it reports.

With ``route53_validation`` the job writes the certificates' DNS validation records into the public
hosted zones that hold the names, and waits until Route 53 has applied them; with
``route53_aliases`` it points each alias of a new distribution at it with alias records. Names that
no zone of the connection holds stay with their owners, in the same messages as before. Every
record the job writes is listed in its summary (``dns_records``) and is the only kind of record the
clean-up may remove.

Route 53 is reached through ``dns_aws_conn_id`` (for example a role in the account that owns DNS),
or ``aws_conn_id`` when that is not set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cloudfront_ssl.aws import route53, route53_changes
from cloudfront_ssl.rules.dns_records import Route53AccessError
from cloudfront_ssl.rules.hosted_zones import ZoneMap, normalize

log = logging.getLogger(__name__)

VALIDATION_STEP = "write_validation_records"
ALIAS_STEP = "point_aliases"
TENANT_NAMES_STEP = "point_tenant_names"
DNS_STEPS = (VALIDATION_STEP, ALIAS_STEP, TENANT_NAMES_STEP)
"""The create job's steps whose results list the DNS records the job wrote (read by clean-up)."""


def dns_conn_id(config: Any) -> str:
    """The connection that reaches Route 53: ``dns_aws_conn_id``, else ``aws_conn_id``."""
    return config.dns_aws_conn_id or config.aws_conn_id


def dns_field(config: Any) -> str:
    """The conf key to name when the Route 53 connection is at fault."""
    return "dns_aws_conn_id" if config.dns_aws_conn_id else "aws_conn_id"


def uses_route53(config: Any) -> bool:
    """Whether the job writes anything to Route 53."""
    return bool(config.route53_validation or config.route53_aliases)


def zone_map(client: Any, config: Any) -> ZoneMap:
    """The hosted zones the job may write to, listed once for the step."""
    return ZoneMap(route53.read_zones(client, dns_field(config)), config.route53_zone_ids)


def own_distribution_domains(config: Any, aliases: list[str], dag_id: str, run_id: str) -> list[str]:
    """Domain names of this job's own distributions that hold any of ``aliases`` (a re-run's)."""
    from cloudfront_ssl.aws import cloudfront
    from cloudfront_ssl.rules.tags import is_job_resource

    client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    return [
        summary["DomainName"]
        for summary, _ in cloudfront.distributions_holding(client, {alias.lower() for alias in aliases})
        if is_job_resource(cloudfront.distribution_tags(client, summary["ARN"]), dag_id, run_id)
    ]


# --- check ---------------------------------------------------------------------------------------


def check_dns(
    config: Any,
    result: dict[str, Any],
    *,
    names: list[str],
    item_of_alias: dict[str, int],
    own_targets: list[str],
    error: Callable[..., dict[str, Any]],
    require_connection: Callable[..., None] | None = None,
) -> None:
    """Add the Route 53 part of a job's plan to ``result``: zones, conflicts and refusals.

    ``result["dns"]`` gets ``{"name", "zone_id", "zone_name"}`` for every name of the job (zone null,
    with ``reason``, when Route 53 does not hold it). With ``route53_aliases``, an alias that already
    has an A, AAAA or CNAME record pointing elsewhere goes into ``conflicts`` and ``errors``, unless
    ``route53_overwrite``. A Route 53 connection that does not exist or may not list the zones, and a
    listed zone id that does not exist, are errors naming their field. Reads only.

    :param names: every name of the job (certificate names and aliases), normalised.
    :param item_of_alias: each alias of a distribution to be created -> its ``certificates`` item.
    :param own_targets: domain names of this job's own distributions (a re-run is not a conflict).
    :param error: builds an error entry ``(field, message, item=None)``.
    :param require_connection: raises when a connection id does not exist; None skips that.
    """
    if not uses_route53(config):
        return
    from cloudfront_ssl.errors import FinalError

    errors = result["errors"]
    field = dns_field(config)
    if require_connection is not None and config.dns_aws_conn_id:
        try:
            require_connection(config.dns_aws_conn_id, "dns_aws_conn_id")
        except FinalError as refusal:
            errors.append(error("dns_aws_conn_id", str(refusal)))
            return
    try:
        client = route53.route53_client(dns_conn_id(config))
        if config.route53_zone_ids:
            for message in route53.check_zone_ids(client, config.route53_zone_ids):
                errors.append(error("route53_zone_ids", message))
        zones = zone_map(client, config)
    except Route53AccessError as refusal:
        errors.append(error(field, str(refusal)))
        return

    result["dns"] = zones.describe(names)
    automated = [entry["name"] for entry in result["dns"] if entry["zone_id"]]
    left = [entry for entry in result["dns"] if not entry["zone_id"]]
    if left:
        result["notes"].append(
            f"Route 53: {len(automated)} of {len(names)} name(s) are in a hosted zone of {field}; "
            "the owners keep the DNS work of "
            + ", ".join(f"{entry['name']} ({entry['reason']})" for entry in left)
        )
    if config.route53_aliases and not item_of_alias:
        result["notes"].append("route53_aliases: the job creates no distribution, so it points no name")
    if config.route53_overwrite and not config.route53_aliases:
        result["notes"].append("route53_overwrite applies to alias records only: it changes nothing here")
    if not config.route53_aliases or not item_of_alias:
        return

    aliases_by_item: dict[int, list[str]] = {}
    for alias, item in item_of_alias.items():
        aliases_by_item.setdefault(item, []).append(alias)
    for conflict in route53_changes.alias_conflicts(client, zones, aliases_by_item, own_targets=own_targets):
        held_by = "Route 53 record " + "; ".join(conflict["records"])
        if config.route53_overwrite:
            result["notes"].append(
                f"route53_overwrite: {conflict['name']} will be pointed at its distribution, "
                f"replacing {'; '.join(conflict['records'])}"
            )
            continue
        message = (
            f"{conflict['name']} already has {'; '.join(conflict['records'])} in hosted zone "
            f"{conflict['zone_id']}; remove it, or set route53_overwrite to replace it"
        )
        result["conflicts"].append(
            {
                "item": conflict["item"],
                "line": conflict["item"] + 1,
                "name": conflict["name"],
                "held_by": held_by,
                "message": message,
            }
        )
        errors.append(error("certificates", message, conflict["item"]))


# --- validation records --------------------------------------------------------------------------


def find_validation_records(config: Any, certificates: list[dict[str, Any]]) -> dict[str, Any]:
    """Decide which validation records the job writes, before it writes any (reads Route 53 only).

    This is the record of what was missing before the job: a retried write step claims exactly
    these records, whether its earlier try or this one sent them. Returns
    :func:`route53_changes.plan_validation_records`'s plan plus ``zones`` (id -> name), or an empty plan
    when ``route53_validation`` is off.
    """
    empty: dict[str, Any] = {"write": [], "in_place": [], "not_automated": [], "zones": {}}
    if not config.route53_validation:
        return empty
    client = route53.route53_client(dns_conn_id(config))
    zones = zone_map(client, config)
    # A validation record of another value at the name is not the job's to replace (ACM's record
    # names are fixed for a domain): refuse and say which.
    plan = route53_changes.plan_validation_records(client, zones, certificates, overwrite=False)
    plan["zones"] = {
        entry["zone_id"]: zones.describe([entry["name"]])[0]["zone_name"] for entry in plan["write"]
    }
    for entry in plan["in_place"]:
        log.info("Validation record %s is in hosted zone %s already", entry["name"], entry["zone_id"])
    for entry in plan["not_automated"]:
        log.info("Validation record %s is left to its owner: %s", entry["name"], entry["reason"])
    return plan


def write_validation_records(config: Any, dns_plan: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Write the planned validation records, one change batch per zone (idempotent across retries).

    Returns ``{"dns_aws_conn_id", "changes": [{"zone_id", "change_id"}], "records", "in_place",
    "not_automated"}``: the changes to wait for (only those this try sent), every record the job
    wrote (``dns_records`` entries), the records already there, and the ones left to the owners.
    """
    records = list(dns_plan.get("write") or [])
    result: dict[str, Any] = {
        "dns_aws_conn_id": dns_conn_id(config),
        "changes": [],
        "records": records,
        "in_place": list(dns_plan.get("in_place") or []),
        "not_automated": list(dns_plan.get("not_automated") or []),
    }
    if records:
        client = route53.route53_client(dns_conn_id(config))
        result["changes"] = route53_changes.write_records(
            client,
            records,
            comment=f"certificate validation, job {run_id}"[:256],
            zone_names=dns_plan["zones"],
        )
    log.info(
        "Route 53: %d validation record(s) written, %d in place already, %d left to the owners",
        len(records),
        len(result["in_place"]),
        len(result["not_automated"]),
    )
    return result


# --- alias records -------------------------------------------------------------------------------


def point_aliases(config: Any, distribution: dict[str, Any], *, ipv6: bool, run_id: str) -> dict[str, Any]:
    """Point a new distribution's aliases at it with alias records (A, and AAAA with IPv6).

    Idempotent: records already pointing at the distribution are not sent again. A record that
    points elsewhere is replaced only with ``route53_overwrite`` (the check refused it otherwise;
    one that appeared since fails this step, naming it). Returns ``{"dns_aws_conn_id",
    "distribution_id", "changes", "records", "not_automated"}``.
    """
    result: dict[str, Any] = {
        "dns_aws_conn_id": dns_conn_id(config),
        "distribution_id": distribution["id"],
        "changes": [],
        "records": [],
        "not_automated": [],
    }
    if not config.route53_aliases:
        return result
    client = route53.route53_client(dns_conn_id(config))
    zones = zone_map(client, config)
    plan = route53_changes.plan_alias_records(
        client,
        zones,
        distribution["aliases"],
        domain_name=distribution["domain_name"],
        ipv6=ipv6,
        overwrite=config.route53_overwrite,
    )
    result["records"] = plan["write"]
    result["not_automated"] = plan["not_automated"]
    zone_names = {
        entry["zone_id"]: zones.describe([entry["name"]])[0]["zone_name"] for entry in plan["write"]
    }
    if plan["write"]:
        result["changes"] = route53_changes.write_records(
            client, plan["write"], comment=f"CloudFront aliases, job {run_id}"[:256], zone_names=zone_names
        )
    for entry in plan["write"]:
        replaced = f" (replacing {'; '.join(entry['replaced'])})" if entry.get("replaced") else ""
        log.info("%s %s -> %s%s", entry["name"], entry["type"], distribution["domain_name"], replaced)
    for entry in plan["not_automated"]:
        log.info("%s is left to its owner: %s", entry["name"], entry["reason"])
    return result


# --- results -------------------------------------------------------------------------------------


def dns_records(
    validation: dict[str, Any] | None, aliases: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Every record the job wrote, for the summary's ``dns_records``."""
    written = list((validation or {}).get("records") or [])
    for result in aliases or []:
        written += (result or {}).get("records") or []
    return written


# --- clean-up ------------------------------------------------------------------------------------


def pull_dns_results(ti: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The results of a job's DNS steps (what it wrote, and through which connection), from XCom.

    ``ti`` is the running task instance of the clean-up; the job may be another DAG run. Steps that
    did not run (or wrote nothing) give nothing.
    """
    results: list[dict[str, Any]] = []
    for step in DNS_STEPS:
        # Without map_indexes, every map index of a mapped step is pulled.
        pulled = ti.xcom_pull(task_ids=step, dag_id=dag_id, run_id=run_id)
        if isinstance(pulled, dict):
            pulled = [pulled]
        results += [result for result in pulled or [] if isinstance(result, dict) and result.get("records")]
    return results


def validation_records_in_use(acm_client: Any, record_names: list[str]) -> set[str]:
    """Of the given validation record names, those that a certificate in ACM still validates with.

    Only certificates holding a name the record can belong to (``a.example.com`` or
    ``*.a.example.com`` for ``_x.a.example.com``) are described.
    """
    from cloudfront_ssl.aws import acm

    wanted = {normalize(name) for name in record_names}
    domains = {name.split(".", 1)[1] for name in wanted if "." in name}
    in_use: set[str] = set()
    for summary in acm.list_certificates(acm_client):
        names = [summary.get("DomainName", "")] + list(summary.get("SubjectAlternativeNameSummaries") or [])
        bases = {normalize(name).removeprefix("*.") for name in names}
        if not bases & domains and not summary.get("HasAdditionalSubjectAlternativeNames"):
            continue
        certificate = acm_client.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
        for option in certificate.get("DomainValidationOptions") or []:
            record = option.get("ResourceRecord") or {}
            if record.get("Name") and normalize(record["Name"]) in wanted:
                in_use.add(normalize(record["Name"]))
    return in_use


def remove_dns_records(
    results: list[dict[str, Any]],
    *,
    aliases: bool,
    distribution_domains: list[str],
    validation_in_use: set[str] | None = None,
    dry_run: bool,
) -> list[dict[str, Any]]:
    """Delete the job's alias records (``aliases=True``) or its validation records, as
    :func:`route53_changes.delete_job_records` allows; return each record with its ``action``.

    Alias records go first in a clean-up, while they still point at the job's distributions;
    validation records last, once the job's certificates are gone, and only those no remaining
    certificate uses (``validation_in_use``).
    """
    done: list[dict[str, Any]] = []
    for result in results:
        records = [entry for entry in result.get("records") or [] if ("alias_target" in entry) == aliases]
        if not records:
            continue
        client = route53.route53_client(result.get("dns_aws_conn_id"))
        done += route53_changes.delete_job_records(
            client,
            records,
            distribution_domains=distribution_domains,
            validation_in_use=validation_in_use or set(),
            dry_run=dry_run,
        )
    for entry in done:
        log.info("DNS record %s %s: %s", entry["name"], entry["type"], entry["action"])
    return done
