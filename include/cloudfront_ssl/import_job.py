"""The steps of the import job (``ssl_import_certificate``), as plain functions the DAG's tasks call.

The private key is read where it is needed (the conf, or Secrets Manager), masked in Airflow's logs
the moment it is read, and never returned, logged, published or put in an exception message.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from cloudfront_ssl import acm, cloudfront, messages, notify
from cloudfront_ssl.config import ConfigError, ImportJobConfig, parse_config
from cloudfront_ssl.errors import FinalError, JobInputError
from cloudfront_ssl.names import InvalidNameError, normalize_name
from cloudfront_ssl.pem_checks import BundleError, CheckedBundle, check_bundle

log = logging.getLogger(__name__)

TAG_NAME = "Name"
_PEM_LINE = re.compile(r"^[A-Za-z0-9+/=]{16,}$")


class SecretReadError(FinalError):
    """The private key could not be read from Secrets Manager."""


def mask_private_key(private_key: str) -> None:
    """Tell Airflow's secrets masker to hide the key, whole and line by line, from every log line."""
    from airflow.sdk.log import mask_secret

    mask_secret(private_key)
    for line in private_key.splitlines():
        line = line.strip()
        if _PEM_LINE.match(line):
            mask_secret(line)


def read_private_key(config: ImportJobConfig) -> str:
    """The PEM private key, from the conf or from Secrets Manager; masked in logs before it is returned.

    A secret's value is either the PEM text itself or a JSON object with a ``private_key`` field.
    """
    if config.private_key is not None:
        mask_private_key(config.private_key)
        return config.private_key
    secret_id = config.private_key_secret_id
    assert secret_id is not None  # the model requires one of the two
    from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook
    from botocore.exceptions import ClientError

    # A secret ARN names its region; a plain name lives in the connection's region.
    region = secret_id.split(":")[3] if secret_id.startswith("arn:") else None
    hook = SecretsManagerHook(aws_conn_id=config.aws_conn_id, region_name=region)
    try:
        value = hook.get_secret(secret_id)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
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
    """The conf's aliases, normalised like every domain name (spec section 5), or None."""
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


def checked_bundle(config: ImportJobConfig, private_key: str) -> CheckedBundle:
    """Run the local checks of spec section 6; a refusal names the field and the check."""
    try:
        return check_bundle(
            config.certificate_body,
            private_key,
            config.certificate_chain,
            for_cloudfront=config.create_distributions,
            aliases=_normalized_aliases(config),
        )
    except BundleError as error:
        raise JobInputError(f"{error.field}: check '{error.check}' failed: {error.message}") from None


def check(params: dict[str, Any], dag_id: str, run_id: str) -> dict[str, Any]:
    """Check the conf and the bundle locally, and (for a distribution) the source and the aliases.

    Changes nothing in AWS. Returns what the later steps need, never the key: the certificate's
    facts and the distribution's aliases.
    """
    config = _config(params)
    private_key = read_private_key(config)
    bundle = checked_bundle(config, private_key)
    for warning in bundle.warnings:
        log.warning("%s", warning)
    aliases: list[str] = []
    if config.create_distributions:
        aliases = _normalized_aliases(config) or list(bundle.dns_names)
        if len(aliases) > cloudfront.MAX_ALIASES:
            raise JobInputError(f"aliases: a distribution takes at most {cloudfront.MAX_ALIASES} aliases")
        client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
        assert config.source_distribution_id
        try:
            cloudfront.get_source_config(client, config.source_distribution_id)
        except cloudfront.DistributionError as error:
            raise JobInputError(str(error)) from None
        conflicts = cloudfront.alias_conflicts(client, {0: aliases}, dag_id, run_id)
        if conflicts:
            text = "; ".join(conflict.replace("certificates[0]: ", "aliases: ") for conflict in conflicts)
            raise JobInputError(f"{text}. CloudFront allows an alias on one distribution only")
    log.info(
        "Certificate %s for %s, key %s, valid until %s",
        bundle.subject,
        ", ".join(bundle.dns_names),
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
    }


def find_imported_certificate(client: Any, dag_id: str, run_id: str) -> str | None:
    """The certificate an earlier try of this job imported, found by its tags, or None."""
    for summary in acm.list_certificates(client):
        if summary.get("Type") not in (None, "IMPORTED"):
            continue
        tags = acm.certificate_tags(client, summary["CertificateArn"])
        if tags.get(acm.TAG_DAG_ID) == dag_id and tags.get(acm.TAG_RUN_ID) == run_id:
            return summary["CertificateArn"]
    return None


def import_certificate(
    params: dict[str, Any], facts: dict[str, Any], dag_id: str, run_id: str
) -> dict[str, Any]:
    """Import the bundle into ACM in us-east-1 with the job's tags; return the summary entry.

    Idempotent: a retry re-imports into the ARN the first try created (ACM keeps the ARN) instead of
    making a second certificate.
    """
    from botocore.exceptions import ClientError

    config = _config(params)
    private_key = read_private_key(config)
    bundle = checked_bundle(config, private_key)
    client = acm.acm_hook(config.aws_conn_id).conn
    existing = find_imported_certificate(client, dag_id, run_id)
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
        kwargs["Tags"] = [{"Key": TAG_NAME, "Value": config.certificate_name}] + acm.job_tags(
            dag_id, run_id, config.tags
        )
    try:
        arn = client.import_certificate(**kwargs)["CertificateArn"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        # ACM's message may quote what it was sent: keep only the code and scrub the rest.
        message = messages.scrub_secrets(error.response.get("Error", {}).get("Message", ""))
        raise FinalError(f"ACM refused the import ({code}): {message}") from None
    finally:
        kwargs.clear()
    log.info("%s %s", "Re-imported into" if existing else "Imported as", arn)
    certificate = client.describe_certificate(CertificateArn=arn)["Certificate"]
    return acm.certificate_result(certificate)


def distributions_to_create(
    params: dict[str, Any], facts: dict[str, Any], certificate: dict[str, Any]
) -> list:
    """The one distribution to create (as a list for mapping), or none."""
    config = _config(params)
    if not config.create_distributions:
        return []
    return [{"item": 0, "aliases": facts["aliases"], "certificate_arn": certificate["arn"]}]


def create_distribution(
    params: dict[str, Any], group: dict[str, Any], dag_id: str, run_id: str
) -> dict[str, Any]:
    """Create the certificate's distribution from the source distribution (idempotent across retries)."""
    config = _config(params)
    assert config.source_distribution_id  # the model requires it with create_distributions
    return cloudfront.create_distribution_for_job(
        config.aws_conn_id,
        config.source_distribution_id,
        group,
        dag_id=dag_id,
        run_id=run_id,
        user_tags=config.tags,
    )


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
