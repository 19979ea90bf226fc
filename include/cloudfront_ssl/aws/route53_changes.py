"""What a create job writes to Route 53 and what its clean-up removes: planned from the zones' records.

A job owns exactly the records it wrote: the step that writes them returns them, and clean-up deletes
only those, and only while they still hold what the job wrote. Nothing else in a zone is changed.
Every function reads the records it needs once (:func:`~cloudfront_ssl.aws.route53_records.read_records`,
which chooses per zone between a lookup per name and paging through the zone) before deciding.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from cloudfront_ssl.aws.route53 import submit_changes
from cloudfront_ssl.aws.route53_records import read_records
from cloudfront_ssl.rules.dns_records import (
    CONFLICTING_TYPES,
    Route53Error,
    alias_record_set,
    change_batches,
    describe_record,
    job_record,
    record_set_of,
    record_values,
    same_record,
    validation_record_set,
)
from cloudfront_ssl.rules.hosted_zones import HostedZone, ZoneMap, normalize

log = logging.getLogger(__name__)


def plan_validation_records(
    client: Any, zones: ZoneMap, certificates: list[dict[str, Any]], *, overwrite: bool = False
) -> dict[str, Any]:
    """Decide which DNS validation records the job writes, reading the zones but changing nothing.

    One record per distinct record name, whatever the number of certificates that share it (an apex
    and its wildcard do). Returns ``{"write": [...], "in_place": [...], "not_automated": [...]}``:
    records to write (``dns_records`` entries), records already in the zone with the right value
    (not the job's: it leaves them alone), and ``{"name", "names", "reason"}`` for records left to
    the owners. A different record at the name is refused (unless ``overwrite``): it is not the
    job's to replace.
    """
    shared: dict[str, dict[str, Any]] = {}
    for certificate in certificates:
        for record in certificate.get("validation_records") or []:
            name = normalize(record["name"])
            entry = shared.setdefault(name, {"record": record, "names": []})
            if normalize(entry["record"]["value"]) != normalize(record["value"]):
                raise Route53Error(
                    f"ACM gave two values for the validation record {name}: "
                    f"{entry['record']['value']} and {record['value']}"
                )
            entry["names"] += [n for n in certificate["names"] if n not in entry["names"]]

    plan: dict[str, Any] = {"write": [], "in_place": [], "not_automated": []}
    held = read_records(
        client,
        [(zone.id, name) for name in shared if (zone := zones.lookup(name)) is not None],
        zones.record_counts(),
    )
    for name, entry in shared.items():
        zone = zones.lookup(name)
        if zone is None:
            plan["not_automated"].append(
                {"name": name, "names": entry["names"], "reason": zones.reason(name)}
            )
            continue
        wanted = validation_record_set(entry["record"])
        current = held.at(zone.id, name)
        if any(same_record(record, wanted) for record in current):
            plan["in_place"].append(job_record(zone, wanted))
            continue
        if current and not overwrite:
            raise Route53Error(
                f"validation record {name}: hosted zone {zone.id} already holds "
                + "; ".join(describe_record(record) for record in current)
                + ". Remove it, or set route53_overwrite to replace it"
            )
        written = job_record(zone, wanted)
        if current:
            written["replaced"] = [describe_record(record) for record in current]
        plan["write"].append(written)
    return plan


def write_records(
    client: Any, records: list[dict[str, Any]], *, comment: str, zone_names: dict[str, str]
) -> list[dict[str, str]]:
    """Write ``dns_records`` entries that are not yet in place; return ``[{"zone_id", "change_id"}]``.

    Idempotent: a record already holding what its entry says (an earlier try wrote it) is not sent
    again, so a retry of a step sends only what the earlier try did not. The records an entry
    replaces (it lists them under ``replaced``) go in the same transaction; any other record in the
    way is refused. ``zone_names`` maps zone id to zone name for the checks.
    """
    by_name: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in records:
        by_name.setdefault((entry["zone_id"], normalize(entry["name"])), []).append(entry)
    by_zone: dict[str, list[dict[str, Any]]] = {}
    held = read_records(client, by_name)
    for (zone, name), entries in by_name.items():
        wanted = [record_set_of(entry) for entry in entries]
        current = held.at(zone, name)
        missing = [record for record in wanted if not any(same_record(c, record) for c in current)]
        if not missing:
            log.info("%s: in place already", "; ".join(describe_record(record) for record in wanted))
            continue
        replacing = any(entry.get("replaced") for entry in entries)
        types = {record["Type"] for record in wanted}
        clashing = [
            record
            for record in current
            if not any(same_record(record, w) for w in wanted)
            and (
                record["Type"] in types
                or "CNAME" in types | {record["Type"]}
                or (replacing and record["Type"] in CONFLICTING_TYPES)
            )
        ]
        if clashing and not replacing:
            raise Route53Error(
                f"{name}: hosted zone {zone} now holds "
                + "; ".join(describe_record(record) for record in clashing)
                + ", which this job did not plan to replace"
            )
        changes = by_zone.setdefault(zone, [])
        # An UPSERT replaces the record of its own type; every other record in the way is deleted.
        changes += [
            {"Action": "DELETE", "ResourceRecordSet": record}
            for record in clashing
            if record["Type"] not in types or record.get("SetIdentifier")
        ]
        changes += [{"Action": "UPSERT", "ResourceRecordSet": record} for record in missing]
    sent = []
    for zone, changes in by_zone.items():
        hosted = HostedZone(id=zone, name=zone_names[zone])
        for change_id in submit_changes(client, hosted, changes, comment):
            sent.append({"zone_id": zone, "change_id": change_id})
    return sent


# --- alias records -------------------------------------------------------------------------------


def alias_conflicts(
    client: Any,
    zones: ZoneMap,
    aliases: dict[int, list[str]],
    *,
    own_targets: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Every alias that already has an A, AAAA or CNAME record pointing elsewhere.

    ``aliases`` maps a ``certificates`` item to its aliases; ``own_targets`` are domain names of this
    job's own distributions (a re-run is not a conflict). Returns ``{"item", "name", "zone_id",
    "records": [text], "message"}`` per alias. Reads only.
    """
    own = {normalize(target) for target in own_targets}
    conflicts = []
    held = read_records(
        client,
        [(zone.id, name) for names in aliases.values() for name in names if (zone := zones.lookup(name))],
        zones.record_counts(),
    )
    for item, names in aliases.items():
        for name in names:
            zone = zones.lookup(name)
            if zone is None:
                continue
            elsewhere = [
                record
                for record in held.at(zone.id, name)
                if record["Type"] in CONFLICTING_TYPES and not set(record_values(record)) <= own
            ]
            if elsewhere:
                described = [describe_record(record) for record in elsewhere]
                conflicts.append(
                    {
                        "item": item,
                        "name": normalize(name),
                        "zone_id": zone.id,
                        "records": described,
                        "message": f"certificates[{item}]: {normalize(name)} already has "
                        + "; ".join(described)
                        + f" in hosted zone {zone.id}",
                    }
                )
    return conflicts


def plan_alias_records(
    client: Any,
    zones: ZoneMap,
    aliases: list[str],
    *,
    domain_name: str,
    ipv6: bool,
    overwrite: bool,
) -> dict[str, Any]:
    """The alias records that point a distribution's aliases at it: ``{"write", "not_automated"}``.

    ``A`` for each alias in a zone, and ``AAAA`` when the distribution has IPv6 on. A record of the
    alias that points elsewhere is refused unless ``overwrite``; with it, the entry lists what it
    replaces (``replaced``), and an ``AAAA`` pointing elsewhere goes when the distribution has no
    IPv6 (it would send IPv6 clients elsewhere).
    """
    types = ("A", "AAAA") if ipv6 else ("A",)
    target = normalize(domain_name)
    plan: dict[str, Any] = {"write": [], "not_automated": []}
    held = read_records(
        client,
        [(zone.id, alias) for alias in aliases if (zone := zones.lookup(alias)) is not None],
        zones.record_counts(),
    )
    for alias in aliases:
        zone = zones.lookup(alias)
        if zone is None:
            plan["not_automated"].append({"name": normalize(alias), "reason": zones.reason(alias)})
            continue
        current = [record for record in held.at(zone.id, alias) if record["Type"] in CONFLICTING_TYPES]
        elsewhere = [record for record in current if record_values(record) != [target]]
        if elsewhere and not overwrite:
            raise Route53Error(
                f"{normalize(alias)} already has "
                + "; ".join(describe_record(record) for record in elsewhere)
                + f" in hosted zone {zone.id}; set route53_overwrite to replace it"
            )
        for record_type in types:
            entry = job_record(zone, alias_record_set(alias, record_type, target))
            if elsewhere:
                entry["replaced"] = [describe_record(record) for record in elsewhere]
            plan["write"].append(entry)
    return plan


# --- clean-up ------------------------------------------------------------------------------------


def delete_job_records(
    client: Any,
    records: list[dict[str, Any]],
    *,
    distribution_domains: Iterable[str],
    validation_in_use: Iterable[str],
    dry_run: bool,
) -> list[dict[str, Any]]:
    """Delete the job's records that still hold what the job wrote, and that nothing else needs.

    An alias record goes while it still points at one of ``distribution_domains`` (the job's own
    distributions); a validation record goes while it still holds the job's value and its name is
    not in ``validation_in_use`` (the record names a remaining certificate validates with: ACM
    renews with them). Anything else is kept, with the reason. Returns each record with ``action``.
    """
    domains = {normalize(domain) for domain in distribution_domains}
    in_use = {normalize(name) for name in validation_in_use}
    result = []
    deletes: dict[str, list[dict[str, Any]]] = {}
    held = read_records(client, [(entry["zone_id"], entry["name"]) for entry in records])
    for entry in records:
        outcome: dict[str, Any] = {key: entry[key] for key in ("zone_id", "name", "type") if key in entry}
        result.append(outcome)
        wanted = record_set_of(entry)
        current = [
            record
            for record in held.at(entry["zone_id"], entry["name"])
            if record["Type"] == entry["type"] and not record.get("SetIdentifier")
        ]
        if not current:
            outcome["action"] = "gone"
            continue
        record = current[0]
        if "alias_target" in entry:
            if not record.get("AliasTarget") or not set(record_values(record)) <= domains:
                outcome["action"] = "kept: it no longer points at this job's distribution"
                continue
        else:
            if not same_record(record, wanted):
                outcome["action"] = "kept: its value changed since the job wrote it"
                continue
            if normalize(entry["name"]) in in_use:
                outcome["action"] = "kept: a remaining certificate validates with it"
                continue
        outcome["action"] = "would delete" if dry_run else "deleted"
        deletes.setdefault(entry["zone_id"], []).append({"Action": "DELETE", "ResourceRecordSet": record})
    if dry_run:
        return result
    for zone, changes in deletes.items():
        for batch in change_batches(changes):
            client.change_resource_record_sets(
                HostedZoneId=zone, ChangeBatch={"Comment": "clean-up of a certificate job", "Changes": batch}
            )
            log.info("Deleted %d record(s) from hosted zone %s", len(batch), zone)
    return result
