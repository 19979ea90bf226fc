"""The Fleet page's data: the last runs of ``ssl_fleet`` as Airflow records them (runs, task states, XComs).

Nothing here calls AWS: what the account holds is what the last fleet run planned against it. Each
site's state:

- ``in_step``: the last plan has nothing to do for it, or its job in that run succeeded;
- ``failed``: its most recent job failed (or could not start), and no later run put it in step;
- ``drift``: the last plan found it changed outside the file (names or certificate), not yet put back;
- ``to_change``: the last plan creates, changes or removes it (or only reports that: a removal
  without ``fleet_remove``, a changed hosting), not yet done.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cloudfront_ssl.rules.messages import iso
from cloudfront_ssl.steps.fleet_job import APPLIED, IN_STEP, JOB_FAILED, NOT_STARTED, fleet_settings
from cloudfront_ssl.vocabulary import (
    APPROVE,
    FLEET_DAG_ID,
    FLEET_REPORT,
    JOB_DAG_IDS,
    PLAN_FLEET,
    READ_FLEET,
    state_name,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

RUNS = 20
"""How many of the last fleet runs the page reads (each site's jobs are found among them)."""
SITE_STATES = ("in_step", "to_change", "failed", "drift")
WAITING_STATES = ("awaiting_input", "deferred")
"""States of the approval step while it waits for a person."""


def fleet_overview(session: Session, *, runs: int = RUNS) -> dict[str, Any]:
    """The Fleet page's data, also the API's answer.

    ``settings`` (the fleet settings, no secret among them), ``runs`` (the last fleet runs, newest
    first: ``run_id``, ``state``, ``start``, ``end``, ``problems`` (a file's errors), ``waiting_for_approval``,
    ``approval`` (the decision), ``counts`` (what the sites ended as)), ``last_run`` (the first of
    ``runs`` or None), ``last_plan`` (``run_id``, ``text``, ``items`` of the newest run that planned),
    ``sites`` (each site of the last plan: ``site``, ``state``, ``action``, ``apply``, ``drift``,
    ``reasons``, ``line``, ``names_before``, ``names_after``, ``plan_line``, ``jobs`` (newest first:
    ``dag_id``, ``run_id``, ``state``, ``fleet_run``, ``job_view``)) and ``counts`` (sites per state).
    """
    settings = fleet_settings()
    found = _runs(session, runs)
    values = _xcoms(session, [run["run_id"] for run in found])
    waiting = _waiting(session, [run["run_id"] for run in found])
    for run in found:
        own = values.get(run["run_id"], {})
        report = own.get((FLEET_REPORT, "return_value"))
        run["problems"] = own.get((READ_FLEET, "problems")) or []
        run["planned"] = own.get((PLAN_FLEET, "return_value")) is not None
        run["waiting_for_approval"] = run["run_id"] in waiting
        run["approval"] = report.get("approval") if isinstance(report, dict) else None
        run["counts"] = report.get("counts") if isinstance(report, dict) else None
    plan_run = next((run for run in found if run["planned"]), None)
    plan = values[plan_run["run_id"]][(PLAN_FLEET, "return_value")] if plan_run else None
    sites = _sites(plan, plan_run, found, values)
    counts = {state: sum(1 for site in sites if site["state"] == state) for state in SITE_STATES}
    return {
        "settings": {
            "file": settings.file,
            "schedule": settings.schedule,
            "remove": settings.remove,
            "approval": settings.approval,
            "max_jobs": settings.max_jobs,
        },
        "runs": found,
        "last_run": found[0] if found else None,
        "last_plan": (
            {"run_id": plan_run["run_id"], "text": plan.get("text"), "items": plan.get("items") or []}
            if plan_run and isinstance(plan, dict)
            else None
        ),
        "sites": sites,
        "counts": counts,
    }


def site_state(item: dict[str, Any], entry: dict[str, Any] | None, last_job: dict[str, Any] | None) -> str:
    """A site's state from its item in the last plan, what that run's report says it ended as (None
    while the run goes on), and the most recent job the fleet ran for it (None: none)."""
    if entry is not None and entry.get("ended_as") in (APPLIED, IN_STEP):
        return "in_step"
    settled = item.get("action") == "keep" and not item.get("drift")
    if last_job is not None and last_job.get("ended_as") in (JOB_FAILED, NOT_STARTED) and not settled:
        return "failed"
    if item.get("drift"):
        return "drift"
    return "in_step" if settled else "to_change"


def _sites(
    plan: Any, plan_run: dict[str, Any] | None, found: list[dict[str, Any]], values: dict[str, Any]
) -> list[dict[str, Any]]:
    if not isinstance(plan, dict) or plan_run is None:
        return []
    reports = [
        (run["run_id"], values.get(run["run_id"], {}).get((FLEET_REPORT, "return_value"))) for run in found
    ]
    plan_report = values.get(plan_run["run_id"], {}).get((FLEET_REPORT, "return_value"))
    this_run = {e["site"]: e for e in (plan_report or {}).get("sites") or [] if isinstance(e, dict)}
    sites = []
    for item in plan.get("items") or []:
        name = item.get("site")
        jobs = []
        for fleet_run, report in reports:
            for entry in (report or {}).get("sites") or [] if isinstance(report, dict) else []:
                if isinstance(entry, dict) and entry.get("site") == name and entry.get("job"):
                    job = entry["job"]
                    jobs.append(
                        {
                            "dag_id": job.get("dag_id"),
                            "run_id": job.get("run_id"),
                            "state": job.get("state"),
                            "ended_as": entry.get("ended_as"),
                            "fleet_run": fleet_run,
                            "job_view": job.get("dag_id") in JOB_DAG_IDS,
                        }
                    )
        sites.append(
            {
                "site": name,
                "state": site_state(item, this_run.get(name), jobs[0] if jobs else None),
                "action": item.get("action"),
                "apply": item.get("apply"),
                "drift": item.get("drift"),
                "reasons": list(item.get("reasons") or []),
                "line": item.get("line"),
                "names_before": list(item.get("names_before") or []),
                "names_after": list(item.get("names_after") or []),
                "plan_line": plan_line(str(plan.get("text") or ""), str(name), str(item.get("action"))),
                "jobs": jobs,
            }
        )
    return sites


def plan_line(text: str, site: str, action: str) -> str:
    """The site's line in the plan's text (the first that names it), else its action."""
    import re

    pattern = re.compile(rf"(?<![a-z0-9-]){re.escape(site)}(?![a-z0-9-])")
    for line in text.splitlines():
        if pattern.search(line):
            return line.strip()
    return action


def _runs(session: Session, limit: int) -> list[dict[str, Any]]:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    query = (
        select(DagRun)
        .where(DagRun.dag_id == FLEET_DAG_ID)
        .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        .limit(limit)
    )
    return [
        {
            "run_id": run.run_id,
            "state": state_name(run.state),
            "run_type": state_name(run.run_type),
            "run_after": iso(run.run_after),
            "start": iso(run.start_date),
            "end": iso(run.end_date),
        }
        for run in session.scalars(query)
    ]


def _xcoms(session: Session, run_ids: list[str]) -> dict[str, dict[tuple[str, str], Any]]:
    """The plan, the report and a file's problems of each run: ``{run_id: {(task_id, key): value}}``."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    from cloudfront_ssl.views.jobs import read_xcom

    if not run_ids:
        return {}
    rows = session.scalars(
        select(XComModel).where(
            XComModel.dag_id == FLEET_DAG_ID,
            XComModel.run_id.in_(run_ids),
            XComModel.task_id.in_([READ_FLEET, PLAN_FLEET, FLEET_REPORT]),
            XComModel.key.in_(["return_value", "problems"]),
        )
    )
    found: dict[str, dict[tuple[str, str], Any]] = {}
    for row in rows:
        try:
            value = read_xcom(row)
        except ValueError as error:
            log.warning("Cannot read %s of fleet run %s: %s", row.task_id, row.run_id, error)
            continue
        found.setdefault(row.run_id, {})[(row.task_id, row.key)] = value
    return found


def _waiting(session: Session, run_ids: list[str]) -> set[str]:
    """The runs whose approval step waits for a person."""
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    if not run_ids:
        return set()
    rows = session.scalars(
        select(TaskInstance).where(
            TaskInstance.dag_id == FLEET_DAG_ID,
            TaskInstance.run_id.in_(run_ids),
            TaskInstance.task_id == APPROVE,
        )
    )
    return {ti.run_id for ti in rows if state_name(ti.state) in WAITING_STATES}
