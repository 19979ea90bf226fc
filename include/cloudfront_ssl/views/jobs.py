"""The jobs as Airflow records them: runs of the job DAGs, their task instances and XComs.

A job is a DAG run of ``ssl_create_certificates`` or ``ssl_import_certificate``; its ``run_id`` is the
job id. Its result is the XCom of its last task, ``summary``; a job that did not get that far is
summarised from the XComs of the steps that did finish. Of a run's conf, which for an import job may
hold a private key, only the names (:data:`CONF_NAME_KEYS`) and the AWS connection
(:data:`CONF_CONNECTION_KEY`) are read, never any other key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cloudfront_ssl.rules.messages import iso, scrub_secrets
from cloudfront_ssl.vocabulary import (
    CERTIFICATE_STEPS,
    CHECK,
    CREATE_DAG_ID,
    DISTRIBUTION_STEPS,
    DNS_STEPS,
    EARLIER_DISTRIBUTION_STEPS,
    FAILED,
    IMPORT_DAG_ID,
    ITEM_STEPS,
    JOB_DAG_IDS,
    SUMMARY,
    TENANT_STEPS,
    UPDATE_DAG_ID,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CERTIFICATE_KEYS = ("arn", "names", "status", "validation_records")
DISTRIBUTION_KEYS = ("id", "arn", "domain_name", "aliases", "certificate_arn")
DNS_RECORD_KEYS = ("zone_id", "name", "type", "value", "alias_target")
TENANT_KEYS = ("id", "arn", "name", "domains", "routing_endpoint", "certificate_arn", "managed")
SITE_KEYS = (
    "distribution_id",
    "tenant_id",
    "names_before",
    "names_after",
    "names_added",
    "names_removed",
    "certificate_before",
    "certificate_arn",
    "replaced_certificate_arn",
    "replaced_certificate_deleted",
)
"""An update's before and after (``ssl_update_site``): its summary's site fields, or its plan's."""
MAX_JOBS = 500
FIRST_NAMES = 3
"""How many of a job's names the jobs list shows."""
CONF_NAME_KEYS = {CREATE_DAG_ID: "certificates", IMPORT_DAG_ID: "certificate_name", UPDATE_DAG_ID: "names"}
"""The one conf key per job DAG that the jobs list reads: the names the user asked for."""
CONF_CONNECTION_KEY = "aws_conn_id"
"""The conf key of the connection a job ran with: its resources are read through it."""


def conf_connection(conf: Any) -> str:
    """The Airflow AWS connection a job ran with: its conf's ``aws_conn_id``, or the DAGs' default."""
    from cloudfront_ssl.rules.config import ConnectionOptions

    value = conf.get(CONF_CONNECTION_KEY) if isinstance(conf, dict) else None
    if isinstance(value, str) and value.strip():
        return value.strip()
    return str(ConnectionOptions.model_fields[CONF_CONNECTION_KEY].default)


def _state(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def conf_names(dag_id: str, conf: Any) -> list[str]:
    """The names a job was started with, from the one name key of its conf (:data:`CONF_NAME_KEYS`).

    Read as given (not validated), so that a job refused for a bad name still shows that name.
    """
    from cloudfront_ssl.rules.names import split_names

    if not isinstance(conf, dict):
        return []
    value = conf.get(CONF_NAME_KEYS.get(dag_id, ""))
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    names: list[str] = []
    for item in items:
        try:
            names += split_names(item)
        except ValueError:
            continue
    return names


def list_jobs(
    session: Session,
    *,
    dag_id: str | None = None,
    dag_ids: Iterable[str] | None = None,
    state: str | None = None,
    name: str | None = None,
    limit: int = MAX_JOBS,
    read_logs: bool = True,
) -> list[dict[str, Any]]:
    """The jobs, newest first, each with what a user recognises it by.

    Each job: ``dag_id``, ``run_id``, ``state``, ``run_after``, ``start``, ``end``, ``names`` (the first
    :data:`FIRST_NAMES` names it was started with) and ``names_total``, ``certificates`` and
    ``distributions`` (how many it made so far) and ``error`` (for a failed job, the step and its
    error). ``dag_ids`` limits the jobs to those DAGs (the ones the user may read); ``dag_id`` to one
    of them; ``state`` to a run state; ``name`` to the jobs one of whose names contains that text.
    """
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    allowed = [d for d in (dag_ids if dag_ids is not None else JOB_DAG_IDS) if d in JOB_DAG_IDS]
    if dag_id:
        allowed = [d for d in allowed if d == dag_id]
    if not allowed:
        return []
    limit = max(1, min(limit, MAX_JOBS))
    query = select(DagRun).where(DagRun.dag_id.in_(allowed))
    if state:
        query = query.where(DagRun._state == state.lower())
    query = query.order_by(DagRun.run_after.desc(), DagRun.id.desc())
    # Filtering by name reads the names of the last MAX_JOBS runs; without it, only ``limit`` runs.
    needle = (name or "").strip().lower()
    query = query.limit(MAX_JOBS if needle else limit)
    jobs = []
    for run in session.scalars(query):
        names = conf_names(run.dag_id, run.conf)
        if needle and not any(needle in candidate.lower() for candidate in names):
            continue
        jobs.append(
            {
                "dag_id": run.dag_id,
                "run_id": run.run_id,
                "state": _state(run.state),
                "run_after": iso(run.run_after),
                "start": iso(run.start_date),
                "end": iso(run.end_date),
                "names": names[:FIRST_NAMES],
                "names_total": len(names),
            }
        )
        if len(jobs) >= limit:
            break
    _add_counts_and_errors(session, jobs, read_logs=read_logs)
    return jobs


def _add_counts_and_errors(session: Session, jobs: list[dict[str, Any]], *, read_logs: bool) -> None:
    """Set each job's ``certificates``, ``distributions``, ``tenants`` and ``error`` with one query per table."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import select, tuple_

    if not jobs:
        return
    keys = [(job["dag_id"], job["run_id"]) for job in jobs]
    counted: dict[tuple[str, str], dict[str, list[Any]]] = {key: {} for key in keys}
    rows = session.scalars(
        select(XComModel).where(
            tuple_(XComModel.dag_id, XComModel.run_id).in_(keys),
            XComModel.task_id.in_(
                [SUMMARY, *CERTIFICATE_STEPS, *DISTRIBUTION_STEPS, *EARLIER_DISTRIBUTION_STEPS, *TENANT_STEPS]
            ),
            XComModel.key == "return_value",
        )
    )
    for row in rows:
        try:
            value = _xcom_value(row)
        except ValueError as error:  # counted as nothing; the job view names the unreadable result
            log.warning("Cannot read the result of %s in %s: %s", row.task_id, row.run_id, error)
            continue
        counted[(row.dag_id, row.run_id)].setdefault(row.task_id, []).append(value)
    failed: dict[tuple[str, str], list[Any]] = {}
    for ti in session.scalars(
        select(TaskInstance).where(
            tuple_(TaskInstance.dag_id, TaskInstance.run_id).in_(keys), TaskInstance.state == FAILED
        )
    ):
        failed.setdefault((ti.dag_id, ti.run_id), []).append(ti)
    kept = _kept_errors(session, [ti for tis in failed.values() for ti in tis])
    for job in jobs:
        values = counted[(job["dag_id"], job["run_id"])]
        summary = values.get(SUMMARY)
        if summary and isinstance(summary[0], dict):
            certificates = len(summary[0].get("certificates") or [])
            distributions = len(summary[0].get("distributions") or [])
            tenants = len(summary[0].get("tenants") or [])
        else:
            certificates = sum(_count(v) for t in CERTIFICATE_STEPS for v in values.get(t, []))
            distributions = sum(
                len(_distributions(v))
                for t in (*DISTRIBUTION_STEPS, *EARLIER_DISTRIBUTION_STEPS)
                for v in values.get(t, [])
            )
            tenants = sum(_count(v) for t in TENANT_STEPS for v in values.get(t, []))
        job["certificates"] = certificates
        job["distributions"] = distributions
        job["tenants"] = tenants
        job["error"] = (
            _run_error(
                job["state"], failed.get((job["dag_id"], job["run_id"]), []), read_logs=read_logs, kept=kept
            )
            if job["state"] == FAILED
            else None
        )


def _xcom_text(row: Any) -> str | None:
    """A text XCom value (a step's recorded failure), read through a custom XCom backend if there is
    one; None when it cannot be read here (the error then comes from the step's log)."""
    try:
        value = _stored_value(row)
    except ValueError:
        log.warning("Cannot read the recorded failure of %s in %s", row.task_id, row.run_id, exc_info=True)
        return None
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int:
    if isinstance(value, list):
        return len(value)
    return 1 if isinstance(value, dict) else 0


def _distributions(value: Any) -> list[Any]:
    """The distributions a distribution step's result holds: of its per-item results, those created
    (an earlier version's mapped step held one distribution per map index)."""
    from cloudfront_ssl.steps.distributions import created

    return created(value) if isinstance(value, list) else [value] if isinstance(value, dict) else []


def _step_name(ti: Any) -> str:
    return ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.rendered_map_index or ti.map_index}]"


def _kept_errors(session: Session, failed: list[Any]) -> dict[tuple[str, str, str, int], str]:
    """The errors failed steps recorded as XCom (``notify.FAILURE_KEY``), by (dag, run, task, map index)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select, tuple_

    from cloudfront_ssl.aws.notify import FAILURE_KEY

    if not failed:
        return {}
    keys = {(ti.dag_id, ti.run_id, ti.task_id, ti.map_index) for ti in failed}
    rows = session.scalars(
        select(XComModel).where(
            tuple_(XComModel.dag_id, XComModel.run_id).in_(sorted({(k[0], k[1]) for k in keys})),
            XComModel.key == FAILURE_KEY,
        )
    )
    kept = {}
    for row in rows:
        key = (row.dag_id, row.run_id, row.task_id, row.map_index)
        value = _xcom_text(row)
        if key in keys and value:
            kept[key] = value
    return kept


def _run_error(
    run_state: str | None, failed: list[Any], *, read_logs: bool, kept: dict[tuple[str, str, str, int], str]
) -> str | None:
    """The error of a run: each failed step with its error, as the step kept it or, failing that, as
    its log ends (private keys removed either way)."""
    if failed:
        parts = []
        for ti in sorted(failed, key=lambda ti: (ti.start_date is None, ti.start_date, ti.task_id)):
            reason = kept.get((ti.dag_id, ti.run_id, ti.task_id, ti.map_index))
            if reason is None and read_logs:
                reason = _error_from_log(ti)
            parts.append(f"step '{_step_name(ti)}' failed" + (f": {reason}" if reason else ""))
        return scrub_secrets("; ".join(parts))
    if run_state == FAILED:
        return "the job failed (no step reported an error: it may have been stopped or timed out)"
    return None


def _stored_value(row: Any) -> Any:
    """A stored XCom value as the task pushed it.

    Most rows hold JSON. A custom XCom backend (object storage, for one) may keep large values outside
    the database and store a reference in the row: its own ``deserialize_value`` reads them back.
    Raises ``ValueError`` when the value cannot be read here.
    """
    value = row.value
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    from airflow.sdk.bases.xcom import BaseXCom
    from airflow.sdk.execution_time.xcom import resolve_xcom_backend

    backend = resolve_xcom_backend()
    if backend is not BaseXCom:
        try:
            value = backend.deserialize_value(row)
        except Exception as error:
            raise ValueError(f"{type(error).__name__}: {error}") from None
    return value


def read_xcom(row: Any) -> Any:
    """A stored XCom value as the task pushed it (JSON, or through a custom XCom backend); ``ValueError``
    when it cannot be read here."""
    return _stored_value(row)


def _xcom_value(row: Any) -> Any:
    """A step's result (a dict or a list) as the task returned it; ``ValueError`` when unreadable."""
    value = _stored_value(row)
    if not isinstance(value, dict | list):
        raise ValueError(f"not a result of this package ({type(value).__name__})")
    return value


def _xcom_values(
    session: Session, dag_id: str, run_id: str, task_id: str, problems: list[str] | None = None
) -> list[Any]:
    """The return values a task pushed in a run, one per map index (in order).

    A value that cannot be read here is left out and said in ``problems``, never silently dropped.
    """
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    rows = session.scalars(
        select(XComModel)
        .where(
            XComModel.dag_id == dag_id,
            XComModel.run_id == run_id,
            XComModel.task_id == task_id,
            XComModel.key == "return_value",
        )
        .order_by(XComModel.map_index)
    ).all()
    values = []
    for row in rows:
        try:
            values.append(_xcom_value(row))
        except ValueError as error:
            step = task_id if row.map_index < 0 else f"{task_id}[{row.map_index}]"
            log.warning("Cannot read the result of %s in %s: %s", step, run_id, error)
            if problems is not None:
                problems.append(
                    f"the result of step '{step}' could not be read here ({error}); "
                    "Airflow's own XCom view shows it"
                )
    return values


def _pick(item: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """Only the fields of a job's summary: whatever else a step returned is never shown."""
    if not isinstance(item, dict):
        return None
    return {key: item.get(key) for key in keys}


def clean_summary(summary: Any) -> dict[str, Any]:
    """A summary restricted to its documented fields (``docs/reference.md``, "What a job leaves behind")."""
    summary = summary if isinstance(summary, dict) else {}
    certificates = [_pick(c, CERTIFICATE_KEYS) for c in summary.get("certificates") or []]
    distributions = [_pick(d, DISTRIBUTION_KEYS) for d in summary.get("distributions") or []]
    dns = [_pick(r, DNS_RECORD_KEYS) for r in summary.get("dns_records") or []]
    tenants = [_pick(t, TENANT_KEYS) for t in summary.get("tenants") or []]
    cleaned: dict[str, Any] = {
        "certificates": [c for c in certificates if c],
        "distributions": [d for d in distributions if d],
        "dns_records": [{k: v for k, v in r.items() if v is not None} for r in dns if r],
    }
    if any(tenants):
        cleaned["tenants"] = [t for t in tenants if t]
    if isinstance(summary.get("site"), dict):
        cleaned["site"] = _pick(summary["site"], SITE_KEYS)
    elif summary.get("distribution_id") or summary.get("tenant_id"):
        cleaned["site"] = _pick(summary, SITE_KEYS)
    return cleaned


def job_summary(
    session: Session, dag_id: str, run_id: str, problems: list[str] | None = None
) -> dict[str, Any]:
    """The job's summary as far as the job got; what could not be read is said in ``problems``."""
    final = _xcom_values(session, dag_id, run_id, SUMMARY, problems)
    if final:
        return clean_summary(final[0])
    site = None
    if dag_id == UPDATE_DAG_ID:  # before its summary, an update's plan says what it changes
        planned = _xcom_values(session, dag_id, run_id, CHECK, problems)
        site = planned[0] if planned and isinstance(planned[0], dict) else None
    certificates: list[Any] = []
    for task_id in CERTIFICATE_STEPS:
        for value in _xcom_values(session, dag_id, run_id, task_id, problems):
            certificates += value if isinstance(value, list) else [value]
    distributions: list[Any] = []
    for task_id in (*DISTRIBUTION_STEPS, *EARLIER_DISTRIBUTION_STEPS):
        for value in _xcom_values(session, dag_id, run_id, task_id, problems):
            distributions += _distributions(value)
    written: list[Any] = []
    for task_id in DNS_STEPS:
        for value in _xcom_values(session, dag_id, run_id, task_id, problems):
            # A dict, or (alias records) one result per distribution; a failed item wrote nothing.
            for result in value if isinstance(value, list) else [value]:
                written += result.get("records") or [] if isinstance(result, dict) else []
    tenants: list[Any] = []
    for task_id in TENANT_STEPS:
        for value in _xcom_values(session, dag_id, run_id, task_id, problems):
            tenants += value if isinstance(value, list) else [value]
    return clean_summary(
        {
            "certificates": certificates,
            "distributions": distributions,
            "tenants": tenants,
            "dns_records": written,
            "site": site,
        }
    )


def route53_zones(session: Session, dag_id: str, run_id: str, summary: dict[str, Any]) -> dict[str, str]:
    """``{record name: hosted zone id}`` of the job's DNS records that Route 53 holds: those the job
    wrote (the summary's ``dns_records``) and the validation records it found in place already.

    The DNS administrator has nothing to add for these names.
    """
    from cloudfront_ssl.rules.messages import record_key

    held = list(summary.get("dns_records") or [])
    for value in _xcom_values(session, dag_id, run_id, DNS_STEPS[0]):
        held += value.get("in_place") or [] if isinstance(value, dict) else []
    return {
        record_key(str(record["name"])): str(record["zone_id"])
        for record in held
        if isinstance(record, dict) and record.get("name") and record.get("zone_id")
    }


def _error_from_log(ti: Any) -> str | None:
    """The last error line of a failed task's log, when the log can be read here (best effort)."""
    try:
        from airflow.utils.log.log_reader import TaskLogReader

        messages, _ = TaskLogReader().read_log_chunks(ti, ti.try_number, {"end_of_log": False})
        found = None
        for message in messages:
            data = message.model_dump() if hasattr(message, "model_dump") else dict(message)
            if str(data.get("level", "")).lower() not in ("error", "critical"):
                continue
            text = str(data.get("event") or "")
            for detail in data.get("error_detail") or []:
                if isinstance(detail, dict) and detail.get("exc_value"):
                    text = f"{detail.get('exc_type', 'Error')}: {detail['exc_value']}"
            found = text or found
        return found
    except Exception:  # a missing or remote log only costs the detail, never the page
        log.debug("No log to read for %s", ti, exc_info=True)
        return None


def job_detail(
    session: Session, dag_id: str, run_id: str, *, read_logs: bool = True
) -> dict[str, Any] | None:
    """One job: ``state``, ``steps`` (name, state, start, end; in the DAG's order), ``summary``,
    ``error``, ``waiting`` (what a deferred step waits for, :func:`~cloudfront_ssl.views.progress.waiting`)
    and ``aws_conn_id`` (the connection it ran with, through which its resources are read); None if
    unknown."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    from cloudfront_ssl.views.progress import step_order, waiting

    if dag_id not in JOB_DAG_IDS:
        return None
    run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).first()
    if run is None:
        return None
    instances = session.scalars(
        select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    ).all()
    # Steps in the DAG's order (a mapped step's instances by index); when the DAG cannot be read, in
    # the order they ran, the steps that never started (skipped, upstream failed) last.
    order = step_order(session, run)
    instances = sorted(
        instances,
        key=lambda ti: (
            order.get(ti.task_id, len(order)),
            ti.start_date is None,
            ti.start_date or run.run_after,
            ti.task_id,
            ti.map_index,
        ),
    )
    steps = []
    failed = []
    for ti in instances:
        state = _state(ti.state)
        steps.append(
            {"name": _step_name(ti), "state": state, "start": iso(ti.start_date), "end": iso(ti.end_date)}
        )
        if ti.task_id in ITEM_STEPS and ti.map_index < 0:
            steps += _item_steps(session, ti)
        if state == FAILED:
            failed.append(ti)
    error = _run_error(_state(run.state), failed, read_logs=read_logs, kept=_kept_errors(session, failed))
    problems: list[str] = []
    summary = job_summary(session, dag_id, run_id, problems)
    return {
        "route53_zones": route53_zones(session, dag_id, run_id, summary),
        "dag_id": dag_id,
        "run_id": run_id,
        "state": _state(run.state),
        "aws_conn_id": conf_connection(run.conf),
        "start": iso(run.start_date),
        "end": iso(run.end_date),
        "steps": steps,
        "summary": summary,
        "error": error,
        "notes": problems,
        "waiting": waiting(instances),
    }


def _item_steps(session: Session, ti: Any) -> list[dict[str, Any]]:
    """Each item of a step that works on all of a job's items, as ``step[first alias]`` with the item's
    own state (``success`` or ``failed``), from the results the step keeps in its XCom (its current or
    last try's). An item's error is in the step's error, naming the item."""
    rows = []
    for value in _xcom_values(session, ti.dag_id, ti.run_id, ti.task_id):
        for result in value if isinstance(value, list) else []:
            if not isinstance(result, dict) or not result.get("aliases"):
                continue
            rows.append(
                {
                    "name": f"{ti.task_id}[{result['aliases'][0]}]",
                    "state": result.get("state"),
                    "start": iso(ti.start_date),
                    "end": iso(ti.end_date),
                }
            )
    return rows


def with_current_status(summary: dict[str, Any], statuses: dict[str, str]) -> dict[str, Any]:
    """The summary with each certificate's status as ACM reports it now.

    :param statuses: ACM's status by ARN (:func:`cloudfront_ssl.aws.acm_status.current_statuses`); a
        certificate ACM no longer knows shows ``DELETED``, one missing from ``statuses`` keeps the
        status the job recorded.
    """
    from cloudfront_ssl.aws.acm_status import NOT_FOUND

    def now(certificate: dict[str, Any]) -> Any:
        status = statuses.get(certificate.get("arn") or "", certificate.get("status"))
        return "DELETED" if status == NOT_FOUND else status

    certificates = [
        {**certificate, "status": now(certificate)} for certificate in summary.get("certificates", [])
    ]
    return {**summary, "certificates": certificates}
