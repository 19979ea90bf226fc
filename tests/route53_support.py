"""Route 53 in the tests: hosted zones on the emulator, records put and read back as an owner would.

moto answers every ``GetChange`` with INSYNC and never refuses a call for want of permissions: the
tests put :class:`devstack.fault_proxy.FaultProxy` between a connection and moto to answer Route 53
calls with ``AccessDenied``, report changes ``PENDING`` for a number of polls, and count calls.
"""

from __future__ import annotations

import uuid
from typing import Any

import boto3


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
