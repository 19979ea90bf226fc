"""ssl_fleet: keep the account's sites as the fleet file says (docs/fleet.md).

Runs on ``[ssl_certificates] fleet_schedule`` (default hourly; ``none``: only when triggered), one run
at a time. Its steps:

1. read_fleet        read ``[ssl_certificates] fleet_file`` (a path or an s3:// URL) and check all of
                     it: a file with errors fails the run, every error named with its line; nothing
                     is planned or changed
2. plan              read the account's sites (tag ``cloudfront-ssl:site``) and plan each site:
                     create, change, remove (only with ``fleet_remove``; otherwise reported) or
                     nothing; the plan is written to the log and kept as the step's XCom
3. approval_needed   with ``fleet_approval`` and a plan that changes anything: go to ``approve``;
                     otherwise straight to ``jobs``
   (a run triggered with ``plan_only`` stops after the plan: no approval, no job)
4. approve           Airflow's human-in-the-loop approval: answered in the UI (Required actions) or
                     through the REST API; a rejection applies nothing
5. jobs              one job per site to change: ``ssl_create_certificates``, ``ssl_update_site`` or
                     ``ssl_cleanup_job``, its run id naming the site (``fleet__<site>__<fleet run>``)
6. apply             triggers each job and waits for it deferred (no worker held), at most
                     ``fleet_max_jobs`` at once
7. report            what each site ended as (XCom); the run fails when a site's job failed, and
                     that site is planned again at the next run

The logic lives in ``cloudfront_ssl.steps.fleet_job``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from cloudfront_ssl.steps import fleet_job
from cloudfront_ssl.vocabulary import (
    APPLY,
    APPROVAL_NEEDED,
    APPROVE,
    FLEET_DAG_ID,
    FLEET_JOBS,
    FLEET_REPORT,
    PLAN_FLEET,
    READ_FLEET,
)

settings = fleet_job.fleet_settings()

with DAG(
    dag_id=FLEET_DAG_ID,
    description="Keep the account's sites as the fleet file says: plan, approve, apply through the jobs",
    schedule=settings.schedule,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # two fleet runs never plan or apply at once
    tags=["ssl", "acm", "cloudfront", "fleet"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    params={
        "plan_only": Param(
            False,
            type="boolean",
            title="Plan only",
            description="Read the file and write the plan (log, Fleet page), start no job and ask no approval.",
        )
    },
    doc_md=__doc__,
) as dag:

    @task(task_id=READ_FLEET, multiple_outputs=False)
    def read_fleet(ti: Any) -> dict[str, Any]:
        """Read and check the whole fleet file; every error is named with its line and fails the run."""
        return fleet_job.read_fleet(
            fleet_job.fleet_settings(), lambda problems: ti.xcom_push(key="problems", value=problems)
        )

    @task(task_id=PLAN_FLEET, multiple_outputs=False)
    def plan(read: dict[str, Any]) -> dict[str, Any]:
        """Plan every site against the account; the plan goes to the log and to this step's XCom."""
        return fleet_job.plan_fleet_run(read, fleet_job.fleet_settings())

    @task.branch(task_id=APPROVAL_NEEDED)
    def approval_needed(planned: dict[str, Any], params: dict[str, Any]) -> str:
        """Ask a person first only when the plan changes anything and fleet_approval is on."""
        return fleet_job.approval_branch(planned, plan_only=bool(params.get("plan_only")))

    approve = fleet_job.FleetApprovalOperator(
        task_id=APPROVE,
        subject="Apply the fleet plan of run {{ run_id }}?",
        body=fleet_job.approval_body("{{ ti.xcom_pull(task_ids='" + PLAN_FLEET + "')['text'] }}"),
        retries=0,
    )

    @task(task_id=FLEET_JOBS, trigger_rule="none_failed_min_one_success")
    def jobs(planned: dict[str, Any], params: dict[str, Any], run_id: str, ti: Any) -> list[dict[str, Any]]:
        """One job per site to change: its DAG, a run id naming the site, its conf (none: plan only)."""
        if params.get("plan_only"):
            fleet_job.log.info("Plan only: no job is started")
            return []
        return fleet_job.job_triggers(planned, run_id, ti.try_number)

    planned = plan(read_fleet())
    gate = approval_needed(planned)
    triggers = jobs(planned)
    gate >> [approve, triggers]  # a branch follows one of its direct downstream steps
    approve >> triggers  # a rejection skips the jobs

    applied = fleet_job.FleetJobOperator.partial(
        task_id=APPLY,
        wait_for_completion=True,
        deferrable=True,  # the wait runs in the triggerer: no worker is held
        poke_interval=settings.wait_seconds,
        allowed_states=["success"],
        failed_states=["failed"],
        fail_when_dag_is_paused=True,
        openlineage_inject_parent_info=False,  # the jobs' conf takes only their own keys
        max_active_tis_per_dagrun=settings.max_jobs,  # deferred waits count: at most fleet_max_jobs jobs
        map_index_template="{{ task.trigger_run_id }}",
        retries=0,
    ).expand_kwargs(triggers)

    @task(task_id=FLEET_REPORT, trigger_rule="all_done", retries=0, multiple_outputs=False)
    def report(run_id: str, params: dict[str, Any], ti: Any) -> dict[str, Any]:
        """What each site ended as; the run fails when a site's job failed or could not start."""
        from cloudfront_ssl.errors import FinalError
        from cloudfront_ssl.steps.cleanup import run_state

        result = fleet_job.fleet_report(
            ti.xcom_pull(task_ids=PLAN_FLEET),
            ti.xcom_pull(task_ids=FLEET_JOBS),
            fleet_job.approval_decision(ti.xcom_pull(task_ids=APPROVE, key=fleet_job.DECISION_KEY)),
            lambda dag_id, job_run_id: run_state(ti, dag_id, job_run_id),
            fleet_run=run_id,
            plan_only=bool(params.get("plan_only")),
        )
        fleet_job.log.info("What each site ended as:\n%s", result["text"])
        ti.xcom_push(key="return_value", value=result)
        if result["failed"] or not result["sites"] and ti.xcom_pull(task_ids=PLAN_FLEET) is None:
            raise FinalError(
                "The fleet run did not apply everything: "
                + (", ".join(result["failed"]) + " failed" if result["failed"] else result["text"])
            )
        return result

    applied >> report()
