"""The create job through a fault-injecting proxy in front of moto: dropped connections and lost answers.

The job's AWS connection points at :class:`devstack.fault_proxy.FaultProxy`, which forwards to the
emulator and, when armed, closes the connection without an answer (``drop``: the request never
arrived) or after the emulator has acted (``lose_answer``: it took effect, the caller never heard).
"""

from __future__ import annotations

import json

import pytest

from devstack.fault_proxy import FaultProxy
from tests.dag_runs import load_dag, run_dag

CONN_ID = "aws_flaky"
CREATE_DISTRIBUTION = "CreateDistributionWithTags"


@pytest.fixture
def proxy(aws):
    running = FaultProxy(aws.url).start()
    yield running
    running.stop()


@pytest.fixture
def flaky_conn(proxy, monkeypatch):
    """An Airflow AWS connection whose every call goes through the proxy (botocore's own retries on)."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": proxy.url, "region_name": "eu-west-1"},
            }
        ),
    )
    return CONN_ID


def conf(aws, certificates, **extra):
    return {
        "certificates": certificates,
        "source_distribution_id": aws.source_distribution_id,
        "notification_topic_arn": aws.topic_arn,
        "poll_interval_seconds": 1,
        "aws_conn_id": CONN_ID,
        **extra,
    }


def test_dropped_connections_during_the_requests_do_not_end_the_step(airflow_db, aws, proxy, flaky_conn):
    """One request in three dropped (and two in a row once): every certificate once, the job succeeds."""
    proxy.inject("drop", "pass", "drop", "drop", "pass", "pass", "drop", operation="RequestCertificate")
    names = [f"r{n}.example.com" for n in range(5)]
    result = run_dag(load_dag("ssl_create_certificates"), conf(aws, names, create_distributions=False))
    assert result.state == "success", result.task_states
    assert proxy.pending_faults == 0
    assert [kind for _, _, kind in proxy.injected] == ["drop"] * 4
    assert sorted(c["DomainName"] for c in aws.certificates()) == names


def test_a_lost_answer_to_create_distribution_finds_the_distribution_it_made(
    airflow_db, aws, proxy, flaky_conn
):
    """CloudFront made the distribution, the answer was lost, botocore sent it again and CloudFront
    answered DistributionAlreadyExists: the step finds its distribution instead of failing a try."""
    proxy.inject("lose_answer", operation=CREATE_DISTRIBUTION)
    result = run_dag(load_dag("ssl_create_certificates"), conf(aws, ["lost.example.com"]))
    assert result.state == "success", result.task_states
    assert [kind for _, _, kind in proxy.injected] == ["lose_answer"]
    assert proxy.count(CREATE_DISTRIBUTION) == 2  # sent again by botocore, refused as a duplicate
    (distribution,) = aws.distributions()
    assert distribution["DistributionConfig"]["Aliases"]["Items"] == ["lost.example.com"]
    assert result.xcom("summary")["distributions"][0]["id"] == distribution["Id"]
