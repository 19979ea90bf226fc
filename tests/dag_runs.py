"""Running the project's DAGs for real with ``dag.test()`` and reading back their results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@cache
def dag_bag() -> Any:
    """The DAGs folder parsed once per test session."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def load_dag(dag_id: str) -> Any:
    """A fresh copy of a DAG of the project, parsed from its file ``dags/<dag_id>.py``.

    Each test gets its own copy: running a DAG in-process updates its params with the run's conf,
    which must not leak into the next test's run.
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


@dataclass
class RunResult:
    """What a finished DAG run left in Airflow."""

    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, list[str]]

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        """The value a task pushed (a list for a mapped task)."""
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = (
                session.query(XComModel)
                .filter_by(dag_id=self.dag_id, run_id=self.run_id, task_id=task_id, key=key)
                .order_by(XComModel.map_index)
                .all()
            )
            values = [json.loads(row.value) if isinstance(row.value, str) else row.value for row in rows]
            mapped = any(row.map_index >= 0 for row in rows)
        if mapped:
            return values
        return values[0] if values else None

    def all_xcom_text(self) -> str:
        """Every XCom value of the run, as text (for leak scans)."""
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(XComModel).filter_by(dag_id=self.dag_id, run_id=self.run_id).all()
            return "\n".join(str(row.value) for row in rows)


@contextmanager
def without_trigger_checks() -> Iterator[None]:
    """jsonschema without the checks the plugin teaches Airflow (``register_trigger_checks``).

    ``dag.test()`` loads the plugins, and a plugin test may have loaded them before: either way the
    checks would refuse a bad conf before the *check* step runs. These runs meet a conf as a worker
    does when no API server checked it, whatever ran before in this process.
    """
    from jsonschema import FormatChecker

    from cloudfront_ssl.rules import config

    formats = (config.CERTIFICATE_LINES_FORMAT, config.FINITE_NUMBER_FORMAT)
    formats += tuple(name for name in FormatChecker.checkers if name.startswith(config.PATTERN_FORMAT_PREFIX))
    saved = {name: FormatChecker.checkers.pop(name) for name in formats if name in FormatChecker.checkers}
    register = config.register_trigger_checks
    config.register_trigger_checks = lambda: None  # type: ignore[assignment]
    try:
        yield
    finally:
        config.register_trigger_checks = register  # type: ignore[assignment]
        for name in formats:
            FormatChecker.checkers.pop(name, None)
        FormatChecker.checkers.update(saved)


@contextmanager
def short_idle_pauses() -> Iterator[None]:
    """``dag.test()`` without its one-second pause each time no task is ready to run.

    ``dag.test()`` pauses a second whenever its loop finds tasks that cannot run yet (such as the
    steps after a failed one, marked upstream-failed one layer per pass): several seconds of every
    refused run. Only that pause is shortened, recognised by its caller, Airflow's ``dag.py``; every
    other ``time.sleep`` (the package's pacing, the emulator) keeps its length.
    """
    import sys
    import time

    sleep = time.sleep

    def pause(seconds: float) -> None:
        caller = sys._getframe(1).f_code.co_filename
        sleep(min(seconds, 0.05) if caller.endswith(DAG_TEST_LOOP) else seconds)

    time.sleep = pause
    try:
        yield
    finally:
        time.sleep = sleep


DAG_TEST_LOOP = str(Path("airflow", "sdk", "definitions", "dag.py"))


def run_dag(dag: Any, conf: dict[str, Any]) -> RunResult:
    """Run a DAG once with ``conf`` through ``dag.test()`` and return its outcome."""
    with without_trigger_checks(), short_idle_pauses():
        dag_run = dag.test(run_conf=conf)
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        stored = session.query(DagRun).filter_by(dag_id=dag.dag_id, run_id=dag_run.run_id).one()
        states: dict[str, list[str]] = {}
        for ti in stored.get_task_instances(session=session):
            states.setdefault(ti.task_id, []).append(str(getattr(ti.state, "value", ti.state)))
        return RunResult(dag.dag_id, stored.run_id, str(getattr(stored.state, "value", stored.state)), states)


def run_dag_cli(dag_id: str, conf: dict[str, Any]) -> tuple[RunResult, str]:
    """Run a DAG once with ``airflow dags test`` in a subprocess; return its outcome and full output.

    The subprocess shares this test session's Airflow home and emulator (through the environment),
    and its output is everything the tasks logged: what a log scan must read.
    """
    import os
    import subprocess
    import sys

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        before = {run.run_id for run in session.query(DagRun).filter_by(dag_id=dag_id)}
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id, "--conf", json.dumps(conf)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
        check=False,
    )
    output = completed.stdout + completed.stderr
    with create_session() as session:
        (stored,) = [
            run for run in session.query(DagRun).filter_by(dag_id=dag_id) if run.run_id not in before
        ]
        states: dict[str, list[str]] = {}
        for ti in stored.get_task_instances(session=session):
            states.setdefault(ti.task_id, []).append(str(getattr(ti.state, "value", ti.state)))
        result = RunResult(dag_id, stored.run_id, str(getattr(stored.state, "value", stored.state)), states)
    return result, output


def clear_and_resume(dag: Any, run_id: str, task_id: str) -> RunResult:
    """Clear one step of a finished run and everything downstream of it, as *Clear* in Airflow's UI
    does, then run the run on to its end in this process the way ``dag.test()`` runs it.

    The cleared step starts its next try (``try_number`` goes up): a retry, as a user makes one after
    mending what made it fail.
    """
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.utils.state import DagRunState, TaskInstanceState

    scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    cleared = {task_id, *dag.get_task(task_id).get_flat_relative_ids(upstream=False)}
    session = settings.Session()
    run = session.query(DagRun).filter_by(dag_id=dag.dag_id, run_id=run_id).one()
    run.dag = scheduler_dag
    clear_task_instances(
        [ti for ti in run.get_task_instances(session=session) if ti.task_id in cleared],
        session,
        dag_run_state=DagRunState.RUNNING,
    )
    session.commit()
    while run.state in (DagRunState.RUNNING, DagRunState.QUEUED):
        if run.state == DagRunState.QUEUED:
            run.state = DagRunState.RUNNING
        session.expire_all()
        run.dag = scheduler_dag
        schedulable, _ = run.update_state(session=session)
        for ti in schedulable:
            ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
        session.commit()
        for ti in [
            ti for ti in run.get_task_instances(session=session) if ti.state == TaskInstanceState.SCHEDULED
        ]:
            _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
    session.close()
    from airflow.utils.session import create_session

    with create_session() as session:
        stored = session.query(DagRun).filter_by(dag_id=dag.dag_id, run_id=run_id).one()
        states: dict[str, list[str]] = {}
        for ti in stored.get_task_instances(session=session):
            states.setdefault(ti.task_id, []).append(str(getattr(ti.state, "value", ti.state)))
        return RunResult(dag.dag_id, run_id, str(getattr(stored.state, "value", stored.state)), states)
