"""The account's CloudFront distributions as the New job page lists them, cached like the certificates.

One ListDistributions sweep (paginated) per ``ttl_seconds``, whatever the number of page views: the
New job page's picker, its search and the certificates page's "Used by" column all read the cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def distribution_entry(summary: dict[str, Any]) -> dict[str, Any]:
    """One distribution as the API shows it: ``id``, ``domain_name``, ``aliases``, ``comment``,
    ``status``, ``enabled``, ``certificate_arn`` (the ACM certificate it serves, if any) and
    ``multi_tenant`` (a multi-tenant distribution: a template of distribution tenants, not a source to
    copy)."""
    from cloudfront_ssl.aws.cloudfront import summary_aliases
    from cloudfront_ssl.aws.tenants import is_multi_tenant

    return {
        "id": summary["Id"],
        "domain_name": summary.get("DomainName"),
        "aliases": summary_aliases(summary),
        "comment": summary.get("Comment") or "",
        "status": summary.get("Status"),
        "enabled": summary.get("Enabled"),
        "certificate_arn": (summary.get("ViewerCertificate") or {}).get("ACMCertificateArn"),
        "multi_tenant": is_multi_tenant(summary),
    }


def matches(entry: dict[str, Any], text: str) -> bool:
    """Whether ``text`` (case-insensitive) is part of the distribution's id, domain name, an alias or
    its comment."""
    text = text.strip().lower()
    if not text:
        return True
    fields = [entry["id"], entry.get("domain_name") or "", entry.get("comment") or "", *entry["aliases"]]
    return any(text in field.lower() for field in fields)


class DistributionDirectory:
    """The account's distributions (:func:`distribution_entry`), cached for ``ttl_seconds``.

    :param aws_conn_id: the Airflow AWS connection.
    :param ttl_seconds: how long a listing is served from the cache.
    :param clock: monotonic clock (tests pass their own).
    """

    def __init__(
        self,
        aws_conn_id: str = "aws_default",
        *,
        ttl_seconds: float = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.aws_conn_id = aws_conn_id
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] | None = None
        self._loaded_at = 0.0

    def distributions(self) -> list[dict[str, Any]]:
        """Every distribution, by domain name, from the cache when it is fresh."""
        from cloudfront_ssl.aws import cloudfront

        with self._lock:
            now = self.clock()
            if self._entries is None or now - self._loaded_at > self.ttl_seconds:
                client = cloudfront.cloudfront_hook(self.aws_conn_id).conn
                entries = [distribution_entry(summary) for summary in cloudfront.list_distributions(client)]
                entries.sort(key=lambda entry: (entry.get("domain_name") or "", entry["id"]))
                self._entries, self._loaded_at = entries, now
            return [dict(entry) for entry in self._entries]
