"""The jobs as Airflow records them: runs of the job DAGs, their task instances and XComs.

A job is a DAG run of ``ssl_create_certificates`` or ``ssl_import_certificate``; its ``run_id`` is the
job id. Its result is the XCom of its last task, ``summary`` (spec section 7); a job that did not get
that far is summarised from the XComs of the steps that did finish. Nothing here reads a run's conf,
which for an import job may hold a private key.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from cloudfront_ssl.messages import iso, scrub_secrets
from cloudfront_ssl.tags import JOB_DAG_IDS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

SUMMARY_TASK = "summary"
CERTIFICATE_TASKS = ("request_certificates", "import_certificate")
"""Steps whose XCom lists a job's certificates, read when the job has no summary yet."""
DISTRIBUTION_TASKS = ("create_distribution", "create_distributions")
"""Steps whose XCom holds a job's distributions (a mapped task: one per distribution)."""
CERTIFICATE_KEYS = ("arn", "names", "status", "validation_records")
DISTRIBUTION_KEYS = ("id", "arn", "domain_name", "aliases", "certificate_arn")
MAX_JOBS = 500


def _state(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def list_jobs(
    session: Session, *, dag_id: str | None = None, state: str | None = None, limit: int = MAX_JOBS
) -> list[dict[str, Any]]:
    """The jobs, newest first: ``dag_id``, ``run_id``, ``state``, ``run_after``, ``start``, ``end``."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    dag_ids = [dag_id] if dag_id else list(JOB_DAG_IDS)
    if dag_id and dag_id not in JOB_DAG_IDS:
        return []
    query = select(DagRun).where(DagRun.dag_id.in_(dag_ids))
    if state:
        query = query.where(DagRun._state == state.lower())
    query = query.order_by(DagRun.run_after.desc(), DagRun.id.desc()).limit(max(1, min(limit, MAX_JOBS)))
    return [
        {
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "state": _state(run.state),
            "run_after": iso(run.run_after),
            "start": iso(run.start_date),
            "end": iso(run.end_date),
        }
        for run in session.scalars(query)
    ]


def _xcom_values(session: Session, dag_id: str, run_id: str, task_id: str) -> list[Any]:
    """The return values a task pushed in a run, one per map index (in order)."""
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
        value = row.value
        if isinstance(value, str | bytes):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        values.append(value)
    return values


def _pick(item: Any, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """Only the summary fields of spec section 7: whatever else a step returned is never shown."""
    if not isinstance(item, dict):
        return None
    return {key: item.get(key) for key in keys}


def clean_summary(summary: Any) -> dict[str, Any]:
    """A summary restricted to the fields of spec section 7."""
    summary = summary if isinstance(summary, dict) else {}
    certificates = [_pick(c, CERTIFICATE_KEYS) for c in summary.get("certificates") or []]
    distributions = [_pick(d, DISTRIBUTION_KEYS) for d in summary.get("distributions") or []]
    return {
        "certificates": [c for c in certificates if c],
        "distributions": [d for d in distributions if d],
    }


def job_summary(session: Session, dag_id: str, run_id: str) -> dict[str, Any]:
    """The job's summary (spec section 7) as far as the job got."""
    final = _xcom_values(session, dag_id, run_id, SUMMARY_TASK)
    if final:
        return clean_summary(final[0])
    certificates: list[Any] = []
    for task_id in CERTIFICATE_TASKS:
        for value in _xcom_values(session, dag_id, run_id, task_id):
            certificates += value if isinstance(value, list) else [value]
    distributions: list[Any] = []
    for task_id in DISTRIBUTION_TASKS:
        for value in _xcom_values(session, dag_id, run_id, task_id):
            distributions += value if isinstance(value, list) else [value]
    return clean_summary({"certificates": certificates, "distributions": distributions})


def _error_from_log(ti: Any) -> str | None:
    """The last error line of a failed task's log, when the log can be read here (best effort)."""
    try:
        from airflow.utils.log.log_reader import TaskLogReader

        messages, _ = TaskLogReader().read_log_chunks(ti, ti.try_number, {})
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
    """One job: ``state``, ``steps`` (name, state, start, end), ``summary`` and ``error``; None if unknown."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    if dag_id not in JOB_DAG_IDS:
        return None
    run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).first()
    if run is None:
        return None
    instances = session.scalars(
        select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    ).all()
    # Steps in the order they ran; steps that never started (skipped, upstream failed) come last.
    instances = sorted(
        instances,
        key=lambda ti: (ti.start_date is None, ti.start_date or run.run_after, ti.task_id, ti.map_index),
    )
    steps = []
    failed = []
    for ti in instances:
        name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.rendered_map_index or ti.map_index}]"
        state = _state(ti.state)
        steps.append({"name": name, "state": state, "start": iso(ti.start_date), "end": iso(ti.end_date)})
        if state == "failed":
            failed.append((name, ti))
    error = None
    if failed:
        parts = []
        for name, ti in failed:
            reason = _error_from_log(ti) if read_logs else None
            parts.append(f"step '{name}' failed" + (f": {reason}" if reason else ""))
        error = scrub_secrets("; ".join(parts))
    elif _state(run.state) == "failed":
        error = "the job failed (no step reported an error: it may have been stopped or timed out)"
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "state": _state(run.state),
        "start": iso(run.start_date),
        "end": iso(run.end_date),
        "steps": steps,
        "summary": job_summary(session, dag_id, run_id),
        "error": error,
    }


def with_current_status(summary: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary with each certificate's status as ACM reports it now (from the catalog's entries)."""
    status_by_arn = {entry["arn"]: entry.get("status") for entry in entries}
    certificates = [
        {**certificate, "status": status_by_arn.get(certificate.get("arn"), certificate.get("status"))}
        for certificate in summary.get("certificates", [])
    ]
    return {**summary, "certificates": certificates}
