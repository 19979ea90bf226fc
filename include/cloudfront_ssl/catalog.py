"""The certificates of the account and what uses them, as the page, the API and the inventory show them.

One entry per ACM certificate in us-east-1 (all key types, paginated), built from ListCertificates'
summaries, CloudFront's distribution list (which certificate each distribution serves) and the
certificates' tags (which job made it). :class:`CertificateCatalog` caches the listing briefly so that
a page view does not cost one AWS call per certificate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from cloudfront_ssl import acm, cloudfront
from cloudfront_ssl.messages import iso
from cloudfront_ssl.names import covers
from cloudfront_ssl.tags import job_of


def certificate_entry(
    summary: dict[str, Any], names: list[str], tags: dict[str, str], in_use_by: list[str]
) -> dict[str, Any]:
    """One certificate as the page and the API show it, from its ListCertificates summary."""
    return {
        "arn": summary["CertificateArn"],
        "names": names,
        "status": summary.get("Status"),
        "type": acm.certificate_type(summary),
        "not_after": iso(summary.get("NotAfter")),
        "renewal_eligibility": summary.get("RenewalEligibility"),
        "in_use_by": sorted(in_use_by),
        "job": job_of(tags),
    }


def filter_certificates(
    entries: Iterable[dict[str, Any]],
    *,
    cname: str | None = None,
    status: str | None = None,
    q: str | None = None,
) -> list[dict[str, Any]]:
    """The entries that match every given filter.

    ``cname``: a name of the certificate is that name, or a wildcard covering it (one label);
    ``status``: ACM status, case-insensitive; ``q``: any part of any name, case-insensitive.
    """
    cname = (cname or "").strip().lower().rstrip(".")
    status = (status or "").strip().upper()
    q = (q or "").strip().lower()
    result = []
    for entry in entries:
        if cname and not any(covers(name, cname) for name in entry["names"]):
            continue
        if status and (entry.get("status") or "").upper() != status:
            continue
        if q and not any(q in name.lower() for name in entry["names"]):
            continue
        result.append(entry)
    return result


class CertificateCatalog:
    """The account's certificates, cached for ``ttl_seconds``; each certificate's details cached longer.

    A certificate's job tags are set when it is created and its names never change, so once read they
    are kept for ``tag_ttl_seconds``: after the first view, refreshing the listing costs the
    ListCertificates and ListDistributions pages only, plus, per *new* certificate, one
    ListTagsForCertificate (and one DescribeCertificate when the summary lacks its names).

    :param aws_conn_id: the Airflow AWS connection.
    :param ttl_seconds: how long a listing is served from the cache.
    :param tag_ttl_seconds: how long a certificate's tags are kept.
    :param clock: monotonic clock (tests pass their own).
    """

    def __init__(
        self,
        aws_conn_id: str = "aws_default",
        *,
        ttl_seconds: float = 60,
        tag_ttl_seconds: float = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.aws_conn_id = aws_conn_id
        self.ttl_seconds = ttl_seconds
        self.tag_ttl_seconds = tag_ttl_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] | None = None
        self._loaded_at = 0.0
        self._details: dict[str, tuple[float, dict[str, str], list[str] | None]] = {}

    def clear(self) -> None:
        """Forget every cached listing and tag."""
        with self._lock:
            self._entries = None
            self._details.clear()

    def certificates(self) -> list[dict[str, Any]]:
        """Every certificate entry (:func:`certificate_entry`), from the cache when it is fresh."""
        with self._lock:
            now = self.clock()
            if self._entries is None or now - self._loaded_at > self.ttl_seconds:
                self._entries = self._load(now)
                self._loaded_at = now
            return [dict(entry) for entry in self._entries]

    def _load(self, now: float) -> list[dict[str, Any]]:
        acm_client = acm.acm_hook(self.aws_conn_id).conn
        users = cloudfront.certificate_users(cloudfront.cloudfront_hook(self.aws_conn_id).conn)
        entries = []
        seen = set()
        for summary in acm.list_certificates(acm_client):
            arn = summary["CertificateArn"]
            seen.add(arn)
            cached = self._details.get(arn)
            if cached is None or now - cached[0] > self.tag_ttl_seconds:
                cached = (now, acm.certificate_tags(acm_client, arn), None)
            names = acm.summary_names(summary) or cached[2]
            if names is None:
                names = acm.certificate_names(
                    acm_client.describe_certificate(CertificateArn=arn)["Certificate"]
                )
                cached = (cached[0], cached[1], names)
            self._details[arn] = cached
            entries.append(certificate_entry(summary, names, cached[1], users.get(arn, [])))
        # Deleted certificates must not stay in memory forever.
        for arn in set(self._details) - seen:
            del self._details[arn]
        entries.sort(key=lambda entry: (entry["names"][0].lstrip("*."), entry["names"][0], entry["arn"]))
        return entries
