"""The steps of ``ssl_fleet``: read the fleet file, plan, approve, apply through the jobs, report.

The DAG file (``dags/ssl_fleet.py``) wires these functions as tasks; each takes and returns plain JSON,
so that what one step decided is in its XCom for the next step, the Fleet page and the REST API:

- :func:`read_fleet` reads and validates the whole file: a file with errors fails the run, every
  problem logged with its line and kept as the step's ``problems`` XCom; nothing is planned.
- :func:`plan_fleet_run` reads the account's sites and plans each site of the file
  (:func:`cloudfront_ssl.rules.fleet.plan_fleet`); the plan, as a person reads it, goes to the log.
- :func:`approval_branch` decides whether a person must approve the plan first.
- :func:`job_triggers` turns the plan's items that are applied into the arguments of one
  ``TriggerDagRunOperator`` each (the job DAG, a run id naming the site, the job's conf).
- :func:`fleet_report` says what each site ended as, from the jobs' run states.

The settings (:class:`FleetSettings`) are read from ``[ssl_certificates]`` when the DAG file is parsed
and when a step runs, without any AWS call. Nothing heavy is imported at module level.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

from cloudfront_ssl.vocabulary import (
    APPROVE,
    FAILED,
    FLEET_JOBS,
    SUCCESS,
    state_name,
)

log = logging.getLogger(__name__)

CONFIG_SECTION = "ssl_certificates"
DEFAULT_SCHEDULE = "@hourly"
DEFAULT_MAX_JOBS = 20
MANUAL_ONLY = ("none", "null", "manual", "")
"""``fleet_schedule`` values that mean: no schedule, the fleet runs only when triggered."""
WAIT_SECONDS = 60
"""How often a waiting fleet run asks whether a job has ended (capped by ``max_poll_interval_seconds``)."""
RUN_ID_PREFIX = "fleet"

# What a site ended as, in the report (and on the Fleet page).
IN_STEP = "in_step"
APPLIED = "applied"
JOB_FAILED = "failed"
NOT_STARTED = "not_started"
REJECTED = "rejected"
REPORTED = "reported"
PLANNED = "planned"


@dataclass(frozen=True)
class FleetSettings:
    """``[ssl_certificates]``'s fleet settings (environment: ``AIRFLOW__SSL_CERTIFICATES__FLEET_*``)."""

    file: str
    """``fleet_file``: a path, or an ``s3://bucket/key`` URL read through ``aws_conn_id``."""
    schedule: str | None
    """``fleet_schedule``: a cron expression or preset; None (``none``) for manual runs only."""
    remove: bool
    """``fleet_remove``: remove the sites the file no longer lists (otherwise they are only reported)."""
    approval: bool
    """``fleet_approval``: a plan that changes anything waits for a person's approval."""
    max_jobs: int
    """``fleet_max_jobs``: at most this many jobs run at once."""
    aws_conn_id: str
    """``aws_conn_id``: the connection the account's sites (and an ``s3://`` file) are read through."""
    wait_seconds: int
    """How often a waiting fleet run asks Airflow whether a job has ended."""


def fleet_settings() -> FleetSettings:
    """The fleet settings as Airflow's configuration holds them now (no AWS call).

    A ``fleet_max_jobs`` below 1 counts as 1; an unreadable number is refused with the setting named.
    """
    from airflow.configuration import conf

    def flag(name: str) -> bool:
        return conf.getboolean(CONFIG_SECTION, name, fallback=False)

    raw_jobs = conf.get(CONFIG_SECTION, "fleet_max_jobs", fallback=str(DEFAULT_MAX_JOBS))
    try:
        max_jobs = max(1, int(str(raw_jobs).strip() or DEFAULT_MAX_JOBS))
    except ValueError:
        raise ValueError(
            f"[{CONFIG_SECTION}] fleet_max_jobs must be a whole number of jobs, not {raw_jobs!r}"
        ) from None
    cap = conf.getfloat(CONFIG_SECTION, "max_poll_interval_seconds", fallback=0.0)
    wait = WAIT_SECONDS if cap <= 0 else max(1, min(WAIT_SECONDS, int(cap)))
    return FleetSettings(
        file=(conf.get(CONFIG_SECTION, "fleet_file", fallback="") or "").strip(),
        schedule=parse_schedule(conf.get(CONFIG_SECTION, "fleet_schedule", fallback=DEFAULT_SCHEDULE)),
        remove=flag("fleet_remove"),
        approval=flag("fleet_approval"),
        max_jobs=max_jobs,
        aws_conn_id=(conf.get(CONFIG_SECTION, "aws_conn_id", fallback="aws_default") or "aws_default"),
        wait_seconds=wait,
    )


def parse_schedule(value: str | None) -> str | None:
    """``fleet_schedule`` as the DAG's ``schedule``: None for ``none`` (manual runs only), else the cron
    expression or preset as given (Airflow refuses a bad one when it parses the DAG, naming it)."""
    text = (value if value is not None else DEFAULT_SCHEDULE).strip()
    return None if text.lower() in MANUAL_ONLY else text


def fleet_run_id(site: str, fleet_run: str, try_number: int = 1) -> str:
    """The run id of the job that applies ``site`` in fleet run ``fleet_run``: it names the site and the
    fleet run (and the try, from the second on, so that a cleared fleet run starts new jobs)."""
    run_id = f"{RUN_ID_PREFIX}__{site}__{fleet_run}"
    return run_id if try_number <= 1 else f"{run_id}__try{try_number}"


# --- read -------------------------------------------------------------------------------------------


def read_fleet(
    settings: FleetSettings, keep_problems: Callable[[list[dict[str, Any]]], None]
) -> dict[str, Any]:
    """Read and validate the whole fleet file; return its sites, defaults applied.

    A file with errors raises :class:`cloudfront_ssl.rules.fleet.FleetFileError` (a final error: the
    run fails at once, nothing is planned or changed), after logging every problem with its line and
    handing them to ``keep_problems`` (the step keeps them as XCom ``problems`` for the Fleet page).
    """
    from cloudfront_ssl.aws.fleet_sites import read_fleet_file
    from cloudfront_ssl.errors import JobInputError
    from cloudfront_ssl.rules.fleet import FleetFileError, FleetFileProblem, read_fleet_text

    if not settings.file:
        message = f"[{CONFIG_SECTION}] fleet_file is not set: give the path or s3:// URL of the fleet file"
        keep_problems([{"line": None, "message": message}])
        raise JobInputError(message)
    try:
        text = read_fleet_file(settings.file, settings.aws_conn_id)
        sites = read_fleet_text(text)
        other_accounts = [
            FleetFileProblem(
                site.line,
                f"site {site.site}: aws_conn_id {site.conf.get('aws_conn_id') or 'aws_default'} is not the "
                f"account the fleet reads ([{CONFIG_SECTION}] aws_conn_id = {settings.aws_conn_id}); "
                "one fleet file serves one account",
            )
            for site in sites
            if (site.conf.get("aws_conn_id") or "aws_default") != settings.aws_conn_id
        ]
        if other_accounts:
            raise FleetFileError(other_accounts)
    except FleetFileError as error:
        problems = [dataclasses.asdict(problem) for problem in error.problems]
        for problem in problems:
            where = f"line {problem['line']}" if problem.get("line") else "the file"
            log.error("%s, %s: %s", settings.file, where, problem["message"])
        keep_problems(plain(problems))
        log.error("%s has %d error(s): nothing is planned or changed", settings.file, len(problems))
        raise
    except JobInputError as error:  # the file is missing, unreadable, too large...
        log.error("%s: %s; nothing is planned or changed", settings.file, error)
        keep_problems([{"line": None, "message": str(error)}])
        raise
    log.info("%s: %d site(s)", settings.file, len(sites))
    return {"location": settings.file, "sites": plain([dataclasses.asdict(site) for site in sites])}


def plain(value: Any) -> Any:
    """``value`` as plain JSON (tuples as lists): Airflow keeps a tuple in XCom as a typed object that
    the Fleet page and the REST API would show as such."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _rebuild(cls: Any, value: Mapping[str, Any]) -> Any:
    """A frozen dataclass of ``rules.fleet`` from its ``asdict`` form (lists back to tuples)."""
    fields = {field.name: field for field in dataclasses.fields(cls)}
    arguments = {}
    for name, item in value.items():
        if name not in fields:
            continue
        if isinstance(item, list) and str(fields[name].type).startswith("tuple"):
            item = tuple(item)
        arguments[name] = item
    return cls(**arguments)


# --- plan -------------------------------------------------------------------------------------------


def plan_fleet_run(read: Mapping[str, Any], settings: FleetSettings) -> dict[str, Any]:
    """Plan every site of the file against the account's sites, and log the plan as a person reads it.

    Returns ``items`` (one :class:`~cloudfront_ssl.rules.fleet.PlannedSite` per site, as JSON),
    ``text`` (the plan in words), ``needs_approval`` (anything is applied), ``approval`` and
    ``remove`` (the settings the plan was made with), and ``location`` (the file).
    """
    from cloudfront_ssl.aws.fleet_sites import read_account_sites
    from cloudfront_ssl.rules.fleet import FleetSite, needs_approval, plan_fleet, plan_text

    sites = [_rebuild(FleetSite, site) for site in read["sites"]]
    account = read_account_sites(settings.aws_conn_id, sites)
    plan = plan_fleet(sites, account, remove=settings.remove, aws_conn_id=settings.aws_conn_id)
    text = plan_text(plan)
    log.info("The plan of %s:\n%s", read.get("location"), text)
    return {
        "location": read.get("location"),
        "items": plain([dataclasses.asdict(item) for item in plan]),
        "text": text,
        "needs_approval": needs_approval(plan),
        "approval": settings.approval,
        "remove": settings.remove,
    }


def approval_branch(plan: Mapping[str, Any], *, plan_only: bool = False) -> str:
    """The step that comes next: ``approve`` when the plan changes anything and ``fleet_approval`` is
    on; otherwise ``jobs`` (a plan that changes nothing, no approval asked for, or a run that only
    plans)."""
    if plan_only:
        log.info("Plan only: nothing is applied, no approval asked")
        return FLEET_JOBS
    if plan.get("needs_approval") and plan.get("approval"):
        log.info("The plan changes the account: it waits for a person's approval (step %s)", APPROVE)
        return APPROVE
    if plan.get("needs_approval"):
        log.info("The plan changes the account; fleet_approval is off: it is applied at once")
    else:
        log.info("The plan changes nothing: no approval needed, nothing to apply")
    return FLEET_JOBS


DECISION_KEY = "decision"
"""The approval step's XCom key for the person's answer (:func:`approval_decision` reads it)."""


class FleetApprovalOperator(ApprovalOperator):
    """Airflow's ``ApprovalOperator`` that also keeps the answer as its XCom ``decision``.

    On *Reject* the operator skips the steps after it and returns nothing (the skip ends the task), so
    the answer is kept first: the report then says who rejected the plan.
    """

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Keep the person's answer, then let ``ApprovalOperator`` go on (or skip the jobs)."""
        if "error" not in event:
            context["ti"].xcom_push(key=DECISION_KEY, value=approval_decision(event))
        return super().execute_complete(context=context, event=event)


def approval_body(plan_text: str) -> str:
    """The text a person reads before approving (Markdown, as Airflow's Required actions show it)."""
    return f"Approve to start the jobs below, one per site; reject to apply nothing.\n\n```\n{plan_text}\n```"


# --- apply ------------------------------------------------------------------------------------------


def job_triggers(plan: Mapping[str, Any], fleet_run: str, try_number: int = 1) -> list[dict[str, Any]]:
    """One ``FleetJobOperator``'s arguments per planned site that is applied: ``trigger_dag_id``,
    ``trigger_run_id`` (:func:`fleet_run_id`), ``conf`` (the plan item's job conf) and ``after`` (the
    jobs that must end first: they free a name this site takes; ``site``, ``dag_id``, ``run_id``,
    ``map_index``).

    A site comes after the sites it waits for, so that with few jobs at once the jobs that hold the
    slots can always go on (the scheduler starts the lowest map indexes first).
    """
    applied = {
        item["site"]: item for item in plan.get("items") or [] if item.get("apply") and item.get("job")
    }
    ordered: list[str] = []

    def place(site: str, seen: tuple[str, ...] = ()) -> None:
        if site in ordered or site in seen:
            return
        for before in applied[site].get("after") or []:
            if before in applied:
                place(before, (*seen, site))
        ordered.append(site)

    for site in applied:
        place(site)
    run_ids = {site: fleet_run_id(site, fleet_run, try_number) for site in ordered}
    triggers = []
    for site in ordered:
        item = applied[site]
        triggers.append(
            {
                "trigger_dag_id": item["job"]["dag_id"],
                "trigger_run_id": run_ids[site],
                "conf": dict(item["job"].get("conf") or {}),
                "after": [
                    {
                        "site": before,
                        "dag_id": applied[before]["job"]["dag_id"],
                        "run_id": run_ids[before],
                        "map_index": ordered.index(before),
                    }
                    for before in item.get("after") or []
                    if before in applied and ordered.index(before) < ordered.index(site)
                ],
            }
        )
    for trigger in triggers:
        waits = ", ".join(before["site"] for before in trigger["after"])
        log.info(
            "Site job: %s run %s%s",
            trigger["trigger_dag_id"],
            trigger["trigger_run_id"],
            f" (after {waits})" if waits else "",
        )
    if not triggers:
        log.info("Nothing to apply")
    return triggers


def after_verdict(
    after: list[dict[str, Any]],
    run_state: Callable[[str, str], str | None],
    apply_state: Callable[[int], str | None],
) -> tuple[str, list[str]]:
    """Whether a site's job may start: ``("go", [])`` once every job it waits for has succeeded;
    ``("wait", [sites])`` while some have not ended; ``("stop", [sites])`` when one failed or will
    never start (its apply step ended without a job).

    :param run_state: the state of a DAG run, or None when there is none (yet).
    :param apply_state: the state of the fleet run's apply step at a map index.
    """
    pending, stopped = [], []
    for before in after:
        state = run_state(before["dag_id"], before["run_id"])
        if state == SUCCESS:
            continue
        if state == FAILED:
            stopped.append(before["site"])
        elif state is None and apply_state(before["map_index"]) in (FAILED, "skipped", "upstream_failed"):
            stopped.append(before["site"])
        else:
            pending.append(before["site"])
    if stopped:
        return "stop", stopped
    return ("wait", pending) if pending else ("go", [])


class FleetJobOperator(TriggerDagRunOperator):
    """Airflow's ``TriggerDagRunOperator`` (trigger the job, wait for it deferred) that first waits,
    also deferred, for the jobs of the sites listed in ``after``: they free a name this site takes.

    While they have not ended it sleeps in the triggerer and looks again every ``poke_interval``
    seconds; when one failed (or never started) this site's job is not started and the step fails,
    saying which site it waited for.
    """

    def __init__(self, *, after: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.after = list(after or [])

    def execute(self, context: Any) -> Any:
        """Start the job once the sites it waits for are done (or wait for them without a worker)."""
        if self.after:
            from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

            from cloudfront_ssl.errors import FinalError
            from cloudfront_ssl.steps.cleanup import run_state

            ti = context["ti"]

            def apply_state(map_index: int) -> str | None:
                found = ti.get_task_states(
                    dag_id=ti.dag_id, task_ids=[ti.task_id], run_ids=[ti.run_id], map_index=map_index
                )
                states = list((found.get(ti.run_id) or {}).values())  # {"apply_<map index>": state}
                return state_name(states[0]) if states else None

            verdict, sites = after_verdict(self.after, lambda d, r: run_state(ti, d, r), apply_state)
            if verdict == "stop":
                raise FinalError(
                    f"not started: it takes a name that {', '.join(sites)} frees, and "
                    f"{'its job' if len(sites) == 1 else 'their jobs'} did not succeed"
                )
            if verdict == "wait":
                self.log.info(
                    "Waiting for the jobs of %s: they free a name this site takes", ", ".join(sites)
                )
                self.defer(
                    trigger=TimeDeltaTrigger(timedelta(seconds=self.poke_interval)),
                    method_name="resume",
                )
        return super().execute(context)

    def resume(self, context: Any, event: Any = None) -> Any:
        """Back from a wait for the sites before this one: look again (and start, wait or stop)."""
        return self.execute(context)


# --- report -----------------------------------------------------------------------------------------


def approval_decision(response: Any) -> dict[str, Any] | None:
    """The person's answer to the approval step (Airflow's response event, or its XCom ``decision``),
    as ``{"approved", "by", "at"}``; None when no approval was asked for."""
    if isinstance(response, Mapping) and "approved" in response:
        return dict(response)
    if not isinstance(response, Mapping):
        return None
    chosen = list(response.get("chosen_options") or [])
    user = response.get("responded_by_user") or {}
    at = response.get("responded_at")
    return {
        "approved": chosen == ["Approve"],
        "by": (user.get("name") or user.get("id")) if isinstance(user, Mapping) else str(user),
        "at": at.isoformat() if at is not None and hasattr(at, "isoformat") else at,
    }


def fleet_report(
    plan: Mapping[str, Any] | None,
    triggers: list[dict[str, Any]] | None,
    decision: dict[str, Any] | None,
    run_state: Callable[[str, str], str | None],
    *,
    fleet_run: str,
    plan_only: bool = False,
) -> dict[str, Any]:
    """What each site ended as: ``sites`` (``site``, ``action``, ``apply``, ``drift``, ``reasons``,
    ``line``, ``ended_as``, ``job`` with ``dag_id``, ``run_id``, ``state`` or None), ``counts`` by
    ``ended_as``, ``approval`` (the decision, or None), ``failed`` (the sites whose job failed or did
    not start) and ``text`` (the same in words, for the log).

    ``ended_as``: ``in_step`` (nothing to do), ``applied`` (its job succeeded), ``failed`` (its job
    failed), ``not_started`` (its job could not be started), ``rejected`` (the plan was rejected),
    ``reported`` (a change left to a person: a removal without ``fleet_remove``, a changed hosting),
    ``planned`` (a run that only planned: nothing applied).

    :param run_state: the state of a DAG run (``dag_id``, ``run_id``), or None when there is none.
    """
    if plan is None:
        return {
            "fleet_run": fleet_run,
            "sites": [],
            "counts": {},
            "approval": None,
            "failed": [],
            "text": "Nothing was planned: the fleet file or the account could not be read (see the "
            "read_fleet and plan steps).",
        }
    jobs = {_site_of(trigger["trigger_run_id"]): trigger for trigger in triggers or []}
    rejected = decision is not None and not decision["approved"]
    sites = []
    for item in plan.get("items") or []:
        entry = {
            key: item.get(key)
            for key in ("site", "action", "apply", "drift", "reasons", "line", "names_before", "names_after")
        }
        trigger = jobs.get(item["site"])
        entry["job"] = None
        if item.get("action") == "keep" and not item.get("drift"):
            entry["ended_as"] = IN_STEP
        elif not item.get("apply"):
            entry["ended_as"] = REPORTED
        elif plan_only:
            entry["ended_as"] = PLANNED
        elif rejected:
            entry["ended_as"] = REJECTED
        elif trigger is None:
            entry["ended_as"] = NOT_STARTED
        else:
            state = run_state(trigger["trigger_dag_id"], trigger["trigger_run_id"])
            entry["job"] = {
                "dag_id": trigger["trigger_dag_id"],
                "run_id": trigger["trigger_run_id"],
                "state": state,
            }
            entry["ended_as"] = (
                APPLIED if state == SUCCESS else JOB_FAILED if state == FAILED else NOT_STARTED
            )
        sites.append(entry)
    counts: dict[str, int] = {}
    for entry in sites:
        counts[entry["ended_as"]] = counts.get(entry["ended_as"], 0) + 1
    failed = [entry["site"] for entry in sites if entry["ended_as"] in (JOB_FAILED, NOT_STARTED)]
    return {
        "fleet_run": fleet_run,
        "sites": plain(sites),
        "counts": counts,
        "approval": decision,
        "plan_only": plan_only,
        "failed": failed,
        "text": report_text(sites, decision),
    }


def _site_of(run_id: str) -> str:
    """The site a fleet job's run id names (:func:`fleet_run_id`)."""
    return run_id.split("__", 2)[1]


def report_text(sites: list[dict[str, Any]], decision: dict[str, Any] | None) -> str:
    """The report as a person reads it in the log: one line per site."""
    lines = []
    if decision is not None:
        verdict = "approved" if decision["approved"] else "rejected: nothing was applied"
        lines.append(f"The plan was {verdict} (by {decision.get('by') or 'unknown'}).")
    if not sites:
        lines.append("The fleet file lists no site and the account holds none of its sites.")
    for entry in sites:
        line = f"{entry['site']}: {entry['action']} -> {entry['ended_as']}"
        job = entry.get("job")
        if job:
            line += f" ({job['dag_id']} run {job['run_id']}: {job.get('state') or 'not started'})"
        lines.append(line)
    return "\n".join(lines)
