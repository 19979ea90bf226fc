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
from datetime import UTC, datetime, timedelta

import pytest

from tests.dag_runs import ROOT, load_dag, run_dag

CREATE = "ssl_create_certificates"
RACES = 5


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
    """Earlier tests of the session may leave a run marked running: a check would wait for its claim."""
    from airflow.models.dagrun import DagRun
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    from cloudfront_ssl.steps.claims import CLAIM_PREFIX

    with create_session() as session:
        for run in session.query(DagRun).filter(DagRun.state == DagRunState.RUNNING):
            run.state = DagRunState.FAILED
        # Jobs of other test files on this worker leave their claims until a check meets them.
        session.query(Variable).filter(Variable.key.startswith(CLAIM_PREFIX)).delete(synchronize_session=False)


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
    assert "certificates[1] (line 2): shop.example.com is claimed by job " + first.run_id in failure["message"]
    # A refused job withdraws its claim: it holds nothing while it finishes failing.
    withdrawn = [c for c in claim_variables().values() if c["run_id"] == second.run_id]
    assert withdrawn == [{**withdrawn[0], "names": [], "held": False}]

    set_running(CREATE, first.run_id, running=False)
    third = run_dag(create_dag, conf(aws, ["shop.example.com"], create_distributions=False))
    assert third.state == "success"
    # The claims of ended jobs were removed by the check that met them: only the last job's is left.
    assert [c["run_id"] for c in claim_variables().values()] == [third.run_id]


RACER = """
import json, sys
from datetime import datetime
from tests.dag_runs import load_dag
dag = load_dag(sys.argv[1])
run = dag.test(run_after=datetime.fromisoformat(sys.argv[2]), run_conf=json.loads(sys.argv[3]))
print("RUN_ID=" + run.run_id)
"""


def start_job(run_after: datetime, job_conf: dict) -> subprocess.Popen:
    """A create job run by ``dag.test()`` in a process of its own, triggered at ``run_after``."""
    return subprocess.Popen(
        [sys.executable, "-c", RACER, CREATE, run_after.isoformat(), json.dumps(job_conf)],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_record(run_id: str) -> tuple[datetime, str, str, str]:
    """A finished run's trigger time, run id, state and check state."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=CREATE, run_id=run_id).one()
        check = run.get_task_instance("check", session=session)
        return run.run_after, run.run_id, str(run.state), str(check.state)


@pytest.mark.parametrize("race", range(RACES))
def test_of_two_jobs_racing_for_one_name_the_earlier_triggered_goes_on(airflow_db, aws, race):
    """Two jobs triggered together claim one name: exactly one goes on, the one triggered first (ties:
    the lower run id), whichever check runs first; the other is refused, naming the name and the job."""
    finish_stray_runs()
    load_dag(CREATE).test(run_conf=conf(aws, [f"warm{race}.example.com"], create_distributions=False))
    shared = f"race{race}.example.com"
    now = datetime.now(UTC)
    # Race 0, 2, 4: the earlier-triggered job starts first; 1, 3: it starts last. Race 4 triggers them
    # a microsecond apart (dag.test() names a run after its trigger time, so a tie needs custom run
    # ids: test_a_tie_goes_to_the_lower_run_id).
    gap = timedelta(microseconds=1) if race == 4 else timedelta(milliseconds=50)
    triggered = [now, now + gap]
    order = [0, 1] if race % 2 == 0 else [1, 0]
    confs = [
        conf(aws, [shared, f"first{race}.example.com"], create_distributions=False),
        conf(aws, [f"second{race}.example.com", shared], create_distributions=False),
    ]
    processes = {index: start_job(triggered[index], confs[index]) for index in order}
    outputs = {index: process.communicate(timeout=600)[0] for index, process in processes.items()}
    run_ids = {}
    for index, output in outputs.items():
        lines = [line for line in output.splitlines() if line.startswith("RUN_ID=")]
        assert lines, output[-3000:]
        run_ids[index] = lines[-1].removeprefix("RUN_ID=")
    records = sorted(run_record(run_id) for run_id in run_ids.values())
    # Exactly one goes on. Of two checks running together the earlier-triggered job wins; a check that
    # starts after the other job went on gives way (checks never wait for a queued check: that would
    # hold every worker slot in a burst).
    went_on = [record for record in records if (record[2], record[3]) == ("success", "success")]
    refused = [record for record in records if (record[2], record[3]) == ("failed", "failed")]
    assert len(went_on) == 1 and len(refused) == 1, (records, outputs)
    winner, loser = went_on[0], refused[0]
    winner_index = 0 if run_ids[0] == winner[1] else 1
    names = {c["DomainName"] for c in aws.certificates()}
    loser_only = [f"first{race}.example.com", f"second{race}.example.com"][1 - winner_index]
    assert shared in names and loser_only not in names  # the refused job created nothing
    refusals = [m["message"] for m in aws.messages() if f"is claimed by job {winner[1]}" in m["message"]]
    assert len(refusals) == 1 and f"{shared} is claimed by job {winner[1]} of {CREATE}" in refusals[0]
    print(f"\nrace {race}: {winner[1]} went on, {loser[1]} refused")


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
