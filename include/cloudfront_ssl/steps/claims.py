"""Names claimed by running jobs: of two jobs that want one name, exactly one goes on.

CloudFront allows an alias on one distribution only, and two jobs that both passed their check would
both request certificates and both create a distribution for the name (the second refused by
CloudFront only after its certificates exist, and not refused at all by the emulator). So the check
step of every job *claims* its names, and of two jobs that claim one name the one triggered first
goes on; the other is refused, naming the name and the job that holds it.

Where claims live: one Airflow Variable per running job, ``cloudfront_ssl.claim.<key>``, whose value
is the job's :class:`Claim` (its DAG, run id, the time it was triggered, the names, and whether the
claim is *held*). Variables are the one store that a task can both write and list by prefix through
Airflow's API (a task has no database access in Airflow 3, and no compare-and-set), so a check reads
only the claims of jobs that can still hold one, never the DAGs' whole history. A claim whose job has
ended is removed by the next check that meets it.

How a check decides, the same way in every check and on every worker:

1. it publishes its own claim first (the import job publishes "names not known yet" first thing, and
   its aliases once the bundle is read);
2. it waits until every check that is running now has published a claim with its names: Airflow
   counts the running check steps of the job DAGs. Only running checks are waited for: a check still
   queued for a worker slot may wait behind this very check, and waiting for it would hold every slot
   (a burst of jobs on a few workers would stop). A check that runs later meets this job's claim held
   and gives way, so exactly one job goes on even then;
3. a name that another job claims is refused when that job's claim is held (it went on already) or
   when that job was triggered earlier (then the lower run id): the *rank* of a job is data that
   every check reads alike, not the order in which the checks happened to run;
4. a check that meets no such claim marks its own as held; one that refuses withdraws its claim.

So of two jobs racing for one name (their checks running together), the earlier-triggered one goes
on and the other is refused, whichever check publishes first; a job whose check runs after another
job went on with the name is refused. Reading the claims fails closed: an error is tried again, and a check
that still cannot read them refuses the job with the reason instead of assuming no job is running.
A queued run (one that Airflow has not started) is not waited for: Airflow starts runs in the order
they were triggered, so a run triggered earlier is running by the time a later one checks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from cloudfront_ssl.errors import FinalError
from cloudfront_ssl.vocabulary import ACTIVE_RUN_STATES, CHECK, JOB_DAG_IDS, RUNNING, state_name

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CLAIM_PREFIX = "cloudfront_ssl.claim."
"""The Variables that hold the running jobs' claims start with this."""
READ_ATTEMPTS = 3
"""How often a check tries to read the claims before it refuses the job (errors of Airflow's API)."""
READ_BACKOFF_SECONDS = 1.0
WAIT_SECONDS = 300.0
"""How long a check waits for a running job to publish its claim before refusing its own job."""
POLL_SECONDS = 1.0


class ClaimsUnreadableError(FinalError):
    """The other running jobs' claims could not be read, so the job is refused (claims fail closed)."""


@dataclass(frozen=True)
class Claim:
    """One job's claim, as every check reads it.

    :param dag_id: the job's DAG.
    :param run_id: the job's run id.
    :param triggered_at: when the job was triggered (its run's ``run_after``), ISO 8601 with time zone.
    :param names: the names claimed, lower-case; None while the job's check has not read them yet.
    :param held: the job's check went on with these names.
    """

    dag_id: str
    run_id: str
    triggered_at: str
    names: tuple[str, ...] | None
    held: bool = False

    @property
    def rank(self) -> tuple[datetime, str]:
        """Earlier-triggered first, then the lower run id: the order that decides a race."""
        return datetime.fromisoformat(self.triggered_at), self.run_id

    @property
    def holder(self) -> str:
        """How a refusal names this job."""
        return holder_name(self.dag_id, self.run_id)

    def to_json(self) -> str:
        """The Variable's value."""
        value = asdict(self)
        value["names"] = None if self.names is None else list(self.names)
        return json.dumps(value)

    @classmethod
    def from_json(cls, text: str | bytes | Mapping[str, Any]) -> Claim:
        """Read a Variable's value back (raises ValueError, KeyError or TypeError when it is not a claim)."""
        value = dict(text) if isinstance(text, Mapping) else json.loads(text)
        names = value["names"]
        return cls(
            dag_id=str(value["dag_id"]),
            run_id=str(value["run_id"]),
            triggered_at=str(value["triggered_at"]),
            names=None if names is None else tuple(str(name) for name in names),
            held=bool(value.get("held", False)),
        )


def claim_key(dag_id: str, run_id: str) -> str:
    """The Variable of one job's claim (a digest: run ids may be long, a Variable key may not)."""
    digest = hashlib.sha256(f"{dag_id}\n{run_id}".encode()).hexdigest()[:24]
    return f"{CLAIM_PREFIX}{dag_id}.{digest}"


def holder_name(dag_id: str, run_id: str) -> str:
    """How a message names the job that holds a claim."""
    return f"job {run_id} of {dag_id}"


def overlap(wanted: Iterable[str], claims: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """``{name: holder}`` for each wanted name that appears in a holder's claimed names."""
    wanted_set = {name.lower() for name in wanted}
    held: dict[str, str] = {}
    for holder, names in claims.items():
        for name in names or []:
            if name.lower() in wanted_set and name.lower() not in held:
                held[name.lower()] = holder
    return held


def conflicts(own: Claim, others: Iterable[Claim], wanted: Iterable[str]) -> dict[str, str]:
    """The wanted names that another claim takes from ``own``: ``{name: holder}``.

    Another claim takes a name when it holds it (its job went on) or when its job ranks before
    ``own``'s; a claim that ranks after and is not held gives way (its own check refuses it).
    """
    winners = {
        other.holder: other.names or ()
        for other in sorted(others, key=lambda claim: claim.rank)
        if (other.dag_id, other.run_id) != (own.dag_id, own.run_id) and (other.held or other.rank < own.rank)
    }
    return overlap(wanted, winners)


class ClaimReader(Protocol):
    """What a plan needs of the claims: the other jobs' claims that take some of its names."""

    def held(self, names: Iterable[str]) -> dict[str, str]:
        """``{name: "job RUN_ID of DAG_ID"}`` for each of ``names`` that another job takes."""
        ...


class ClaimStore(Protocol):
    """Where the claims live and how a check learns which jobs run (Airflow's API from a task)."""

    def keys(self) -> list[str]:
        """The keys of every claim published (some of jobs that have ended since)."""
        ...

    def read(self, key: str) -> str | None:
        """A claim's value, or None when it was removed meanwhile."""
        ...

    def write(self, key: str, value: str) -> None:
        """Publish a claim."""
        ...

    def remove(self, key: str) -> None:
        """Remove a claim."""
        ...

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        """A run's state, None when Airflow has no such run."""
        ...

    def running_checks(self) -> int:
        """How many check steps of the job DAGs are running (this one included)."""
        ...


class TaskSdkClaimStore:
    """Claims in Airflow Variables, read and written through the Task SDK from a running task.

    :param ti: the running task instance (``context["ti"]``).
    """

    def __init__(self, ti: Any) -> None:
        self.ti = ti

    def keys(self) -> list[str]:
        """The claim Variables' keys (Airflow lists them by prefix)."""
        from airflow.sdk import Variable

        return list(Variable.keys(prefix=CLAIM_PREFIX))

    def read(self, key: str) -> str | None:
        """One claim Variable's value."""
        from airflow.sdk import Variable

        value = Variable.get(key, default=None)
        return None if value is None else str(value)

    def write(self, key: str, value: str) -> None:
        """Set a claim Variable."""
        from airflow.sdk import Variable

        Variable.set(key, value, description="A running job's claim on its names (cloudfront_ssl)")

    def remove(self, key: str) -> None:
        """Delete a claim Variable."""
        from airflow.sdk import Variable

        Variable.delete(key)

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        """The run's state from Airflow's API; None when the API does not know the run."""
        from airflow.sdk.exceptions import AirflowRuntimeError

        try:
            return state_name(self.ti.get_dagrun_state(dag_id=dag_id, run_id=run_id))
        except AirflowRuntimeError as error:  # the API's "not found"; anything else is a read error
            if "NOT_FOUND" in str(getattr(error, "error", "")).upper() or "not found" in str(error):
                return None
            raise

    def running_checks(self) -> int:
        """Running check steps of the job DAGs, counted by Airflow."""
        return sum(
            self.ti.get_ti_count(dag_id=dag_id, task_ids=[CHECK], states=[RUNNING]) for dag_id in JOB_DAG_IDS
        )


class TaskClaims:
    """A job's claim, made and weighed from inside its check step.

    :param ti: the running check task instance (``context["ti"]``).
    :param dag_id: the job's DAG.
    :param run_id: the job's run id.
    :param triggered_at: when the job was triggered; read from the task's run when not given.
    :param store: where claims live; Airflow Variables through the Task SDK when not given.
    :param wait_seconds: how long to wait for running jobs that have not published their claim.
    :param sleep: how to wait (tests make it short).
    """

    def __init__(
        self,
        ti: Any,
        dag_id: str,
        run_id: str,
        *,
        triggered_at: str | None = None,
        store: ClaimStore | None = None,
        wait_seconds: float = WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.dag_id = dag_id
        self.run_id = run_id
        self.triggered_at = triggered_at or _triggered_at(ti)
        self.store: ClaimStore = store if store is not None else TaskSdkClaimStore(ti)
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.key = claim_key(dag_id, run_id)
        self.names: tuple[str, ...] | None = None
        self.reads = 0
        """Claims read by the last :meth:`held` (the cost of a check: jobs that can hold a claim)."""

    def _claim(self, held: bool = False) -> Claim:
        return Claim(self.dag_id, self.run_id, self.triggered_at, self.names, held)

    def publish(self, names: Iterable[str] | None) -> None:
        """Claim ``names`` for this job (None: names not known yet, others wait); replaces an earlier claim."""
        self.names = None if names is None else tuple(sorted({name.lower() for name in names}))
        self._write(self._claim())

    def withdraw(self) -> None:
        """Give up this job's claim (its check refused the job)."""
        self.names = ()
        try:
            self._write(self._claim())
        except ClaimsUnreadableError:
            # The job is being refused anyway; its claim ends with it (the next check removes it).
            log.warning("Could not withdraw the claim of %s", holder_name(self.dag_id, self.run_id))

    def held(self, names: Iterable[str]) -> dict[str, str]:
        """The names of ``names`` that another job takes, with that job; marks this claim held if none.

        Waits until every running job has published its claim; refuses the job
        (:class:`ClaimsUnreadableError`, after withdrawing this claim) when the claims cannot be read.
        """
        wanted = sorted({name.lower() for name in names})
        if self.names is None or not set(wanted) <= set(self.names):
            self.publish(wanted)
        own = self._claim()
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                others, unpublished = self._running_claims()
            except ClaimsUnreadableError:
                self.withdraw()
                raise
            if unpublished == 0 or time.monotonic() >= deadline:
                break
            log.info("%d running job(s) have not published their claim yet; waiting for them", unpublished)
            self.sleep(self.poll_seconds)
        taken = conflicts(own, others, wanted)
        if taken:
            return taken
        if unpublished:
            self.withdraw()
            raise ClaimsUnreadableError(
                f"{unpublished} running job(s) did not publish the names they claim within "
                f"{self.wait_seconds:.0f} s, so this job cannot know whether they want its names; "
                "it is refused rather than risk two jobs on one name: start it again"
            )
        self._write(self._claim(held=True))
        return {}

    # --- reading and writing, failing closed ------------------------------------------------------

    def _running_claims(self) -> tuple[list[Claim], int]:
        """The other running jobs' claims, and how many running jobs have not published theirs."""
        return self._tried("read the other running jobs' claims", self._read_running_claims)

    def _read_running_claims(self) -> tuple[list[Claim], int]:
        running = self.store.running_checks()
        others: list[Claim] = []
        published = 0
        self.reads = 0
        for key in self.store.keys():
            if key == self.key:
                published += 1
                continue
            value = self.store.read(key)
            if value is None:
                continue
            self.reads += 1
            try:
                claim = Claim.from_json(value)
            except (ValueError, KeyError, TypeError):
                log.warning("Variable %s is not a claim; it is ignored", key)
                continue
            state = self.store.run_state(claim.dag_id, claim.run_id)
            if state not in ACTIVE_RUN_STATES:
                # Its job has ended (or no longer exists): the claim ended with it.
                self.store.remove(key)
                continue
            if state == RUNNING and claim.names is not None and not claim.held:
                published += 1  # an undecided claim: its check is still running
            others.append(claim)
        return others, max(running - published, 0)

    def _write(self, claim: Claim) -> None:
        self._tried("publish this job's claim", lambda: self.store.write(self.key, claim.to_json()))

    def _tried(self, what: str, action: Callable[[], Any]) -> Any:
        """Run ``action``; on an error, try again; after :data:`READ_ATTEMPTS` refuse the job with the reason."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return action()
            except Exception as error:
                reason = f"{type(error).__name__}: {error}"
                if attempt == READ_ATTEMPTS:
                    raise ClaimsUnreadableError(
                        f"could not {what} through Airflow's API after {READ_ATTEMPTS} tries ({reason}); "
                        "the job is refused rather than risk two jobs on one name: start it again"
                    ) from None
                log.warning("Could not %s (%s); trying again", what, reason)
                self.sleep(READ_BACKOFF_SECONDS * attempt)
        raise AssertionError("unreachable")


def _triggered_at(ti: Any) -> str:
    """When the task's job was triggered: its run's ``run_after`` (for a manual run, the trigger time)."""
    run = ti.get_template_context()["dag_run"]
    moment = run.run_after or run.logical_date or run.start_date
    return moment.isoformat()


class DatabaseClaims:
    """The running jobs' claims read from Airflow's database (the API server's plan endpoint).

    A dry run: every claim of a running job counts, held or not, since the plan has no rank of its own.

    :param session: a SQLAlchemy session on Airflow's metadata database.
    :param exclude: a ``(dag_id, run_id)`` whose claim does not count (the job being planned).
    """

    def __init__(self, session: Session, exclude: tuple[str, str] | None = None) -> None:
        self.session = session
        self.exclude = exclude

    def held(self, names: Iterable[str]) -> dict[str, str]:
        """The names of ``names`` that a running job claims, with the job that does."""
        from airflow.models.dagrun import DagRun
        from airflow.models.variable import Variable
        from sqlalchemy import select, tuple_

        claims: list[Claim] = []
        for variable in self.session.scalars(select(Variable).where(Variable.key.startswith(CLAIM_PREFIX))):
            try:
                claims.append(Claim.from_json(variable.val))
            except (ValueError, KeyError, TypeError):
                continue
        if not claims:
            return {}
        active = set(
            self.session.execute(
                select(DagRun.dag_id, DagRun.run_id).where(
                    tuple_(DagRun.dag_id, DagRun.run_id).in_([(c.dag_id, c.run_id) for c in claims]),
                    DagRun._state.in_(ACTIVE_RUN_STATES),
                )
            ).all()
        )
        return overlap(
            names,
            {
                claim.holder: claim.names or ()
                for claim in claims
                if (claim.dag_id, claim.run_id) in active and (claim.dag_id, claim.run_id) != self.exclude
            },
        )
