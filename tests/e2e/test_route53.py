"""The Route 53 module against moto in server mode: zones, validation and alias records, clean-up,
the INSYNC wait, permissions and a role in another account.

moto's own leniencies (GetChange always INSYNC, no permissions) are replaced where a test needs the
real behaviour by :class:`devstack.fault_proxy.FaultProxy`, the proxy in front of moto.
"""

from __future__ import annotations

import asyncio
import json

import boto3
import pytest

from cloudfront_ssl.aws import route53, route53_changes
from cloudfront_ssl.rules.dns_records import Route53AccessError, Route53Error, alias_record_set
from cloudfront_ssl.rules.hosted_zones import ZoneMap
from cloudfront_ssl.steps.dns_wait import DnsChangesInsyncTrigger
from devstack.fault_proxy import FaultProxy
from tests.route53_support import create_zone, put_record, records, route53_client

VALUE = "_c9edd76ee4a0e2a74388032f3861cc50.ykybfrwcxw.acm-validations.aws."


def _certificate(names: list[str]) -> dict:
    """A requested certificate as the request step returns it (moto's record names and value)."""
    records_by_name = {}
    for name in names:
        base = name[2:] if name.startswith("*.") else name
        record_name = f"_d930b28be6c5927595552b219965053e.{base}."
        records_by_name[record_name] = {"name": record_name, "type": "CNAME", "value": VALUE}
    return {"names": names, "validation_records": list(records_by_name.values())}


@pytest.fixture
def r53(aws):
    return route53_client(aws.url)


@pytest.fixture
def client(aws):
    """The job's Route 53 client, through the default test connection."""
    return route53.route53_client("aws_default")


def test_zones_are_listed_across_pages_and_chosen_by_label_suffix(r53, client):
    for number in range(105):  # more than one page of ListHostedZones (100)
        create_zone(r53, f"filler{number}.example.net")
    com = create_zone(r53, "example.com")
    shop = create_zone(r53, "shop.example.com")
    create_zone(r53, "example.com", private=True)
    create_zone(r53, "53shop.com")
    last = create_zone(r53, "zz-last.example.org")

    zones = route53.read_zones(client)
    assert len(zones) == 110
    found = ZoneMap(zones).describe(
        ["www.example.com", "a.shop.example.com", "r53shop.com", "nowhere.io", "b.zz-last.example.org"]
    )
    assert [(entry["name"], entry["zone_id"]) for entry in found] == [
        ("www.example.com", com),
        ("a.shop.example.com", shop),
        ("r53shop.com", None),
        ("nowhere.io", None),
        ("b.zz-last.example.org", last),
    ]
    assert found[2]["reason"] == "no public Route 53 hosted zone holds it"


def test_validation_records_one_per_name_per_zone_and_a_retry_sends_nothing(aws, r53, monkeypatch):
    com = create_zone(r53, "example.com")
    shop = create_zone(r53, "shop.example.com")
    certificates = [
        _certificate(["example.com", "*.example.com"]),
        _certificate(["a.shop.example.com", "www.example.com"]),
        _certificate(["elsewhere.io"]),
    ]
    with FaultProxy(aws.url) as proxy:
        monkeypatch.setenv(
            "AIRFLOW_CONN_DNS_PROXY",
            json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": proxy.url},
                }
            ),
        )
        client = route53.route53_client("dns_proxy")
        zones = ZoneMap(route53.read_zones(client))
        plan = route53_changes.plan_validation_records(client, zones, certificates)
        names = {zone.id: zone.name for zone in route53.read_zones(client)}
        sent = route53_changes.write_records(client, plan["write"], comment="job", zone_names=names)
        assert proxy.count("ChangeResourceRecordSets") == 2  # one batch per zone
        assert {change["zone_id"] for change in sent} == {com, shop}

        # The step again, as a retry after a failure would run it: everything is in place.
        again = route53_changes.write_records(client, plan["write"], comment="job", zone_names=names)
        assert again == [] and proxy.count("ChangeResourceRecordSets") == 2

    assert sorted(entry["name"] for entry in plan["write"]) == [
        "_d930b28be6c5927595552b219965053e.a.shop.example.com",
        "_d930b28be6c5927595552b219965053e.example.com",  # the apex and its wildcard share it
        "_d930b28be6c5927595552b219965053e.www.example.com",
    ]
    assert plan["not_automated"] == [
        {
            "name": "_d930b28be6c5927595552b219965053e.elsewhere.io",
            "names": ["elsewhere.io"],
            "reason": "no public Route 53 hosted zone holds it",
        }
    ]
    assert [r["name"] for r in records(r53, com)] == [
        "_d930b28be6c5927595552b219965053e.example.com",
        "_d930b28be6c5927595552b219965053e.www.example.com",
    ]
    assert records(r53, shop) == [
        {"name": "_d930b28be6c5927595552b219965053e.a.shop.example.com", "type": "CNAME", "values": [VALUE]}
    ]
    # Planned again, the records are in place and not the job's to write.
    replanned = route53_changes.plan_validation_records(
        route53.route53_client("aws_default"), zones, certificates
    )
    assert replanned["write"] == [] and len(replanned["in_place"]) == 3


def test_a_different_validation_record_is_not_replaced_without_overwrite(r53, client):
    com = create_zone(r53, "example.com")
    put_record(
        r53, com, "_d930b28be6c5927595552b219965053e.example.com", "CNAME", "stale.acm-validations.aws."
    )
    zones = ZoneMap(route53.read_zones(client))
    with pytest.raises(Route53Error, match="stale.acm-validations.aws"):
        route53_changes.plan_validation_records(client, zones, [_certificate(["example.com"])])
    plan = route53_changes.plan_validation_records(
        client, zones, [_certificate(["example.com"])], overwrite=True
    )
    assert plan["write"][0]["replaced"] == [
        "_d930b28be6c5927595552b219965053e.example.com CNAME stale.acm-validations.aws"
    ]


def test_alias_conflicts_are_found_and_overwrite_replaces_them(r53, client):
    com = create_zone(r53, "example.com")
    put_record(r53, com, "www.example.com", "CNAME", "old-site.example.net")
    put_record(r53, com, "api.example.com", "A", "192.0.2.10")
    put_record(r53, com, "mail.example.com", "MX", "10 mx.example.net")  # not in the way of an alias
    zones = ZoneMap(route53.read_zones(client))

    conflicts = route53_changes.alias_conflicts(
        client, zones, {0: ["www.example.com", "mail.example.com"], 1: ["api.example.com", "new.example.com"]}
    )
    assert [conflict["message"] for conflict in conflicts] == [
        f"certificates[0]: www.example.com already has www.example.com CNAME old-site.example.net in hosted zone {com}",
        f"certificates[1]: api.example.com already has api.example.com A 192.0.2.10 in hosted zone {com}",
    ]
    with pytest.raises(Route53Error, match="set route53_overwrite"):
        route53_changes.plan_alias_records(
            client, zones, ["www.example.com"], domain_name="d1.cloudfront.net", ipv6=False, overwrite=False
        )

    plan = route53_changes.plan_alias_records(
        client,
        zones,
        ["www.example.com", "api.example.com", "mail.example.com"],
        domain_name="d1.cloudfront.net",
        ipv6=True,
        overwrite=True,
    )
    route53_changes.write_records(client, plan["write"], comment="job", zone_names={com: "example.com"})
    held = {(r["name"], r["type"]): r for r in records(r53, com)}
    assert ("www.example.com", "CNAME") not in held  # a CNAME cannot stay beside the alias records
    for name in ("www.example.com", "api.example.com", "mail.example.com"):
        for record_type in ("A", "AAAA"):
            assert held[(name, record_type)]["alias"] == "d1.cloudfront.net"
            assert held[(name, record_type)]["alias_zone"] == "Z2FDTNDATAQYW2"
    assert held[("mail.example.com", "MX")]["values"] == ["10 mx.example.net"]  # untouched
    www = [entry for entry in plan["write"] if entry["name"] == "www.example.com"]
    assert www[0]["replaced"] == ["www.example.com CNAME old-site.example.net"]


def test_aaaa_only_when_the_distribution_has_ipv6_and_a_stale_aaaa_goes_with_overwrite(r53, client):
    com = create_zone(r53, "example.com")
    zones = ZoneMap(route53.read_zones(client))
    plan = route53_changes.plan_alias_records(
        client, zones, ["v4.example.com"], domain_name="d1.cloudfront.net", ipv6=False, overwrite=False
    )
    assert [entry["type"] for entry in plan["write"]] == ["A"]
    put_record(r53, com, "old.example.com", "AAAA", "2001:db8::1")
    plan = route53_changes.plan_alias_records(
        client, zones, ["old.example.com"], domain_name="d1.cloudfront.net", ipv6=False, overwrite=True
    )
    route53_changes.write_records(client, plan["write"], comment="job", zone_names={com: "example.com"})
    # The owner's AAAA would send IPv6 clients elsewhere: with overwrite it goes, and no AAAA is written.
    assert {(r["name"], r["type"]) for r in records(r53, com)} == {("old.example.com", "A")}
    plan = route53_changes.plan_alias_records(
        client, zones, ["v6.example.com"], domain_name="d1.cloudfront.net", ipv6=True, overwrite=False
    )
    assert [entry["type"] for entry in plan["write"]] == ["A", "AAAA"]


def test_clean_up_deletes_only_what_the_job_wrote_and_no_one_else_needs(r53, client):
    com = create_zone(r53, "example.com")
    zones = ZoneMap(route53.read_zones(client))
    validation = route53_changes.plan_validation_records(
        client, zones, [_certificate(["a.example.com"]), _certificate(["b.example.com"])]
    )["write"]
    aliases = route53_changes.plan_alias_records(
        client,
        zones,
        ["a.example.com", "b.example.com"],
        domain_name="d1.cloudfront.net",
        ipv6=False,
        overwrite=False,
    )["write"]
    route53_changes.write_records(
        client, validation + aliases, comment="job", zone_names={com: "example.com"}
    )
    put_record(r53, com, "owner.example.com", "CNAME", "somewhere.example.net")
    # Since the job ran, the owner pointed b.example.com at another distribution.
    r53.change_resource_record_sets(
        HostedZoneId=com,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": alias_record_set("b.example.com", "A", "d2.cloudfront.net"),
                }
            ]
        },
    )
    in_use = ["_d930b28be6c5927595552b219965053e.b.example.com."]  # another job's certificate uses it

    dry = route53_changes.delete_job_records(
        client,
        validation + aliases,
        distribution_domains=["d1.cloudfront.net"],
        validation_in_use=in_use,
        dry_run=True,
    )
    assert len(records(r53, com)) == 5
    done = route53_changes.delete_job_records(
        client,
        validation + aliases,
        distribution_domains=["d1.cloudfront.net"],
        validation_in_use=in_use,
        dry_run=False,
    )
    assert [entry["action"] for entry in dry] == [
        "would delete",
        "kept: a remaining certificate validates with it",
        "would delete",
        "kept: it no longer points at this job's distribution",
    ]
    assert [entry["action"] for entry in done] == [
        "deleted",
        "kept: a remaining certificate validates with it",
        "deleted",
        "kept: it no longer points at this job's distribution",
    ]
    assert sorted((r["name"], r["type"]) for r in records(r53, com)) == [
        ("_d930b28be6c5927595552b219965053e.b.example.com", "CNAME"),
        ("b.example.com", "A"),
        ("owner.example.com", "CNAME"),
    ]
    again = route53_changes.delete_job_records(
        client,
        validation + aliases,
        distribution_domains=["d1.cloudfront.net"],
        validation_in_use=in_use,
        dry_run=False,
    )
    assert [entry["action"] for entry in again][0] == "gone"


def test_the_wait_trigger_polls_until_insync(aws, r53, monkeypatch):
    com = create_zone(r53, "example.com")
    with FaultProxy(aws.url) as proxy:
        monkeypatch.setenv(
            "AIRFLOW_CONN_DNS_PROXY",
            json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": proxy.url},
                }
            ),
        )
        client = route53.route53_client("dns_proxy")
        zones = ZoneMap(route53.read_zones(client))
        plan = route53_changes.plan_validation_records(client, zones, [_certificate(["example.com"])])
        (change,) = route53_changes.write_records(
            client, plan["write"], comment="job", zone_names={com: "example.com"}
        )
        proxy.hold_pending(2)

        trigger = DnsChangesInsyncTrigger(
            change_ids=[change["change_id"]], aws_conn_id="dns_proxy", waiter_delay=0
        )
        classpath, kwargs = trigger.serialize()
        assert classpath == "cloudfront_ssl.steps.dns_wait.DnsChangesInsyncTrigger"
        rebuilt = DnsChangesInsyncTrigger(**kwargs)  # as the triggerer rebuilds it

        async def first_event():
            async for event in rebuilt.run():
                return event.payload

        assert asyncio.run(first_event()) == {"status": "success", "change_ids": [change["change_id"]]}
        assert proxy.count("GetChange") == 3  # PENDING twice, then INSYNC


def test_a_connection_without_route53_permissions_is_named(aws, monkeypatch):
    with FaultProxy(aws.url) as proxy:
        proxy.fail_always("denied")
        monkeypatch.setenv(
            "AIRFLOW_CONN_NO_DNS",
            json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": proxy.url},
                }
            ),
        )
        with pytest.raises(Route53AccessError, match=r"^dns_aws_conn_id: .*AccessDenied"):
            route53.read_zones(route53.route53_client("no_dns"))


def test_zone_ids_that_do_not_exist_or_are_private_are_named(r53, client):
    public = create_zone(r53, "example.com")
    private = create_zone(r53, "example.com", private=True)
    assert route53.check_zone_ids(client, [public, "ZDOESNOTEXIST1", f"/hostedzone/{private}"]) == [
        "route53_zone_ids[1]: hosted zone ZDOESNOTEXIST1 does not exist",
        f"route53_zone_ids[2]: hosted zone /hostedzone/{private} (example.com) is private; "
        "the job writes to public zones only",
    ]


def test_a_role_in_the_dns_account_reaches_its_zones(aws, monkeypatch):
    dns_account = "210987654321"
    role_arn = f"arn:aws:iam::{dns_account}:role/route53-records"
    sts = boto3.client(
        "sts",
        endpoint_url=aws.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName="seed")["Credentials"]
    dns_r53 = route53_client(
        aws.url,
        aws_access_key_id=assumed["AccessKeyId"],
        aws_secret_access_key=assumed["SecretAccessKey"],
        aws_session_token=assumed["SessionToken"],
    )
    zone = create_zone(dns_r53, "example.com")
    monkeypatch.setenv(
        "AIRFLOW_CONN_DNS_ACCOUNT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {
                    "endpoint_url": aws.url,
                    "role_arn": role_arn,
                    "service_config": {"sts": {"endpoint_url": aws.url}},
                },
            }
        ),
    )
    # The job account's own connection sees no zone at all: the zone lives in the DNS account.
    assert route53.read_zones(route53.route53_client("aws_default")) == []
    client = route53.route53_client("dns_account")
    zones = ZoneMap(route53.read_zones(client))
    assert zones.lookup("www.example.com").id == zone
    plan = route53_changes.plan_alias_records(
        client, zones, ["www.example.com"], domain_name="d1.cloudfront.net", ipv6=False, overwrite=False
    )
    (change,) = route53_changes.write_records(
        client, plan["write"], comment="job", zone_names={zone: "example.com"}
    )
    # The deferred wait reaches the change through the same role, on an async client.
    trigger = DnsChangesInsyncTrigger(
        change_ids=[change["change_id"]], aws_conn_id="dns_account", waiter_delay=0
    )

    async def first_event():
        async for event in trigger.run():
            return event.payload

    assert asyncio.run(first_event())["status"] == "success"
    assert records(dns_r53, zone) == [
        {"name": "www.example.com", "type": "A", "alias": "d1.cloudfront.net", "alias_zone": "Z2FDTNDATAQYW2"}
    ]


def _fill(r53, zone: str, count: int) -> None:
    """The owner's records: ``count`` A records, so that the zone is more than one page (300)."""
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"owner{number}.example.com",
                        "Type": "A",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": "192.0.2.1"}],
                    },
                }
                for number in range(count)
            ]
        },
    )


def test_a_zone_is_read_name_by_name_for_a_few_names_and_page_by_page_for_many(aws, r53, monkeypatch):
    com = create_zone(r53, "example.com")
    _fill(r53, com, 400)  # 402 record sets with NS and SOA: two pages
    put_record(r53, com, "taken7.example.com", "CNAME", "elsewhere.example.net")
    with FaultProxy(aws.url) as proxy:
        monkeypatch.setenv(
            "AIRFLOW_CONN_DNS_PROXY",
            json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": proxy.url},
                }
            ),
        )
        client = route53.route53_client("dns_proxy")
        zones = ZoneMap(route53.read_zones(client))
        # A small share of the zone: one lookup per name.
        proxy.clear()
        few = route53_changes.alias_conflicts(client, zones, {0: ["taken7.example.com", "free.example.com"]})
        assert proxy.operations() == {"ListResourceRecordSets": 2}
        # A large share: the zone's two pages, whatever the number of names.
        proxy.clear()
        names = [f"taken{number}.example.com" for number in range(60)]
        many = route53_changes.alias_conflicts(client, zones, {0: names})
        assert proxy.operations() == {"ListResourceRecordSets": 2}
        assert (
            [conflict["name"] for conflict in few]
            == [conflict["name"] for conflict in many]
            == ["taken7.example.com"]
        )

        # Without the zone's size at hand (a retried write, a clean-up), one GetHostedZone tells it.
        plan = route53_changes.plan_alias_records(
            client, zones, names[10:], domain_name="d1.cloudfront.net", ipv6=False, overwrite=False
        )
        proxy.clear()
        route53_changes.write_records(client, plan["write"], comment="job", zone_names={com: "example.com"})
        assert proxy.operations() == {
            "GetHostedZone": 1,
            "ListResourceRecordSets": 2,
            "ChangeResourceRecordSets": 1,
        }
    held = {(r["name"], r["type"]) for r in records(r53, com)}
    assert all((name, "A") in held for name in names[10:])
