"""Names claimed by running jobs: two jobs of the package never work on one name at the same time.

CloudFront allows an alias on one distribution only, and two jobs that both passed their check would
both request certificates and both create a distribution for the name (the second refused by
CloudFront only after its certificates exist, and not refused at all by the emulator). So the check
step of every job *claims* its names, and refuses a name that another running job has claimed.

How a claim works, with nothing but Airflow's own records (a task has no database access in
Airflow 3, and no compare-and-set):

1. the check step publishes its names first, as an XCom of its own (key ``claimed_names``);
2. then it reads the claims of every other job that is still running, and refuses its own names
   that any of them claims, naming that job;
3. on refusal it withdraws its claim (publishes an empty one); a job's claim ends when the job ends.

Because every check publishes before it reads, of two checks racing for one name at least one sees
the other's claim: at most one of them goes on (both may refuse, and the user starts one again).
The claim holds across workers and schedulers, since both steps go through Airflow's API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from cloudfront_ssl.vocabulary import (
    ACTIVE_RUN_STATES,
    CHECK,
    FINISHED_STEP_STATES,
    JOB_DAG_IDS,
    LAST_STEP,
    RUNNING,
    SUCCESS,
    state_name,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CLAIM_KEY = "claimed_names"
"""The XCom key under which a job's check step publishes the names it claims."""


class ClaimReader(Protocol):
    """What a plan needs of the claims: the other running jobs' claims on some names."""

    def held(self, names: Iterable[str]) -> dict[str, str]:
        """``{name: "job RUN_ID of DAG_ID"}`` for each of ``names`` that another running job claims."""
        ...


def overlap(wanted: Iterable[str], claims: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """``{name: holder}`` for each wanted name that appears in a holder's claimed names."""
    wanted_set = {name.lower() for name in wanted}
    held: dict[str, str] = {}
    for holder, names in claims.items():
        for name in names or []:
            if name.lower() in wanted_set and name.lower() not in held:
                held[name.lower()] = holder
    return held


def holder_name(dag_id: str, run_id: str) -> str:
    """How a message names the job that holds a claim."""
    return f"job {run_id} of {dag_id}"


class TaskClaims:
    """Claims made and read from inside a job's check step, through the Task SDK.

    :param ti: the running check task instance (``context["ti"]``).
    :param dag_id: the job's DAG.
    :param run_id: the job's run id.
    """

    def __init__(self, ti: Any, dag_id: str, run_id: str) -> None:
        self.ti = ti
        self.dag_id = dag_id
        self.run_id = run_id

    def publish(self, names: Iterable[str]) -> None:
        """Claim ``names`` for this job (replaces an earlier claim of this try)."""
        self.ti.xcom_push(key=CLAIM_KEY, value=sorted({name.lower() for name in names}))

    def withdraw(self) -> None:
        """Give up this job's claim (its check refused the job)."""
        self.ti.xcom_push(key=CLAIM_KEY, value=[])

    def _running_jobs(self) -> list[tuple[str, str]]:
        running = []
        for dag_id in JOB_DAG_IDS:
            try:
                states = self.ti.get_task_states(dag_id=dag_id, task_ids=[CHECK, LAST_STEP])
            except Exception as error:  # a DAG that was never parsed here has no task states
                log.debug("No task states for %s: %s", dag_id, error)
                continue
            for run_id, tasks in (states or {}).items():
                if dag_id == self.dag_id and run_id == self.run_id:
                    continue
                if state_name(tasks.get(CHECK)) not in (RUNNING, SUCCESS):
                    continue
                if state_name(tasks.get(LAST_STEP)) in FINISHED_STEP_STATES:
                    continue
                running.append((dag_id, run_id))
        return running

    def held(self, names: Iterable[str]) -> dict[str, str]:
        """The names of ``names`` that another running job claims, with the job that does."""
        claims = {}
        for dag_id, run_id in self._running_jobs():
            claimed = self.ti.xcom_pull(dag_id=dag_id, run_id=run_id, task_ids=CHECK, key=CLAIM_KEY)
            if claimed:
                claims[holder_name(dag_id, run_id)] = claimed
        return overlap(names, claims)


class DatabaseClaims:
    """The running jobs' claims read from Airflow's database (the API server's plan endpoint).

    :param session: a SQLAlchemy session on Airflow's metadata database.
    :param exclude: a ``(dag_id, run_id)`` whose claim does not count (the job being planned).
    """

    def __init__(self, session: Session, exclude: tuple[str, str] | None = None) -> None:
        self.session = session
        self.exclude = exclude

    def held(self, names: Iterable[str]) -> dict[str, str]:
        """The names of ``names`` that a running job claims, with the job that does."""
        import json

        from airflow.models.dagrun import DagRun
        from airflow.models.xcom import XComModel
        from sqlalchemy import select

        rows = self.session.execute(
            select(XComModel.dag_id, XComModel.run_id, XComModel.value)
            .join(DagRun, (DagRun.dag_id == XComModel.dag_id) & (DagRun.run_id == XComModel.run_id))
            .where(
                XComModel.dag_id.in_(JOB_DAG_IDS),
                XComModel.task_id == CHECK,
                XComModel.key == CLAIM_KEY,
                DagRun._state.in_(ACTIVE_RUN_STATES),
            )
        ).all()
        claims = {}
        for dag_id, run_id, value in rows:
            if (dag_id, run_id) == self.exclude:
                continue
            if isinstance(value, str | bytes):
                try:
                    value = json.loads(value)
                except ValueError:
                    continue
            if isinstance(value, list):
                claims[holder_name(dag_id, run_id)] = value
        return overlap(names, claims)
