"""Rotating an imported certificate: a new bundle imported into the same ARN, so that every distribution
using it serves the new certificate, unchanged.

ACM never renews an imported certificate. Re-importing into its ARN replaces it in place; before that
the new bundle must pass the import checks, cover every alias of every distribution that uses the
ARN, and not expire earlier than the certificate it replaces (unless the user allows it). The
certificate keeps all its tags (ACM keeps them; the emulator drops them on re-import, so they are
checked and put back).

``ssl_rotate_imported`` does this daily for every certificate tagged with the Secrets Manager secret
that holds its bundle (``cloudfront-ssl:bundle-secret``), when the secret holds a different
certificate. A secret that fails the checks changes nothing for its certificate and is reported;
the run fails at its end naming each such certificate, after rotating the others.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from cloudfront_ssl.aws import acm, cloudfront, notify
from cloudfront_ssl.aws.secrets import BUNDLE_SECRET_TAG, SecretReadError, read_bundle_secret
from cloudfront_ssl.errors import FinalError, JobInputError, is_not_found, is_request_refused
from cloudfront_ssl.rules import site_messages
from cloudfront_ssl.rules.config import ConfigError, RotateImportedConfig, parse_config
from cloudfront_ssl.rules.pem_checks import BundleError, CheckedBundle, check_bundle, check_rotation
from cloudfront_ssl.rules.tags import tag_dict

log = logging.getLogger(__name__)


class RotationRefusedError(FinalError):
    """One or more bundle secrets failed the checks: their certificates were left as they were."""


def served_aliases(cloudfront_client: Any, arn: str) -> dict[str, list[str]]:
    """``{distribution id: aliases}`` of every distribution that serves the certificate ``arn``."""
    return {
        summary["Id"]: cloudfront.summary_aliases(summary)
        for summary in cloudfront.list_distributions(cloudfront_client)
        if cloudfront.distribution_certificate(summary) == arn
    }


def imported_certificate(acm_client: Any, arn: str, field: str = "certificate_arn") -> dict[str, Any]:
    """The described certificate ``arn``; refused unless ACM holds it and it is an imported one."""
    try:
        certificate = acm_client.describe_certificate(CertificateArn=arn)["Certificate"]
    except Exception as error:
        if is_not_found(error) or is_request_refused(error):
            raise JobInputError(f"{field}: ACM (us-east-1) has no certificate {arn}") from None
        raise
    if certificate.get("Type") != "IMPORTED":
        raise JobInputError(
            f"{field}: {arn} is not an imported certificate ({acm.certificate_type(certificate)}); "
            "only an imported certificate can be rotated by importing a new bundle into it"
        )
    return certificate


def _not_after(certificate: dict[str, Any]) -> datetime.datetime | None:
    value = certificate.get("NotAfter")
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value, datetime.UTC)
    return None


def check_rotation_in_aws(
    aws_conn_id: str, arn: str, bundle: CheckedBundle, *, allow_earlier_expiry: bool
) -> dict[str, Any]:
    """Refuse a rotation of ``arn`` that would break a distribution using it, or shorten its life.

    Reads ACM and CloudFront, changes nothing. Returns the facts the job reports: ``certificate_arn``,
    ``served`` (distribution id -> aliases) and ``replaced_not_after``.
    """
    certificate = imported_certificate(acm.acm_hook(aws_conn_id).conn, arn)
    served = served_aliases(cloudfront.cloudfront_hook(aws_conn_id).conn, arn)
    current_not_after = _not_after(certificate)
    try:
        check_rotation(
            bundle,
            served=served,
            current_not_after=current_not_after,
            allow_earlier_expiry=allow_earlier_expiry,
        )
    except BundleError as error:
        raise JobInputError(f"{error.field}: check '{error.check}' failed: {error.message}") from None
    log.info(
        "Rotating %s: %d distribution(s) use it (%s); it expires %s, the new one %s",
        arn,
        len(served),
        ", ".join(served) or "none",
        current_not_after.isoformat() if current_not_after else "?",
        bundle.not_after.isoformat(),
    )
    return {
        "certificate_arn": arn,
        "served": served,
        "replaced_not_after": current_not_after.isoformat() if current_not_after else None,
    }


def reimport(
    acm_client: Any,
    arn: str,
    bundle: CheckedBundle,
    private_key: str,
    *,
    bundle_secret_arn: str | None = None,
) -> str:
    """Import a checked bundle into ``arn`` (ImportCertificate takes no tags then), and make sure the
    certificate still carries every tag it had before, plus the bundle secret's when there is one."""
    from cloudfront_ssl.steps.import_job import _import

    tags_before = acm.certificate_tags(acm_client, arn)
    wanted = dict(tags_before)
    if bundle_secret_arn:
        wanted[BUNDLE_SECRET_TAG] = bundle_secret_arn
    kwargs: dict[str, Any] = {
        "CertificateArn": arn,
        "Certificate": bundle.certificate_pem.encode(),
        "PrivateKey": private_key.encode(),
    }
    if bundle.chain_pem:
        kwargs["CertificateChain"] = bundle.chain_pem.encode()
    try:
        _import(acm_client, kwargs)
    finally:
        kwargs.clear()
    now = acm.certificate_tags(acm_client, arn)
    missing = [{"Key": key, "Value": value} for key, value in wanted.items() if now.get(key) != value]
    if missing:
        # ACM keeps a certificate's tags on re-import; the emulator does not. Put back what is gone.
        acm_client.add_tags_to_certificate(CertificateArn=arn, Tags=missing)
        log.info("Put back %d tag(s) of %s after the re-import", len(missing), arn)
    log.info("Re-imported %s: valid until %s", arn, bundle.not_after.isoformat())
    return arn


# --- ssl_rotate_imported ------------------------------------------------------------------------


def secret_certificates(aws_conn_id: str) -> dict[str, str]:
    """``{certificate ARN: bundle secret}`` for every certificate tagged with its bundle secret
    (one Resource Groups Tagging API sweep)."""
    tagging = acm.tagging_hook(aws_conn_id).conn
    found: dict[str, str] = {}
    pages = tagging.get_paginator("get_resources").paginate(
        ResourceTypeFilters=["acm:certificate"], TagFilters=[{"Key": BUNDLE_SECRET_TAG}]
    )
    for page in pages:
        for mapping in page.get("ResourceTagMappingList", []):
            secret = tag_dict(mapping.get("Tags")).get(BUNDLE_SECRET_TAG)
            if secret:
                found[mapping["ResourceARN"]] = secret
    return found


def rotate_one(aws_conn_id: str, arn: str, secret_id: str, *, dry_run: bool) -> dict[str, Any]:
    """Rotate one certificate from its secret when the secret holds a different certificate.

    Returns ``{"arn", "names", "secret", "action", ...}``: ``action`` is ``unchanged``, ``rotated``,
    ``would rotate`` or ``refused`` (with ``reason``: the failed check, never the key).
    """
    acm_client = acm.acm_hook(aws_conn_id).conn
    entry: dict[str, Any] = {"arn": arn, "secret": secret_id, "names": []}
    try:
        certificate = imported_certificate(acm_client, arn, field="certificate")
        entry["names"] = acm.certificate_names(certificate)
        secret = read_bundle_secret(aws_conn_id, secret_id, field_name="secret")
        try:
            bundle = check_bundle(
                secret.certificate, secret.private_key, secret.certificate_chain, for_cloudfront=True
            )
        except BundleError as error:
            raise JobInputError(f"check '{error.check}' failed: {error.message}") from None
        current_pem = acm_client.get_certificate(CertificateArn=arn)["Certificate"]
        if _fingerprint(current_pem) == bundle.fingerprint_sha256:
            entry["action"] = "unchanged"
            return entry
        facts = check_rotation_in_aws(aws_conn_id, arn, bundle, allow_earlier_expiry=False)
        entry["not_after"] = bundle.not_after.isoformat()
        entry["distributions"] = sorted(facts["served"])
        if dry_run:
            entry["action"] = "would rotate"
            return entry
        reimport(acm_client, arn, bundle, secret.private_key, bundle_secret_arn=secret.arn)
        entry["action"] = "rotated"
        entry["names"] = bundle.dns_names
    except (JobInputError, SecretReadError) as refusal:
        entry["action"] = "refused"
        entry["reason"] = str(refusal)
    return entry


def _fingerprint(certificate_pem: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    return x509.load_pem_x509_certificate(certificate_pem.encode()).fingerprint(hashes.SHA256()).hex()


def rotate_imported(params: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The ``ssl_rotate_imported`` task: rotate every certificate whose bundle secret changed.

    Tells the owners once (what was rotated, which secrets were refused) when anything happened.
    Returns the report ``{"dry_run", "certificates": [entry of :func:`rotate_one`]}``; the next step
    fails the run when a secret was refused.
    """
    from cloudfront_ssl.aws.connections import require_connection

    try:
        config = parse_config(RotateImportedConfig, params)
    except ConfigError as error:
        raise JobInputError(str(error)) from None
    require_connection(config.aws_conn_id)
    found = secret_certificates(config.aws_conn_id)
    log.info("%d certificate(s) are tagged with a bundle secret", len(found))
    entries = [
        rotate_one(config.aws_conn_id, arn, secret, dry_run=config.dry_run)
        for arn, secret in sorted(found.items())
    ]
    for entry in entries:
        log.info(
            "%s (%s): %s%s",
            entry["arn"],
            entry["secret"],
            entry["action"],
            f": {entry['reason']}" if entry.get("reason") else "",
        )
    rotated = [entry for entry in entries if entry["action"] == "rotated"]
    refused = [entry for entry in entries if entry["action"] == "refused"]
    if (rotated or refused) and not config.dry_run:
        subject, body = site_messages.rotation_message(rotated, refused, run_id)
        notify.publish(config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn), subject, body)
    return {"dry_run": config.dry_run, "certificates": entries}


def fail_on_refusals(report: dict[str, Any]) -> None:
    """End the run failed, naming each certificate whose secret was refused (after the others rotated)."""
    refused = [entry for entry in report.get("certificates") or [] if entry.get("action") == "refused"]
    if refused:
        raise RotationRefusedError(
            f"{len(refused)} certificate(s) not rotated, their secrets failed the checks: "
            + "; ".join(f"{entry['arn']} ({entry['secret']}): {entry['reason']}" for entry in refused)
        )
