"""AWS Certificate Manager: requesting certificates for a job, reading their validation records.

Every call goes to us-east-1, the only region whose certificates CloudFront accepts, whatever the
connection's default region is. Clients come from the Amazon provider's ``AwsBaseHook``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from cloudfront_ssl.errors import (
    FinalError,
    aws_error_code,
    aws_error_message,
    is_final,
    is_quota_reached,
    is_request_refused,
    is_worth_sending_again,
    refused,
)
from cloudfront_ssl.rules.tags import TAG_DAG_ID, is_job_resource, tag_dict

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

log = logging.getLogger(__name__)

ACM_REGION = "us-east-1"
"""CloudFront takes certificates from ACM in us-east-1 only."""
TYPE_NAMES = {"AMAZON_ISSUED": "requested", "IMPORTED": "imported", "PRIVATE": "private"}
"""ACM's certificate types, in the words the report and the page use."""

ALL_KEY_TYPES = [
    "RSA_1024",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
]
"""ListCertificates returns only RSA_1024 and RSA_2048 certificates unless told otherwise."""

FAILED_STATUSES = {"FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"}
"""Statuses from which a requested certificate never becomes ISSUED."""


class CertificateRequestError(FinalError):
    """ACM refused a request in a way that retrying will not mend (a quota, a refused name)."""


def acm_hook(aws_conn_id: str | None, *, botocore_retries: bool = True) -> AwsBaseHook:
    """The provider's hook for ACM in us-east-1 on the given Airflow connection.

    With ``botocore_retries=False`` the client makes each call once: botocore retries
    LimitExceededException as if it were throttling, which only delays the inevitable, so
    :func:`request_certificate` handles throttling itself.

    Every client the hook makes waits for the process's ACM pace (:mod:`cloudfront_ssl.aws.pacing`).
    """
    from cloudfront_ssl.aws.pacing import AcmHook

    if botocore_retries:
        return AcmHook(aws_conn_id=aws_conn_id, region_name=ACM_REGION)
    from botocore.config import Config

    return AcmHook(
        aws_conn_id=aws_conn_id,
        region_name=ACM_REGION,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def tagging_hook(aws_conn_id: str | None) -> AwsBaseHook:
    """The provider's hook for the Resource Groups Tagging API in us-east-1, where the certificates are,
    paced by :mod:`cloudfront_ssl.aws.pacing`."""
    from cloudfront_ssl.aws.pacing import TaggingHook

    return TaggingHook(aws_conn_id=aws_conn_id, region_name=ACM_REGION)


JOB_TAG_PAGE_SIZE = 100
"""GetResources' largest page."""


def job_certificate_tags(tagging_client: Any) -> dict[str, dict[str, str]]:
    """The tags of every certificate a job made (it carries ``airflow:dag_id``), by ARN.

    One GetResources call per hundred such certificates, where ListTagsForCertificate would cost one
    call per certificate of the account. The Tagging API is eventually consistent: a certificate
    tagged seconds ago may be missing for a while.
    """
    found: dict[str, dict[str, str]] = {}
    pages = tagging_client.get_paginator("get_resources").paginate(
        ResourceTypeFilters=["acm:certificate"],
        TagFilters=[{"Key": TAG_DAG_ID}],
        ResourcesPerPage=JOB_TAG_PAGE_SIZE,
    )
    for page in pages:
        for mapping in page.get("ResourceTagMappingList", []):
            found[mapping["ResourceARN"]] = tag_dict(mapping.get("Tags"))
    return found


def idempotency_token(dag_id: str, run_id: str, names: Iterable[str]) -> str:
    """ACM's IdempotencyToken for one certificate of one job: 32 hex characters (``\\w+``, no hyphen).

    Within an hour ACM returns the same certificate for the same token, which covers a quick retry.
    """
    digest = hashlib.sha256("\n".join([dag_id, run_id, *names]).encode()).hexdigest()
    return digest[:32]


def list_certificates(client: Any, statuses: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every certificate summary in the region, all key types, following pagination."""
    kwargs: dict[str, Any] = {"Includes": {"keyTypes": ALL_KEY_TYPES}}
    if statuses:
        kwargs["CertificateStatuses"] = statuses
    for page in client.get_paginator("list_certificates").paginate(**kwargs):
        yield from page.get("CertificateSummaryList", [])


def certificate_tags(client: Any, arn: str) -> dict[str, str]:
    """A certificate's tags as a dict."""
    return tag_dict(client.list_tags_for_certificate(CertificateArn=arn).get("Tags", []))


def certificate_type(summary: dict[str, Any]) -> str | None:
    """``requested``, ``imported`` or ``private``, from a summary's or description's ``Type``."""
    kind = str(summary.get("Type") or "")
    return TYPE_NAMES.get(kind, kind.lower() or None)


def certificate_names(certificate: dict[str, Any]) -> list[str]:
    """The names of a described certificate: its subject first, then the other alternative names."""
    subject = certificate["DomainName"]
    return [subject, *[name for name in certificate.get("SubjectAlternativeNames", []) if name != subject]]


def summary_names(summary: dict[str, Any]) -> list[str] | None:
    """A ListCertificates summary's names, subject first; None when the summary does not hold them all.

    AWS lists up to 100 alternative names as ``SubjectAlternativeNameSummaries`` (and sets
    ``HasAdditionalSubjectAlternativeNames`` beyond); moto lists none. Then DescribeCertificate has them.
    """
    alternatives = summary.get("SubjectAlternativeNameSummaries")
    if alternatives is None or summary.get("HasAdditionalSubjectAlternativeNames"):
        return None
    return [summary["DomainName"], *(name for name in alternatives if name != summary["DomainName"])]


def job_certificates(client: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """Every certificate of one job, found by its tags: ``arn``, ``names``, ``status``.

    Reads the tags of every certificate in the region: for clean-up, which must find what a job left
    whatever its steps recorded.
    """
    found = []
    for summary in list_certificates(client):
        if is_job_resource(certificate_tags(client, summary["CertificateArn"]), dag_id, run_id):
            found.append(
                {
                    "arn": summary["CertificateArn"],
                    "names": summary_names(summary) or [summary["DomainName"]],
                    "status": summary.get("Status"),
                }
            )
    return found


def find_earlier_requests(client: Any, dag_id: str, run_id: str, wanted: list[list[str]]) -> dict[int, str]:
    """Find certificates an earlier try of this job already requested, for each wanted name list.

    ACM forgets an idempotency token after an hour, so a later retry must find its certificates by
    their tags. Only certificates whose subject is one of the wanted subjects are looked at, so the
    number of extra calls stays small in a large account. Returns ``{index in wanted: arn}``.
    """
    by_subject = {names[0]: index for index, names in enumerate(wanted)}
    found: dict[int, str] = {}
    for summary in list_certificates(client):
        index = by_subject.get(summary["DomainName"])
        if index is None or index in found or summary.get("Status") == "FAILED":
            # A failed request cannot be retried: the job needs a new one.
            continue
        arn = summary["CertificateArn"]
        if not is_job_resource(certificate_tags(client, arn), dag_id, run_id):
            continue
        # The summary may list only some alternative names: compare the full description.
        described = client.describe_certificate(CertificateArn=arn)["Certificate"]
        if sorted(certificate_names(described)) == sorted(wanted[index]):
            found[index] = arn
    return found


def find_imported_certificate(client: Any, dag_id: str, run_id: str, names: Iterable[str]) -> str | None:
    """The certificate an earlier try of this import job imported, found by its tags, or None.

    Only imported certificates whose listed name is one of the bundle's ``names`` are looked at, so
    a large account costs one tag read per same-named certificate, not one per certificate.
    """
    wanted = {name.lower() for name in names}
    for summary in list_certificates(client):
        if summary.get("Type") not in (None, "IMPORTED"):
            continue
        if wanted and str(summary.get("DomainName", "")).lower() not in wanted:
            continue
        if is_job_resource(certificate_tags(client, summary["CertificateArn"]), dag_id, run_id):
            return summary["CertificateArn"]
    return None


REQUEST_RETRIES = 8
"""How often a RequestCertificate worth sending again (throttling, a dropped connection, a 5xx) is sent
again; with the backoff below that is about two minutes."""


def request_certificate(
    client: Any, names: list[str], token: str, tags: list[dict[str, str]], *, backoff_seconds: float = 0.5
) -> str:
    """Request one DNS-validated certificate (``names[0]`` is the subject) and return its ARN.

    Throttling, dropped connections and 5xx answers are waited out with exponential backoff (sending
    again is safe: the same idempotency token returns the same certificate); a quota
    (LimitExceededException) or a refused name fails at once with a clear
    :class:`CertificateRequestError`. Use a client without botocore retries
    (``acm_hook(..., botocore_retries=False)``): botocore would retry a quota as if it were throttling.
    """
    kwargs: dict[str, Any] = {
        "DomainName": names[0],
        "ValidationMethod": "DNS",
        "IdempotencyToken": token,
    }
    if tags:
        kwargs["Tags"] = tags
    if len(names) > 1:
        kwargs["SubjectAlternativeNames"] = names
    for attempt in range(REQUEST_RETRIES + 1):
        try:
            return client.request_certificate(**kwargs)["CertificateArn"]
        except Exception as error:
            if not is_worth_sending_again(error):
                _raise_request_error(error, names)
            if attempt == REQUEST_RETRIES:
                raise
            delay = min(backoff_seconds * 2**attempt, 30)
            log.warning(
                "Requesting %s met passing trouble (%s); sending it again in %.1f s",
                names[0],
                aws_error_code(error) or type(error).__name__,
                delay,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


def _raise_request_error(error: Exception, names: list[str]) -> None:
    """Turn an ACM refusal that retrying will not mend into a clear error; re-raise anything else."""
    message = aws_error_message(error)
    if is_quota_reached(error):
        raise CertificateRequestError(
            f"ACM quota reached while requesting {names[0]}: {message}. "
            "Ask AWS to raise the quota or delete unused certificates; retrying will not help."
        ) from None
    if is_request_refused(error):
        raise CertificateRequestError(f"ACM refused the certificate for {names[0]}: {message}") from None
    if is_final(error):
        raise refused(error, "acm") from None
    raise error


def validation_records(certificate: dict[str, Any]) -> list[dict[str, str]]:
    """The DNS records to add for a described certificate, one per distinct record name.

    An apex and its wildcard (``example.com``, ``*.example.com``) share one record.
    """
    records: dict[str, dict[str, str]] = {}
    for option in certificate.get("DomainValidationOptions", []):
        record = option.get("ResourceRecord")
        if record and record["Name"] not in records:
            records[record["Name"]] = {
                "name": record["Name"],
                "type": record["Type"],
                "value": record["Value"],
            }
    return list(records.values())


def describe_until_records(
    client: Any, arn: str, *, timeout_seconds: float = 300, interval_seconds: float = 2
) -> dict[str, Any]:
    """Describe a certificate, waiting while ACM has not yet produced every DNS validation record.

    Right after RequestCertificate the validation options can lack their ``ResourceRecord`` for a few
    seconds.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        certificate = client.describe_certificate(CertificateArn=arn)["Certificate"]
        options = certificate.get("DomainValidationOptions", [])
        if certificate.get("Status") != "PENDING_VALIDATION" or (
            options and all(option.get("ResourceRecord") for option in options)
        ):
            return certificate
        if time.monotonic() > deadline:
            raise TimeoutError(f"ACM gave no DNS validation records for {arn} within {timeout_seconds:.0f} s")
        time.sleep(interval_seconds)


def certificate_result(certificate: dict[str, Any]) -> dict[str, Any]:
    """The job summary's entry for a described certificate."""
    return {
        "arn": certificate["CertificateArn"],
        "names": certificate_names(certificate),
        "status": certificate.get("Status"),
        "validation_records": validation_records(certificate),
    }


def failure_reason(certificate: dict[str, Any]) -> str:
    """A readable reason why a certificate will not be issued."""
    status = certificate.get("Status", "")
    reason = certificate.get("FailureReason")
    text = f"{certificate.get('DomainName', certificate.get('CertificateArn'))} is {status}"
    return f"{text} ({reason})" if reason else text
