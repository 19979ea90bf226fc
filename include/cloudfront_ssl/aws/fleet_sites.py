"""The fleet's reads: the fleet file (a path or ``s3://``), and the account's sites, in bulk.

A site of the account is a distribution or a distribution tenant tagged ``cloudfront-ssl:site``
(:data:`cloudfront_ssl.rules.tags.SITE_TAG`). :func:`read_account_sites` reads the whole account with a
few paginated calls, whatever the number of sites:

- the Resource Groups Tagging API's ``GetResources`` with the tag as filter, for CloudFront's resources
  (their tags, 100 resources a page);
- CloudFront's ``ListDistributions`` (aliases and served certificate, up to 1,000 a page) and
  ``ListDistributionTenants`` (domains and certificate);

and never one call per site. A site's own tags say which certificate and which names a job of the
package gave it (``cloudfront-ssl:site-certificate``, ``cloudfront-ssl:site-names``), so no
certificate's tags need reading to tell drift. The few exceptions each read one resource's tags, and
only where the bulk answer is silent: a served certificate that is not the one the site's tag names
(its own tags say whether it is the site's: one ``ListTagsForCertificate``, for a site that drifted);
a distribution that serves a name of a site the Tagging API does not list yet (``wanted``: the Tagging
API is eventually consistent); and tenants, when the Tagging API lists no tenant at all (an endpoint
whose Tagging API does not know CloudFront SaaS Manager). A site whose resource was deleted outside is
absent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cloudfront_ssl.aws import acm, cloudfront, tenants
from cloudfront_ssl.errors import JobInputError, is_access_refused, is_not_found
from cloudfront_ssl.rules.fleet import MAX_FILE_BYTES, AccountSite, FleetSite, decode_fleet_file
from cloudfront_ssl.rules.tags import (
    SITE_CERTIFICATE_TAG,
    SITE_NAMES_TAG,
    SITE_TAG,
    job_of,
    site_names_digest,
    tag_dict,
)

log = logging.getLogger(__name__)

SITE_RESOURCE_TYPES = ["cloudfront"]
"""What GetResources is asked about: every CloudFront resource type (distributions, and tenants where
the Tagging API knows them)."""
TAGGING_PAGE_SIZE = 100
"""GetResources' largest page of resources."""
DISTRIBUTIONS_PAGE_SIZE = 1000
"""ListDistributions' largest page."""


# --- the file -----------------------------------------------------------------------------------


def read_fleet_file(location: str, aws_conn_id: str | None) -> str:
    """The fleet file's text, from a local path or ``s3://bucket/key`` (through the Amazon provider's
    ``S3Hook`` on ``aws_conn_id``).

    A file that is missing, unreadable, too large or not UTF-8 raises :class:`JobInputError` naming it
    (:class:`cloudfront_ssl.rules.fleet.FleetFileError` for the last two).
    """
    location = location.strip()
    if not location:
        raise JobInputError("[ssl_certificates] fleet_file is not set: give a path or an s3://bucket/key URL")
    if location.startswith("s3://"):
        return decode_fleet_file(_read_s3(location, aws_conn_id), location)
    path = Path(location).expanduser()
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise JobInputError(f"fleet file {location}: no such file") from None
    except IsADirectoryError:
        raise JobInputError(f"fleet file {location} is a directory, not a file") from None
    except OSError as error:
        raise JobInputError(f"fleet file {location} cannot be read: {error.strerror or error}") from None
    return decode_fleet_file(data, location)


def _read_s3(location: str, aws_conn_id: str | None) -> bytes:
    """The bytes of ``s3://bucket/key`` (at most one more than the file's limit)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from botocore.exceptions import ClientError

    bucket, _, key = location.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise JobInputError(f"fleet file {location}: an S3 location is s3://BUCKET/KEY")
    hook = S3Hook(aws_conn_id=aws_conn_id)
    try:
        body = hook.get_conn().get_object(Bucket=bucket, Key=key)["Body"]
        return bytes(body.read(MAX_FILE_BYTES + 1))
    except ClientError as error:
        if is_not_found(error):
            raise JobInputError(
                f"fleet file {location}: bucket {bucket} has no object {key} (or there is no bucket {bucket})"
            ) from None
        if is_access_refused(error):
            raise JobInputError(
                f"fleet file {location}: the connection may not read it (s3:GetObject on the bucket {bucket})"
            ) from None
        raise


# --- the account --------------------------------------------------------------------------------


def tagged_site_resources(tagging_client: Any) -> dict[str, dict[str, str]]:
    """``{ARN: tags}`` of every CloudFront resource that carries the site tag (GetResources, 100 a page)."""
    found: dict[str, dict[str, str]] = {}
    pages = tagging_client.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": SITE_TAG}],
        ResourceTypeFilters=SITE_RESOURCE_TYPES,
        ResourcesPerPage=TAGGING_PAGE_SIZE,
    )
    for page in pages:
        for mapping in page.get("ResourceTagMappingList", []):
            found[mapping["ResourceARN"]] = tag_dict(mapping.get("Tags"))
    return found


def _kind(arn: str) -> str:
    """``distribution``, ``tenant``, ``certificate`` or ``other``, from an ARN."""
    if ":distribution-tenant/" in arn:
        return "tenant"
    if ":distribution/" in arn:
        return "distribution"
    if ":certificate/" in arn:
        return "certificate"
    return "other"


def _all_distributions(client: Any) -> list[dict[str, Any]]:
    """Every distribution summary of the account, 1,000 a page."""
    found: list[dict[str, Any]] = []
    pages = client.get_paginator("list_distributions").paginate(
        PaginationConfig={"PageSize": DISTRIBUTIONS_PAGE_SIZE}
    )
    for page in pages:
        found += page.get("DistributionList", {}).get("Items") or []
    return found


class _CertificateTags:
    """The tags of served certificates, read once each, only when the site's own tags do not settle it."""

    def __init__(self, aws_conn_id: str | None) -> None:
        self.aws_conn_id = aws_conn_id
        self.known: dict[str, dict[str, str]] = {}
        self._client: Any = None

    def of(self, arn: str) -> dict[str, str]:
        if arn not in self.known:
            if self._client is None:
                self._client = acm.acm_hook(self.aws_conn_id).conn
            try:
                self.known[arn] = acm.certificate_tags(self._client, arn)
            except Exception as failure:
                if not is_not_found(failure) and not is_access_refused(failure):
                    raise
                self.known[arn] = {}
        return self.known[arn]


def _site(
    site: str,
    hosting: str,
    resource_id: str,
    arn: str,
    names: list[str],
    certificate_arn: str | None,
    tags: dict[str, str],
    certificates: _CertificateTags,
    *,
    managed: bool = False,
) -> AccountSite:
    own = bool(certificate_arn) and (
        tags.get(SITE_CERTIFICATE_TAG) == certificate_arn
        or certificates.of(str(certificate_arn)).get(SITE_TAG) == site
    )
    digest = tags.get(SITE_NAMES_TAG)
    return AccountSite(
        site=site,
        hosting="tenant" if hosting == "tenant" else "distribution",
        resource_id=resource_id,
        resource_arn=arn,
        names=tuple(names),
        certificate_arn=certificate_arn,
        site_certificate=own,
        job=job_of(tags),
        names_changed=bool(digest) and digest != site_names_digest(names),
        managed_certificate=managed,
    )


def read_account_sites(aws_conn_id: str | None, wanted: Iterable[FleetSite] = ()) -> dict[str, AccountSite]:
    """Every site of the account by id: its distribution or tenant tagged ``cloudfront-ssl:site``, what
    it serves and whether its certificate is the site's own. Bulk reads only (see the module's docstring).

    :param wanted: the file's sites, when known: a site the Tagging API does not list yet (it is
        eventually consistent) is looked for among the distributions and tenants that serve its names,
        so that a site made minutes ago is not planned again.

    Where two resources carry one site id, the enabled, most recently changed one is the site.
    """
    from cloudfront_ssl.aws.pacing import TaggingHook

    tagging = TaggingHook(aws_conn_id=aws_conn_id).conn
    client = cloudfront.cloudfront_hook(aws_conn_id).conn
    tagged = tagged_site_resources(tagging)
    certificates = _CertificateTags(aws_conn_id)
    wanted_by_name = {name: site.site for site in wanted for name in site.names}
    candidates: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []

    for summary in _all_distributions(client):
        tags = tagged.get(summary["ARN"])
        if tags is None and wanted_by_name:
            aliases = cloudfront.summary_aliases(summary)
            if any(alias in wanted_by_name for alias in aliases):
                tags = cloudfront.distribution_tags(client, summary["ARN"])  # too new for the Tagging API?
        if tags and tags.get(SITE_TAG):
            candidates.append(("distribution", tags[SITE_TAG], summary, tags))

    tenant_arns_known = any(_kind(arn) == "tenant" for arn in tagged)
    for tenant in tenants.tenants_if_served(client):
        tags = tagged.get(tenant["Arn"])
        if tags is None and (
            not tenant_arns_known
            or any(domain in wanted_by_name for domain in tenants.tenant_domains(tenant))
        ):
            tags = tenants.tenant_tags(client, tenant["Arn"])
        if tags and tags.get(SITE_TAG):
            candidates.append(("tenant", tags[SITE_TAG], tenant, tags))

    # The site of an id: an enabled resource first, then the most recently changed.
    candidates.sort(
        key=lambda c: (bool(c[2].get("Enabled", True)), str(c[2].get("LastModifiedTime") or "")), reverse=True
    )
    sites: dict[str, AccountSite] = {}
    for hosting, site_id, resource, tags in candidates:
        if site_id in sites:
            log.warning(
                "Site %s is carried by %s %s too; %s is taken as the site",
                site_id,
                hosting,
                resource["Id"],
                sites[site_id].resource_id,
            )
            continue
        if hosting == "distribution":
            sites[site_id] = _site(
                site_id,
                hosting,
                resource["Id"],
                resource["ARN"],
                cloudfront.summary_aliases(resource),
                cloudfront.distribution_certificate(resource),
                tags,
                certificates,
            )
        else:
            certificate_arn = tenants.tenant_certificate(resource)
            sites[site_id] = _site(
                site_id,
                hosting,
                resource["Id"],
                resource["Arn"],
                tenants.tenant_domains(resource),
                certificate_arn,
                tags,
                certificates,
                managed=certificate_arn is None,
            )
    return sites
