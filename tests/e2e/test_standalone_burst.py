"""The stack of ``make up`` and ``make demo`` (``airflow standalone``) holds a user's burst of jobs.

Twenty jobs triggered at once through the REST API once answered HTTP 500 "database is locked" and
killed the scheduler: on SQLite every Airflow process writes to one file, one at a time. The stack
now keeps its metadata in a PostgreSQL database of its own (the machine's server, or one it starts
from Debian's package); this test starts that same stack and sends the burst.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.processes import wait_for
from devstack.stack import standalone

# Real processes timed against each other: make test runs these alone, after the parallel suite.
pytestmark = pytest.mark.engine

CREATE_DAG = "ssl_create_certificates"
BURST = 20


@pytest.fixture(scope="module")
def stack(moto_server, tmp_path_factory):
    """``make up``'s stack on the session's emulator, signed in, the create job unpaused."""
    stack = standalone(tmp_path_factory.mktemp("burst-home"), moto_server)
    assert stack.postgres, "PostgreSQL is installed here (make test installs it)"
    stack.start("airflow-standalone", "standalone")
    try:
        stack.wait_healthy(timeout=300)
        stack.sign_in()
        stack.wait_for_dags([CREATE_DAG], timeout=300)
        stack.api.unpause(CREATE_DAG)
        yield stack
    finally:
        stack.stop()


def test_twenty_jobs_triggered_at_once_are_accepted_and_all_succeed(stack, aws):
    api = stack.api

    def trigger(number: int) -> tuple[int, str]:
        conf = {
            "certificates": [f"burst{number}.example.com"],
            "create_distributions": False,
            "notification_topic_arn": aws.topic_arn,
            "poll_interval_seconds": 2,
        }
        body = {"dag_run_id": f"burst-{number}", "logical_date": None, "conf": conf}
        response = api.request("POST", f"/dags/{CREATE_DAG}/dagRuns", json=body)
        return response.status_code, response.text

    with ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(trigger, range(BURST)))
    assert [status for status, _ in answers] == [200] * BURST, [
        text for status, text in answers if status != 200
    ]

    started = time.monotonic()

    def all_done() -> dict[str, str] | None:
        stack.processes.check_alive()  # `airflow standalone` stops when one of its components dies
        states = {f"burst-{n}": api.run_state(CREATE_DAG, f"burst-{n}") for n in range(BURST)}
        return states if all(state in ("success", "failed") for state in states.values()) else None

    states = wait_for("the burst's jobs finished", all_done, 600, 3)
    print(f"\n{BURST} jobs done {time.monotonic() - started:.0f} s after the burst")
    assert set(states.values()) == {"success"}, states
    health = api.health()
    assert health and health["scheduler"]["status"] == "healthy", health
    names = {certificate["DomainName"] for certificate in aws.certificates()}
    assert {f"burst{n}.example.com" for n in range(BURST)} <= names
