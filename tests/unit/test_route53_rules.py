"""Route 53 rules the job enforces itself: zone choice, change checks, batch limits, pacing.

The emulator accepts an apex CNAME, a CNAME beside another record, a record outside its zone and a
duplicate change in one batch; AWS refuses them all, so the job refuses them before sending.
"""

from __future__ import annotations

import pytest

from cloudfront_ssl.aws.route53 import (
    HostedZone,
    RateLimiter,
    Route53Error,
    ZoneMap,
    alias_record_set,
    change_batches,
    check_changes,
    normalize,
    validation_record_set,
)

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


def test_rate_limiter_spaces_calls_at_five_a_second():
    now = [100.0]
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(5, clock=lambda: now[0], sleep=sleep)
    for _ in range(6):
        limiter()
    assert slept == [0.2, 0.2, 0.2, 0.2, 0.2]
    now[0] += 5  # idle for a while: the next call goes at once
    limiter()
    assert len(slept) == 5


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
