"""An AWS error that trying again cannot mend fails the wait at once, naming the action and the policy.

ACM is moto in server mode behind :class:`devstack.fault_proxy.FaultProxy`, which answers
``ListCertificates`` with ACM's own AccessDeniedException (its ``denied`` fault, in ACM's JSON): the
answer a connection whose IAM policy lacks ``acm:ListCertificates`` gets. Before, the wait counted it
as a passing error and failed only after an hour of polls.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from devstack.fault_proxy import FaultProxy
from tests.dag_runs import load_dag, run_dag
from tests.plugin_support import without_retries

CONN_ID = "aws_without_list"


@pytest.fixture
def proxy(aws, monkeypatch):
    running = FaultProxy(aws.url).start()
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": running.url, "region_name": "eu-west-1"},
            }
        ),
    )
    yield running
    running.stop()


def test_access_denied_fails_the_wait_at_once_naming_the_action(airflow_db, aws, proxy):
    proxy.fail_always("denied", operation="ListCertificates")
    dag = load_dag("ssl_create_certificates")
    started = time.monotonic()
    with without_retries(dag):
        result = run_dag(
            dag,
            {
                "certificates": ["denied.example.com"],
                "create_distributions": False,
                "notification_topic_arn": aws.topic_arn,
                "poll_interval_seconds": 1,
                "aws_conn_id": CONN_ID,
            },
        )
    took = time.monotonic() - started
    assert result.task_states["request_certificates"] == ["success"]
    assert result.task_states["wait_for_issuance"] == ["failed"]
    failure = aws.messages()[-1]["message"]
    assert "acm:ListCertificates was refused (AccessDeniedException" in failure
    assert "the IAM policy of the job's AWS connection must allow acm:ListCertificates" in failure
    # Sent once (botocore does not retry a denial) and never polled again.
    assert proxy.count("ListCertificates") == 1
    assert took < 120, took


def test_the_deferred_wait_ends_at_once_on_access_denied(aws, proxy):
    """The same denial met in the triggerer (after a first check that succeeded) ends the wait at its
    first poll, not after the hour of grace that passing errors get."""
    from cloudfront_ssl.errors import AwsRefusedError
    from cloudfront_ssl.steps.operators import WaitForCertificatesOperator
    from cloudfront_ssl.steps.triggers import CertificatesIssuedTrigger

    arn = aws.acm.request_certificate(DomainName="later.example.com", ValidationMethod="DNS")[
        "CertificateArn"
    ]
    proxy.fail_always("denied", operation="ListCertificates")
    trigger = CertificatesIssuedTrigger([arn], CONN_ID, 0.2, deadline=time.time() + 600)

    async def first_event():
        async for event in trigger.run():
            return event.payload

    started = time.monotonic()
    event = asyncio.run(first_event())
    assert time.monotonic() - started < 10
    assert event["status"] == "refused" and event["pending"] == [arn]
    assert proxy.count("ListCertificates") == 1
    operator = WaitForCertificatesOperator(task_id="wait", certificate_arns=[arn], aws_conn_id=CONN_ID)
    with pytest.raises(AwsRefusedError, match="must allow acm:ListCertificates"):
        operator.execute_complete({}, event)
