"""A name claimed by a running job is refused by any other job's check, naming the job; the claim
ends when that job ends. Real DAG runs against moto; the "still running" job is a real earlier run
whose state is put back to running in Airflow's database, as a job waiting for issuance would be."""

from __future__ import annotations

import pytest

from tests.dag_runs import load_dag, run_dag


@pytest.fixture
def create_dag(airflow_db):
    return load_dag("ssl_create_certificates")


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


def test_a_name_claimed_by_a_running_job_is_refused_until_that_job_ends(create_dag, aws):
    first = run_dag(create_dag, conf(aws, ["shop.example.com"], create_distributions=False))
    assert first.state == "success"
    assert first.xcom("check", key="claimed_names") == ["shop.example.com"]
    set_running("ssl_create_certificates", first.run_id, running=True)
    certificates_before = len(aws.certificates())

    second = run_dag(create_dag, conf(aws, ["www.example.com", "SHOP.example.com, other.example.com"]))
    assert second.task_states["check"] == ["failed"]
    assert len(aws.certificates()) == certificates_before  # nothing created
    failure = aws.messages()[-1]
    assert "certificates[1] (line 2): shop.example.com is claimed by job " + first.run_id in failure["message"]
    # A refused job withdraws its claim: it holds nothing while it finishes failing.
    assert second.xcom("check", key="claimed_names") == []

    set_running("ssl_create_certificates", first.run_id, running=False)
    third = run_dag(create_dag, conf(aws, ["shop.example.com"], create_distributions=False))
    assert third.state == "success"
