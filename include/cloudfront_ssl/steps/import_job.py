"""The steps of the import job (``ssl_import_certificate``), as plain functions the DAG's tasks call.

The private key is read where it is needed (the conf, or Secrets Manager), masked in Airflow's logs
the moment it is read, and never returned, logged, published or put in an exception message.
"""

from __future__ import annotations

import logging
from typing import Any

from cloudfront_ssl.aws import acm, cloudfront, notify
from cloudfront_ssl.aws.connections import require_connection
from cloudfront_ssl.aws.secrets import (
    BUNDLE_SECRET_TAG,
    SecretReadError,
    mask_private_key,
    read_bundle_secret,
)
from cloudfront_ssl.errors import (
    FinalError,
    JobInputError,
    aws_error_code,
    aws_error_message,
    is_permission_denied,
    is_worth_sending_again,
    refused,
)
from cloudfront_ssl.rules import messages
from cloudfront_ssl.rules.config import IMPORT_TAG_NAME, ConfigError, ImportJobConfig, parse_config
from cloudfront_ssl.rules.names import InvalidNameError, normalize_name
from cloudfront_ssl.rules.pem_checks import BundleError, CheckedBundle, check_bundle
from cloudfront_ssl.rules.tags import job_tags
from cloudfront_ssl.steps.claims import TaskClaims

log = logging.getLogger(__name__)


__all__ = ["SecretReadError", "mask_private_key"]  # kept importable from here, where they began


def read_private_key(config: ImportJobConfig) -> str:
    """The PEM private key, from the conf or from Secrets Manager; masked in logs before it is returned.

    A secret's value is either the PEM text itself or a JSON object with a ``private_key`` field.
    """
    if config.private_key is not None:
        mask_private_key(config.private_key)
        return config.private_key
    secret_id = config.private_key_secret_id
    assert secret_id is not None  # the model requires one of the two
    from botocore.exceptions import ClientError

    from cloudfront_ssl.aws.pacing import SecretsManagerHook

    # A secret ARN names its region; a plain name lives in the connection's region.
    region = secret_id.split(":")[3] if secret_id.startswith("arn:") else None
    hook = SecretsManagerHook(aws_conn_id=config.aws_conn_id, region_name=region)
    try:
        value = hook.get_secret(secret_id)
    except ClientError as error:
        code = aws_error_code(error)
        raise SecretReadError(
            f"private_key_secret_id: cannot read secret {secret_id!r} from Secrets Manager ({code})"
        ) from None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    mask_private_key(value)
    if value.lstrip().startswith("{"):
        import json

        try:
            value = json.loads(value)["private_key"]
        except (ValueError, KeyError, TypeError):
            raise SecretReadError(
                f"private_key_secret_id: secret {secret_id!r} is JSON without a 'private_key' field; "
                'store the PEM text itself or {"private_key": "-----BEGIN ..."}'
            ) from None
        mask_private_key(value)
    return value


def _config(params: dict[str, Any]) -> ImportJobConfig:
    try:
        return parse_config(ImportJobConfig, params)
    except ConfigError as error:
        raise JobInputError(str(error)) from None


def _normalized_aliases(config: ImportJobConfig) -> list[str] | None:
    """The conf's aliases, normalised like every domain name of a job, or None."""
    if not config.aliases:
        return None
    aliases: list[str] = []
    for index, alias in enumerate(config.aliases):
        try:
            name = normalize_name(alias)
        except InvalidNameError as error:
            raise JobInputError(f"aliases[{index}]: {error}") from None
        if name not in aliases:
            aliases.append(name)
    return aliases


def read_bundle(config: ImportJobConfig) -> tuple[str, str, str | None, str | None]:
    """The bundle to import: certificate body, private key (masked in logs), chain, and the ARN of the
    bundle secret it came from (None when it came from the conf)."""
    if config.bundle_secret_id is not None:
        secret = read_bundle_secret(config.aws_conn_id, config.bundle_secret_id)
        return secret.certificate, secret.private_key, secret.certificate_chain, secret.arn
    assert config.certificate_body is not None  # the model requires it without bundle_secret_id
    return config.certificate_body, read_private_key(config), config.certificate_chain, None


def checked_bundle(
    config: ImportJobConfig, private_key: str, body: str | None = None, chain: str | None = None
) -> CheckedBundle:
    """Run the local checks of the bundle (pem_checks); a refusal names the field and the check.

    ``body`` and ``chain`` default to the conf's (a bundle secret gives its own).
    """
    if body is None:
        body, chain = config.certificate_body, config.certificate_chain
    assert body is not None  # the model requires a body unless a bundle secret gives one
    try:
        return check_bundle(
            body,
            private_key,
            chain,
            for_cloudfront=config.create_distributions,
            aliases=_normalized_aliases(config),
        )
    except BundleError as error:
        raise JobInputError(f"{error.field}: check '{error.check}' failed: {error.message}") from None


def _distribution_aliases(config: ImportJobConfig, bundle: CheckedBundle) -> list[str]:
    """The aliases of the certificate's distribution: the conf's, or the certificate's own DNS names,
    which go through the same name rules as names typed in a conf."""
    aliases = _normalized_aliases(config)
    if aliases:
        return aliases
    if not bundle.dns_names:
        raise JobInputError(
            "certificate_body: the certificate names no DNS name, so it cannot serve a distribution; "
            "give aliases the certificate covers, or import it without create_distributions"
        )
    names: list[str] = []
    for name in bundle.dns_names:
        try:
            normalized = normalize_name(name)
        except InvalidNameError as error:
            raise JobInputError(
                f"certificate_body: the certificate's name {error}; a distribution alias must be a public "
                "domain name (give aliases to choose them)"
            ) from None
        if normalized not in names:
            names.append(normalized)
    return names


def _claim_aliases(claims: TaskClaims | None, aliases: list[str]) -> None:
    """Claim the distribution's aliases; refuse those another running job claims."""
    if claims is None:
        return
    claims.publish(aliases)
    held = claims.held(aliases)
    if held:
        refused = "; ".join(
            f"{name} is claimed by {holder}, which is still running" for name, holder in sorted(held.items())
        )
        raise JobInputError(f"aliases: {refused}; wait until it ends")


def check(params: dict[str, Any], dag_id: str, run_id: str, ti: Any = None) -> dict[str, Any]:
    """Check the conf and the bundle locally, and (for a distribution) the source and the aliases.

    Changes nothing in AWS. Returns what the later steps need, never the key: the certificate's
    facts and the distribution's aliases. With ``ti`` (the running task instance) the aliases are
    claimed so that no other running job works on them (:mod:`cloudfront_ssl.steps.claims`).
    """
    claims = TaskClaims(ti, dag_id, run_id) if ti is not None else None
    if claims is not None:
        # First thing: other checks wait for this job's names instead of missing them.
        claims.publish(None)
    if claims is None:
        return _checked(params, dag_id, run_id, claims)
    with claims.withdrawn_on_failure():  # a refused job holds no claim; a wait for earlier jobs keeps it
        return _checked(params, dag_id, run_id, claims)


def _checked(params: dict[str, Any], dag_id: str, run_id: str, claims: TaskClaims | None) -> dict[str, Any]:
    """The import job's check, its claim already published as "names not known yet"."""
    config = _config(params)
    require_connection(config.aws_conn_id)
    body, private_key, chain, secret_arn = read_bundle(config)
    bundle = checked_bundle(config, private_key, body, chain)
    rotation_facts: dict[str, Any] = {}
    if config.certificate_arn is not None:
        from cloudfront_ssl.steps import rotation

        rotation_facts = rotation.check_rotation_in_aws(
            config.aws_conn_id,
            config.certificate_arn,
            bundle,
            allow_earlier_expiry=config.allow_earlier_expiry,
        )
    for warning in bundle.warnings:
        log.warning("%s", warning)
    problem = notify.topic_problem(config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn))
    if problem:
        raise JobInputError(f"notification_topic_arn: {problem}")
    aliases: list[str] = []
    if config.create_distributions:
        aliases = _distribution_aliases(config, bundle)
        if len(aliases) > cloudfront.MAX_ALIASES:
            raise JobInputError(f"aliases: a distribution takes at most {cloudfront.MAX_ALIASES} aliases")
        _claim_aliases(claims, aliases)
        _check_source_and_aliases(config, aliases, dag_id, run_id)
    elif claims is not None:
        claims.publish([])  # no distribution: the job claims no name
    log.info(
        "Certificate %s for %s, key %s, valid until %s",
        bundle.subject,
        ", ".join(bundle.dns_names) or "no DNS name",
        bundle.key_type,
        bundle.not_after.isoformat(),
    )
    return {
        "names": bundle.dns_names,
        "subject": bundle.subject,
        "not_after": bundle.not_after.isoformat(),
        "key_type": bundle.key_type,
        "fingerprint_sha256": bundle.fingerprint_sha256,
        "warnings": bundle.warnings,
        "aliases": aliases,
        "bundle_secret_arn": secret_arn,
        **rotation_facts,
    }


def _check_source_and_aliases(config: ImportJobConfig, aliases: list[str], dag_id: str, run_id: str) -> None:
    """The source distribution exists and no other distribution holds an alias."""
    client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    assert config.source_distribution_id  # the model requires it with create_distributions
    try:
        cloudfront.get_source_config(client, config.source_distribution_id)
    except cloudfront.DistributionError as error:
        raise JobInputError(str(error)) from None
    conflicts = cloudfront.name_holders(client, set(aliases), dag_id, run_id)
    if conflicts:
        raise JobInputError(
            "; ".join(
                f"aliases: {cloudfront.name_taken_message(alias, holder)}" for alias, holder in conflicts
            )
        )


def import_certificate(
    params: dict[str, Any], facts: dict[str, Any], dag_id: str, run_id: str, *, first_try: bool = False
) -> dict[str, Any]:
    """Import the bundle into ACM in us-east-1 with the job's tags; return the summary entry.

    Idempotent: a retry re-imports into the ARN the first try created (ACM keeps the ARN) instead of
    making a second certificate.
    """

    config = _config(params)
    body, private_key, chain, secret_arn = read_bundle(config)
    bundle = checked_bundle(config, private_key, body, chain)
    client = acm.acm_hook(config.aws_conn_id).conn
    if config.certificate_arn is not None:
        from cloudfront_ssl.steps import rotation

        arn = rotation.reimport(
            client, config.certificate_arn, bundle, private_key, bundle_secret_arn=secret_arn
        )
        certificate = client.describe_certificate(CertificateArn=arn)["Certificate"]
        return acm.certificate_result(certificate)
    existing = None if first_try else acm.find_imported_certificate(client, dag_id, run_id, bundle.dns_names)
    kwargs: dict[str, Any] = {
        "Certificate": bundle.certificate_pem.encode(),
        "PrivateKey": private_key.encode(),
    }
    if bundle.chain_pem:
        kwargs["CertificateChain"] = bundle.chain_pem.encode()
    if existing:
        # Tags cannot be given when re-importing: the first try set them.
        kwargs["CertificateArn"] = existing
    else:
        assert config.certificate_name is not None  # the model requires it unless rotating
        kwargs["Tags"] = [{"Key": IMPORT_TAG_NAME, "Value": config.certificate_name}] + job_tags(
            dag_id, run_id, config.tags
        )
        if secret_arn:
            kwargs["Tags"].append({"Key": BUNDLE_SECRET_TAG, "Value": secret_arn})
    try:
        arn = _import(client, kwargs)
    finally:
        kwargs.clear()
    log.info("%s %s", "Re-imported into" if existing else "Imported as", arn)
    certificate = client.describe_certificate(CertificateArn=arn)["Certificate"]
    return acm.certificate_result(certificate)


def _import(client: Any, kwargs: dict[str, Any]) -> str:
    """ImportCertificate, sent once by this code: botocore's retries (the connection's retry mode) are
    the one layer that sends it again after throttling, a dropped connection or a 5xx. A refusal fails
    the job at once, with ACM's message scrubbed; trouble that outlasted botocore's attempts fails
    this try of the step, and Airflow's retry of the step sends it again later."""
    from botocore.exceptions import ClientError

    try:
        return client.import_certificate(**kwargs)["CertificateArn"]
    except Exception as error:
        if isinstance(error, ClientError) and not is_worth_sending_again(error):
            if is_permission_denied(error):
                raise refused(error, "acm") from None
            # ACM's message may quote what it was sent: keep the code and scrub the rest.
            message = messages.scrub_secrets(aws_error_message(error))
            raise FinalError(f"ACM refused the import ({aws_error_code(error)}): {message}") from None
        raise RuntimeError(
            f"ImportCertificate kept failing after botocore's attempts ({aws_error_code(error) or type(error).__name__}); "
            "the step's retry sends it again"
        ) from None


def distributions_to_create(
    params: dict[str, Any], facts: dict[str, Any], certificate: dict[str, Any]
) -> list:
    """The one distribution to create (as a list for mapping), or none."""
    config = _config(params)
    if not config.create_distributions:
        return []
    return [{"item": 0, "aliases": facts["aliases"], "certificate_arn": certificate["arn"]}]


def notify_imported(
    params: dict[str, Any],
    facts: dict[str, Any],
    certificate: dict[str, Any],
    distributions: list[dict[str, Any]],
    run_id: str,
) -> None:
    """Tell the owners the certificate is in ACM and, with a distribution, where to point each name."""
    config = _config(params)
    subject, body = messages.import_message(run_id, certificate, facts, distributions)
    notify.publish(config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn), subject, body)
