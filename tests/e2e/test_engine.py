"""The jobs on the production engine: docker-compose.yaml's services as processes, driven through REST.

The stack (:mod:`devstack.engine`) reads the compose file and starts its components as processes of
their own: an API server, a scheduler, a DAG processor, two triggerers and two Celery workers, on a
fresh PostgreSQL database and a Redis database number of their own (the machine's servers, or servers
the stack starts). Where a process must differ from its container, ``devstack.engine.local_differences``
says why. The test adds only what makes failures show within seconds instead of minutes:

- ``[scheduler] task_instance_heartbeat_timeout`` (300 s by default) is 20 s: a task whose worker
  died is failed (and retried) 20 s after its last heartbeat;
- ``[scheduler] task_queued_timeout`` (600 s by default) is 180 s: a task that the killed worker had
  taken but not yet started stays queued until then, and is then queued again.

One scenario runs once for the module, as a user would see it, and the tests read what it recorded:
ten create jobs of ten certificates and an import job are triggered at once; while the create jobs
wait for issuance (the emulator holds the certificates back), the triggerer running their triggers
is killed; once the other triggerer has taken them over, the certificates are issued; while the
distributions are being created, the worker running the most of them is killed (``kill -9`` of the
worker and its task processes, as when its machine dies), and started again once the scheduler has
seen the loss, as the compose file's ``restart: always`` does.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from devstack import pki
from devstack.engine import EngineStack, engine_stack
from devstack.processes import StackFailure, wait_for

# Real processes timed against each other: make test runs these alone, after the parallel suite.
pytestmark = pytest.mark.engine

CREATE_DAG = "ssl_create_certificates"
IMPORT_DAG = "ssl_import_certificate"
JOBS = 10
CERTIFICATES = 10
TEST_SETTINGS = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "180",
}
HOLD = 10**6
"""An ACM validation wait no job outlives: the emulator issues nothing until it is lowered."""


@dataclass
class Scenario:
    """What the scenario did and saw."""

    stack: EngineStack
    runs: dict[str, str] = field(default_factory=dict)
    """run id -> DAG id."""
    confs: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    task_instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    killed_triggerer: str = ""
    triggers_moved: list[str] = field(default_factory=list)
    triggerer_takeover_seconds: float = 0.0
    killed_worker: str = ""
    interrupted: list[tuple[str, str, int]] = field(default_factory=list)
    """(run id, task id, map index) of the task instances running on the killed worker."""
    worker_detection_seconds: float = 0.0
    worker_recovery_seconds: float = 0.0
    wall_seconds: float = 0.0

    def create_runs(self) -> list[str]:
        """The create jobs' run ids."""
        return [run for run, dag in self.runs.items() if dag == CREATE_DAG]


def _sql(stack: EngineStack, query: str) -> list[tuple[Any, ...]]:
    assert stack.postgres is not None
    return stack.postgres.execute(query, database=stack.database)


def _triggers(stack: EngineStack) -> dict[int, str | None]:
    """Each trigger and the host name of the triggerer running it (None while unassigned)."""
    rows = _sql(stack, "SELECT t.id, j.hostname FROM trigger t LEFT JOIN job j ON j.id = t.triggerer_id")
    return {trigger_id: hostname for trigger_id, hostname in rows}


def _running(stack: EngineStack, task_id: str) -> list[tuple[str, str, int, str]]:
    """Task instances of ``task_id`` now running: (run id, task id, map index, host name)."""
    rows = _sql(
        stack,
        f"SELECT run_id, task_id, map_index, hostname FROM task_instance "
        f"WHERE task_id = '{task_id}' AND state = 'running'",
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _create_conf(aws: Any, number: int) -> dict[str, Any]:
    return {
        "certificates": [f"site{i}.job{number}.engine.example.com" for i in range(CERTIFICATES)],
        "source_distribution_id": aws.source_distribution_id,
        "notification_topic_arn": aws.topic_arn,
        "tags": {"test": "engine"},
        "poll_interval_seconds": 3,
        "validation_timeout_hours": 1,
    }


def _import_conf(aws: Any) -> dict[str, Any]:
    return {
        "certificate_name": "engine-shop",
        **pki.certificate_bundle(["shop.engine.example.com", "www.shop.engine.example.com"]),
        "create_distributions": True,
        "source_distribution_id": aws.source_distribution_id,
        "notification_topic_arn": aws.topic_arn,
    }


def _run_scenario(stack: EngineStack, aws: Any, moto_settings: Any) -> Scenario:
    scenario = Scenario(stack)
    api = stack.api
    started = time.monotonic()
    stack.start_components(workers=2, triggerers=2)
    stack.wait_healthy(timeout=300)
    stack.sign_in()
    stack.wait_for_dags([CREATE_DAG, IMPORT_DAG], timeout=300)
    api.unpause(CREATE_DAG)
    api.unpause(IMPORT_DAG)

    # Every job at once, as a burst of REST calls.
    moto_settings.ACM_VALIDATION_WAIT = HOLD
    jobs = [(CREATE_DAG, f"engine-create-{n}", _create_conf(aws, n)) for n in range(JOBS)]
    jobs.append((IMPORT_DAG, "engine-import", _import_conf(aws)))
    with ThreadPoolExecutor(len(jobs)) as pool:
        for dag_id, run_id in pool.map(lambda job: (job[0], api.trigger(job[0], job[2], job[1])), jobs):
            scenario.runs[run_id] = dag_id
    scenario.confs = {run_id: conf for _, run_id, conf in jobs}

    # The create jobs wait for issuance in the triggerers: kill the one running their triggers.
    def all_waiting() -> dict[int, str] | None:
        stack.processes.check_alive()
        triggers = _triggers(stack)
        if len(triggers) == JOBS and all(triggers.values()):
            return triggers  # type: ignore[return-value]
        return None

    triggers = wait_for("every create job waiting in a triggerer", all_waiting, 300, 1)
    scenario.killed_triggerer = Counter(triggers.values()).most_common(1)[0][0]
    scenario.triggers_moved = sorted(
        str(t) for t, host in triggers.items() if host == scenario.killed_triggerer
    )
    killed_at = time.monotonic()
    stack.processes.kill(scenario.killed_triggerer)

    def taken_over() -> bool | None:
        stack.processes.check_alive()
        hosts = _triggers(stack).values()
        return (
            True if len(hosts) == JOBS and all(h and h != scenario.killed_triggerer for h in hosts) else None
        )

    wait_for("the other triggerer taking the triggers over", taken_over, 180, 0.5)
    scenario.triggerer_takeover_seconds = time.monotonic() - killed_at

    # Issue the certificates; kill the worker running the most distribution steps.
    moto_settings.ACM_VALIDATION_WAIT = 0

    def distributions_running() -> list[tuple[str, str, int, str]] | None:
        stack.processes.check_alive()
        running = _running(stack, "create_distributions")
        return running if running else None

    running = wait_for("distributions being created", distributions_running, 300, 0.2)
    scenario.killed_worker = Counter(host for *_, host in running).most_common(1)[0][0]
    scenario.interrupted = [
        (run, task, index) for run, task, index, host in running if host == scenario.killed_worker
    ]
    killed_at = time.monotonic()
    stack.processes.kill(scenario.killed_worker)

    def detected() -> bool | None:
        still = {(r, t, i) for r, t, i, _ in _running(stack, "create_distributions")}
        return None if still & set(scenario.interrupted) else True

    wait_for("the scheduler noticing the lost tasks", detected, 180, 0.5)
    scenario.worker_detection_seconds = time.monotonic() - killed_at
    # The compose file restarts a dead worker (restart: always); so does the engine, once the loss is
    # seen, so that the rest of the jobs has both workers again.
    stack.restart(scenario.killed_worker)

    def finished() -> bool | None:
        stack.processes.check_alive()
        for run_id, dag_id in scenario.runs.items():
            if scenario.states.get(run_id) not in ("success", "failed"):
                scenario.states[run_id] = api.run_state(dag_id, run_id)
        return True if all(s in ("success", "failed") for s in scenario.states.values()) else None

    wait_for("every job finished", finished, 600, 2)
    interrupted_runs = {run for run, _, _ in scenario.interrupted}
    scenario.worker_recovery_seconds = time.monotonic() - killed_at if interrupted_runs else 0.0
    for run_id, dag_id in scenario.runs.items():
        scenario.task_instances[run_id] = api.task_instances(dag_id, run_id)
    scenario.wall_seconds = time.monotonic() - started
    return scenario


@pytest.fixture(scope="module")
def scenario(aws, tmp_path_factory) -> Any:
    """The engine started, the scenario run on it; the stack stays up for the API checks, then stops."""
    from moto import settings as moto_settings

    saved = moto_settings.ACM_VALIDATION_WAIT
    stack = engine_stack(tmp_path_factory.mktemp("engine-home"), aws.url, extra_env=TEST_SETTINGS)
    try:
        recorded = _run_scenario(stack, aws, moto_settings)
        print(
            f"\nengine: wall {recorded.wall_seconds:.0f} s; triggerer take-over "
            f"{recorded.triggerer_takeover_seconds:.1f} s; worker loss noticed after "
            f"{recorded.worker_detection_seconds:.1f} s, jobs done {recorded.worker_recovery_seconds:.0f} s after it"
        )
        yield recorded
    except StackFailure as failure:
        logs = "\n".join(
            f"--- {started.name}\n{started.log.read_text(errors='replace')[-2500:]}"
            for started in stack.processes.started
            if started.log.exists()
        )
        pytest.fail(f"{failure}\n{logs}")
    finally:
        moto_settings.ACM_VALIDATION_WAIT = saved
        stack.stop()


@pytest.fixture(scope="module")
def aws(moto_server):
    """The session's emulator, reset and seeded once for the module (the scenario runs once)."""
    from tests.aws import Emulator

    emulator = Emulator(moto_server)
    emulator.reset()
    emulator.seed()
    return emulator


def _tagged(resources: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["Tags"].get("airflow:run_id") == run_id]


def test_every_job_succeeds_with_exactly_what_it_asked_for(scenario, aws):
    assert all(state == "success" for state in scenario.states.values()), scenario.states
    certificates, distributions = aws.certificates(), aws.distributions()
    for run_id in scenario.create_runs():
        asked = {names for names in scenario.confs[run_id]["certificates"]}
        mine = _tagged(certificates, run_id)
        assert {c["DomainName"] for c in mine} == asked, run_id
        served = _tagged(distributions, run_id)
        assert sorted(a for d in served for a in d["DistributionConfig"]["Aliases"]["Items"]) == sorted(asked)
        summary = scenario.stack.api.summary(CREATE_DAG, run_id)
        assert {c["arn"] for c in summary["certificates"]} == {c["CertificateArn"] for c in mine}
        assert {d["id"] for d in summary["distributions"]} == {d["Id"] for d in served}
    (imported,) = _tagged(certificates, "engine-import")
    assert imported["Type"] == "IMPORTED"
    (served,) = _tagged(distributions, "engine-import")
    assert (
        served["DistributionConfig"]["ViewerCertificate"]["ACMCertificateArn"] == imported["CertificateArn"]
    )
    assert len(certificates) == JOBS * CERTIFICATES + 1
    assert len(distributions) == JOBS * CERTIFICATES + 1


def test_tasks_ran_on_both_workers(scenario):
    hosts = Counter(
        ti["hostname"]
        for tis in scenario.task_instances.values()
        for ti in tis
        if ti["state"] == "success" and ti.get("hostname")
    )
    print(f"\ntask instances per worker: {dict(hosts)}")
    assert set(hosts) == {"airflow-worker-1", "airflow-worker-2"}, hosts


def test_a_killed_worker_s_tasks_are_tried_again_without_duplicates(scenario, aws):
    assert scenario.interrupted, "no distribution step was running on the killed worker"
    by_key = {
        (run_id, ti["task_id"], ti["map_index"]): ti
        for run_id, tis in scenario.task_instances.items()
        for ti in tis
    }
    retried = {key: by_key[key] for key in scenario.interrupted}
    print(
        f"\ninterrupted on {scenario.killed_worker}, then run on: {Counter(ti['hostname'] for ti in retried.values())}"
    )
    for ti in retried.values():
        assert ti["state"] == "success" and ti["try_number"] >= 2, ti
    # No alias served twice, whatever the interrupted tries had created before the kill.
    aliases = Counter(a for d in aws.distributions() for a in d["DistributionConfig"]["Aliases"]["Items"])
    assert not [alias for alias, count in aliases.items() if count > 1]


def test_the_other_triggerer_took_the_triggers_over(scenario):
    assert scenario.triggers_moved, "the killed triggerer ran no trigger"
    waits = [
        ti for tis in scenario.task_instances.values() for ti in tis if ti["task_id"] == "wait_for_issuance"
    ]
    assert len(waits) == JOBS and all(ti["state"] == "success" for ti in waits)


def test_the_plugin_answers_from_the_api_server_with_the_jobs_results(scenario):
    api = scenario.stack.api
    for run_id, dag_id in scenario.runs.items():
        response = api.request("GET", f"/ssl-certificates/api/jobs/{dag_id}/{run_id}", prefix="")
        assert response.status_code == 200, response.text
        job, expected = response.json(), api.summary(dag_id, run_id)
        assert job["state"] == "success"
        assert [c["arn"] for c in job["summary"]["certificates"]] == [
            c["arn"] for c in expected["certificates"]
        ]
        assert [d["id"] for d in job["summary"]["distributions"]] == [
            d["id"] for d in expected["distributions"]
        ]
    # The certificate list's first view: on AWS the listing holds each certificate's names; the
    # emulator's does not, so the API server describes each of the 101 certificates, within ACM's
    # rate cap of 5 calls a second ([ssl_certificates] acm_calls_per_second): about 20 s.
    started = time.monotonic()
    response = api.request(
        "GET",
        "/ssl-certificates/api/certificates",
        prefix="",
        params={"cname": "site3.job7.engine.example.com"},
        timeout=120,
    )
    print(f"\ncertificate list, first view: {time.monotonic() - started:.1f} s")
    assert response.status_code == 200, response.text
    (found,) = response.json()["certificates"]
    job = api.summary(CREATE_DAG, "engine-create-7")
    assert found["arn"] in {c["arn"] for c in job["certificates"]}
