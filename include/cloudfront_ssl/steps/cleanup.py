"""Removing what one job created: its alias records, distributions, certificates, validation records.

A resource belongs to a job when its tags ``airflow:dag_id`` and ``airflow:run_id`` say so; nothing
else is ever touched. Distributions are disabled, waited for until CloudFront has deployed that, and
deleted (CloudFront refuses to delete an enabled or undeployed one; every change needs the current
ETag). Then the job's certificates that no remaining distribution (nor anything else ACM knows of)
uses are deleted. Running it again finds nothing left to do.

DNS records have no tags: the job's Route 53 steps returned the records they wrote, and those results
(``dns_results``, read from the job's XComs) are the only records clean-up may delete. Alias records
go first, while they still point at the job's distributions; validation records last, once the job's
certificates are gone, and only those that no remaining certificate validates with (ACM renews with
them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from cloudfront_ssl.aws import acm, cloudfront
from cloudfront_ssl.aws.connections import require_connection
from cloudfront_ssl.errors import JobInputError, aws_error_code, is_in_use, is_not_found
from cloudfront_ssl.rules.config import CleanupConfig, ConfigError, parse_config
from cloudfront_ssl.rules.messages import quote_input

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 20.0
"""How often a distribution's status is read while CloudFront deploys a change (minutes on AWS)."""
DEFAULT_TIMEOUT_SECONDS = 3600.0


__all__ = [
    "CleanupConfig",
    "CleanupError",
    "cleanup_failed_job",
    "ConfigError",
    "finish_cleanup",
    "delete_deployed_tenants",
    "finish_removal",
    "remove_job_resources",
    "start_cleanup",
    "start_failed_job_cleanup",
    "start_removal",
]


class CleanupError(RuntimeError):
    """Some of the job's resources could not be removed; the message says which and why."""


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


def remove_job_resources(
    aws_conn_id: str,
    dag_id: str,
    run_id: str,
    *,
    dry_run: bool,
    wait: bool = True,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    dns_results: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Remove the distributions and certificates that one job created; return what was (or would be) done.

    Both halves in one call (:func:`start_removal`, then a wait in this process, then
    :func:`finish_removal`): the job DAGs' ``cleanup_on_failure`` step. ``ssl_cleanup_job`` runs the
    halves as steps of their own and waits for the deployment deferred, holding no worker.

    :param aws_conn_id: the Airflow AWS connection.
    :param dag_id: the job's DAG.
    :param run_id: the job's run_id.
    :param dry_run: only list the job's resources, change nothing.
    :param wait: wait for disabled distributions to deploy and delete them (then their certificates);
        without it, distributions are only disabled and certificates they use are kept.
    :param poll_seconds: seconds between two status reads while CloudFront deploys.
    :param timeout_seconds: give up waiting for one distribution after this long.
    :param dns_results: the results of the job's Route 53 steps (the records it wrote and the
        connection it wrote them through); see :func:`cloudfront_ssl.steps.dns_job.pull_dns_results`.

    Returns ``{"dry_run", "distributions": [{"id", "aliases", "action"}],
    "certificates": [{"arn", "names", "action"}], "dns_records": [{"zone_id", "name", "type",
    "action"}]}``, where an action is ``would delete``,
    ``deleted``, ``disabled``, ``kept: <reason>`` or ``failed: <reason>``. Raises :class:`CleanupError`
    after doing all it could when something could not be removed.
    """
    started = start_removal(aws_conn_id, dag_id, run_id, dry_run=dry_run, dns_results=dns_results)
    if dry_run:
        return started["result"]
    if wait:
        cf = cloudfront.cloudfront_hook(aws_conn_id).conn
        for tenant_id in started.get("deploying_tenants") or []:
            _wait_for_tenant(cf, tenant_id, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds)
        for distribution_id in started["deploying"]:
            try:
                wait_until_deployed(
                    cf, distribution_id, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds
                )
            except CleanupError as error:
                started["problems"].append(str(error))
                _set_action(started["result"], distribution_id, f"failed: {error}")
            except Exception as error:
                if not is_not_found(error):
                    raise
    return finish_removal(aws_conn_id, started, wait=wait, dns_results=dns_results)


def _wait_for_tenant(
    client: Any,
    tenant_id: str,
    *,
    poll_seconds: float,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait in this process until CloudFront has deployed a tenant's disabling (or it is gone); the
    last step names a tenant still deploying after ``timeout_seconds``."""
    from cloudfront_ssl.aws import tenants

    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() <= deadline:
        try:
            tenant = client.get_distribution_tenant(Identifier=tenant_id)["DistributionTenant"]
        except Exception as error:
            if is_not_found(error):
                return
            raise
        if tenants.is_deployed(tenant):
            return
        sleep(poll_seconds)


def delete_deployed_tenants(
    client: Any, result: dict[str, Any], tenant_ids: list[str], problems: list[str]
) -> None:
    """Delete the disabled tenants CloudFront has deployed; name the others in ``problems``."""
    from cloudfront_ssl.aws import tenants

    entries = {entry["id"]: entry for entry in result.get("tenants") or []}
    for tenant_id in tenant_ids:
        entry = entries.setdefault(tenant_id, {"id": tenant_id, "action": ""})
        try:
            outcome = tenants.delete_disabled_tenant(client, tenant_id)
        except Exception as error:
            entry["action"] = f"failed: {aws_error_code(error) or type(error).__name__}"
            problems.append(f"tenant {tenant_id}: {error}")
            continue
        if outcome == "deploying":
            problem = f"tenant {tenant_id} is still deploying its disabling; run the clean-up again later"
            entry["action"] = f"failed: {problem}"
            problems.append(problem)
            continue
        entry["action"] = "deleted"
        log.info("Deleted tenant %s", tenant_id)


def _set_action(result: dict[str, Any], distribution_id: str, action: str) -> None:
    for entry in result["distributions"]:
        if entry["id"] == distribution_id:
            entry["action"] = action


def start_removal(
    aws_conn_id: str,
    dag_id: str,
    run_id: str,
    *,
    dry_run: bool,
    dns_results: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The first half of removing a job: list its resources and (unless a dry run) remove its alias
    records and disable its distributions, so that CloudFront deploys them all in parallel.

    Returns plain JSON for the second half: ``{"aws_conn_id", "dag_id", "run_id", "result" (as
    :func:`remove_job_resources` returns it so far), "deploying": [distribution ids to wait for],
    "problems": [...]}``. Idempotent: a distribution already disabled is left as it is.
    """
    cf = cloudfront.cloudfront_hook(aws_conn_id).conn
    acm_client = acm.acm_hook(aws_conn_id).conn
    from cloudfront_ssl.aws import tenants

    distributions = cloudfront.job_distributions(cf, dag_id, run_id)
    job_tenants = tenants.job_tenants(cf, dag_id, run_id)
    certificates = acm.job_certificates(acm_client, dag_id, run_id)
    log.info(
        "Job %s of %s: %d distribution(s), %d tenant(s), %d certificate(s)%s",
        run_id,
        dag_id,
        len(distributions),
        len(job_tenants),
        len(certificates),
        " (dry run: nothing is removed)" if dry_run else "",
    )
    result: dict[str, Any] = {"dry_run": dry_run, "distributions": [], "certificates": [], "dns_records": []}
    if job_tenants:
        result["tenants"] = [
            {
                "id": tenant["Id"],
                "name": tenant["Name"],
                "domains": tenants.tenant_domains(tenant),
                "action": "would delete",
            }
            for tenant in job_tenants
        ]
    started: dict[str, Any] = {
        "aws_conn_id": aws_conn_id,
        "dag_id": dag_id,
        "run_id": run_id,
        "result": result,
        "deploying": [],
        "deploying_tenants": [],
        "problems": [],
    }
    dns_results = list(dns_results or [])
    # The targets the job's alias records were written to: its own distributions' domain names.
    targets = [
        entry["alias_target"]["dns_name"]
        for dns_result in dns_results
        for entry in dns_result.get("records") or []
        if "alias_target" in entry
    ]
    if dns_results:
        from cloudfront_ssl.steps import dns_job

        result["dns_records"] = dns_job.remove_dns_records(
            dns_results, aliases=True, distribution_domains=targets, dry_run=dry_run
        )
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
        if dns_results:
            result["dns_records"] += _remove_validation_records(acm_client, dns_results, dry_run=True)
        return started

    # Tenants are disabled first too; they are deleted once deployed, by the last step.
    for entry in result.get("tenants") or []:
        try:
            if tenants.disable_tenant(cf, entry["id"]):
                log.info("Disabled tenant %s (%s)", entry["id"], entry["name"])
            entry["action"] = "disabled"
            started["deploying_tenants"].append(entry["id"])
        except Exception as error:
            if is_not_found(error):
                entry["action"] = "deleted"
                continue
            entry["action"] = f"failed: {aws_error_code(error) or type(error).__name__}"
            started["problems"].append(f"tenant {entry['id']}: {error}")
    # Disable them all first: CloudFront then deploys the changes in parallel.
    for distribution in distributions:
        entry = {"id": distribution["id"], "aliases": distribution["aliases"], "action": "disabled"}
        result["distributions"].append(entry)
        try:
            if disable_distribution(cf, distribution["id"]):
                log.info("Disabled distribution %s", distribution["id"])
        except Exception as error:
            if is_not_found(error):
                entry["action"] = "deleted"
                continue
            # Go on with the others: one distribution that cannot be disabled now must not keep the
            # rest of the job's resources in place. The step fails at the end, naming it.
            log.warning("Could not disable distribution %s: %s", distribution["id"], error)
            problem = f"{aws_error_code(error) or type(error).__name__}: {error}"
            entry["action"] = f"failed: {problem}"
            started["problems"].append(f"distribution {distribution['id']}: {problem}")
            continue
        started["deploying"].append(distribution["id"])
    result["certificates"] = [{"arn": c["arn"], "names": c["names"], "action": "kept"} for c in certificates]
    return started


def finish_removal(
    aws_conn_id: str,
    started: dict[str, Any],
    *,
    wait: bool = True,
    dns_results: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The second half, once the disabled distributions are deployed: delete them, then the job's
    certificates that nothing uses, then its validation records that no remaining certificate needs.

    :param started: what :func:`start_removal` returned.
    :param wait: False: the distributions were only disabled, not waited for; they are not deleted.

    A distribution that is still deploying is reported (``failed: ... run the clean-up again``), not
    waited for here. Returns the result of :func:`remove_job_resources`; raises :class:`CleanupError`
    after doing all it could when something could not be removed.
    """
    result = started["result"]
    problems: list[str] = list(started["problems"])
    if result.get("dry_run"):
        return result
    cf = cloudfront.cloudfront_hook(aws_conn_id).conn
    acm_client = acm.acm_hook(aws_conn_id).conn
    failed_already = {
        entry["id"] for entry in result["distributions"] if entry["action"].startswith("failed")
    }
    for distribution_id in started["deploying"] if wait else []:
        if distribution_id in failed_already:
            continue
        try:
            response = cf.get_distribution(Id=distribution_id)
            if response["Distribution"].get("Status") != "Deployed":
                problem = (
                    f"distribution {distribution_id} is still deploying its disabling; run the clean-up "
                    "again later"
                )
                _set_action(result, distribution_id, f"failed: {problem}")
                problems.append(problem)
                continue
            cf.delete_distribution(Id=distribution_id, IfMatch=response["ETag"])
            _set_action(result, distribution_id, "deleted")
            log.info("Deleted distribution %s", distribution_id)
        except Exception as error:
            if is_not_found(error):
                _set_action(result, distribution_id, "deleted")
                continue
            _set_action(result, distribution_id, f"failed: {aws_error_code(error) or type(error).__name__}")
            problems.append(f"distribution {distribution_id}: {error}")

    if wait:
        delete_deployed_tenants(cf, result, list(started.get("deploying_tenants") or []), problems)

    # A certificate stays while a distribution or a tenant (the job's undeleted ones included) serves it.
    from cloudfront_ssl.aws import tenants

    users = cloudfront.certificate_users(cf)
    for arn, tenant_ids in tenants.certificate_tenants(cf).items():
        users.setdefault(arn, []).extend(f"tenant {tenant_id}" for tenant_id in tenant_ids)
    for entry in result["certificates"]:
        entry["action"] = "deleted"
        if entry["arn"] in users:
            entry["action"] = "kept: in use by distribution " + ", ".join(users[entry["arn"]])
            if wait:
                problems.append(f"certificate {entry['arn']}: {entry['action']}")
            continue
        try:
            in_use_by = acm_client.describe_certificate(CertificateArn=entry["arn"])["Certificate"].get(
                "InUseBy"
            )
            if in_use_by:
                entry["action"] = "kept: in use by " + ", ".join(in_use_by)
                continue
            acm_client.delete_certificate(CertificateArn=entry["arn"])
            log.info("Deleted certificate %s (%s)", entry["arn"], ", ".join(entry["names"]))
        except Exception as error:
            code = aws_error_code(error)
            if is_not_found(error):
                continue
            if is_in_use(error):
                entry["action"] = "kept: in use"
                continue
            entry["action"] = f"failed: {code or type(error).__name__}"
            problems.append(f"certificate {entry['arn']}: {error}")
    if dns_results:
        result["dns_records"] += _remove_validation_records(acm_client, list(dns_results), dry_run=False)
    if problems:
        raise CleanupError("; ".join(problems))
    return result


def _remove_validation_records(
    acm_client: Any, dns_results: list[dict[str, Any]], *, dry_run: bool
) -> list[dict[str, Any]]:
    """The job's validation records that no certificate left in ACM validates with, deleted."""
    from cloudfront_ssl.steps import dns_job

    names = [
        entry["name"]
        for dns_result in dns_results
        for entry in dns_result.get("records") or []
        if "alias_target" not in entry
    ]
    if not names:
        return []
    in_use = dns_job.validation_records_in_use(acm_client, names)
    return dns_job.remove_dns_records(
        dns_results, aliases=False, distribution_domains=[], validation_in_use=in_use, dry_run=dry_run
    )


def run_state(ti: Any, dag_id: str, run_id: str) -> str | None:
    """The state of a DAG run as the running task sees it (Task SDK), or None when there is no such run."""
    try:
        state = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
        return str(getattr(state, "value", state))
    except Exception as error:  # the API answers 404 for a run it does not know
        log.info("No state for run %s of %s: %s", run_id, dag_id, error)
        return None


def start_cleanup(
    params: dict[str, Any],
    *,
    job_state: Callable[[str, str], str | None] | None = None,
    job_dns: Callable[[str, str], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The ``ssl_cleanup_job``'s first step: validate the conf, then list (dry run) or start removing
    the job's resources (:func:`start_removal`: alias records removed, distributions disabled), or,
    with ``distribution_id``, one site's (:func:`cloudfront_ssl.steps.site_removal.start_site_removal`).

    :param job_state: returns the state of a DAG run (``dag_id``, ``run_id``), or None when Airflow
        has no such run. A job that is still queued or running is refused (its later steps could
        create what this removes), except in a dry run.
    :param job_dns: returns the results of a job's Route 53 steps (``dag_id``, ``run_id``).

    Returns what :func:`start_removal` returns, with ``dns_results``: plain JSON for the next steps.
    """
    try:
        config = parse_config(CleanupConfig, params)
    except ConfigError as error:
        raise JobInputError(str(error)) from None
    require_connection(config.aws_conn_id)
    if config.distribution_id is not None or config.tenant_id is not None:  # one site, not one job's
        from cloudfront_ssl.steps.site_removal import start_site_removal, start_tenant_removal

        if config.dns_aws_conn_id:
            require_connection(config.dns_aws_conn_id, "dns_aws_conn_id")
        if config.tenant_id is not None:
            return start_tenant_removal(config)
        return start_site_removal(config)
    assert config.job_run_id is not None  # the model requires one of the two
    state = job_state(config.job_dag_id, config.job_run_id) if job_state else None
    if state in ("queued", "running") and not config.dry_run:
        raise JobInputError(
            f"job_run_id: job {quote_input(config.job_run_id)} of {config.job_dag_id} is still {state}; "
            "wait until it ends (or mark it failed) before removing what it created"
        )
    if job_state and state is None:
        log.warning(
            "Airflow has no run %s of %s: removing what its tags name", config.job_run_id, config.job_dag_id
        )
    dns_results = job_dns(config.job_dag_id, config.job_run_id) if job_dns else []
    started = start_removal(
        config.aws_conn_id,
        config.job_dag_id,
        config.job_run_id,
        dry_run=config.dry_run,
        dns_results=dns_results,
    )
    started["dns_results"] = dns_results
    return started


def finish_cleanup(started: dict[str, Any]) -> dict[str, Any]:
    """The ``ssl_cleanup_job``'s last step, after the deferred wait: :func:`finish_removal` (or, for
    one site, :func:`cloudfront_ssl.steps.site_removal.finish_site_removal`)."""
    if "tenant" in started:
        from cloudfront_ssl.steps.site_removal import finish_tenant_removal

        return finish_tenant_removal(started)
    if "site" in started:
        from cloudfront_ssl.steps.site_removal import finish_site_removal

        return finish_site_removal(started)
    return finish_removal(started["aws_conn_id"], started, dns_results=started.get("dns_results"))


def cleanup_failed_job(
    params: dict[str, Any],
    dag_id: str,
    run_id: str,
    *,
    failed_steps: int,
    created_anything: bool = True,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    dns_results: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """The job DAGs' ``cleanup_on_failure`` step: remove what a failed job created, if its conf asks.

    Returns None (nothing to do) when ``cleanup_on_failure`` is false, no step failed, or no step
    that creates anything ever ran (a job refused by its check created nothing, so the account is
    not searched). The step runs once every other step has finished (mapped siblings included), so
    nothing is created after it. Removal is idempotent; an error fails the step, whose retry (or
    ``ssl_cleanup_job``) finishes it.
    """
    if not _cleanup_wanted(params, run_id, failed_steps, created_anything):
        return None
    log.info("cleanup_on_failure: removing what job %s of %s created", run_id, dag_id)
    return remove_job_resources(
        params.get("aws_conn_id") or "aws_default",
        dag_id,
        run_id,
        dry_run=False,
        poll_seconds=poll_seconds,
        dns_results=dns_results,
    )


def _cleanup_wanted(params: dict[str, Any], run_id: str, failed_steps: int, created_anything: bool) -> bool:
    if not params.get("cleanup_on_failure") or failed_steps == 0:
        return False
    if not created_anything:
        log.info("cleanup_on_failure: job %s created nothing, so there is nothing to remove", run_id)
        return False
    return True


def start_failed_job_cleanup(
    params: dict[str, Any],
    dag_id: str,
    run_id: str,
    *,
    failed_steps: int,
    created_anything: bool = True,
    dns_results: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """The first half of the job DAGs' ``cleanup_on_failure`` step: :func:`start_removal` of a failed job.

    None when there is nothing to do (as :func:`cleanup_failed_job`). Otherwise what
    :func:`start_removal` returns, with ``dns_results``: the step then waits, deferred, until the
    disabled distributions are deployed (:mod:`cloudfront_ssl.steps.deployment_wait`) and finishes with
    :func:`finish_cleanup`.
    """
    if not _cleanup_wanted(params, run_id, failed_steps, created_anything):
        return None
    log.info("cleanup_on_failure: removing what job %s of %s created", run_id, dag_id)
    aws_conn_id = params.get("aws_conn_id") or "aws_default"
    started = start_removal(aws_conn_id, dag_id, run_id, dry_run=False, dns_results=dns_results)
    return {**started, "aws_conn_id": aws_conn_id, "dns_results": dns_results}
