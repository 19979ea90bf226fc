"""Names claimed by running jobs: of two jobs that want one name, exactly one goes on.

CloudFront allows an alias on one distribution only, and two jobs that both passed their check would
both request certificates and both create a distribution for the name (the second refused by
CloudFront only after its certificates exist, and not refused at all by the emulator). So the check
step of every job *claims* its names, and of two jobs that claim one name the one triggered first
(at the same instant, the lower run id) goes on; the other is refused, naming the name and the job
that holds it.

Where claims live: one Airflow Variable per running job, ``cloudfront_ssl.claim.<key>``, whose value
is the job's :class:`Claim` (its DAG, run id, the time it was triggered, the names, and whether the
claim is *held*). Variables are the one store that a task can both write and list by prefix through
Airflow's API (a task has no database access in Airflow 3, and no compare-and-set), so a check reads
only the claims of jobs that can still hold one, never the DAGs' whole history. A claim whose job has
ended is removed by the next check that meets it.

How a check decides, the same way in every check and on every worker:

1. it publishes its own claim first (the import job publishes "names not known yet" first thing, and
   its aliases once the bundle is read);
2. it reads the claims of the running jobs, and looks for jobs *triggered before it* that are running
   or queued but have not published their names yet (their check is still queued for a worker slot,
   or has just started). Airflow counts the active runs of the job DAGs, so this costs a few counts
   when every active job has published; only when one has not does the check list the job DAGs' check
   steps to find which. For such a job the names are read from its conf where they are exactly what
   its check will claim (the create and update jobs', an import job without a distribution's: none);
3. a name that another job claims is refused when that job's claim is held (it went on already) or
   when that job was triggered earlier (then the lower run id): the *rank* of a job is data that
   every check reads alike, not the order in which the checks happened to run;
4. when no name is refused but an earlier job's names can only come from its own check (an import
   job reads them from its certificate), the check *defers*: it raises :class:`ClaimsPending`, and the
   check step (:mod:`cloudfront_ssl.steps.claims_wait`) hands the wait to Airflow's triggerer, which
   polls those jobs' claims and runs at a modest interval and resumes the check when each has
   published its names or ended. A deferred check holds no worker slot, so the earlier job's check
   gets one even when a burst of jobs fills every slot; it waits only for jobs triggered earlier, so
   no two checks wait for each other. The wait is bounded (:data:`WAIT_SECONDS`): after it the job is
   refused, naming the jobs it waited for;
5. a check that meets no such claim marks its own as held; one that refuses withdraws its claim.

So of two jobs that want one name, the earlier-triggered one goes on and the other is refused,
whichever check runs first, even when the later job's check runs while the earlier one's is still
queued; a job whose check runs after another job went on with the name is refused. Reading the claims
fails closed: an error is tried again, and a check that still cannot read them refuses the job with
the reason instead of assuming no job is running.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from cloudfront_ssl.errors import FinalError
from cloudfront_ssl.vocabulary import (
    ACTIVE_RUN_STATES,
    CHECK,
    CREATE_DAG_ID,
    FINISHED_STEP_STATES,
    IMPORT_DAG_ID,
    JOB_DAG_IDS,
    UPDATE_DAG_ID,
    state_name,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

CLAIM_PREFIX = "cloudfront_ssl.claim."
"""The Variables that hold the running jobs' claims start with this."""
READ_ATTEMPTS = 3
"""How often a check tries to read the claims before it refuses the job (errors of Airflow's API)."""
READ_BACKOFF_SECONDS = 1.0
WAIT_SECONDS = 3600.0
"""How long a check waits (deferred, holding no worker slot) for jobs triggered before it to publish
their names before it refuses its own job."""
POLL_SECONDS = 5.0
"""How often the deferred wait reads the claims and states of the jobs it waits for."""


class ClaimsUnreadableError(FinalError):
    """The other running jobs' claims could not be read, so the job is refused (claims fail closed)."""


class ClaimsPending(BaseException):
    """Jobs triggered before this one have not published their names yet: the check must wait for them.

    A BaseException, so that no ``except Exception`` on the way turns it into a refusal: the check step
    (:class:`cloudfront_ssl.steps.claims_wait.CheckStepOperator`) catches it and defers.

    :param runs: the ``(dag_id, run_id)`` of each job waited for.
    :param deadline: Unix time after which the check refuses its job instead of waiting again.
    """

    def __init__(self, runs: list[tuple[str, str]], deadline: float) -> None:
        self.runs = list(runs)
        self.deadline = deadline
        super().__init__(
            f"waiting for {', '.join(holder_name(*run) for run in self.runs)} to publish their names"
        )


_resumed_deadline: ContextVar[float | None] = ContextVar("cloudfront_ssl_claims_deadline", default=None)


@contextmanager
def resumed_wait(deadline: float | None) -> Iterator[None]:
    """Run a check resumed after a wait: it keeps the first wait's deadline instead of starting anew."""
    token = _resumed_deadline.set(deadline)
    try:
        yield
    finally:
        _resumed_deadline.reset(token)


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


@dataclass(frozen=True)
class RunFacts:
    """What a check needs to know of another job that has not published its claim.

    :param state: the run's state (``queued``, ``running``...).
    :param triggered_at: when it was triggered (its ``run_after``), ISO 8601 with time zone.
    :param conf: the conf it was triggered with.
    """

    state: str | None
    triggered_at: str
    conf: Mapping[str, Any]


def names_from_conf(dag_id: str, conf: Mapping[str, Any]) -> list[str] | None:
    """The names a job's check will claim, read from its conf; None where only its check can tell.

    Exact for the create job (the names of ``certificates``, published before anything is checked),
    the update job (``names`` and its ``site:`` claim) and an import job without a distribution (no
    name). An import job with a distribution claims the aliases its check reads from the certificate
    (or checks against it), so only its check can tell them.
    """
    params = dict(conf or {})
    if dag_id == CREATE_DAG_ID:
        from cloudfront_ssl.steps.create_job import _names_of

        return _names_of(params)
    if dag_id == UPDATE_DAG_ID:
        from cloudfront_ssl.steps.update_site import _claimed_names

        return _claimed_names(params)
    if dag_id == IMPORT_DAG_ID and params.get("create_distributions", False) is False:
        return []
    return None


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

    def active_runs(self, dag_id: str) -> int:
        """How many runs of a DAG are queued or running (Airflow counts them)."""
        ...

    def check_states(self, dag_id: str) -> dict[str, str | None]:
        """``{run_id: state of its check step}`` for the DAG's runs (read only when a job has not claimed)."""
        ...

    def run(self, dag_id: str, run_id: str) -> RunFacts | None:
        """A run's state, trigger time and conf; None when Airflow has no such run."""
        ...


def run_state(dag_id: str, run_id: str) -> str | None:
    """A run's state from Airflow's API (from a task or a trigger); None when the API does not know it."""
    from airflow.sdk.api.client import ServerResponseError
    from airflow.sdk.exceptions import AirflowRuntimeError
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    try:
        return state_name(RuntimeTaskInstance.get_dagrun_state(dag_id=dag_id, run_id=run_id))
    except (AirflowRuntimeError, ServerResponseError) as error:  # "not found"; anything else is a read error
        if _is_not_found(error):
            return None
        raise


def _is_not_found(error: Exception) -> bool:
    """Whether Airflow's API said "not found": the Task SDK's ``AirflowRuntimeError``, or the API
    client's ``ServerResponseError`` (a 404, its detail's reason ``not_found``)."""
    response = getattr(error, "response", None)
    detail = getattr(error, "detail", None)
    return (
        "NOT_FOUND" in str(getattr(error, "error", "")).upper()
        or "not found" in str(error).lower()
        or getattr(response, "status_code", None) == 404
        or (isinstance(detail, dict) and str(detail.get("reason", "")).lower() == "not_found")
    )


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
        return run_state(dag_id, run_id)

    def active_runs(self, dag_id: str) -> int:
        """Queued and running runs of the DAG, counted by Airflow."""
        return int(self.ti.get_dr_count(dag_id=dag_id, states=list(ACTIVE_RUN_STATES)))

    def check_states(self, dag_id: str) -> dict[str, str | None]:
        """The state of every run's check step of the DAG, from Airflow's API."""
        states = self.ti.get_task_states(dag_id=dag_id, task_ids=[CHECK])
        return {run_id: state_name(tasks.get(CHECK)) for run_id, tasks in states.items()}

    def run(self, dag_id: str, run_id: str) -> RunFacts | None:
        """The run's details from Airflow's API (the Task SDK's ``GetDagRun``, which has no helper)."""
        from airflow.sdk.api.client import ServerResponseError
        from airflow.sdk.exceptions import AirflowRuntimeError
        from airflow.sdk.execution_time.comms import GetDagRun
        from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS

        try:
            run: Any = SUPERVISOR_COMMS.send(GetDagRun(dag_id=dag_id, run_id=run_id))
        except (AirflowRuntimeError, ServerResponseError) as error:  # a run deleted since it was listed
            if _is_not_found(error):
                return None
            raise
        return RunFacts(state_name(run.state), run.run_after.isoformat(), dict(run.conf or {}))


class TaskClaims:
    """A job's claim, made and weighed from inside its check step.

    :param ti: the running check task instance (``context["ti"]``).
    :param dag_id: the job's DAG.
    :param run_id: the job's run id.
    :param triggered_at: when the job was triggered; read from the task's run when not given.
    :param store: where claims live; Airflow Variables through the Task SDK when not given.
    :param wait_seconds: how long to wait, deferred, for earlier jobs to publish their names.
    :param sleep: how to wait between two tries of a failed read (tests make it short).
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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.dag_id = dag_id
        self.run_id = run_id
        self.triggered_at = triggered_at or _triggered_at(ti)
        self.store: ClaimStore = store if store is not None else TaskSdkClaimStore(ti)
        self.wait_seconds = wait_seconds
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

    @contextmanager
    def withdrawn_on_failure(self) -> Iterator[None]:
        """Withdraw this job's claim when the check ends in an error; a wait (:class:`ClaimsPending`) keeps it."""
        try:
            yield
        except ClaimsPending:
            raise
        except BaseException:
            self.withdraw()
            raise

    def held(self, names: Iterable[str]) -> dict[str, str]:
        """The names of ``names`` that another job takes, with that job; marks this claim held if none.

        Raises :class:`ClaimsPending` while a job triggered earlier has not published its names (the
        check step then defers); refuses the job (:class:`ClaimsUnreadableError`, after withdrawing
        this claim) when the claims cannot be read, or when those jobs have not published their names
        within :attr:`wait_seconds`.
        """
        wanted = sorted({name.lower() for name in names})
        if self.names is None or not set(wanted) <= set(self.names):
            self.publish(wanted)
        own = self._claim()
        try:
            others, pending = self._running_claims()
        except ClaimsUnreadableError:
            self.withdraw()
            raise
        taken = conflicts(own, others, wanted)
        if taken:
            return taken
        if pending:
            deadline = _resumed_deadline.get() or time.time() + self.wait_seconds
            if time.time() < deadline:
                log.info(
                    "Waiting, without holding a worker, for %s, triggered earlier, to publish the names it claims",
                    ", ".join(holder_name(*run) for run in pending),
                )
                raise ClaimsPending(pending, deadline)
            self.withdraw()
            raise ClaimsUnreadableError(
                f"{', '.join(holder_name(*run) for run in pending)}, triggered earlier, did not publish the names "
                f"it claims within {self.wait_seconds / 60:.0f} min, so this job cannot know whether it wants "
                "the same names; it is refused rather than risk two jobs on one name: start it again"
            )
        self._write(self._claim(held=True))
        return {}

    # --- reading and writing, failing closed ------------------------------------------------------

    def _running_claims(self) -> tuple[list[Claim], list[tuple[str, str]]]:
        """The other running jobs' claims, and the jobs triggered earlier whose names are not known yet."""
        return self._tried("read the other running jobs' claims", self._read_running_claims)

    def _read_running_claims(self) -> tuple[list[Claim], list[tuple[str, str]]]:
        own = self._claim()
        active = {dag_id: self.store.active_runs(dag_id) for dag_id in JOB_DAG_IDS}
        others: list[Claim] = []
        pending: list[tuple[str, str]] = []
        claimed: dict[str, set[str]] = {dag_id: set() for dag_id in JOB_DAG_IDS}
        claimed.setdefault(self.dag_id, set()).add(self.run_id)
        self.reads = 0
        for key in self.store.keys():
            if key == self.key:
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
            claimed.setdefault(claim.dag_id, set()).add(claim.run_id)
            if claim.names is None:
                if claim.rank < own.rank:
                    pending.append((claim.dag_id, claim.run_id))
                continue
            others.append(claim)
        for dag_id, count in active.items():
            if count > len(claimed.get(dag_id, ())):
                # A job of this DAG has not published a claim: find it, and weigh it if triggered earlier.
                unpublished = self._unpublished(dag_id, claimed.get(dag_id, set()), own)
                others += [claim for claim in unpublished if claim.names is not None]
                pending += [(claim.dag_id, claim.run_id) for claim in unpublished if claim.names is None]
        return others, pending

    def _unpublished(self, dag_id: str, claimed: set[str], own: Claim) -> list[Claim]:
        """The active jobs of ``dag_id`` triggered before ``own`` whose check has not published a claim.

        Each comes as a claim read from its conf (names None where only its check can tell them).
        """
        found: list[Claim] = []
        for run_id, state in self.store.check_states(dag_id).items():
            if run_id in claimed or state in FINISHED_STEP_STATES:
                continue  # published, or its check ended without claiming anything
            value = self.store.read(claim_key(dag_id, run_id))  # published since the claims were listed
            if value is not None:
                try:
                    claim = Claim.from_json(value)
                except (ValueError, KeyError, TypeError):
                    claim = None
                if claim is not None and claim.names is not None:
                    if claim.rank < own.rank:
                        found.append(claim)
                    continue
            facts = self.store.run(dag_id, run_id)
            if facts is None or facts.state not in ACTIVE_RUN_STATES:
                continue
            claim = Claim(dag_id, run_id, facts.triggered_at, None)
            if claim.rank >= own.rank:
                continue  # triggered later: its check will meet this job's claim
            names = names_from_conf(dag_id, facts.conf)
            found.append(Claim(dag_id, run_id, facts.triggered_at, None if names is None else tuple(names)))
        return found

    def _write(self, claim: Claim) -> None:
        self._tried("publish this job's claim", lambda: self.store.write(self.key, claim.to_json()))

    def _tried(self, what: str, action: Callable[[], Any]) -> Any:
        """Run ``action``; on an error, try again; after :data:`READ_ATTEMPTS` refuse the job with the reason."""
        for attempt in range(1, READ_ATTEMPTS + 1):
            try:
                return action()
            except Exception as error:
                reason = f"{type(error).__name__}: {error}"
                detail = getattr(error, "detail", None)  # what Airflow's API said, for a ServerResponseError
                if detail:
                    reason += f" {detail}"
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
