"""A job's distributions, created in one step: each item's result or error kept, a retry redoing only
what is missing.

One task instance per distribution cost Airflow more than CloudFront: each one is scheduled, started,
logged and recorded on its own, about ten times what its CloudFront call takes. So one step creates
every distribution of a job, a few at a time (:data:`MAX_CONCURRENT_CREATES`), and records one result
per item, in the order of the job's items:

- ``state`` ``success``: the distribution (``id``, ``arn``, ``domain_name``, ``aliases``,
  ``certificate_arn``), with ``try_number``, the try of the step that made it or found it, and
  ``found`` when it was made by an earlier try;
- ``state`` ``failed``: ``error``, why (naming the item), and ``final`` when a retry will not help
  (the alias is taken, CloudFront refused the config).

An item that fails does not stop the others. The step then records every result (the job view shows
them) and fails, naming each failed item; unless every failure is final, Airflow tries it again. A
retry, Airflow's or a user's clear, finds what earlier tries made (by the job's tags and the aliases,
in one pass over the account's distributions) and creates only the rest: no item is made twice.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from cloudfront_ssl.aws import cloudfront
from cloudfront_ssl.aws.notify import describe_exception
from cloudfront_ssl.errors import FinalError
from cloudfront_ssl.rules.tags import is_job_resource, job_tags
from cloudfront_ssl.vocabulary import FAILED, SUCCESS

log = logging.getLogger(__name__)

MAX_CONCURRENT_CREATES = 4
"""CreateDistribution calls in flight at once in one step. A create takes seconds on AWS: four at a
time keep a 100-item job to minutes. Their rate stays under ``[ssl_certificates]
cloudfront_calls_per_second`` all the same: the threads share the client, and so the process's
CloudFront limiter (:mod:`cloudfront_ssl.aws.pacing`); a throttled call is retried by botocore."""

SUMMARY_KEYS = ("id", "arn", "domain_name", "aliases", "certificate_arn")
"""A distribution's fields in the job's summary."""


class DistributionsNotCreated(FinalError):
    """Some distributions could not be created, and no retry will change that (alias taken, refused)."""


class DistributionsIncomplete(RuntimeError):
    """Some distributions could not be created yet (throttling, a lost connection): a retry creates them."""


def item_name(group: dict[str, Any]) -> str:
    """How messages name an item: ``certificates[1] (a.example.com, www.a.example.com)``."""
    return f"certificates[{group['item']}] ({', '.join(group['aliases'])})"


def created(results: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The distributions among a step's results (an entry without ``state`` is a distribution too)."""
    return [
        result
        for result in results or []
        if isinstance(result, dict) and result.get("state", SUCCESS) == SUCCESS and result.get("id")
    ]


def summary_entries(results: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The created distributions as the job's summary lists them (its documented fields only)."""
    return [{key: result.get(key) for key in SUMMARY_KEYS} for result in created(results)]


def failed(results: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The failed items among a step's results."""
    return [result for result in results or [] if isinstance(result, dict) and result.get("state") == FAILED]


def failure_of(results: list[dict[str, Any]], what: str) -> Exception | None:
    """The error that fails a step whose items did not all succeed, naming each failed item; or None.

    :class:`DistributionsNotCreated` (no retry) when every failure is final, else
    :class:`DistributionsIncomplete` (Airflow tries the step again; done items are kept).
    """
    failures = failed(results)
    if not failures:
        return None
    message = f"{len(failures)} of {len(results)} {what} failed: " + "; ".join(
        str(result.get("error")) for result in failures
    )
    if all(result.get("final") for result in failures):
        return DistributionsNotCreated(message)
    return DistributionsIncomplete(message)


def earlier_distributions(
    client: Any, groups: list[dict[str, Any]], dag_id: str, run_id: str
) -> dict[int, dict[str, Any] | str]:
    """By item: the distribution an earlier try of this job made for it, or why its aliases are taken.

    One pass over the account's distributions; only those holding one of the job's aliases have their
    tags read. A distribution of this job (by its tags) is the item's; anyone else's holding an alias
    is a conflict, returned as its text.
    """
    owner = {alias.lower(): group["item"] for group in groups for alias in group["aliases"]}
    found: dict[int, dict[str, Any] | str] = {}
    for summary, held in cloudfront.distributions_holding(client, set(owner)):
        items = sorted({owner[alias] for alias in held})
        if is_job_resource(cloudfront.distribution_tags(client, summary["ARN"]), dag_id, run_id):
            for item in items:
                found.setdefault(item, cloudfront.distribution_result(summary))
            continue
        for item in items:
            found[item] = (
                f"{', '.join(sorted(held))}: already an alias of distribution {summary['Id']}; "
                "CloudFront allows an alias on one distribution only"
            )
    return found


def _success(
    group: dict[str, Any], distribution: dict[str, Any], try_number: int, found: bool
) -> dict[str, Any]:
    return {
        "item": group["item"],
        "state": SUCCESS,
        **{key: distribution.get(key) for key in SUMMARY_KEYS},
        "try_number": try_number,
        "found": found,
    }


def _failure(group: dict[str, Any], error: str, try_number: int, *, final: bool) -> dict[str, Any]:
    return {
        "item": group["item"],
        "state": FAILED,
        "aliases": list(group["aliases"]),
        "certificate_arn": group.get("certificate_arn"),
        "error": error,
        "final": final,
        "try_number": try_number,
    }


def create_distributions(
    aws_conn_id: str,
    source_distribution_id: str,
    groups: list[dict[str, Any]],
    *,
    dag_id: str,
    run_id: str,
    user_tags: dict[str, str],
    try_number: int = 1,
    site: str | None = None,
) -> list[dict[str, Any]]:
    """Create a job's distributions from the source's current config; one result per group, in order.

    ``groups`` hold ``item``, ``aliases`` and ``certificate_arn``. On the step's first try nothing of
    it can exist yet, so nothing is searched; a later try first finds what earlier tries made
    (:func:`earlier_distributions`). A source that cannot be read fails the step itself (every item
    needs it). Never raises for one item: see the module's docstring for the results. With ``site``
    every distribution carries the site's tags (``cloudfront-ssl:site`` and a digest of its aliases).
    """
    if not groups:
        return []
    client = cloudfront.cloudfront_hook(aws_conn_id).conn
    source = cloudfront.get_source_config(client, source_distribution_id)
    earlier = earlier_distributions(client, groups, dag_id, run_id) if try_number > 1 else {}
    results: dict[int, dict[str, Any]] = {}
    to_create = []
    for group in groups:
        prior = earlier.get(group["item"])
        if isinstance(prior, dict):
            log.info("Found %s, made by an earlier try, for %s", prior["id"], item_name(group))
            results[group["item"]] = _success(group, prior, try_number, found=True)
        elif isinstance(prior, str):
            results[group["item"]] = _failure(group, f"{item_name(group)}: {prior}", try_number, final=True)
        else:
            to_create.append(group)

    def create(group: dict[str, Any]) -> dict[str, Any]:
        # first_try: earlier tries were searched above, once for every item.
        return cloudfront.create_job_distribution(
            client,
            source,
            aliases=group["aliases"],
            certificate_arn=group["certificate_arn"],
            dag_id=dag_id,
            run_id=run_id,
            item=group["item"],
            tags=job_tags(dag_id, run_id, user_tags, site, group["aliases"], group["certificate_arn"]),
            first_try=True,
        )

    if to_create:
        workers = min(MAX_CONCURRENT_CREATES, len(to_create))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="create-distribution") as pool:
            futures = {pool.submit(create, group): group for group in to_create}
            for future in as_completed(futures):
                group = futures[future]
                try:
                    made = future.result()
                except FinalError as error:  # refused: the text names the item already
                    results[group["item"]] = _failure(group, str(error), try_number, final=True)
                except (
                    Exception
                ) as error:  # passing trouble (throttled, connection lost): a retry may mend it
                    results[group["item"]] = _failure(
                        group, f"{item_name(group)}: {describe_exception(error)}", try_number, final=False
                    )
                else:
                    results[group["item"]] = _success(group, made, try_number, found=False)
    ordered = [results[group["item"]] for group in groups]
    for result in ordered:
        if result["state"] == SUCCESS:
            log.info(
                "Distribution %s (%s) serves %s",
                result["id"],
                result["domain_name"],
                ", ".join(result["aliases"]),
            )
        else:
            log.error("Not created: %s", result["error"])
    return ordered
