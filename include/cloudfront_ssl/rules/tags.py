"""The tag contract of the jobs: which tags a job puts on what it creates, and reading a job back.

Every certificate and distribution a job creates carries ``airflow:dag_id`` and ``airflow:run_id``
beside the user's own tags. That is how a retry finds what an earlier try made, how clean-up finds a
job's resources, and how the page and the inventory say which job made a certificate. Pure: no AWS,
no Airflow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from cloudfront_ssl.vocabulary import CREATE_DAG_ID, IMPORT_DAG_ID, JOB_DAG_IDS  # noqa: F401 (re-exported)

TAG_PREFIX = "airflow:"
"""Prefix of the tags the jobs set themselves; users may not set them."""
TAG_DAG_ID = f"{TAG_PREFIX}dag_id"
TAG_RUN_ID = f"{TAG_PREFIX}run_id"
JOB_TAG_COUNT = 2
"""How many tags a job adds to the user's own."""
MAX_TAGS = 50
"""ACM and CloudFront take at most 50 tags per resource."""
SITE_TAG = "cloudfront-ssl:site"
"""The tag that names the fleet site a resource belongs to (a job's ``site`` conf key); the fleet finds
its sites in the account by it."""
SITE_NAMES_TAG = "cloudfront-ssl:site-names"
"""On a site's distribution or tenant: a digest of the names a job of the package gave it
(:func:`site_names_digest`), so that names changed outside the package show as drift."""
SITE_CERTIFICATE_TAG = "cloudfront-ssl:site-certificate"
"""On a site's distribution or tenant: the ARN of the ACM certificate a job of the package gave it, so
that the fleet tells a certificate replaced outside the package without reading certificates' tags."""
SITE_TAG_COUNT = 3
"""How many tags a job with a ``site`` adds beside :data:`JOB_TAG_COUNT` (at most)."""


def site_names_digest(names: Iterable[str]) -> str:
    """A short digest of a set of names (order and repeats do not count): fits a tag value, which may
    hold neither ``*`` nor 256 characters of names."""
    text = "\n".join(sorted({name.lower() for name in names}))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def site_tags(
    site: str | None, names: Sequence[str] = (), certificate_arn: str | None = None
) -> list[dict[str, str]]:
    """The tags that mark a fleet site's resource: ``cloudfront-ssl:site``; with the names it serves,
    ``cloudfront-ssl:site-names``; with the ACM certificate it serves, ``cloudfront-ssl:site-certificate``.
    None without a site."""
    if not site:
        return []
    tags = [{"Key": SITE_TAG, "Value": site}]
    if names:
        tags.append({"Key": SITE_NAMES_TAG, "Value": site_names_digest(names)})
    if certificate_arn:
        tags.append({"Key": SITE_CERTIFICATE_TAG, "Value": certificate_arn})
    return tags


def job_tags(
    dag_id: str,
    run_id: str,
    user_tags: Mapping[str, str],
    site: str | None = None,
    site_names: Sequence[str] = (),
    site_certificate: str | None = None,
) -> list[dict[str, str]]:
    """The tags of everything a job creates: the user's, then ``airflow:dag_id`` and ``airflow:run_id``,
    then the site's tags when the job makes or changes a fleet site (:func:`site_tags`; ``site_names``
    and ``site_certificate`` only on what serves the names: a distribution or a tenant)."""
    tags = [{"Key": key, "Value": value} for key, value in user_tags.items()]
    tags += [{"Key": TAG_DAG_ID, "Value": dag_id}, {"Key": TAG_RUN_ID, "Value": run_id}]
    return tags + site_tags(site, site_names, site_certificate)


def tag_dict(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """AWS's ``[{"Key": ..., "Value": ...}]`` tag list as a dict."""
    return {tag["Key"]: tag.get("Value", "") for tag in tags or []}


def job_of(tags: Mapping[str, str]) -> dict[str, str] | None:
    """The job (``dag_id``, ``run_id``) that made a resource, from its tags; None when no job did."""
    dag_id, run_id = tags.get(TAG_DAG_ID), tags.get(TAG_RUN_ID)
    if dag_id and run_id:
        return {"dag_id": dag_id, "run_id": run_id}
    return None


def is_job_resource(tags: Mapping[str, str], dag_id: str, run_id: str) -> bool:
    """Whether a resource's tags say that the given job created it."""
    return tags.get(TAG_DAG_ID) == dag_id and tags.get(TAG_RUN_ID) == run_id


RESERVED_PREFIXES = ("aws:", TAG_PREFIX, "cloudfront-ssl:")
"""Tag key prefixes a user may not set: AWS's own, and the two the package's jobs set themselves."""


def is_reserved_key(key: str) -> bool:
    """Whether a tag key starts with a reserved prefix (:data:`RESERVED_PREFIXES`, any case)."""
    return key.lower().startswith(RESERVED_PREFIXES)
