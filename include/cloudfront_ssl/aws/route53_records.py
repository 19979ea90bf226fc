"""Reading a zone's records: name by name, or the whole zone page by page, whichever costs fewer calls.

Route 53 answers 5 requests a second per account. One ``ListResourceRecordSets`` starting at a name
reads that name; one page of the whole zone reads up to :data:`ZONE_PAGE_SIZE` record sets. So a job
that wants more names in a zone than the zone has pages reads the whole zone once, and a job that
wants a few names of a large zone reads them one by one (:func:`whole_zone_is_cheaper`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from cloudfront_ssl.rules.hosted_zones import normalize

ZONE_PAGE_SIZE = 300
"""The most record sets one ``ListResourceRecordSets`` call returns."""
NAME_PAGE_SIZE = "100"
"""Record sets asked for by a lookup of one name: every type and set identifier of it, in one call."""


def whole_zone_is_cheaper(names_wanted: int, record_count: int | None) -> bool:
    """Whether paging through a zone of ``record_count`` record sets costs fewer calls than one per name."""
    if record_count is None:
        return False
    return math.ceil(max(record_count, 1) / ZONE_PAGE_SIZE) < names_wanted


def records_at(client: Any, zone: str, name: str) -> list[dict[str, Any]]:
    """The record sets of a zone at exactly ``name`` (every type and set identifier)."""
    wanted = normalize(name)
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"HostedZoneId": zone, "StartRecordName": wanted, "MaxItems": NAME_PAGE_SIZE}
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


def zone_records(client: Any, zone: str, names: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The record sets of a whole zone by normalised name, page by page (only ``names``, when given)."""
    found: dict[str, list[dict[str, Any]]] = {}
    kwargs: dict[str, Any] = {"HostedZoneId": zone, "MaxItems": str(ZONE_PAGE_SIZE)}
    while True:
        page = client.list_resource_record_sets(**kwargs)
        for record in page.get("ResourceRecordSets", []):
            name = normalize(record["Name"])
            if names is None or name in names:
                found.setdefault(name, []).append(record)
        if not page.get("IsTruncated"):
            return found
        kwargs["StartRecordName"] = page["NextRecordName"]
        kwargs["StartRecordType"] = page["NextRecordType"]
        kwargs.pop("StartRecordIdentifier", None)
        if page.get("NextRecordIdentifier"):
            kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]


class RecordsRead:
    """The record sets read for a set of names, by zone and name; see :func:`read_records`."""

    def __init__(self) -> None:
        self._by_name: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def add(self, zone: str, name: str, records: list[dict[str, Any]]) -> None:
        """Keep what the zone holds at ``name``."""
        self._by_name[(zone, normalize(name))] = records

    def at(self, zone: str, name: str) -> list[dict[str, Any]]:
        """The record sets of ``zone`` at exactly ``name`` (every type and set identifier)."""
        return self._by_name[(zone, normalize(name))]


def read_records(
    client: Any, wanted: Iterable[tuple[str, str]], record_counts: Mapping[str, int | None] | None = None
) -> RecordsRead:
    """Read what each zone holds at the wanted ``(zone id, name)`` pairs, choosing per zone how.

    A zone whose record count (from ``record_counts``, as ListHostedZones gave it, or asked with one
    GetHostedZone when unknown and more than two names are wanted) takes fewer pages than the names
    wanted in it is read whole; the others name by name.
    """
    names_by_zone: dict[str, set[str]] = {}
    for zone, name in wanted:
        names_by_zone.setdefault(zone, set()).add(normalize(name))
    counts = dict(record_counts or {})
    read = RecordsRead()
    for zone, names in names_by_zone.items():
        count = counts.get(zone)
        if count is None and len(names) > 2:
            # One call to learn the zone's size can save hundreds; with two names it cannot pay off.
            hosted = client.get_hosted_zone(Id=zone)["HostedZone"]
            count = hosted.get("ResourceRecordSetCount")
        if whole_zone_is_cheaper(len(names), count):
            held = zone_records(client, zone, names)
            for name in names:
                read.add(zone, name, held.get(name, []))
        else:
            for name in sorted(names):
                read.add(zone, name, records_at(client, zone, name))
    return read
