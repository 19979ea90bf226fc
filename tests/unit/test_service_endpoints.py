"""Each AWS service at the endpoint its connection names for it (the extra's ``service_config``).

The package's clients come from one hook class per service (:mod:`cloudfront_ssl.aws.pacing`). The
Amazon provider resolves a client's endpoint per service in ``get_client_type``, for synchronous
clients and for aiobotocore's alike: these tests hold every hook class of the package to that, so a
user can send CloudFront to one endpoint (an emulator, a VPC endpoint) and the rest to another.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from cloudfront_ssl.aws.pacing import AcmHook, CloudFrontHook, Route53Hook, SnsHook

DEFAULT = "http://127.0.0.1:1"
PER_SERVICE = {
    "acm": "http://127.0.0.1:2",
    "cloudfront": "http://127.0.0.1:3",
    "route53": "http://127.0.0.1:4",
    "sns": "http://127.0.0.1:5",
}
HOOKS = [(AcmHook, "acm"), (CloudFrontHook, "cloudfront"), (Route53Hook, "route53"), (SnsHook, "sns")]


@pytest.fixture
def connections(monkeypatch):
    def define(conn_id: str, service_config: dict[str, dict[str, str]]) -> str:
        extra = {"endpoint_url": DEFAULT, "region_name": "eu-west-1", "service_config": service_config}
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            json.dumps({"conn_type": "aws", "login": "k", "password": "s", "extra": extra}),
        )
        return conn_id

    return define


@pytest.mark.parametrize(("hook_class", "service"), HOOKS)
def test_each_service_at_its_own_endpoint_sync_and_async(connections, hook_class, service):
    conn_id = connections(
        "per_service", {name: {"endpoint_url": url} for name, url in PER_SERVICE.items()}
    )
    hook = hook_class(aws_conn_id=conn_id)

    assert hook.conn.meta.endpoint_url == PER_SERVICE[service]

    async def async_endpoint() -> str:
        async with await hook_class(aws_conn_id=conn_id).get_async_conn() as client:
            return str(client.meta.endpoint_url)

    assert asyncio.run(async_endpoint()) == PER_SERVICE[service]


@pytest.mark.parametrize(("hook_class", "service"), HOOKS)
def test_a_service_the_connection_does_not_name_uses_its_endpoint_url(connections, hook_class, service):
    others = {name: {"endpoint_url": url} for name, url in PER_SERVICE.items() if name != service}
    conn_id = connections("one_left_out", others)

    assert hook_class(aws_conn_id=conn_id).conn.meta.endpoint_url == DEFAULT
