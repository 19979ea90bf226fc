"""Every Route 53 and CloudFront client of a process keeps to its service's pace, counted where calls arrive.

The package's clients (synchronous ones in threads, and the DNS wait's asynchronous polls) go to
moto in server mode through :class:`devstack.fault_proxy.FaultProxy`, which records when each
request arrives. The ACM pace is tested the same way in ``test_wait_at_scale.py``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest

from cloudfront_ssl.aws import pacing, route53
from cloudfront_ssl.aws.cloudfront import cloudfront_hook
from cloudfront_ssl.steps.dns_wait import DnsChangesInsyncTrigger
from devstack.fault_proxy import FaultProxy, peak_per_second
from tests.route53_support import create_zone, route53_client

CAP = 4


@pytest.fixture
def proxy(aws):
    with FaultProxy(aws.url) as running:
        yield running


@pytest.fixture
def paced(proxy, monkeypatch):
    """A connection through the proxy, and every paced service of this process at :data:`CAP` a second."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_PACED",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": proxy.url},
            }
        ),
    )
    for service in pacing.PACED_SERVICES:
        pacing.reset_limiter(service, CAP)
    yield "aws_paced"
    for service in pacing.PACED_SERVICES:
        pacing.reset_limiter(service)


def in_threads(work, threads: int = 3) -> None:
    running = [threading.Thread(target=work) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()


def assert_paced(times: list[float], calls: int) -> None:
    assert len(times) >= calls
    # The limiter spaces the calls when they start. On a loaded machine (make test runs more workers
    # than CPUs) a process may be held off a CPU for up to a second, and the calls whose slots passed
    # meanwhile then reach the proxy together: a second may see up to twice the cap. Unpaced, these
    # calls would reach it all within a fraction of a second; over the run the cap holds.
    peak = peak_per_second(times)
    assert peak <= 2 * CAP + 1, f"{peak} calls within one second reached AWS; the cap is {CAP}"
    assert (len(times) - 1) / (max(times) - min(times)) <= CAP


def test_route53_calls_and_the_dns_waits_polls_share_one_pace(aws, proxy, paced):
    zone = create_zone(route53_client(aws.url), "example.com")
    client = route53.route53_client(paced)
    change = client.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"{uuid.uuid4().hex[:8]}.example.com",
                        "Type": "TXT",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": '"paced"'}],
                    },
                }
            ]
        },
    )["ChangeInfo"]["Id"].rsplit("/", 1)[-1]
    proxy.hold_pending(12)  # the wait polls 13 times, with no delay of its own between polls
    proxy.clear()

    def read_zones() -> None:
        reader = route53.route53_client(paced)
        for _ in range(5):
            route53.list_hosted_zones(reader)

    def wait_for_change() -> None:
        trigger = DnsChangesInsyncTrigger(change_ids=[change], aws_conn_id=paced, waiter_delay=0)

        async def first_event():
            async for event in trigger.run():
                return event.payload

        assert asyncio.run(first_event())["status"] == "success"

    waiter = threading.Thread(target=wait_for_change)
    waiter.start()
    in_threads(read_zones)
    waiter.join()
    assert proxy.operations(service="route53") == {"GetChange": 13, "ListHostedZones": 15}
    assert_paced(proxy.times(service="route53"), 28)


def test_cloudfront_clients_of_a_process_share_one_pace(aws, proxy, paced):
    proxy.clear()

    def list_distributions() -> None:
        client = cloudfront_hook(paced).conn
        for _ in range(6):
            client.list_distributions()

    in_threads(list_distributions)
    assert proxy.operations(service="cloudfront") == {"ListDistributions": 18}
    assert_paced(proxy.times(service="cloudfront"), 18)


def test_tagging_secrets_manager_and_sts_clients_are_paced(aws, proxy, paced):
    """The Resource Groups Tagging API, Secrets Manager and STS clients the package makes keep to their
    services' paces too (``tagging_calls_per_second``, ``secretsmanager_calls_per_second``,
    ``sts_calls_per_second``)."""
    from cloudfront_ssl.aws import acm, connections, secrets

    secret = f"paced-{uuid.uuid4().hex[:8]}"
    secrets.secretsmanager_client(paced, secret).create_secret(Name=secret, SecretString="{}")
    proxy.clear()

    def read_all() -> None:
        tagging = acm.tagging_hook(paced).conn
        reader = secrets.secretsmanager_client(paced, secret)
        for _ in range(4):
            tagging.get_resources(ResourceTypeFilters=["acm:certificate"])
            reader.get_secret_value(SecretId=secret)
            assert connections.account_number(paced) == "123456789012"

    in_threads(read_all)
    assert proxy.operations(service="resourcegroupstaggingapi") == {"GetResources": 12}
    assert proxy.operations(service="secretsmanager") == {"GetSecretValue": 12}
    assert proxy.operations(service="sts") == {"GetCallerIdentity": 12}
    for service in ("resourcegroupstaggingapi", "secretsmanager", "sts"):
        assert_paced(proxy.times(service=service), 12)
