"""Amazon CloudFront: reading the source distribution, checking aliases, creating a job's distributions,
and changing a live distribution's aliases and certificate."""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cloudfront_ssl.errors import (
    FinalError,
    aws_error_code,
    aws_error_message,
    is_access_refused,
    is_already_made,
    is_not_found,
    is_refused_by_cloudfront,
    is_stale_version,
)
from cloudfront_ssl.rules.tags import is_job_resource, job_tags, tag_dict

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

log = logging.getLogger(__name__)

MIN_PROTOCOL_VERSION = "TLSv1.2_2021"
MAX_ALIASES = 100


class DistributionError(FinalError):
    """A distribution cannot be made as asked (missing source, alias taken); retrying will not help."""


def cloudfront_hook(aws_conn_id: str | None) -> AwsBaseHook:
    """The provider's hook for CloudFront (a global service, addressed through us-east-1), paced by
    :mod:`cloudfront_ssl.aws.pacing`."""
    from cloudfront_ssl.aws.pacing import CloudFrontHook

    return CloudFrontHook(aws_conn_id=aws_conn_id)


def get_source_config(client: Any, distribution_id: str) -> dict[str, Any]:
    """The current ``DistributionConfig`` of the source distribution; a clear error if it is missing."""
    from botocore.exceptions import ClientError

    try:
        return client.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    except ClientError as error:
        if is_not_found(error) or is_access_refused(error):
            raise DistributionError(
                f"source_distribution_id: distribution {distribution_id} does not exist "
                "(or this connection may not read it)"
            ) from None
        raise


def list_distributions(client: Any) -> Iterator[dict[str, Any]]:
    """Every distribution summary of the account, following pagination."""
    for page in client.get_paginator("list_distributions").paginate():
        yield from page.get("DistributionList", {}).get("Items", []) or []


def summary_aliases(summary: dict[str, Any]) -> list[str]:
    """The aliases of a distribution summary or config, lower-cased."""
    return [alias.lower() for alias in (summary.get("Aliases", {}).get("Items") or [])]


def distributions_holding(client: Any, aliases: set[str]) -> Iterator[tuple[dict[str, Any], set[str]]]:
    """Each distribution of the account that holds any of ``aliases``, with the aliases it holds."""
    for summary in list_distributions(client):
        held = aliases.intersection(summary_aliases(summary))
        if held:
            yield summary, held


def distribution_certificate(summary: dict[str, Any]) -> str | None:
    """The ACM certificate ARN a distribution summary or config serves, if any."""
    return (summary.get("ViewerCertificate") or {}).get("ACMCertificateArn")


def certificate_users(client: Any, summaries: list[dict[str, Any]] | None = None) -> dict[str, list[str]]:
    """``{certificate ARN: [distribution ids]}`` for every distribution of the account (paginated).

    ``summaries``: the account's distribution summaries when the caller has listed them already.
    """
    users: dict[str, list[str]] = {}
    for summary in list_distributions(client) if summaries is None else summaries:
        arn = distribution_certificate(summary)
        if arn:
            users.setdefault(arn, []).append(summary["Id"])
    return users


def job_distributions(client: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """Every distribution of one job, found by its tags: ``id``, ``arn``, ``aliases``,
    ``certificate_arn``, ``enabled``.

    Reads the tags of every distribution of the account: for clean-up, which must find what a job
    left whatever its steps recorded.
    """
    found = []
    for summary in list_distributions(client):
        if is_job_resource(distribution_tags(client, summary["ARN"]), dag_id, run_id):
            found.append(
                {
                    "id": summary["Id"],
                    "arn": summary["ARN"],
                    "aliases": summary_aliases(summary),
                    "certificate_arn": distribution_certificate(summary),
                    "enabled": bool(summary.get("Enabled")),
                }
            )
    return found


def name_holders(client: Any, names: set[str], dag_id: str, run_id: str | None) -> list[tuple[str, str]]:
    """``(name, holder)`` for every name a distribution (``"distribution ID"``) or a distribution tenant
    (``"tenant ID (its name)"``) already serves, unless this job made it; sorted by name.

    CloudFront serves a name from one distribution or tenant only. A distribution or tenant of this
    very job (a re-run) is not a holder. Pages through the account's distributions once; the tenants
    are listed only when one of those is a multi-tenant distribution (a tenant always belongs to one).
    """
    from cloudfront_ssl.aws import tenants

    wanted = {name.lower() for name in names}
    held: list[tuple[str, str]] = []
    has_tenants = False
    for summary in list_distributions(client):
        has_tenants = has_tenants or tenants.is_multi_tenant(summary)
        taken = wanted.intersection(summary_aliases(summary))
        if not taken:
            continue
        if run_id and is_job_resource(distribution_tags(client, summary["ARN"]), dag_id, run_id):
            continue
        held += [(name, f"distribution {summary['Id']}") for name in taken]
    if has_tenants:
        held += tenants.domain_holders(client, wanted, dag_id, run_id)
    return sorted(held)


def name_taken_message(name: str, holder: str) -> str:
    """Why a name that ``holder`` (from :func:`name_holders`) serves is refused."""
    if holder.startswith("distribution "):
        return (
            f"{name} is already an alias of {holder}; CloudFront allows an alias on one distribution "
            "only: remove the name from that distribution or from this job"
        )
    return (
        f"{name} is already a domain of {holder}; CloudFront serves a name from one tenant or "
        "distribution only: remove it there or from this job"
    )


def caller_reference(dag_id: str, run_id: str, item: int) -> str:
    """A CallerReference unique to one distribution of one job (CloudFront refuses a reused one)."""
    digest = hashlib.sha256(f"{dag_id}\n{run_id}\n{item}".encode()).hexdigest()[:40]
    return f"airflow-ssl-{digest}"


def clone_config(
    source: dict[str, Any], *, aliases: list[str], certificate_arn: str, caller_ref: str, comment: str
) -> dict[str, Any]:
    """A new distribution's config: the source's, with new aliases, certificate and caller reference.

    The viewer certificate becomes the ACM certificate with SNI and TLS 1.2 (2021) at least; the
    deprecated certificate fields and the continuous-deployment links are dropped; everything else is
    copied as it is.
    """
    if len(aliases) > MAX_ALIASES:
        raise DistributionError(f"a distribution takes at most {MAX_ALIASES} aliases, got {len(aliases)}")
    config = copy.deepcopy(source)
    config["CallerReference"] = caller_ref
    config["Aliases"] = {"Quantity": len(aliases), "Items": list(aliases)}
    config["Comment"] = comment[:128]
    config["ViewerCertificate"] = acm_viewer_certificate(config.get("ViewerCertificate", {}), certificate_arn)
    # A copy is a primary distribution of its own, never a staging one or linked to the source's policy.
    config["Staging"] = False
    if "ContinuousDeploymentPolicyId" in config:
        config["ContinuousDeploymentPolicyId"] = ""
    return config


def acm_viewer_certificate(
    viewer: dict[str, Any], certificate_arn: str, *, keep_protocol: bool = False
) -> dict[str, Any]:
    """A ``ViewerCertificate`` that serves the ACM certificate with SNI and TLS 1.2 (2021) at least.

    The deprecated certificate fields are dropped. With ``keep_protocol`` (a live distribution that
    already served a certificate of its own), its SSL support method and minimum protocol version stay
    as its owner set them; a distribution on CloudFront's default certificate gets the defaults above.
    """
    kept = {
        key: value
        for key, value in viewer.items()
        if key not in ("Certificate", "CertificateSource", "IAMCertificateId", "ACMCertificateArn")
    }
    own_certificate = bool(viewer.get("ACMCertificateArn") or viewer.get("IAMCertificateId"))
    kept.update({"CloudFrontDefaultCertificate": False, "ACMCertificateArn": certificate_arn})
    if not (keep_protocol and own_certificate and viewer.get("SSLSupportMethod")):
        kept.update({"SSLSupportMethod": "sni-only", "MinimumProtocolVersion": MIN_PROTOCOL_VERSION})
    return kept


UPDATE_ATTEMPTS = 5
"""How often a change is read again and sent again when someone else changed the distribution between."""


def read_distribution(client: Any, distribution_id: str, field: str = "distribution_id") -> dict[str, Any]:
    """GetDistribution's ``Distribution`` (config, domain name, status) with its ``ETag``.

    A distribution that does not exist (or that the connection may not read) is a
    :class:`DistributionError` naming ``field``.
    """
    from botocore.exceptions import ClientError

    try:
        response = client.get_distribution(Id=distribution_id)
    except ClientError as error:
        if is_not_found(error) or is_access_refused(error):
            raise DistributionError(
                f"{field}: distribution {distribution_id} does not exist (or this connection may not read it)"
            ) from None
        raise
    return {**response["Distribution"], "ETag": response["ETag"]}


def set_aliases_and_certificate(
    client: Any, distribution_id: str, *, aliases: list[str], certificate_arn: str
) -> dict[str, Any]:
    """Give a live distribution new aliases and a new ACM certificate in one ``UpdateDistribution``.

    The change is made on the config just read, sent with its ``ETag`` as ``IfMatch``: every other
    setting, including one that someone changed a moment ago, is kept. When CloudFront answers
    ``PreconditionFailed`` (the distribution changed between the read and the write) the config is
    read again and the change sent again. Aliases and certificate change together, so no alias is ever
    served by a certificate that does not cover it (the caller checked that the new one covers them).
    Idempotent: a distribution that already has both is not changed.

    Returns the summary entry of the distribution (:func:`distribution_result`) plus ``changed``,
    ``ipv6`` and ``etag``.
    """
    from botocore.exceptions import ClientError

    if len(aliases) > MAX_ALIASES:
        raise DistributionError(f"a distribution takes at most {MAX_ALIASES} aliases, got {len(aliases)}")
    for attempt in range(1, UPDATE_ATTEMPTS + 1):
        response = client.get_distribution_config(Id=distribution_id)
        config, etag = response["DistributionConfig"], response["ETag"]
        current = [alias.lower() for alias in (config.get("Aliases", {}).get("Items") or [])]
        if sorted(current) == sorted(aliases) and distribution_certificate(config) == certificate_arn:
            distribution = client.get_distribution(Id=distribution_id)
            return {
                **distribution_result(distribution["Distribution"]),
                "changed": False,
                "ipv6": bool(config.get("IsIPV6Enabled")),
                "etag": distribution["ETag"],
            }
        config["Aliases"] = {"Quantity": len(aliases), "Items": list(aliases)}
        config["ViewerCertificate"] = acm_viewer_certificate(
            config.get("ViewerCertificate", {}), certificate_arn, keep_protocol=True
        )
        try:
            updated = client.update_distribution(Id=distribution_id, IfMatch=etag, DistributionConfig=config)
        except ClientError as error:
            code = aws_error_code(error)
            if is_stale_version(error) and attempt < UPDATE_ATTEMPTS:
                log.info(
                    "Distribution %s changed since it was read (try %d of %d); reading it again",
                    distribution_id,
                    attempt,
                    UPDATE_ATTEMPTS,
                )
                continue
            if is_refused_by_cloudfront(error) or is_stale_version(error) or is_not_found(error):
                raise DistributionError(
                    f"distribution {distribution_id}: CloudFront refused the change: {code}: "
                    f"{aws_error_message(error)}"
                ) from None
            raise
        return {
            **distribution_result(updated["Distribution"]),
            "changed": True,
            "ipv6": bool(config.get("IsIPV6Enabled")),
            "etag": updated["ETag"],
        }
    raise AssertionError("unreachable")


def distribution_tags(client: Any, arn: str) -> dict[str, str]:
    """A distribution's tags as a dict."""
    return tag_dict(client.list_tags_for_resource(Resource=arn).get("Tags", {}).get("Items", []))


def distribution_result(distribution: dict[str, Any]) -> dict[str, Any]:
    """The job summary's entry for a distribution (from GetDistribution or a create)."""
    config = distribution.get("DistributionConfig", distribution)
    return {
        "id": distribution["Id"],
        "arn": distribution["ARN"],
        "domain_name": distribution["DomainName"],
        "aliases": list(config.get("Aliases", {}).get("Items") or []),
        "certificate_arn": config.get("ViewerCertificate", {}).get("ACMCertificateArn"),
    }


def find_job_distribution(client: Any, aliases: list[str], dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The distribution of this job that holds ``aliases[0]`` (an earlier try's), or None.

    Raises :class:`DistributionError` naming the distribution when someone else's holds any alias.
    Pages through the account's distributions: only a retry or a lost answer needs it.
    """
    for summary, held in distributions_holding(client, {alias.lower() for alias in aliases}):
        if is_job_resource(distribution_tags(client, summary["ARN"]), dag_id, run_id):
            return distribution_result(client.get_distribution(Id=summary["Id"])["Distribution"])
        raise DistributionError(
            f"{', '.join(sorted(held))}: already an alias of distribution {summary['Id']}; "
            "CloudFront allows an alias on one distribution only"
        )
    return None


def create_job_distribution(
    client: Any,
    source: dict[str, Any],
    *,
    aliases: list[str],
    certificate_arn: str,
    dag_id: str,
    run_id: str,
    item: int,
    tags: list[dict[str, str]],
    first_try: bool = False,
) -> dict[str, Any]:
    """Create one distribution of a job, or return the one an earlier try of the same task created.

    On a first try nothing of this task can exist yet, so the distribution is created at once; a
    retry first looks for the earlier try's distribution by alias and tags. When CloudFront answers
    ``DistributionAlreadyExists`` (the caller reference was used: an answer lost on the way back,
    sent again by botocore), the distribution that request made is looked up the same way.
    """
    from botocore.exceptions import ClientError

    where = f"certificates[{item}] ({', '.join(aliases)})"
    if not first_try:
        try:
            existing = find_job_distribution(client, aliases, dag_id, run_id)
        except DistributionError as error:
            raise DistributionError(f"{where}: {error}") from None
        if existing:
            return existing

    config = clone_config(
        source,
        aliases=aliases,
        certificate_arn=certificate_arn,
        caller_ref=caller_reference(dag_id, run_id, item),
        comment=f"{aliases[0]} ({dag_id} {run_id})",
    )
    try:
        response = client.create_distribution_with_tags(
            DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": tags}}
        )
    except ClientError as error:
        code = aws_error_code(error)
        if is_already_made(error):
            existing = find_job_distribution(client, aliases, dag_id, run_id)
            if existing:
                return existing
        if is_refused_by_cloudfront(error) or is_already_made(error):
            raise DistributionError(
                f"{where}: CloudFront refused the distribution: {code}: {aws_error_message(error)}"
            ) from None
        raise
    return distribution_result(response["Distribution"])


def create_distribution_for_job(
    aws_conn_id: str,
    source_distribution_id: str,
    group: dict[str, Any],
    *,
    dag_id: str,
    run_id: str,
    user_tags: dict[str, str],
    first_try: bool = False,
    site: str | None = None,
) -> dict[str, Any]:
    """Create one distribution of a job from the source's current config; the job steps' entry point.

    ``group`` holds ``item``, ``aliases`` and ``certificate_arn``. Idempotent across retries (see
    :func:`create_job_distribution`).
    """
    client = cloudfront_hook(aws_conn_id).conn
    source = get_source_config(client, source_distribution_id)
    return create_job_distribution(
        client,
        source,
        aliases=group["aliases"],
        certificate_arn=group["certificate_arn"],
        dag_id=dag_id,
        run_id=run_id,
        item=group["item"],
        tags=job_tags(dag_id, run_id, user_tags, site, group["aliases"], group["certificate_arn"]),
        first_try=first_try,
    )
