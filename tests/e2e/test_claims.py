"""Of two jobs that claim one name, exactly one goes on: the one triggered first (then the lower run id).

Real DAG runs against moto. A race is two create jobs started at once in two processes (each its own
``dag.test()``, as two workers would run them), sharing Airflow's database; the "still running" job
of the first test is a real earlier run put back to running in Airflow's database, as a job waiting
for issuance would be. Reading the claims fails closed: a failing reader ends in a refusal that says
why, after trying again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from tests.dag_runs import ROOT, load_dag, run_dag

CREATE = "ssl_create_certificates"
IMPORT = "ssl_import_certificate"
RACES = 3


@pytest.fixture
def create_dag(airflow_db):
    return load_dag(CREATE)


def conf(aws, certificates, **extra):
    return {
        "certificates": certificates,
        "source_distribution_id": aws.source_distribution_id,
        "notification_topic_arn": aws.topic_arn,
        "poll_interval_seconds": 1,
        **extra,
    }


def set_running(dag_id: str, run_id: str, running: bool) -> None:
    """Put a finished run back to running (its last step not done yet), or finish it again."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_id, run_id=run_id).one()
        run.state = DagRunState.RUNNING if running else DagRunState.SUCCESS
        last = (
            session.query(TaskInstance)
            .filter_by(dag_id=dag_id, run_id=run_id, task_id="cleanup_on_failure")
            .one()
        )
        last.state = None if running else TaskInstanceState.SKIPPED


def claim_variables() -> dict[str, dict]:
    """The claims Airflow holds now, by key."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    from cloudfront_ssl.steps.claims import CLAIM_PREFIX

    with create_session() as session:
        rows = session.query(Variable).filter(Variable.key.startswith(CLAIM_PREFIX)).all()
        return {row.key: json.loads(row.val) for row in rows}


def finish_stray_runs() -> None:
    """Earlier tests of the session may leave a run running or queued: a check would weigh or wait for it."""
    from airflow.models.dagrun import DagRun
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    from cloudfront_ssl.steps.claims import CLAIM_PREFIX

    with create_session() as session:
        for run in session.query(DagRun).filter(DagRun.state.in_([DagRunState.RUNNING, DagRunState.QUEUED])):
            run.state = DagRunState.FAILED
        # Jobs of other test files on this worker leave their claims until a check meets them.
        session.query(Variable).filter(Variable.key.startswith(CLAIM_PREFIX)).delete(
            synchronize_session=False
        )


def test_a_name_claimed_by_a_running_job_is_refused_until_that_job_ends(create_dag, aws):
    finish_stray_runs()
    first = run_dag(create_dag, conf(aws, ["shop.example.com"], create_distributions=False))
    assert first.state == "success"
    (claim,) = claim_variables().values()
    assert claim["run_id"] == first.run_id and claim["names"] == ["shop.example.com"] and claim["held"]
    set_running(CREATE, first.run_id, running=True)
    certificates_before = len(aws.certificates())

    second = run_dag(create_dag, conf(aws, ["www.example.com", "SHOP.example.com, other.example.com"]))
    assert second.task_states["check"] == ["failed"]
    assert len(aws.certificates()) == certificates_before  # nothing created
    failure = aws.messages()[-1]
    assert (
        "certificates[1] (line 2): shop.example.com is claimed by job " + first.run_id in failure["message"]
    )
    # A refused job withdraws its claim: it holds nothing while it finishes failing.
    withdrawn = [c for c in claim_variables().values() if c["run_id"] == second.run_id]
    assert withdrawn == [{**withdrawn[0], "names": [], "held": False}]

    set_running(CREATE, first.run_id, running=False)
    third = run_dag(create_dag, conf(aws, ["shop.example.com"], create_distributions=False))
    assert third.state == "success"
    # The claims of ended jobs were removed by the check that met them: only the last job's is left.
    assert [c["run_id"] for c in claim_variables().values()] == [third.run_id]


RACER = """
import json, os, sys, time
from datetime import datetime
from pathlib import Path

from airflow.sdk.definitions import dag as dag_module

from tests.dag_runs import load_dag, short_idle_pauses

barrier, parties = os.environ.get("CLAIMS_BARRIER"), int(os.environ.get("CLAIMS_PARTIES", "0"))
release = os.environ.get("CLAIMS_RELEASE")
then = os.environ.get("CLAIMS_THEN")
real_run_task = dag_module._run_task


def run_task(*, ti, task, run_triggerer=False):
    # Before the check first runs (the run exists, its check is scheduled as for a worker slot): wait at
    # the barrier until every racing job's run exists, or until the test releases this check.
    if ti.task_id == "check" and ti.next_method is None:
        if barrier:
            Path(barrier, ti.run_id).touch()
            while len(list(Path(barrier).iterdir())) < parties:
                time.sleep(0.05)
        if release:
            print("CHECK_HELD=" + ti.run_id, flush=True)
            while not Path(release).exists():
                time.sleep(0.1)
    # After the check, the job's next steps wait until the test lets them go on (the job keeps running).
    elif then and ti.task_id != "check":
        while not Path(then).exists():
            time.sleep(0.1)
    return real_run_task(ti=ti, task=task, run_triggerer=run_triggerer)


dag_module._run_task = run_task
dag = load_dag(sys.argv[1])
with short_idle_pauses():
    run = dag.test(run_after=datetime.fromisoformat(sys.argv[2]), run_conf=json.loads(sys.argv[3]))
print("RUN_ID=" + run.run_id, flush=True)
"""


class Job:
    """A job run by ``dag.test()`` in a process of its own (as a worker would run it), triggered at
    ``run_after``; its output is read as it comes.

    :param barrier: a directory where racing jobs wait before their check until ``parties`` runs exist.
    :param release: a file: the job's check stays scheduled (not started) until it exists.
    :param then: a file: the job's steps after its check wait until it exists (the job stays running).
    """

    def __init__(
        self,
        dag_id: str,
        run_after: datetime,
        job_conf: dict,
        *,
        barrier: Path | None = None,
        parties: int = 0,
        release: Path | None = None,
        then: Path | None = None,
    ) -> None:
        env = os.environ.copy()
        if then is not None:
            env["CLAIMS_THEN"] = str(then)
        if barrier is not None:
            env.update(CLAIMS_BARRIER=str(barrier), CLAIMS_PARTIES=str(parties))
        if release is not None:
            env["CLAIMS_RELEASE"] = str(release)
        self.process = subprocess.Popen(
            [sys.executable, "-c", RACER, dag_id, run_after.isoformat(), json.dumps(job_conf)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        Job.started.append(self)

    started: ClassVar[list[Job]] = []
    """Every job started, so that a failed test leaves none running (it would race the next test)."""

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def value(self, prefix: str, timeout: float = 300) -> str:
        """The rest of the first output line that starts with ``prefix``, waiting for it to come."""
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.lines):
                if line.startswith(prefix):
                    return line.removeprefix(prefix).strip()
            if time.monotonic() >= deadline or (
                self.process.poll() is not None and not self.reader.is_alive()
            ):
                break
            time.sleep(0.1)
        raise AssertionError(f"no line {prefix!r} in the job's output:\n{self.output[-4000:]}")

    def wait_for(self, text: str, timeout: float = 300) -> None:
        """Wait until a line of the job's output holds ``text``."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self.lines)):
            if time.monotonic() >= deadline or (
                self.process.poll() is not None and not self.reader.is_alive()
            ):
                raise AssertionError(f"no {text!r} in the job's output:\n{self.output[-4000:]}")
            time.sleep(0.1)

    def finish(self, timeout: float = 600) -> str:
        """Wait for the job to end; its run id."""
        self.process.wait(timeout=timeout)
        self.reader.join(timeout=30)
        return self.value("RUN_ID=", timeout=0)


@pytest.fixture(autouse=True)
def no_job_left_running():
    """Stop the jobs a test started that are still running when it ends (a failed test's)."""
    yield
    while Job.started:
        job = Job.started.pop()
        if job.process.poll() is None:
            job.process.kill()
            job.process.wait(timeout=30)


def run_record(run_id: str, dag_id: str = CREATE) -> tuple[datetime, str, str, str]:
    """A run's trigger time, run id, state and check state."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_id, run_id=run_id).one()
        check = run.get_task_instance("check", session=session)
        return run.run_after, run.run_id, str(run.state), str(check.state)


@pytest.mark.parametrize("race", range(RACES))
def test_of_two_jobs_racing_for_one_name_the_earlier_triggered_goes_on(airflow_db, aws, race, tmp_path):
    """Two jobs triggered together claim one name: exactly one goes on, the one triggered first (ties:
    the lower run id), whichever check runs first; the other is refused, naming the name and the job."""
    finish_stray_runs()
    load_dag(CREATE).test(run_conf=conf(aws, [f"warm{race}.example.com"], create_distributions=False))
    shared = f"race{race}.example.com"
    now = datetime.now(UTC)
    # Race 0 and 2: the earlier-triggered job starts first; race 1: it starts last. Race 2 triggers them
    # a microsecond apart (dag.test() names a run after its trigger time, so a tie needs custom run
    # ids: test_a_tie_goes_to_the_lower_run_id). Both runs exist before either check starts (a barrier),
    # as for two jobs triggered together; then their checks race.
    gap = timedelta(microseconds=1) if race == 2 else timedelta(milliseconds=50)
    triggered = [now, now + gap]
    order = [0, 1] if race % 2 == 0 else [1, 0]
    confs = [
        conf(aws, [shared, f"first{race}.example.com"], create_distributions=False),
        conf(aws, [f"second{race}.example.com", shared], create_distributions=False),
    ]
    jobs = {
        index: Job(CREATE, triggered[index], confs[index], barrier=tmp_path, parties=2) for index in order
    }
    run_ids = {index: job.finish() for index, job in jobs.items()}
    outputs = {index: job.output[-3000:] for index, job in jobs.items()}
    records = sorted(run_record(run_id) for run_id in run_ids.values())
    winner, loser = records
    assert (winner[2], winner[3]) == ("success", "success"), (records, outputs)
    assert (loser[2], loser[3]) == ("failed", "failed"), (records, outputs)
    assert winner[1] == run_ids[0]  # the earlier-triggered job went on
    names = {c["DomainName"] for c in aws.certificates()}
    assert shared in names and f"second{race}.example.com" not in names  # the refused job created nothing
    refusals = [m["message"] for m in aws.messages() if f"is claimed by job {winner[1]}" in m["message"]]
    assert len(refusals) == 1 and f"{shared} is claimed by job {winner[1]} of {CREATE}" in refusals[0]
    print(f"\nrace {race}: {winner[1]} went on, {loser[1]} refused")


def check_state(dag_id: str, run_id: str) -> str:
    """The state of a run's check step now."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        check = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run_id, task_id="check").one()
        return str(getattr(check.state, "value", check.state))


def test_a_later_job_whose_check_runs_first_gives_way_to_an_earlier_job_still_queued(
    aws, airflow_db, tmp_path
):
    """The earlier-triggered job's check waits for a worker slot (held back, scheduled) while the later
    job's check runs: the later job is refused at once, its check reading the earlier job's names from
    its conf; then the earlier job's check runs and it goes on."""
    finish_stray_runs()
    release = tmp_path / "release"
    now = datetime.now(UTC)
    earlier = Job(
        CREATE,
        now,
        conf(aws, ["queued.example.com", "a.queued.example.com"], create_distributions=False),
        release=release,
    )
    earlier_run = earlier.value("CHECK_HELD=")
    later = Job(CREATE, now + timedelta(seconds=1), conf(aws, ["b.queued.example.com", "QUEUED.example.com"]))
    later_run = later.finish()
    # The later job's check ran and refused it while the earlier one's had not started.
    assert check_state(CREATE, earlier_run) == "scheduled"
    assert run_record(later_run)[2:] == ("failed", "failed"), later.output[-3000:]
    assert not [c for c in claim_variables().values() if c["run_id"] == earlier_run]
    refusal = aws.messages()[-1]["message"]
    assert f"queued.example.com is claimed by job {earlier_run} of {CREATE}" in refusal
    assert aws.certificates() == []

    release.touch()
    assert earlier.finish() == earlier_run
    assert run_record(earlier_run)[2:] == ("success", "success"), earlier.output[-3000:]
    assert {c["DomainName"] for c in aws.certificates()} == {"queued.example.com", "a.queued.example.com"}


@pytest.fixture(scope="module")
def ca():
    from tests import pki

    root = pki.make_root()
    return root, pki.make_intermediate(root)


def test_a_later_check_waits_without_a_slot_for_an_earlier_import_job_to_claim(aws, airflow_db, tmp_path, ca):
    """An earlier import job's names come from its certificate, so the later job's check cannot read them
    from its conf: it defers (in the triggerer, holding no worker slot) until the import job's check,
    released only then, has claimed them; then it is refused and the import job goes on."""
    from tests import pki

    finish_stray_runs()
    root, intermediate = ca
    leaf = pki.make_leaf(intermediate, ["imported.example.com", "www.imported.example.com"])
    import_conf = {
        "certificate_name": "imported",
        "certificate_body": leaf.cert_pem(),
        "private_key": leaf.key_pem(),
        "certificate_chain": intermediate.cert_pem(),
        "create_distributions": True,
        "source_distribution_id": aws.source_distribution_id,
        "notification_topic_arn": aws.topic_arn,
    }
    release = tmp_path / "release"
    now = datetime.now(UTC)
    then = tmp_path / "then"
    earlier = Job(IMPORT, now, import_conf, release=release, then=then)
    earlier_run = earlier.value("CHECK_HELD=")
    later = Job(
        CREATE,
        now + timedelta(seconds=1),
        conf(aws, ["www.imported.example.com", "other.imported.example.com"], create_distributions=False),
    )
    later.wait_for(f"Waiting for job {earlier_run} of {IMPORT} to publish")  # its check deferred
    time.sleep(3)
    assert later.process.poll() is None, later.output[-3000:]  # still waiting, not decided
    assert "new_state=deferred" in later.output  # Airflow recorded the check deferred: no worker slot held
    assert check_state(IMPORT, earlier_run) == "scheduled"  # the import job's check has not started
    (waiting,) = [c for c in claim_variables().values() if c["dag_id"] == CREATE]
    assert not waiting["held"] and "www.imported.example.com" in waiting["names"]

    release.touch()
    # The import job's check claims its names and goes on; the job stays running (its next steps held)
    # while the later job's check resumes and decides.
    later_run = later.finish()
    assert run_record(later_run)[2:] == ("failed", "failed"), later.output[-3000:]
    assert run_record(earlier_run, IMPORT)[2:] == ("running", "success"), earlier.output[-3000:]
    then.touch()
    assert earlier.finish() == earlier_run
    assert run_record(earlier_run, IMPORT)[2:] == ("success", "success"), earlier.output[-3000:]
    refusal = [m["message"] for m in aws.messages() if "is claimed by job" in m["message"]]
    assert (
        len(refusal) == 1
        and f"www.imported.example.com is claimed by job {earlier_run} of {IMPORT}" in refusal[0]
    )
    assert {c["DomainName"] for c in aws.certificates()} == {"imported.example.com"}  # the import's only


def test_a_tie_goes_to_the_lower_run_id():
    """Two jobs triggered at the same instant: the lower run id goes on, in both checks' view."""
    from cloudfront_ssl.steps.claims import Claim, conflicts

    at = "2026-01-01T00:00:00+00:00"
    low = Claim(CREATE, "job-a", at, ("x.example.com",))
    high = Claim(CREATE, "job-b", at, ("x.example.com",))
    assert conflicts(low, [high], ["x.example.com"]) == {}
    assert conflicts(high, [low], ["x.example.com"]) == {"x.example.com": f"job job-a of {CREATE}"}
    # A held claim wins whatever its rank (its job went on before the other checked).
    assert conflicts(low, [Claim(CREATE, "job-b", at, ("x.example.com",), held=True)], ["x.example.com"])


class FailingStore:
    """The Task SDK's claim store, with Airflow's API failing for the first ``failures`` listings."""

    def __init__(self, ti, failures: int, calls: list[str]) -> None:
        from cloudfront_ssl.steps.claims import TaskSdkClaimStore

        self.real = TaskSdkClaimStore(ti)
        self.failures = failures
        self.calls = calls

    def keys(self):
        self.calls.append("keys")
        if len(self.calls) <= self.failures:
            raise ConnectionError("the API server answered 503 Service Unavailable")
        return self.real.keys()

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def failing_reader(monkeypatch):
    """Make the check's claims reader fail ``n`` times (Airflow's API unavailable); return its calls."""
    from cloudfront_ssl.steps import claims

    calls: list[str] = []
    real_init = claims.TaskClaims.__init__

    def arm(failures: int) -> list[str]:
        def init(self, ti, *args, **kwargs):
            kwargs["store"] = FailingStore(ti, failures, calls)
            real_init(self, ti, *args, **kwargs)

        monkeypatch.setattr(claims.TaskClaims, "__init__", init)
        monkeypatch.setattr(claims, "READ_BACKOFF_SECONDS", 0.01)
        return calls

    return arm


def test_claims_that_cannot_be_read_refuse_the_job_with_the_reason(create_dag, aws, failing_reader):
    finish_stray_runs()
    calls = failing_reader(99)
    result = run_dag(create_dag, conf(aws, ["unread.example.com"], create_distributions=False))
    assert result.task_states["check"] == ["failed"]  # refused, not "no one holds it"
    assert aws.certificates() == []
    assert calls == ["keys"] * 3  # tried again before refusing
    failure = aws.messages()[-1]["message"]
    assert "could not read the other running jobs' claims" in failure
    assert "ConnectionError: the API server answered 503" in failure


def test_a_passing_error_reading_claims_is_tried_again(create_dag, aws, failing_reader):
    finish_stray_runs()
    calls = failing_reader(1)
    result = run_dag(create_dag, conf(aws, ["flaky.example.com"], create_distributions=False))
    assert result.state == "success", result.task_states
    assert calls[:2] == ["keys", "keys"]


def test_a_check_reads_only_the_claims_of_jobs_that_can_still_hold_one(create_dag, aws, monkeypatch):
    """Finished jobs pile up in the DAG's history; a check reads the claims of running jobs only
    (and removes, once, a claim whose job has ended), so its cost does not grow with the history."""
    from cloudfront_ssl.steps import claims

    finish_stray_runs()
    for number in range(4):
        done = run_dag(create_dag, conf(aws, [f"history{number}.example.com"], create_distributions=False))
        assert done.state == "success"
    read: set[str] = set()
    real_read = claims.TaskSdkClaimStore.read

    def counted(self, key):
        read.add(key)  # a check that waits reads again: count the claims, not the reads
        return real_read(self, key)

    monkeypatch.setattr(claims.TaskSdkClaimStore, "read", counted)
    result = run_dag(create_dag, conf(aws, ["latest.example.com"], create_distributions=False))
    assert result.state == "success"
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        history = session.query(DagRun).filter_by(dag_id=CREATE).count()
    print(f"\nruns in the DAG's history: {history}; claims read by the last check: {len(read)}")
    assert history >= 5
    assert len(read) <= 1  # at most the previous job's claim, removed since its job ended
    assert [c["run_id"] for c in claim_variables().values()] == [result.run_id]


class MemoryStore:
    """What a check reads through Airflow's API, held in memory: claims, runs and their check steps."""

    def __init__(self) -> None:
        from cloudfront_ssl.steps.claims import RunFacts

        self.values: dict[str, str] = {}
        self.runs: dict[tuple[str, str], RunFacts] = {}
        self.checks: dict[tuple[str, str], str | None] = {}

    def add_run(self, dag_id: str, run_id: str, at: str, conf: dict, check: str | None = None) -> None:
        from cloudfront_ssl.steps.claims import RunFacts

        self.runs[(dag_id, run_id)] = RunFacts("running", at, conf)
        self.checks[(dag_id, run_id)] = check

    def keys(self):
        return list(self.values)

    def read(self, key):
        return self.values.get(key)

    def write(self, key, value):
        self.values[key] = value

    def remove(self, key):
        self.values.pop(key, None)

    def run_state(self, dag_id, run_id):
        facts = self.runs.get((dag_id, run_id))
        return facts.state if facts else None

    def active_runs(self, dag_id):
        return sum(1 for (dag, _), facts in self.runs.items() if dag == dag_id and facts.state == "running")

    def check_states(self, dag_id):
        return {run: state for (dag, run), state in self.checks.items() if dag == dag_id}

    def run(self, dag_id, run_id):
        return self.runs.get((dag_id, run_id))


def test_a_check_waits_for_an_earlier_import_job_only_so_long_then_refuses_naming_it():
    """An earlier import job that never claims (its check never gets a slot) makes a later check wait,
    deferred, until the wait's deadline; then the later job is refused, naming it, and holds no claim.
    An earlier create job's names come from its conf: no wait, and only a name it wants is refused."""
    import time as clock

    from cloudfront_ssl.steps.claims import ClaimsPending, ClaimsUnreadableError, TaskClaims, resumed_wait

    store = MemoryStore()
    store.add_run(IMPORT, "import-1", "2026-01-01T00:00:00+00:00", {"create_distributions": True})
    store.add_run(CREATE, "create-1", "2026-01-01T00:00:01+00:00", {"certificates": ["a.example.com"]})
    store.add_run(CREATE, "create-2", "2026-01-01T00:00:02+00:00", {}, check="running")
    claims = TaskClaims(None, CREATE, "create-2", triggered_at="2026-01-01T00:00:02+00:00", store=store)

    assert claims.held(["a.example.com"]) == {"a.example.com": f"job create-1 of {CREATE}"}  # from its conf
    with pytest.raises(ClaimsPending) as pending:
        claims.held(["b.example.com"])
    assert pending.value.runs == [(IMPORT, "import-1")]
    assert pending.value.deadline > clock.time() + 3000  # an hour to claim

    with resumed_wait(clock.time() - 1), pytest.raises(ClaimsUnreadableError) as refused:
        claims.held(["b.example.com"])
    assert f"job import-1 of {IMPORT}, triggered earlier, did not publish the names" in str(refused.value)
    (own,) = [json.loads(value) for value in store.values.values()]
    assert own["run_id"] == "create-2" and own["names"] == [] and not own["held"]

    # Once the import job has claimed (other names), the later check goes on.
    store.checks[(IMPORT, "import-1")] = "running"
    store.write(
        "cloudfront_ssl.claim.import",
        json.dumps(
            {
                "dag_id": IMPORT,
                "run_id": "import-1",
                "triggered_at": "2026-01-01T00:00:00+00:00",
                "names": ["c.example.com"],
            }
        ),
    )
    assert claims.held(["b.example.com"]) == {}
    assert json.loads(store.values[claims.key])["held"]
