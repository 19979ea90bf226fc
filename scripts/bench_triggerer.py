"""The wait in a real ``airflow triggerer`` process: deferred task instances, memory, calls, issuance delay.

A DAG with one wait task is stored in a fresh Airflow home (SQLite); for each job a DAG run is
created and its task instance deferred on a trigger row, as ``BaseOperator.defer`` leaves it. The
triggerer is started on an empty table first (its baseline memory, the supervisor and the trigger
runner processes together), then the deferred jobs are added; once they have polled a few rounds
the emulator issues every certificate, and the time each task instance leaves the deferred state
is read from the metadata database.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DAG_FILE = """
from datetime import datetime
from airflow.sdk import DAG
from cloudfront_ssl.steps.operators import WaitForCertificatesOperator

with DAG("bench_wait", schedule=None, start_date=datetime(2026, 1, 1)):
    WaitForCertificatesOperator(task_id="wait", certificate_arns=[], aws_conn_id="bench_acm")
"""


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its children."""
    import psutil

    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


def settled_rss_mb(pid: int, timeout: float = 120) -> float:
    """The process tree's memory once its trigger runner has started and its memory stopped growing."""
    import psutil

    deadline = time.monotonic() + timeout
    last = -1.0
    while time.monotonic() < deadline:
        time.sleep(3)
        current = tree_rss_mb(pid)
        if psutil.Process(pid).children(recursive=True) and abs(current - last) < 2:
            return current
        last = current
    return last


def defer_jobs(groups: list[list[str]], trigger_factory: Any, tag: str) -> list[str]:
    """Create one DAG run per group with its wait task deferred on a trigger; return the run ids."""
    from airflow.models.dag_version import DagVersion
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.sdk import timezone
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    run_ids = []
    with create_session() as session:
        dag = SerializedDagModel.get_dag("bench_wait", session=session)
        assert DagVersion.get_latest_version("bench_wait", session=session) is not None
        for index, arns in enumerate(groups):
            run_id = f"{tag}-{index}"
            dag_run = dag.create_dagrun(
                run_id=run_id,
                run_after=timezone.utcnow(),
                run_type=DagRunType.MANUAL,
                triggered_by=DagRunTriggeredByType.TEST,
                state=DagRunState.RUNNING,
                session=session,
            )
            trigger = Trigger.from_object(trigger_factory(arns))
            session.add(trigger)
            session.flush()
            ti = session.query(TaskInstance).filter_by(dag_id="bench_wait", run_id=dag_run.run_id).one()
            ti.state = TaskInstanceState.DEFERRED
            ti.trigger_id = trigger.id
            ti.next_method = "execute_complete"
            ti.try_number = 1
            run_ids.append(run_id)
    return run_ids


def deferred_left(run_ids: list[str]) -> dict[str, str]:
    """The state of each job's wait task instance."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstance.run_id, TaskInstance.state)
            .filter(TaskInstance.dag_id == "bench_wait", TaskInstance.run_id.in_(run_ids))
            .all()
        )
    return {run_id: str(state) for run_id, state in rows}


def assigned(count_of: list[str]) -> int:
    """How many of these jobs' triggers a triggerer has taken."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    with create_session() as session:
        return (
            session.query(Trigger)
            .join(TaskInstance, TaskInstance.trigger_id == Trigger.id)
            .filter(TaskInstance.run_id.in_(count_of), Trigger.triggerer_id.isnot(None))
            .count()
        )


def run_triggerer_bench(args: argparse.Namespace) -> None:
    """Run the scenarios; print one table."""
    from scripts.bench import Fleet, connection_env

    home = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-bench-triggerer-"))
    dags = home / "dags"
    dags.mkdir()
    (dags / "bench_wait.py").write_text(DAG_FILE)
    fleet = Fleet()
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__SSL_CERTIFICATES__ACM_CALLS_PER_SECOND": str(args.cap),
            "AIRFLOW__TRIGGERER__CAPACITY": "5000",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True)
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    sync_bag_to_db(DagBag(dag_folder=str(dags)), "dags-folder", None)

    from cloudfront_ssl.steps.triggers import CertificatesIssuedTrigger
    from scripts.bench_reference import OneClientPerJobTrigger

    interval = 10.0
    jobs_old = max(1, min(args.jobs, 20))
    scenarios = [
        ("shared", "role_arn", True, args.jobs, CertificatesIssuedTrigger),
        ("one client per job (old)", "role_arn", True, jobs_old, OneClientPerJobTrigger),
    ]
    results = []
    try:
        for label, conn_label, role, jobs, trigger_class in scenarios:
            fleet.post("/reset")
            arns = fleet.post(f"/seed?count={jobs * 10}")
            groups = [arns[i : i + 10] for i in range(0, len(arns), 10)]
            env = {**os.environ, **connection_env(fleet, "bench_acm", role)}
            print(
                f"  real triggerer: {label}, {conn_label}, {jobs} deferred jobs ...",
                file=sys.stderr,
                flush=True,
            )
            log = open(home / f"triggerer-{len(results)}.log", "w")  # noqa: SIM115 - closed below
            triggerer = subprocess.Popen(
                [airflow, "triggerer"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                idle = settled_rss_mb(triggerer.pid)  # started, no trigger yet

                def make(arns: list[str], trigger_class: Any = trigger_class) -> Any:
                    return trigger_class(arns, "bench_acm", interval, time.time() + 3600)

                # One job first: the memory per job is what each further job adds once one waits.
                tag = f"{len(results)}-{label.split()[0]}"
                run_ids = defer_jobs(groups[:1], make, tag)
                while assigned(run_ids) < 1:
                    time.sleep(1)
                time.sleep(interval * 2)
                baseline = settled_rss_mb(triggerer.pid)
                run_ids += defer_jobs(groups[1:], make, tag + "-more")
                deadline = time.monotonic() + 300
                while assigned(run_ids) < len(run_ids) and time.monotonic() < deadline:
                    time.sleep(1)
                time.sleep(interval * 1.5)
                steady_from = time.monotonic()
                time.sleep(interval * 2)
                steady_to = time.monotonic()
                memory = tree_rss_mb(triggerer.pid)
                calls = fleet.get(f"/calls?since={steady_from}")
                issued_at = fleet.post("/issue")
                seen: dict[str, float] = {}
                deadline = time.monotonic() + interval * 6 + 120
                while len(seen) < len(run_ids) and time.monotonic() < deadline:
                    now = time.monotonic()
                    for run_id, state in deferred_left(run_ids).items():
                        if state != "deferred" and run_id not in seen:
                            seen[run_id] = now
                    time.sleep(0.2)
                from devstack.fault_proxy import peak_per_second

                steady = [name for at, name in calls if at <= steady_to]
                delays = sorted(at - issued_at for at in seen.values())
                results.append(
                    {
                        "impl": label,
                        "conn": conn_label,
                        "jobs": jobs,
                        "fired": len(seen),
                        "mb_per_job": (memory - baseline) / max(jobs - 1, 1),
                        "mb_all": memory - idle,
                        "baseline": idle,
                        "calls_per_round": len(steady) / 2,
                        "lists": steady.count("ListCertificates") / 2,
                        "describes": steady.count("DescribeCertificate") / 2,
                        "peak": peak_per_second([at for at, _ in calls]),
                        "delay_median": statistics.median(delays) if delays else float("nan"),
                        "delay_max": delays[-1] if delays else float("nan"),
                    }
                )
            finally:
                triggerer.terminate()
                try:
                    triggerer.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    triggerer.kill()
                log.close()
    finally:
        fleet.stop()
    print(
        f"\n== The wait in a real `airflow triggerer` (SQLite home; poll interval {interval:g} s; cap {args.cap:g}/s) =="
    )
    print(
        f"{'implementation':<26}{'connection':<11}{'jobs':>5}{'fired':>6}{'idle MB':>9}{'MB/job':>8}{'MB all':>8}"
        f"{'calls/round':>12}{'(list+desc)':>12}{'peak/s':>7}{'issued->left deferred median/max s':>36}"
    )
    for r in results:
        print(
            f"{r['impl']:<26}{r['conn']:<11}{r['jobs']:>5}{r['fired']:>6}{r['baseline']:>9.0f}{r['mb_per_job']:>8.3f}"
            f"{r['mb_all']:>8.0f}{r['calls_per_round']:>12.0f}{r['lists']:>6.0f}+{r['describes']:<5.0f}{r['peak']:>7}"
            f"{r['delay_median']:>22.1f} / {r['delay_max']:.1f}"
        )
    print(
        "(memory: the triggerer's supervisor and trigger-runner processes together; MB/job: what each job adds"
        " once one job waits; MB all: above the idle triggerer. 'left deferred' includes the triggerer's"
        " own hand-off of the event to the database)"
    )
    print(json.dumps(results), file=sys.stderr)
