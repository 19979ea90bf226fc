"""The certificates of an account and what uses them, as the page and the API show them.

One entry per ACM certificate in us-east-1 (all key types, paginated), built from ListCertificates'
summaries, CloudFront's distribution list (which certificate each distribution serves), CloudFront's
tenant listing (which certificate each distribution tenant serves; read only when the account has a
multi-tenant distribution) and the job tags of the certificates that jobs made (which job made it),
read in bulk from the Tagging API.
:class:`CertificateCatalog` caches the listing briefly so that a page view does not cost one AWS
call per certificate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from cloudfront_ssl.aws import acm, cloudfront, connections, tenants
from cloudfront_ssl.rules.messages import iso
from cloudfront_ssl.rules.names import covers
from cloudfront_ssl.rules.tags import job_of


def certificate_entry(
    summary: dict[str, Any],
    names: list[str],
    tags: dict[str, str],
    in_use_by: list[str],
    account: dict[str, str | None] | None = None,
    tenant_users: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One certificate as the page and the API show it, from its ListCertificates summary.

    ``in_use_by`` holds the ids of the distributions serving it, then those of the distribution tenants
    serving it; ``tenants`` names those tenants (:func:`cloudfront_ssl.aws.tenants.tenant_entry`: id,
    name, their multi-tenant distribution, domains). ``account`` is the account it lives in:
    ``{"conn_id", "id"}`` (the Airflow connection it was read through and the 12-digit account number).
    """
    tenant_users = tenant_users or []
    return {
        "arn": summary["CertificateArn"],
        "names": names,
        "status": summary.get("Status"),
        "type": acm.certificate_type(summary),
        "not_after": iso(summary.get("NotAfter")),
        "renewal_eligibility": summary.get("RenewalEligibility"),
        "in_use_by": sorted(in_use_by) + [tenant["id"] for tenant in tenant_users],
        "tenants": [
            {key: tenant[key] for key in ("id", "name", "distribution_id", "domains")}
            for tenant in tenant_users
        ],
        "job": job_of(tags),
        "account": account,
    }


def filter_certificates(
    entries: Iterable[dict[str, Any]],
    *,
    cname: str | None = None,
    status: str | None = None,
    q: str | None = None,
) -> list[dict[str, Any]]:
    """The entries that match every given filter.

    ``cname``: a name of the certificate is that name, or a wildcard covering it (one label), or a
    distribution tenant serving the certificate has that domain (or a wildcard domain covering it);
    ``status``: ACM status, case-insensitive; ``q``: any part of any name (or of a domain of a tenant
    serving it), case-insensitive.
    """
    cname = (cname or "").strip().lower().rstrip(".")
    status = (status or "").strip().upper()
    q = (q or "").strip().lower()
    result = []
    for entry in entries:
        names = [*entry["names"], *[d for tenant in entry.get("tenants") or [] for d in tenant["domains"]]]
        if cname and not any(covers(name, cname) for name in names):
            continue
        if status and (entry.get("status") or "").upper() != status:
            continue
        if q and not any(q in name.lower() for name in names):
            continue
        result.append(entry)
    return result


TAG_PROPAGATION_SECONDS = 900
"""How long after its creation a certificate without job tags is looked for again: the Tagging API
may not show a new certificate's tags at once."""


class CertificateCatalog:
    """The account's certificates, cached for ``ttl_seconds``; each certificate's details cached longer.

    A certificate's job tags are set when it is created and its names never change, so once read they
    are kept for ``tag_ttl_seconds``. A first view costs the ListCertificates and ListDistributions
    pages, one GetResources page per hundred certificates made by jobs (never one call per
    certificate), and a DescribeCertificate for a certificate whose summary lacks some of its names.
    When the account has a multi-tenant distribution, the ListDistributionTenants pages too (never one
    call per certificate or per tenant). A later refresh costs the listings, plus the GetResources
    pages when a certificate is new.

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
        """ARN -> (when its tags were read, its job tags, its names once described)."""
        self._account: tuple[float, str] | None = None
        """(when it was read, the connection's 12-digit account number)."""

    def account(self) -> dict[str, str | None]:
        """``{"conn_id", "id"}``: the connection and its account number (STS GetCallerIdentity, read
        once per ``tag_ttl_seconds``). Raises when the connection's credentials do not work."""
        now = self.clock()
        if self._account is None or now - self._account[0] > self.tag_ttl_seconds:
            self._account = (now, connections.account_number(self.aws_conn_id))
        return {"conn_id": self.aws_conn_id, "id": self._account[1]}

    def clear(self) -> None:
        """Forget every cached listing and tag."""
        with self._lock:
            self._entries = None
            self._details.clear()
            self._account = None

    def certificates(self) -> list[dict[str, Any]]:
        """Every certificate entry (:func:`certificate_entry`), from the cache when it is fresh."""
        with self._lock:
            now = self.clock()
            if self._entries is None or now - self._loaded_at > self.ttl_seconds:
                self._entries = self._load(now)
                self._loaded_at = now
            return [dict(entry) for entry in self._entries]

    def _read_tags(self, summaries: list[dict[str, Any]], now: float) -> None:
        """Refresh the job tags of every certificate whose tags are unknown or old: one sweep for all."""
        stale = [
            summary
            for summary in summaries
            if (cached := self._details.get(summary["CertificateArn"])) is None
            or now - cached[0] > self.tag_ttl_seconds
        ]
        if not stale:
            return
        tags = acm.job_certificate_tags(acm.tagging_hook(self.aws_conn_id).conn)
        recent = time.time() - TAG_PROPAGATION_SECONDS
        for summary in stale:
            arn = summary["CertificateArn"]
            names = self._details.get(arn, (0.0, {}, None))[2]
            found = tags.get(arn, {})
            created = summary.get("CreatedAt") or summary.get("ImportedAt")
            young = created is not None and created.timestamp() > recent
            # A young certificate without tags may be one the Tagging API does not show yet.
            read_at = now if found or not young else -self.tag_ttl_seconds
            self._details[arn] = (read_at, found, names)

    def _load(self, now: float) -> list[dict[str, Any]]:
        account = self.account()
        acm_client = acm.acm_hook(self.aws_conn_id).conn
        cf_client = cloudfront.cloudfront_hook(self.aws_conn_id).conn
        distributions = list(cloudfront.list_distributions(cf_client))
        users = cloudfront.certificate_users(cf_client, distributions)
        tenant_users = tenants.tenants_by_certificate(
            [tenants.tenant_entry(tenant) for tenant in tenants.account_tenants(cf_client, distributions)]
        )
        summaries = list(acm.list_certificates(acm_client))
        self._read_tags(summaries, now)
        entries = []
        for summary in summaries:
            arn = summary["CertificateArn"]
            read_at, tags, names = self._details[arn]
            names = acm.summary_names(summary) or names
            if names is None:
                names = acm.certificate_names(
                    acm_client.describe_certificate(CertificateArn=arn)["Certificate"]
                )
                self._details[arn] = (read_at, tags, names)
            entries.append(
                certificate_entry(summary, names, tags, users.get(arn, []), account, tenant_users.get(arn))
            )
        # Deleted certificates must not stay in memory forever.
        for arn in set(self._details) - {summary["CertificateArn"] for summary in summaries}:
            del self._details[arn]
        entries.sort(key=sort_key)
        return entries


def sort_key(entry: dict[str, Any]) -> tuple[str, str, str]:
    """The order of the certificates table: by the first name without its wildcard, then by ARN (which
    holds the account, so that the accounts' certificates of one name stay together)."""
    return (entry["names"][0].lstrip("*."), entry["names"][0], entry["arn"])
