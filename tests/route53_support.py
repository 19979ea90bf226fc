"""Route 53 in the tests: hosted zones on the emulator, reading records back, and a fault proxy.

moto answers every ``GetChange`` with INSYNC and never refuses a call for want of permissions, so
:class:`Route53Proxy` sits between a connection and moto and, when told to, answers Route 53 calls
with ``AccessDenied`` or reports changes ``PENDING`` for a number of polls. It also counts the
change batches that pass through it, to prove a retry sends nothing twice.
"""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import requests

ROUTE53_PATH = "/2013-04-01/"
DENIED = (
    '<?xml version="1.0"?>\n<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
    "<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/"
    "no-dns is not authorized to perform this Route 53 action</Message></Error>"
    "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)


def route53_client(url: str, **credentials: str) -> Any:
    """A boto3 Route 53 client on the emulator (default credentials: the test account's)."""
    credentials = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client("route53", endpoint_url=url, region_name="us-east-1", **credentials)


def create_zone(client: Any, name: str, *, private: bool = False) -> str:
    """Create a hosted zone; return its id without ``/hostedzone/``."""
    kwargs: dict[str, Any] = {"Name": name, "CallerReference": uuid.uuid4().hex}
    if private:
        kwargs["HostedZoneConfig"] = {"PrivateZone": True, "Comment": "private"}
        kwargs["VPC"] = {"VPCRegion": "us-east-1", "VPCId": "vpc-12345678"}
    return client.create_hosted_zone(**kwargs)["HostedZone"]["Id"].rsplit("/", 1)[-1]


def records(client: Any, zone_id: str) -> list[dict[str, Any]]:
    """The zone's record sets other than NS and SOA, as ``{"name", "type", "values"|"alias"}``."""
    found = []
    for page in client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        for record in page["ResourceRecordSets"]:
            if record["Type"] in ("NS", "SOA"):
                continue
            entry: dict[str, Any] = {
                "name": record["Name"].replace("\\052", "*").rstrip(".").lower(),
                "type": record["Type"],
            }
            if record.get("AliasTarget"):
                entry["alias"] = record["AliasTarget"]["DNSName"].rstrip(".").lower()
                entry["alias_zone"] = record["AliasTarget"]["HostedZoneId"]
            else:
                entry["values"] = [value["Value"] for value in record["ResourceRecords"]]
            found.append(entry)
    return found


def put_record(client: Any, zone_id: str, name: str, record_type: str, value: str) -> None:
    """Add a plain record to a zone (as its owner would, outside any job)."""
    client.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": record_type,
                        "TTL": 300,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            ]
        },
    )


class Route53Proxy:
    """An HTTP proxy on 127.0.0.1 in front of moto that can deny Route 53 or hold changes PENDING.

    :attr deny: answer every Route 53 call with 403 AccessDenied.
    :attr pending_polls: answer this many GetChange calls with PENDING before passing INSYNC through.
    :attr change_batches: how many ChangeResourceRecordSets calls went through.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.deny = False
        self.pending_polls = 0
        self.change_batches = 0
        self.get_change_calls = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                is_route53 = self.path.startswith(ROUTE53_PATH)
                if is_route53 and proxy.deny:
                    self._answer(403, DENIED.encode(), "text/xml")
                    return
                with proxy._lock:
                    if is_route53 and self.command == "POST" and "/rrset" in self.path:
                        proxy.change_batches += 1
                    hold = False
                    if is_route53 and self.command == "GET" and "/change/" in self.path:
                        proxy.get_change_calls += 1
                        if proxy.pending_polls > 0:
                            proxy.pending_polls -= 1
                            hold = True
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                response = requests.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=30
                )
                content = response.content
                if hold:
                    content = content.replace(b"<Status>INSYNC</Status>", b"<Status>PENDING</Status>")
                self._answer(response.status_code, content, response.headers.get("Content-Type", "text/xml"))

            def _answer(self, status: int, content: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Route53Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
