"""Removing what one job created (spec section 4a): its distributions, then its certificates.

A resource belongs to a job when its tags ``airflow:dag_id`` and ``airflow:run_id`` say so; nothing
else is ever touched. Distributions are disabled, waited for until CloudFront has deployed that, and
deleted (CloudFront refuses to delete an enabled or undeployed one; every change needs the current
ETag). Then the job's certificates that no remaining distribution (nor anything else ACM knows of)
uses are deleted. Running it again finds nothing left to do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cloudfront_ssl import acm, catalog, cloudfront
from cloudfront_ssl.config import SECTION_ADVANCED, ConfigError, JobOptions, _form, parse_config
from cloudfront_ssl.jobs import JOB_DAG_IDS

log = logging.getLogger(__name__)

SECTION_JOB = "Job"
DEFAULT_POLL_SECONDS = 20.0
"""How often a distribution's status is read while CloudFront deploys a change (minutes on AWS)."""
DEFAULT_TIMEOUT_SECONDS = 3600.0


__all__ = [
    "CleanupConfig",
    "CleanupError",
    "cleanup_failed_job",
    "ConfigError",
    "remove_job_resources",
    "run_cleanup",
]


class CleanupError(RuntimeError):
    """Some of the job's resources could not be removed; the message says which and why."""


class CleanupConfig(BaseModel):
    """Conf of ``ssl_cleanup_job`` (spec section 4a)."""

    model_config = ConfigDict(extra="forbid")

    job_run_id: str = Field(
        min_length=1,
        description="The run_id of the job whose certificates and distributions are removed "
        "(the job id, as the SSL Certificates page and the DAG runs list show it).",
        json_schema_extra=_form(SECTION_JOB, "Job run id"),
    )
    job_dag_id: str = Field(
        JOB_DAG_IDS[0],
        min_length=1,
        description="The DAG of that job.",
        json_schema_extra=_form(SECTION_JOB, "Job DAG id", enum=list(JOB_DAG_IDS)),
    )
    dry_run: bool = Field(
        True,
        description="Only list what would be removed; remove nothing. Untick to remove.",
        json_schema_extra=_form(SECTION_JOB, "Dry run"),
    )
    aws_conn_id: str = Field(
        "aws_default",
        min_length=1,
        description=JobOptions.model_fields["aws_conn_id"].description,
        json_schema_extra=_form(SECTION_ADVANCED, "AWS connection id"),
    )

    @classmethod
    def field_order(cls) -> list[str]:
        """The order of the trigger form's fields."""
        return ["job_run_id", "job_dag_id", "dry_run", "aws_conn_id"]


def job_distributions(client: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The job's distributions (by tags): ``id``, ``arn``, ``aliases``, ``certificate_arn``, ``enabled``."""
    found = []
    for summary in cloudfront.list_distributions(client):
        if cloudfront.is_job_resource(cloudfront.distribution_tags(client, summary["ARN"]), dag_id, run_id):
            found.append(
                {
                    "id": summary["Id"],
                    "arn": summary["ARN"],
                    "aliases": cloudfront.summary_aliases(summary),
                    "certificate_arn": (summary.get("ViewerCertificate") or {}).get("ACMCertificateArn"),
                    "enabled": bool(summary.get("Enabled")),
                }
            )
    return found


def job_certificates(client: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """The job's certificates (by tags): ``arn``, ``names``, ``status``."""
    return [
        {
            "arn": summary["CertificateArn"],
            "names": catalog.summary_names(summary) or [summary["DomainName"]],
            "status": summary.get("Status"),
        }
        for summary in acm.list_certificates(client)
        if cloudfront.is_job_resource(acm.certificate_tags(client, summary["CertificateArn"]), dag_id, run_id)
    ]


def disable_distribution(client: Any, distribution_id: str) -> bool:
    """Disable a distribution (with its current ETag); False when it already was."""
    response = client.get_distribution_config(Id=distribution_id)
    config = response["DistributionConfig"]
    if not config.get("Enabled"):
        return False
    config["Enabled"] = False
    client.update_distribution(Id=distribution_id, IfMatch=response["ETag"], DistributionConfig=config)
    return True


def wait_until_deployed(
    client: Any,
    distribution_id: str,
    *,
    poll_seconds: float,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Wait until CloudFront reports the distribution ``Deployed``; return its current ETag."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        response = client.get_distribution(Id=distribution_id)
        if response["Distribution"].get("Status") == "Deployed":
            return response["ETag"]
        if time.monotonic() > deadline:
            raise CleanupError(
                f"distribution {distribution_id} was not deployed within {timeout_seconds:.0f} s; "
                "run the clean-up again later"
            )
        sleep(poll_seconds)


def _code(error: Exception) -> str:
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


def remove_job_resources(
    aws_conn_id: str,
    dag_id: str,
    run_id: str,
    *,
    dry_run: bool,
    wait: bool = True,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Remove the distributions and certificates that one job created; return what was (or would be) done.

    :param aws_conn_id: the Airflow AWS connection.
    :param dag_id: the job's DAG.
    :param run_id: the job's run_id.
    :param dry_run: only list the job's resources, change nothing.
    :param wait: wait for disabled distributions to deploy and delete them (then their certificates);
        without it, distributions are only disabled and certificates they use are kept.
    :param poll_seconds: seconds between two status reads while CloudFront deploys.
    :param timeout_seconds: give up waiting for one distribution after this long.

    Returns ``{"dry_run", "distributions": [{"id", "aliases", "action"}],
    "certificates": [{"arn", "names", "action"}]}``, where an action is ``would delete``,
    ``deleted``, ``disabled``, ``kept: <reason>`` or ``failed: <reason>``. Raises :class:`CleanupError`
    after doing all it could when something could not be removed.
    """
    from botocore.exceptions import ClientError

    cf = cloudfront.cloudfront_hook(aws_conn_id).conn
    acm_client = acm.acm_hook(aws_conn_id).conn
    distributions = job_distributions(cf, dag_id, run_id)
    certificates = job_certificates(acm_client, dag_id, run_id)
    log.info(
        "Job %s of %s: %d distribution(s), %d certificate(s)%s",
        run_id,
        dag_id,
        len(distributions),
        len(certificates),
        " (dry run: nothing is removed)" if dry_run else "",
    )
    result: dict[str, Any] = {"dry_run": dry_run, "distributions": [], "certificates": []}
    if dry_run:
        result["distributions"] = [
            {"id": d["id"], "aliases": d["aliases"], "action": "would delete"} for d in distributions
        ]
        result["certificates"] = [
            {"arn": c["arn"], "names": c["names"], "action": "would delete (if nothing else uses it)"}
            for c in certificates
        ]
        for item in result["distributions"] + result["certificates"]:
            log.info("Would remove %s", item.get("id") or item.get("arn"))
        return result

    problems: list[str] = []
    # Disable them all first: CloudFront then deploys the changes in parallel.
    for distribution in distributions:
        try:
            if disable_distribution(cf, distribution["id"]):
                log.info("Disabled distribution %s", distribution["id"])
        except ClientError as error:
            if _code(error) != "NoSuchDistribution":
                raise
    for distribution in distributions:
        entry = {"id": distribution["id"], "aliases": distribution["aliases"], "action": "disabled"}
        result["distributions"].append(entry)
        if not wait:
            continue
        try:
            etag = wait_until_deployed(
                cf, distribution["id"], poll_seconds=poll_seconds, timeout_seconds=timeout_seconds
            )
            cf.delete_distribution(Id=distribution["id"], IfMatch=etag)
            entry["action"] = "deleted"
            log.info("Deleted distribution %s", distribution["id"])
        except ClientError as error:
            if _code(error) == "NoSuchDistribution":
                entry["action"] = "deleted"
                continue
            entry["action"] = f"failed: {_code(error) or error}"
            problems.append(f"distribution {distribution['id']}: {error}")
        except CleanupError as error:
            entry["action"] = f"failed: {error}"
            problems.append(str(error))

    # A certificate stays while a distribution (the job's undeleted ones included) still serves it.
    users = {}
    for summary in cloudfront.list_distributions(cf):
        arn = (summary.get("ViewerCertificate") or {}).get("ACMCertificateArn")
        if arn:
            users.setdefault(arn, []).append(summary["Id"])
    for certificate in certificates:
        entry = {"arn": certificate["arn"], "names": certificate["names"], "action": "deleted"}
        result["certificates"].append(entry)
        if certificate["arn"] in users:
            entry["action"] = "kept: in use by distribution " + ", ".join(users[certificate["arn"]])
            if wait:
                problems.append(f"certificate {certificate['arn']}: {entry['action']}")
            continue
        try:
            in_use_by = acm_client.describe_certificate(CertificateArn=certificate["arn"])["Certificate"].get(
                "InUseBy"
            )
            if in_use_by:
                entry["action"] = "kept: in use by " + ", ".join(in_use_by)
                continue
            acm_client.delete_certificate(CertificateArn=certificate["arn"])
            log.info("Deleted certificate %s (%s)", certificate["arn"], ", ".join(certificate["names"]))
        except ClientError as error:
            code = _code(error)
            if code == "ResourceNotFoundException":
                continue
            if code == "ResourceInUseException":
                entry["action"] = "kept: in use"
                continue
            entry["action"] = f"failed: {code or error}"
            problems.append(f"certificate {certificate['arn']}: {error}")
    if problems:
        raise CleanupError("; ".join(problems))
    return result


def run_cleanup(params: dict[str, Any], *, poll_seconds: float = DEFAULT_POLL_SECONDS) -> dict[str, Any]:
    """The ``ssl_cleanup_job`` task: validate the conf and remove (or list) the job's resources."""
    config = parse_config(CleanupConfig, params)
    return remove_job_resources(
        config.aws_conn_id,
        config.job_dag_id,
        config.job_run_id,
        dry_run=config.dry_run,
        poll_seconds=poll_seconds,
    )


def cleanup_failed_job(
    params: dict[str, Any],
    dag_id: str,
    run_id: str,
    *,
    failed_steps: int,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
) -> dict[str, Any] | None:
    """The job DAGs' ``cleanup_on_failure`` step: remove what a failed job created, if its conf asks.

    Returns None (nothing to do) when ``cleanup_on_failure`` is false or no step failed. The step runs
    once every other step has finished (mapped siblings included), so nothing is created after it.
    Removal is idempotent; an error fails the step, whose retry (or ``ssl_cleanup_job``) finishes it.
    """
    if not params.get("cleanup_on_failure") or failed_steps == 0:
        return None
    log.info("cleanup_on_failure: removing what job %s of %s created", run_id, dag_id)
    return remove_job_resources(
        params.get("aws_conn_id") or "aws_default", dag_id, run_id, dry_run=False, poll_seconds=poll_seconds
    )
