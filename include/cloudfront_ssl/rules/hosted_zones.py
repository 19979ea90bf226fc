"""Route 53's hosted zones as the jobs see them, without calling AWS: names, zones, which zone holds a name.

A name's zone is the *public* hosted zone whose name is its longest suffix on a label boundary
(``shop.example.com`` is in ``example.com``, never in ``op.example.com``, never in a private zone).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["HostedZone", "ZoneMap", "in_zone", "normalize", "zone_id"]


def normalize(name: str) -> str:
    """A DNS name as the job compares it: lower case, no trailing dot, ``*`` for Route 53's ``\\052``."""
    return name.replace("\\052", "*").strip().lower().rstrip(".")


def in_zone(name: str, zone_name: str) -> bool:
    """Whether ``name`` is the zone's apex or below it, on a label boundary."""
    name, zone_name = normalize(name), normalize(zone_name)
    return name == zone_name or name.endswith("." + zone_name)


@dataclass(frozen=True)
class HostedZone:
    """A Route 53 hosted zone: its id (without ``/hostedzone/``), name (no trailing dot), visibility,
    and how many record sets it held when listed (None when not known)."""

    id: str
    name: str
    private: bool = False
    record_count: int | None = None

    @classmethod
    def from_api(cls, zone: dict[str, Any]) -> HostedZone:
        """From a ListHostedZones / GetHostedZone entry."""
        count = zone.get("ResourceRecordSetCount")
        return cls(
            id=zone["Id"].rsplit("/", 1)[-1],
            name=normalize(zone["Name"]),
            private=bool(zone.get("Config", {}).get("PrivateZone")),
            record_count=int(count) if count is not None else None,
        )


def zone_id(value: str) -> str:
    """A hosted zone id without its ``/hostedzone/`` prefix."""
    return value.strip().rsplit("/", 1)[-1]


class ZoneMap:
    """Which public hosted zone holds a name: the longest zone-name suffix on a label boundary.

    :param zones: the hosted zones the connection sees (private ones are never used).
    :param allowed_ids: when given, only these zones may be written to; a name whose zone is another
        one is left to its owner (never moved up to a parent zone, which would not answer for it).
    """

    def __init__(self, zones: Iterable[HostedZone], allowed_ids: Iterable[str] | None = None) -> None:
        self._by_name: dict[str, list[HostedZone]] = {}
        self._by_id: dict[str, HostedZone] = {}
        for zone in zones:
            if not zone.private:
                self._by_name.setdefault(zone.name, []).append(zone)
                self._by_id[zone.id] = zone
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

    def record_counts(self) -> dict[str, int | None]:
        """Each public zone's record count as listed (by zone id): what a read of the whole zone costs."""
        return {zone_id: zone.record_count for zone_id, zone in self._by_id.items()}
