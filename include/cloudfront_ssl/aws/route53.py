"""Amazon Route 53: the hosted zone of each name, and the DNS records a create job writes and removes.

A name's zone is the *public* hosted zone whose name is its longest suffix on a label boundary
(``shop.example.com`` is in ``example.com``, never in ``op.example.com``, never in a private zone).
Zones are listed once per step, all pages. Records are written in one change batch per zone (split
only above Route 53's 1,000-record limit, where an UPSERT counts twice), and the checks Route 53
makes but the emulator does not (no CNAME at a zone apex, no CNAME beside another record, no record
outside the zone, no duplicate change in a batch) are made here, before anything is sent.

A job owns exactly the records it wrote: the step that writes them returns them, and clean-up deletes
only those, and only while they still hold what the job wrote. Nothing else in a zone is changed.

Clients come from :class:`Route53Hook` (the provider's ``AwsBaseHook`` for Route 53) and are paced to
Route 53's rate of 5 requests a second per account; throttling and ``PriorRequestNotComplete`` are
retried by botocore.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from cloudfront_ssl.errors import FinalError

log = logging.getLogger(__name__)

ROUTE53_REGION = "us-east-1"
"""Route 53 is a global service, addressed through us-east-1."""
CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"
"""The hosted zone id of every CloudFront distribution's domain name, for alias records."""
CALLS_PER_SECOND = 5.0
"""Route 53 answers at most 5 requests a second per account."""
MAX_BATCH_WEIGHT = 1000
"""At most 1,000 records per change batch; an UPSERT counts twice."""
VALIDATION_TTL = 300
CONFLICTING_TYPES = ("A", "AAAA", "CNAME")
"""Record types at an alias that would send its traffic somewhere else than the distribution."""

__all__ = [
    "CLOUDFRONT_HOSTED_ZONE_ID",
    "HostedZone",
    "Route53AccessError",
    "Route53Error",
    "Route53Hook",
    "ZoneMap",
]


class Route53Error(FinalError):
    """A DNS change that Route 53 would refuse, or that would change what the job may not change."""


class Route53AccessError(Route53Error):
    """The connection cannot read or change Route 53 (missing permissions, unknown connection)."""


class Route53Hook(AwsBaseHook):
    """The Amazon provider's AWS hook for Route 53 (a global service, addressed through us-east-1).

    Takes the arguments of ``AwsBaseHook`` except ``client_type``. Without a botocore ``config`` the
    client retries throttling and ``PriorRequestNotComplete`` up to 10 times (botocore's standard mode).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from botocore.config import Config

        kwargs["client_type"] = "route53"
        if not kwargs.get("region_name"):
            kwargs["region_name"] = ROUTE53_REGION
        if not kwargs.get("config"):
            kwargs["config"] = Config(retries={"mode": "standard", "max_attempts": 10})
        super().__init__(*args, **kwargs)


class RateLimiter:
    """Space calls at least ``1 / per_second`` apart, across the threads of a process.

    Registered on a client's ``before-send`` event, it paces every HTTP attempt (retries included).
    """

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        """Block until the next call may go out."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)

    def __call__(self, **_: Any) -> None:
        """botocore event handler: wait, then let the request go."""
        self.wait()


_PACE = RateLimiter(CALLS_PER_SECOND)
"""One pace for every Route 53 client of the process (the rate is per account, not per client)."""


def route53_client(aws_conn_id: str | None) -> Any:
    """A Route 53 client on the given Airflow connection, paced to Route 53's rate."""
    client = Route53Hook(aws_conn_id=aws_conn_id).conn
    client.meta.events.register(f"before-send.{client.meta.service_model.service_id.hyphenize()}", _PACE)
    return client


def _code(error: Exception) -> str:
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


ACCESS_ERRORS = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
}


# --- names ---------------------------------------------------------------------------------------


def normalize(name: str) -> str:
    """A DNS name as the job compares it: lower case, no trailing dot, ``*`` for Route 53's ``\\052``."""
    return name.replace("\\052", "*").strip().lower().rstrip(".")


def in_zone(name: str, zone_name: str) -> bool:
    """Whether ``name`` is the zone's apex or below it, on a label boundary."""
    name, zone_name = normalize(name), normalize(zone_name)
    return name == zone_name or name.endswith("." + zone_name)


# --- zones ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostedZone:
    """A Route 53 hosted zone: its id (without ``/hostedzone/``), name (no trailing dot), visibility."""

    id: str
    name: str
    private: bool = False

    @classmethod
    def from_api(cls, zone: dict[str, Any]) -> HostedZone:
        """From a ListHostedZones / GetHostedZone entry."""
        return cls(
            id=zone["Id"].rsplit("/", 1)[-1],
            name=normalize(zone["Name"]),
            private=bool(zone.get("Config", {}).get("PrivateZone")),
        )


def zone_id(value: str) -> str:
    """A hosted zone id without its ``/hostedzone/`` prefix."""
    return value.strip().rsplit("/", 1)[-1]


def list_hosted_zones(client: Any) -> list[HostedZone]:
    """Every hosted zone the connection sees, public and private, following pagination."""
    return [
        HostedZone.from_api(zone)
        for page in client.get_paginator("list_hosted_zones").paginate()
        for zone in page.get("HostedZones", [])
    ]


def read_zones(client: Any, field: str = "dns_aws_conn_id") -> list[HostedZone]:
    """List the zones once for a step; a connection that may not do so is a :class:`Route53AccessError`.

    ``field`` names the conf key to blame in the message.
    """
    from botocore.exceptions import ClientError, NoCredentialsError

    try:
        return list_hosted_zones(client)
    except ClientError as error:
        if _code(error) in ACCESS_ERRORS:
            raise Route53AccessError(
                f"{field}: this connection may not list Route 53 hosted zones "
                f"({_code(error)}); it needs route53:ListHostedZones (see the IAM policy in iam/)"
            ) from None
        raise
    except NoCredentialsError:
        raise Route53AccessError(f"{field}: this connection has no AWS credentials for Route 53") from None


class ZoneMap:
    """Which public hosted zone holds a name: the longest zone-name suffix on a label boundary.

    :param zones: the hosted zones the connection sees (private ones are never used).
    :param allowed_ids: when given, only these zones may be written to; a name whose zone is another
        one is left to its owner (never moved up to a parent zone, which would not answer for it).
    """

    def __init__(self, zones: Iterable[HostedZone], allowed_ids: Iterable[str] | None = None) -> None:
        self._by_name: dict[str, list[HostedZone]] = {}
        for zone in zones:
            if not zone.private:
                self._by_name.setdefault(zone.name, []).append(zone)
        self._allowed = {zone_id(value) for value in allowed_ids} if allowed_ids is not None else None

    def _longest(self, name: str) -> list[HostedZone]:
        labels = normalize(name).split(".")
        for start in range(len(labels)):
            candidates = self._by_name.get(".".join(labels[start:]))
            if candidates:
                return candidates
        return []

    def lookup(self, name: str) -> HostedZone | None:
        """The zone that holds ``name``, or None when it is left to its owner (see :meth:`reason`)."""
        candidates = self._longest(name)
        if len(candidates) != 1:
            return None
        zone = candidates[0]
        if self._allowed is not None and zone.id not in self._allowed:
            return None
        return zone

    def reason(self, name: str) -> str:
        """Why :meth:`lookup` found no zone for ``name``."""
        candidates = self._longest(name)
        if not candidates:
            return "no public Route 53 hosted zone holds it"
        if len(candidates) > 1:
            ids = ", ".join(sorted(zone.id for zone in candidates))
            return (
                f"{len(candidates)} public hosted zones are named {candidates[0].name} ({ids}); "
                "the job cannot tell which one the domain is delegated to"
            )
        return f"its hosted zone {candidates[0].id} ({candidates[0].name}) is not in route53_zone_ids"

    def describe(self, names: Iterable[str]) -> list[dict[str, Any]]:
        """``[{"name", "zone_id", "zone_name"}]`` for each name (zone null when none), plus ``reason``."""
        result = []
        for name in names:
            zone = self.lookup(name)
            entry: dict[str, Any] = {
                "name": name,
                "zone_id": zone.id if zone else None,
                "zone_name": zone.name if zone else None,
            }
            if zone is None:
                entry["reason"] = self.reason(name)
            result.append(entry)
        return result


def check_zone_ids(client: Any, ids: list[str], field: str = "route53_zone_ids") -> list[str]:
    """Errors for listed hosted zone ids that do not exist, or are private; one per bad id."""
    from botocore.exceptions import ClientError

    errors = []
    for index, value in enumerate(ids):
        try:
            zone = HostedZone.from_api(client.get_hosted_zone(Id=zone_id(value))["HostedZone"])
        except ClientError as error:
            if _code(error) in ("NoSuchHostedZone", "InvalidInput"):
                errors.append(f"{field}[{index}]: hosted zone {value} does not exist")
                continue
            if _code(error) in ACCESS_ERRORS:
                errors.append(f"{field}[{index}]: this connection may not read hosted zone {value}")
                continue
            raise
        if zone.private:
            errors.append(
                f"{field}[{index}]: hosted zone {value} ({zone.name}) is private; "
                "the job writes to public zones only"
            )
    return errors


# --- records -------------------------------------------------------------------------------------


def records_at(client: Any, zone: str, name: str) -> list[dict[str, Any]]:
    """The record sets of a zone at exactly ``name`` (every type and set identifier)."""
    wanted = normalize(name)
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"HostedZoneId": zone, "StartRecordName": wanted, "MaxItems": "100"}
    while True:
        page = client.list_resource_record_sets(**kwargs)
        records = page.get("ResourceRecordSets", [])
        found += [record for record in records if normalize(record["Name"]) == wanted]
        # Records come sorted by name: once a page ends past the name, there is no more of it.
        if not page.get("IsTruncated") or not records or normalize(records[-1]["Name"]) != wanted:
            return found
        kwargs["StartRecordName"] = page["NextRecordName"]
        kwargs["StartRecordType"] = page["NextRecordType"]
        if page.get("NextRecordIdentifier"):
            kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]


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


# --- change batches ------------------------------------------------------------------------------


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


def submit_changes(client: Any, zone: HostedZone, changes: list[dict[str, Any]], comment: str) -> list[str]:
    """Check and send a zone's changes; return the change ids (one per batch) to wait for."""
    from botocore.exceptions import ClientError

    check_changes(zone, changes)
    change_ids = []
    for batch in change_batches(changes):
        try:
            response = client.change_resource_record_sets(
                HostedZoneId=zone.id, ChangeBatch={"Comment": comment[:256], "Changes": batch}
            )
        except ClientError as error:
            code = _code(error)
            message = error.response.get("Error", {}).get("Message", str(error))
            if code in ACCESS_ERRORS:
                raise Route53AccessError(
                    f"the connection may not change hosted zone {zone.id} ({zone.name}): {code}"
                ) from None
            if code in ("InvalidChangeBatch", "InvalidInput", "NoSuchHostedZone"):
                raise Route53Error(
                    f"Route 53 refused the change to hosted zone {zone.id}: {message}"
                ) from None
            raise
        change_id = response["ChangeInfo"]["Id"].rsplit("/", 1)[-1]
        log.info(
            "Sent %d change(s) to hosted zone %s (%s): change %s", len(batch), zone.id, zone.name, change_id
        )
        change_ids.append(change_id)
    return change_ids


def change_status(client: Any, change_id: str) -> str:
    """A change's status: ``PENDING`` or ``INSYNC``."""
    return client.get_change(Id=change_id)["ChangeInfo"]["Status"]


# --- validation records --------------------------------------------------------------------------


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
    for name, entry in shared.items():
        zone = zones.lookup(name)
        if zone is None:
            plan["not_automated"].append(
                {"name": name, "names": entry["names"], "reason": zones.reason(name)}
            )
            continue
        wanted = validation_record_set(entry["record"])
        current = records_at(client, zone.id, name)
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
    for (zone, name), entries in by_name.items():
        wanted = [record_set_of(entry) for entry in entries]
        current = records_at(client, zone, name)
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
    for item, names in aliases.items():
        for name in names:
            zone = zones.lookup(name)
            if zone is None:
                continue
            elsewhere = [
                record
                for record in records_at(client, zone.id, name)
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
    for alias in aliases:
        zone = zones.lookup(alias)
        if zone is None:
            plan["not_automated"].append({"name": normalize(alias), "reason": zones.reason(alias)})
            continue
        current = [
            record for record in records_at(client, zone.id, alias) if record["Type"] in CONFLICTING_TYPES
        ]
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
    for entry in records:
        outcome: dict[str, Any] = {key: entry[key] for key in ("zone_id", "name", "type") if key in entry}
        result.append(outcome)
        wanted = record_set_of(entry)
        current = [
            record
            for record in records_at(client, entry["zone_id"], entry["name"])
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
