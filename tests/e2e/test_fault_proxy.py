"""The fault proxy answers each service in its own protocol, so that botocore reads an injected fault as AWS's.

For each protocol (JSON for ACM, REST-XML for CloudFront and Route 53, query-XML for SNS) an injected
error reaches botocore with its AWS code, and botocore's standard retries send the call again; a
dropped connection is retried the same way. Clients are plain boto3 on moto in server mode.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from devstack.fault_proxy import FaultProxy


@pytest.fixture
def proxy(aws):
    with FaultProxy(aws.url) as running:
        yield running


def client(proxy: FaultProxy, service: str, attempts: int) -> Any:
    return boto3.client(
        service,
        endpoint_url=proxy.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


def _change_a_record(r53: Any) -> Any:
    zone = r53.create_hosted_zone(Name="example.com", CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    record = {"Name": "a.example.com", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    return lambda: r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )


# service, protocol, fault, the code botocore must read, the call (built on a client), its operation
CASES: list[tuple[str, str, str, str, Callable[[Any], Callable[[], Any]], str]] = [
    ("acm", "json", "throttle", "ThrottlingException", lambda c: c.list_certificates, "ListCertificates"),
    ("cloudfront", "rest-xml", "throttle", "Throttling", lambda c: c.list_distributions, "ListDistributions"),
    ("route53", "rest-xml", "throttle", "Throttling", lambda c: c.list_hosted_zones, "ListHostedZones"),
    (
        "route53",
        "rest-xml",
        "prior_request",
        "PriorRequestNotComplete",
        _change_a_record,
        "ChangeResourceRecordSets",
    ),
    ("sns", "query", "throttle", "Throttling", lambda c: c.list_topics, "ListTopics"),
]


@pytest.mark.parametrize(
    ("service", "protocol", "fault", "code", "make_call", "operation"),
    CASES,
    ids=[f"{case[0]}-{case[1]}-{case[3]}" for case in CASES],
)
def test_an_injected_error_reaches_botocore_with_its_code_and_is_retried(
    proxy, service, protocol, fault, code, make_call, operation
):
    once = make_call(client(proxy, service, attempts=1))
    proxy.inject(fault, operation=operation)
    with pytest.raises(ClientError) as refused:
        once()
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    proxy.clear()
    retried = make_call(client(proxy, service, attempts=3))
    proxy.inject(fault, operation=operation)
    retried()  # botocore's standard mode takes it for a passing error and sends the call again
    assert proxy.count(operation) == 2
    assert [kind for _, _, kind in proxy.injected] == [fault]


@pytest.mark.parametrize(
    ("service", "make_call", "operation"),
    [
        ("acm", lambda c: c.list_certificates, "ListCertificates"),
        ("cloudfront", lambda c: c.list_distributions, "ListDistributions"),
        ("route53", lambda c: c.list_hosted_zones, "ListHostedZones"),
        ("sns", lambda c: c.list_topics, "ListTopics"),
    ],
)
def test_a_dropped_connection_is_retried_by_botocore(proxy, service, make_call, operation):
    proxy.inject("drop", operation=operation)
    with pytest.raises(ConnectionClosedError):
        make_call(client(proxy, service, attempts=1))()
    proxy.clear()
    proxy.inject("drop", operation=operation)
    make_call(client(proxy, service, attempts=3))()
    assert proxy.count(operation) == 2


def test_access_denied_is_answered_in_each_protocol(proxy):
    proxy.fail_always("denied")
    codes = {}
    for service, call in (
        ("acm", "list_certificates"),
        ("cloudfront", "list_distributions"),
        ("route53", "list_hosted_zones"),
        ("sns", "list_topics"),
    ):
        with pytest.raises(ClientError) as refused:
            getattr(client(proxy, service, attempts=3), call)()
        codes[service] = refused.value.response["Error"]["Code"]
    assert codes == {
        "acm": "AccessDeniedException",
        "cloudfront": "AccessDenied",
        "route53": "AccessDenied",
        "sns": "AccessDenied",
    }
    assert proxy.count() == 4  # a refusal is not retried


def test_requests_are_counted_by_service_and_operation(proxy):
    client(proxy, "route53", 1).list_hosted_zones()
    client(proxy, "cloudfront", 1).list_distributions()
    client(proxy, "acm", 1).list_certificates()
    assert proxy.operations(service="route53") == {"ListHostedZones": 1}
    assert proxy.operations(service="cloudfront") == {"ListDistributions": 1}
    assert proxy.operations() == {"ListHostedZones": 1, "ListDistributions": 1, "ListCertificates": 1}
