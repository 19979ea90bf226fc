"""The wait for issuance at fleet scale: shared sweeps, passing errors, restarts and the rate cap.

ACM is moto in server mode behind :class:`devstack.fault_proxy.FaultProxy`, which counts every call
and injects throttling, 5xx answers and dropped connections for real.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from cloudfront_ssl.aws import pacing
from cloudfront_ssl.aws.acm_status import status_view
from cloudfront_ssl.steps.operators import AcmUnreachableError, WaitForCertificatesOperator
from cloudfront_ssl.steps.triggers import CertificatesIssuedTrigger
from devstack.fault_proxy import FaultProxy, peak_per_second

CONN_ID = "aws_proxied"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def proxy(aws):
    running = FaultProxy(aws.url).start()
    yield running
    running.stop()


def proxied_connection(monkeypatch, proxy: FaultProxy, conn_id: str) -> str:
    """An Airflow AWS connection through the proxy, without botocore retries: every fault reaches the wait."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {
                    "endpoint_url": proxy.url,
                    "region_name": "eu-west-1",
                    "config_kwargs": {"retries": {"mode": "standard", "total_max_attempts": 1}},
                },
            }
        ),
    )
    return conn_id


@pytest.fixture
def conn(proxy, monkeypatch):
    return proxied_connection(monkeypatch, proxy, CONN_ID)


@pytest.fixture
def rate_cap():
    """Set the process's ACM rate cap for one test (a high one by default), and restore it afterwards."""
    pacing.reset_limiter("acm", 1000)
    yield
    pacing.reset_limiter("acm")


def request(aws, count: int, prefix: str) -> list[str]:
    return [
        aws.acm.request_certificate(DomainName=f"{prefix}{i}.example.com", ValidationMethod="DNS")[
            "CertificateArn"
        ]
        for i in range(count)
    ]


def register_dag(dag, folder) -> None:
    """Store a DAG defined in a test in the metadata database, as the DAG processor would, for ``dag.test()``."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    bag = DagBag(dag_folder=str(folder))
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)


def first_event(trigger: CertificatesIssuedTrigger) -> dict:
    async def run():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(run())


def test_passing_errors_during_the_wait_do_not_fail_the_step(
    aws, proxy, conn, rate_cap, monkeypatch, airflow_db, tmp_path
):
    """A real run of the wait step: throttling, 5xx answers and dropped connections at every stage."""
    from airflow.sdk import DAG
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 4)
    arns = request(aws, 3, "passing")
    with DAG("wait_through_passing_errors", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        WaitForCertificatesOperator(
            task_id="wait_for_issuance",
            certificate_arns=arns,
            aws_conn_id=conn,
            poll_interval_seconds=0.5,
            validation_timeout_hours=1,
        )
    register_dag(dag, tmp_path)
    # The first (synchronous) check is throttled; then the trigger meets every other kind of error.
    proxy.inject("throttle", "unavailable", "drop", "internal", "throttle", operation="ListCertificates")
    dag_run = dag.test()
    assert dag_run.state == "success"
    assert proxy.pending_faults == 0
    assert [kind for _, _, kind in proxy.injected] == [
        "throttle",
        "unavailable",
        "drop",
        "internal",
        "throttle",
    ]
    # Issuance is seen in the sweep: no certificate was described.
    assert proxy.count("DescribeCertificate") == 0


def test_an_error_that_outlasts_the_grace_fails_with_a_clear_message(aws, proxy, conn, rate_cap, monkeypatch):
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 3600)
    arns = request(aws, 2, "unreachable")
    proxy.fail_always("unavailable", operation="ListCertificates")
    event = first_event(
        CertificatesIssuedTrigger(arns, conn, 0.3, deadline=time.time() + 600, error_grace_seconds=3)
    )
    assert event["status"] == "error"
    assert event["pending"] == arns
    assert "ACM could not be read for" in event["message"]
    assert "ServiceUnavailableException x" in event["message"]
    assert "ListCertificates: ServiceUnavailableException (HTTP 503)" in event["message"]
    # It kept trying at every poll until the grace ran out, and says how often it failed.
    assert len(proxy.injected) >= 2
    assert f"{len(proxy.injected)} checks in a row failed" in event["message"]

    operator = WaitForCertificatesOperator(task_id="wait", certificate_arns=arns, aws_conn_id=conn)
    with pytest.raises(
        AcmUnreachableError, match="ServiceUnavailableException .* a retry of this step resumes"
    ):
        operator.execute_complete({}, event)


def test_errors_shorter_than_the_grace_are_forgotten_after_a_successful_check(
    aws, proxy, conn, rate_cap, monkeypatch
):
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 8)  # issued after every armed fault is served
    arns = request(aws, 1, "flaky")
    # Failures for longer than the grace in all, but never for that long without a successful check.
    proxy.inject(
        *["throttle", "drop", "pass", "unavailable", "drop", "pass", "internal", "throttle", "pass"] * 2,
        operation="ListCertificates",
    )
    event = first_event(
        CertificatesIssuedTrigger(arns, conn, 0.2, deadline=time.time() + 600, error_grace_seconds=1.5)
    )
    assert event == {"status": "issued", "certificate_arns": arns}
    assert len(proxy.injected) == 12
    assert proxy.injected[-1][0] - proxy.injected[0][0] > 1.5


def test_many_waiting_jobs_make_one_sweep_per_poll_between_them(aws, proxy, conn, rate_cap, monkeypatch):
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 3)
    jobs = [request(aws, 3, f"job{n}-") for n in range(40)]
    interval = 1.0
    proxy.clear()

    async def wait_all():
        triggers = [
            CertificatesIssuedTrigger(arns, conn, interval, deadline=time.time() + 600) for arns in jobs
        ]

        async def first(trigger):
            async for event in trigger.run():
                return event.payload

        started = time.monotonic()
        events = await asyncio.gather(*(first(trigger) for trigger in triggers))
        return events, time.monotonic() - started, status_view(conn)

    events, elapsed, view = asyncio.run(wait_all())
    assert events == [{"status": "issued", "certificate_arns": arns} for arns in jobs]
    sweeps = proxy.count("ListCertificates")
    polls = int(elapsed / interval) + 1
    assert 1 <= sweeps <= polls, f"{sweeps} sweeps in {elapsed:.1f} s for 40 jobs polling every {interval} s"
    assert proxy.count("DescribeCertificate") == 0
    assert not view.watched  # every job let go of the shared view


def test_a_restarted_trigger_resumes(aws, proxy, conn, rate_cap, monkeypatch):
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 3)
    arns = request(aws, 2, "restart")
    original = CertificatesIssuedTrigger(arns, conn, 0.5, deadline=time.time() + 600)

    async def run_then_restart():
        async def first(trigger):
            async for event in trigger.run():
                return event.payload

        task = asyncio.create_task(first(original))
        while proxy.count("ListCertificates") < 1:
            await asyncio.sleep(0.05)
        task.cancel()  # the triggerer stops, or hands the trigger to another triggerer
        with pytest.raises(asyncio.CancelledError):
            await task
        view = status_view(conn)
        assert not view.watched
        # What the triggerer stores is the classpath and plain kwargs: rebuild the trigger from them.
        classpath, kwargs = original.serialize()
        module, name = classpath.rsplit(".", 1)
        restarted = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
        return await first(restarted)

    assert asyncio.run(run_then_restart()) == {"status": "issued", "certificate_arns": arns}


def test_the_first_check_on_the_worker_is_one_sweep(aws, proxy, conn, rate_cap, monkeypatch):
    from airflow.sdk.exceptions import TaskDeferred
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 3600)
    arns = request(aws, 20, "first")
    operator = WaitForCertificatesOperator(
        task_id="wait", certificate_arns=arns, aws_conn_id=conn, poll_interval_seconds=60
    )
    proxy.clear()
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute({})
    assert proxy.operations() == {"ListCertificates": 1}
    assert deferred.value.trigger.certificate_arns == arns


def test_the_rate_cap_holds_for_every_acm_client_of_the_process(aws, proxy, conn, monkeypatch):
    """Synchronous clients in threads and shared asynchronous sweeps of one process stay under the cap."""
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", 3600)
    arns = request(aws, 4, "capped")
    cap = 4
    second = proxied_connection(monkeypatch, proxy, "aws_proxied_too")
    proxy.clear()
    # Another process, so that the emulator and the proxy counting its calls do not slow it down.
    load = subprocess.run(
        [sys.executable, "-m", "tests.acm_load", str(cap), conn, second, "--", *arns],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert load.returncode == 0, load.stderr[-3000:]
    assert load.stdout.strip().splitlines()[-1] == "['timeout']"
    times = [at for at, _ in proxy.calls]
    assert len(times) >= 3 * 8 + 5
    # The limiter spaces the calls when they start; on a loaded machine a process held off a CPU for
    # up to a second sends the calls whose slots passed meanwhile together, so a second may see up to
    # twice the cap (unpaced, the load would send them all at once); over the whole run the rate stays
    # under the cap.
    peak = peak_per_second(times)
    assert peak <= 2 * cap + 1, f"{peak} ACM calls within one second reached AWS; the cap is {cap}: {proxy.calls}"
    assert (len(times) - 1) / (times[-1] - times[0]) <= cap
