"""The DNS records a create job writes and removes, and the checks Route 53 makes on a change: no AWS here.

Records are written in one change batch per zone (split only above Route 53's 1,000-record limit,
where an UPSERT counts twice), and the checks Route 53 makes but the emulator does not (no CNAME at a
zone apex, no CNAME beside another record, no record outside the zone, no duplicate change in a
batch) are made here, before anything is sent.
"""

from __future__ import annotations

from typing import Any

from cloudfront_ssl.errors import FinalError
from cloudfront_ssl.rules.hosted_zones import HostedZone, in_zone, normalize

__all__ = [
    "CLOUDFRONT_HOSTED_ZONE_ID",
    "CONFLICTING_TYPES",
    "Route53AccessError",
    "Route53Error",
    "alias_record_set",
    "change_batches",
    "check_changes",
    "describe_record",
    "job_record",
    "record_set_of",
    "record_values",
    "same_record",
    "validation_record_set",
]

CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"
"""The hosted zone id of every CloudFront distribution's domain name, for alias records."""
MAX_BATCH_WEIGHT = 1000
"""At most 1,000 records per change batch; an UPSERT counts twice."""
VALIDATION_TTL = 300
CONFLICTING_TYPES = ("A", "AAAA", "CNAME")
"""Record types at an alias that would send its traffic somewhere else than the distribution."""


class Route53Error(FinalError):
    """A DNS change that Route 53 would refuse, or that would change what the job may not change."""


class Route53AccessError(Route53Error):
    """The connection cannot read or change Route 53 (missing permissions, unknown connection)."""


def record_values(record: dict[str, Any]) -> list[str]:
    """What a record set points at, normalised: its values, or its alias target's DNS name."""
    if record.get("AliasTarget"):
        return [normalize(record["AliasTarget"]["DNSName"])]
    return [normalize(value["Value"]) for value in record.get("ResourceRecords", [])]


def describe_record(record: dict[str, Any]) -> str:
    """A record set in words: ``shop.example.com A alias d1.cloudfront.net``."""
    kind = "alias " if record.get("AliasTarget") else ""
    return f"{normalize(record['Name'])} {record['Type']} {kind}{', '.join(record_values(record))}"


def validation_record_set(record: dict[str, Any]) -> dict[str, Any]:
    """The Route 53 record set of a validation record ``{"name", "type", "value"}``."""
    return {
        "Name": normalize(record["name"]) + ".",
        "Type": record["type"],
        "TTL": VALIDATION_TTL,
        "ResourceRecords": [{"Value": record["value"]}],
    }


def alias_record_set(name: str, record_type: str, domain_name: str) -> dict[str, Any]:
    """The Route 53 alias record set pointing ``name`` at a CloudFront distribution."""
    return {
        "Name": normalize(name) + ".",
        "Type": record_type,
        "AliasTarget": {
            "DNSName": normalize(domain_name) + ".",
            "HostedZoneId": CLOUDFRONT_HOSTED_ZONE_ID,
            "EvaluateTargetHealth": False,
        },
    }


def job_record(zone: HostedZone, record_set: dict[str, Any]) -> dict[str, Any]:
    """A written record as the job's summary lists it (``dns_records``)."""
    entry: dict[str, Any] = {
        "zone_id": zone.id,
        "name": normalize(record_set["Name"]),
        "type": record_set["Type"],
    }
    if record_set.get("AliasTarget"):
        entry["alias_target"] = {
            "dns_name": normalize(record_set["AliasTarget"]["DNSName"]),
            "hosted_zone_id": record_set["AliasTarget"]["HostedZoneId"],
        }
    else:
        entry["value"] = record_set["ResourceRecords"][0]["Value"]
    return entry


def record_set_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The Route 53 record set of a ``dns_records`` entry (the reverse of :func:`job_record`)."""
    if "alias_target" in entry:
        return alias_record_set(entry["name"], entry["type"], entry["alias_target"]["dns_name"])
    return validation_record_set(entry)


def same_record(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a record set in the zone already holds what ``wanted`` would write."""
    return (
        normalize(current["Name"]) == normalize(wanted["Name"])
        and current["Type"] == wanted["Type"]
        and not current.get("SetIdentifier")
        and bool(current.get("AliasTarget")) == bool(wanted.get("AliasTarget"))
        and sorted(record_values(current)) == sorted(record_values(wanted))
    )


def _weight(change: dict[str, Any]) -> int:
    return 2 if change["Action"] == "UPSERT" else 1


def check_changes(zone: HostedZone, changes: list[dict[str, Any]]) -> None:
    """Refuse changes that Route 53 refuses (the emulator accepts them), naming the record.

    A record outside the zone, a CNAME at the zone apex, the same record twice, and a CNAME beside
    another record of the same name written by the same changes.
    """
    seen: dict[tuple[str, str, str], str] = {}
    types_at: dict[str, set[str]] = {}
    for change in changes:
        record = change["ResourceRecordSet"]
        name = normalize(record["Name"])
        if not in_zone(name, zone.name):
            raise Route53Error(f"{name} is outside hosted zone {zone.id} ({zone.name})")
        if record["Type"] == "CNAME" and name == zone.name and change["Action"] != "DELETE":
            raise Route53Error(f"{name}: a zone apex cannot hold a CNAME record (hosted zone {zone.id})")
        key = (name, record["Type"], record.get("SetIdentifier", ""))
        if key in seen:
            raise Route53Error(
                f"{name} {record['Type']} appears twice in one change to hosted zone {zone.id}"
            )
        seen[key] = change["Action"]
        if change["Action"] != "DELETE":
            types_at.setdefault(name, set()).add(record["Type"])
    for name, types in types_at.items():
        if "CNAME" in types and len(types) > 1:
            raise Route53Error(
                f"{name}: a CNAME record cannot sit beside {', '.join(sorted(types - {'CNAME'}))}"
            )


def change_batches(changes: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split a zone's changes into batches under Route 53's limit, keeping each name's changes together.

    A replacement (DELETE then UPSERT of one name) must be one transaction, so changes are packed by
    name. One batch unless the changes weigh more than 1,000 records.
    """
    by_name: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        by_name.setdefault(normalize(change["ResourceRecordSet"]["Name"]), []).append(change)
    batches: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    weight = 0
    for group in by_name.values():
        group_weight = sum(_weight(change) for change in group)
        if current and weight + group_weight > MAX_BATCH_WEIGHT:
            batches.append(current)
            current, weight = [], 0
        current += group
        weight += group_weight
    if current:
        batches.append(current)
    return batches
