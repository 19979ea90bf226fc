"""Route 53 rules the job enforces itself: zone choice, change checks, batch limits, how a zone is read.

The emulator accepts an apex CNAME, a CNAME beside another record, a record outside its zone and a
duplicate change in one batch; AWS refuses them all, so the job refuses them before sending.
"""

from __future__ import annotations

import pytest

from cloudfront_ssl.aws.route53_records import whole_zone_is_cheaper
from cloudfront_ssl.rules.dns_records import (
    Route53Error,
    alias_record_set,
    change_batches,
    check_changes,
    validation_record_set,
)
from cloudfront_ssl.rules.hosted_zones import HostedZone, ZoneMap, normalize

ZONES = [
    HostedZone("ZCOM", "example.com"),
    HostedZone("ZSHOP", "shop.example.com"),
    HostedZone("ZPRIVATE", "example.org", private=True),
    HostedZone("Z53", "53shop.com"),
    HostedZone("ZTWO1", "twice.net"),
    HostedZone("ZTWO2", "twice.net"),
]


def test_longest_suffix_on_a_label_boundary_and_public_only():
    zones = ZoneMap(ZONES)
    assert zones.lookup("www.example.com").id == "ZCOM"
    assert zones.lookup("example.com").id == "ZCOM"
    assert zones.lookup("a.shop.example.com").id == "ZSHOP"
    assert zones.lookup("*.shop.example.com").id == "ZSHOP"
    assert zones.lookup("shop.example.com").id == "ZSHOP"
    assert zones.lookup("op.example.com").id == "ZCOM"  # never a zone whose name only ends alike
    assert zones.lookup("r53shop.com") is None
    assert "no public Route 53 hosted zone" in zones.reason("r53shop.com")
    assert zones.lookup("www.example.org") is None  # private zones are never used
    assert zones.lookup("nowhere.io") is None


def test_two_public_zones_of_one_name_are_left_to_the_owner():
    zones = ZoneMap(ZONES)
    assert zones.lookup("www.twice.net") is None
    assert "ZTWO1, ZTWO2" in zones.reason("www.twice.net")


def test_allowed_zone_ids_never_fall_back_to_a_parent_zone():
    zones = ZoneMap(ZONES, allowed_ids=["/hostedzone/ZCOM"])
    assert zones.lookup("www.example.com").id == "ZCOM"
    assert zones.lookup("a.shop.example.com") is None
    assert "not in route53_zone_ids" in zones.reason("a.shop.example.com")


def test_route53_escaped_asterisk_is_read_as_a_wildcard():
    assert normalize("\\052.Example.COM.") == "*.example.com"


def _upsert(record: dict) -> dict:
    return {"Action": "UPSERT", "ResourceRecordSet": record}


ZONE = HostedZone("ZCOM", "example.com")


def test_a_cname_at_the_zone_apex_is_refused():
    with pytest.raises(Route53Error, match="apex cannot hold a CNAME"):
        check_changes(
            ZONE, [_upsert(validation_record_set({"name": "example.com", "type": "CNAME", "value": "x."}))]
        )


def test_a_record_outside_the_zone_is_refused():
    with pytest.raises(Route53Error, match="outside hosted zone ZCOM"):
        check_changes(ZONE, [_upsert(alias_record_set("www.example.net", "A", "d1.cloudfront.net"))])
    with pytest.raises(Route53Error, match="outside"):
        check_changes(ZONE, [_upsert(alias_record_set("notexample.com", "A", "d1.cloudfront.net"))])


def test_a_cname_beside_another_record_is_refused():
    changes = [
        _upsert(validation_record_set({"name": "www.example.com", "type": "CNAME", "value": "x."})),
        _upsert(alias_record_set("www.example.com", "A", "d1.cloudfront.net")),
    ]
    with pytest.raises(Route53Error, match="CNAME record cannot sit beside A"):
        check_changes(ZONE, changes)


def test_the_same_record_twice_in_one_batch_is_refused():
    record = alias_record_set("www.example.com", "A", "d1.cloudfront.net")
    with pytest.raises(Route53Error, match="appears twice"):
        check_changes(ZONE, [_upsert(record), _upsert(record)])


def test_a_and_aaaa_and_deleting_a_cname_for_an_alias_pass():
    old = validation_record_set({"name": "www.example.com", "type": "CNAME", "value": "old.example.net."})
    check_changes(
        ZONE,
        [
            {"Action": "DELETE", "ResourceRecordSet": old},
            _upsert(alias_record_set("www.example.com", "A", "d1.cloudfront.net")),
            _upsert(alias_record_set("www.example.com", "AAAA", "d1.cloudfront.net")),
        ],
    )


def test_batches_stay_under_1000_records_counting_an_upsert_twice():
    changes = [
        _upsert(validation_record_set({"name": f"_{i}.example.com", "type": "CNAME", "value": "v."}))
        for i in range(1001)
    ]
    batches = change_batches(changes)
    assert [len(batch) for batch in batches] == [500, 500, 1]
    assert sum(batches, []) == changes


def test_a_replacement_stays_in_one_batch():
    changes = [
        _upsert(validation_record_set({"name": f"_{i}.example.com", "type": "CNAME", "value": "v."}))
        for i in range(499)
    ]
    replacement = [
        {
            "Action": "DELETE",
            "ResourceRecordSet": validation_record_set(
                {"name": "w.example.com", "type": "CNAME", "value": "o."}
            ),
        },
        _upsert(alias_record_set("w.example.com", "A", "d1.cloudfront.net")),
    ]
    batches = change_batches(changes + replacement)
    assert batches[-1] == replacement  # 998 + 3 would pass the limit: the pair moves whole


def test_a_zone_is_read_whole_only_when_its_pages_are_fewer_than_the_names_wanted():
    # 1,000 record sets are 4 pages of 300: 5 names cost more one by one, 4 names do not.
    assert whole_zone_is_cheaper(5, 1000)
    assert not whole_zone_is_cheaper(4, 1000)
    assert whole_zone_is_cheaper(2, 2)  # a zone of its NS and SOA is one page
    assert not whole_zone_is_cheaper(1, 2)
    assert not whole_zone_is_cheaper(500, None)  # size unknown: name by name


def test_route53_and_acm_are_paced_at_the_rates_aws_publishes_by_default():
    import botocore.session

    from cloudfront_ssl.aws.pacing import PACED_SERVICES

    assert {service: pace.default for service, pace in PACED_SERVICES.items()} == {
        "acm": 5.0,
        "cloudfront": 5.0,
        "route53": 5.0,
        "sns": 10.0,
        "resourcegroupstaggingapi": 5.0,
        "secretsmanager": 20.0,
        "sts": 5.0,
    }
    assert PACED_SERVICES["route53"].send_event == "before-send.route-53"
    assert PACED_SERVICES["acm"].setting == "acm_calls_per_second"
    assert PACED_SERVICES["resourcegroupstaggingapi"].setting == "tagging_calls_per_second"
    # Each limiter listens to the event botocore really emits for its service.
    session = botocore.session.get_session()
    for service, pace in PACED_SERVICES.items():
        assert session.get_service_model(service).service_id.hyphenize() == pace.event_service


def test_the_route53_conf_keys_in_the_config_model():
    from cloudfront_ssl.rules.config import (
        SECTION_DNS,
        ConfigError,
        CreateJobConfig,
        dag_params,
        parse_config,
    )

    base = {"certificates": ["www.example.com"], "create_distributions": False}
    config = parse_config(
        CreateJobConfig, {**base, "dns_aws_conn_id": "  ", "route53_zone_ids": ["", "Z1ABC"]}
    )
    assert config.dns_aws_conn_id is None and config.route53_zone_ids == ["Z1ABC"]
    assert not (config.route53_validation or config.route53_aliases or config.route53_overwrite)
    with pytest.raises(
        ConfigError, match=r"route53_zone_ids: 'not a zone!' is not a Route 53 hosted zone id"
    ):
        parse_config(CreateJobConfig, {**base, "route53_zone_ids": ["not a zone!"]})
    params = dag_params(CreateJobConfig, CreateJobConfig.field_order())
    dns_keys = [
        "route53_validation",
        "route53_aliases",
        "route53_overwrite",
        "route53_zone_ids",
        "dns_aws_conn_id",
    ]
    assert [params[key].schema["section"] for key in dns_keys] == [SECTION_DNS] * 5
