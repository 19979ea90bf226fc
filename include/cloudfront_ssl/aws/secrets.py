"""AWS Secrets Manager: reading a certificate bundle (certificate, private key, chain) kept in a secret.

The private key is handed to Airflow's secrets masker the moment it is read, so that no log line can
show it; no error raised here quotes the secret's value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from cloudfront_ssl.errors import FinalError, aws_error_code

BUNDLE_SECRET_TAG = "cloudfront-ssl:bundle-secret"
"""The tag of an imported certificate whose bundle lives in a secret: the secret's ARN.
``ssl_rotate_imported`` re-imports every certificate so tagged when its secret changes."""
_PEM_LINE = re.compile(r"^[A-Za-z0-9+/=]{16,}$")


class SecretReadError(FinalError):
    """A secret could not be read, or does not hold what the job needs."""


def mask_private_key(private_key: str) -> None:
    """Tell Airflow's secrets masker to hide the key, whole and line by line, from every log line."""
    from airflow.sdk.log import mask_secret

    mask_secret(private_key)
    for line in private_key.splitlines():
        line = line.strip()
        if _PEM_LINE.match(line):
            mask_secret(line)


@dataclass(frozen=True)
class BundleSecret:
    """A certificate bundle read from a secret. ``repr`` never shows the key."""

    arn: str
    certificate: str
    certificate_chain: str | None
    private_key: str = field(repr=False)


def secret_region(secret_id: str) -> str | None:
    """A secret ARN names its region; a plain name lives in the connection's region (None)."""
    return secret_id.split(":")[3] if secret_id.startswith("arn:") else None


def secretsmanager_client(aws_conn_id: str | None, secret_id: str) -> Any:
    """A Secrets Manager client of the connection, in the secret's region."""
    from cloudfront_ssl.aws.pacing import SecretsManagerHook

    return SecretsManagerHook(aws_conn_id=aws_conn_id, region_name=secret_region(secret_id)).conn


def read_bundle_secret(
    aws_conn_id: str | None, secret_id: str, field_name: str = "bundle_secret_id"
) -> BundleSecret:
    """Read a bundle secret: JSON ``{"certificate", "private_key", "certificate_chain"}``; its ARN too.

    The key is masked before anything else happens to it. A missing secret, one this connection may
    not read, or a value that is not such JSON is a :class:`SecretReadError` naming ``field_name`` and
    the secret, never its value.
    """
    from botocore.exceptions import ClientError

    secretsmanager = secretsmanager_client(aws_conn_id, secret_id)
    try:
        response = secretsmanager.get_secret_value(SecretId=secret_id)
    except ClientError as error:
        raise SecretReadError(
            f"{field_name}: cannot read secret {secret_id!r} from Secrets Manager ({aws_error_code(error)})"
        ) from None
    value = response.get("SecretString")
    if value is None and response.get("SecretBinary") is not None:
        value = bytes(response["SecretBinary"]).decode("utf-8", errors="replace")
    value = value or ""
    mask_private_key(value)
    shape = (
        f"{field_name}: secret {secret_id!r} must hold JSON "
        '{"certificate": "-----BEGIN CERTIFICATE-----...", "private_key": "-----BEGIN ...", '
        '"certificate_chain": "..." or null}'
    )
    try:
        bundle = json.loads(value)
    except ValueError:
        raise SecretReadError(shape) from None
    if not isinstance(bundle, dict):
        raise SecretReadError(shape)
    certificate, private_key = bundle.get("certificate"), bundle.get("private_key")
    chain = bundle.get("certificate_chain")
    if isinstance(private_key, str):
        mask_private_key(private_key)
    if (
        not isinstance(certificate, str)
        or not isinstance(private_key, str)
        or not isinstance(chain, str | None)
    ):
        raise SecretReadError(shape)
    return BundleSecret(
        arn=response.get("ARN") or secret_id,
        certificate=certificate,
        certificate_chain=chain if chain and chain.strip() else None,
        private_key=private_key,
    )
