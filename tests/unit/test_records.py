"""The DNS records of a job as a DNS administrator gets them: log table, CSV, zone-file lines."""

from __future__ import annotations

import csv
import io

from cloudfront_ssl.rules.messages import dns_records, records_csv, records_table, zone_file_lines

CERTIFICATES = [
    {
        "arn": "arn:1",
        "names": ["*.example.com", "example.com"],
        "status": "PENDING_VALIDATION",
        # An apex and its wildcard share one validation record: it is listed once.
        "validation_records": [
            {"name": "_x.example.com.", "type": "CNAME", "value": "_y.acm-validations.aws."},
            {"name": "_x.example.com.", "type": "CNAME", "value": "_y.acm-validations.aws."},
        ],
    },
    {
        "arn": "arn:2",
        "names": ["shop.example.org"],
        "status": "PENDING_VALIDATION",
        "validation_records": [
            {"name": "_p.shop.example.org.", "type": "CNAME", "value": "_q.acm-validations.aws."}
        ],
    },
]
DISTRIBUTIONS = [
    {"id": "E2ABCDEF123", "aliases": ["example.com", "www.example.com"], "domain_name": "d111.cloudfront.net"}
]


def test_every_record_once_validation_first_then_cname_targets():
    rows = dns_records(CERTIFICATES, DISTRIBUTIONS)
    assert [(row["kind"], row["name"], row["value"]) for row in rows] == [
        ("validation", "_x.example.com.", "_y.acm-validations.aws."),
        ("validation", "_p.shop.example.org.", "_q.acm-validations.aws."),
        ("cname", "example.com", "d111.cloudfront.net"),
        ("cname", "www.example.com", "d111.cloudfront.net"),
    ]
    assert rows[0]["for"] == "*.example.com, example.com" and rows[2]["for"] == "E2ABCDEF123"


def test_the_log_table_has_aligned_columns_and_a_header():
    table = records_table(CERTIFICATES, DISTRIBUTIONS)
    lines = table.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "VALUE", "FOR"]
    assert len(lines) == 5
    # Aligned: every value column starts at the same place.
    starts = {
        line.index(value) for line, value in zip(lines[1:], ["_y.", "_q.", "d111", "d111"], strict=True)
    }
    assert len(starts) == 1
    assert records_table([], []) == "(no DNS record)"
    assert "d111.cloudfront.net" in records_table(distributions=DISTRIBUTIONS)


def test_csv_and_zone_lines_read_back():
    rows = dns_records(CERTIFICATES, DISTRIBUTIONS)
    parsed = list(csv.DictReader(io.StringIO(records_csv(rows))))
    assert parsed == rows
    zone = zone_file_lines(rows).splitlines()
    assert zone[0].startswith(";")
    assert zone[1].split("\t")[:5] == ["_x.example.com.", "300", "IN", "CNAME", "_y.acm-validations.aws."]
    assert zone[3].split("\t")[:5] == ["example.com.", "300", "IN", "CNAME", "d111.cloudfront.net."]
    assert len(zone) == 5


def test_exports_type_alias_records_as_route_53_holds_them():
    from cloudfront_ssl.rules.messages import as_held

    rows = dns_records(CERTIFICATES, DISTRIBUTIONS, {"www.example.com": "Z1"})
    written = [
        {
            "zone_id": "Z1",
            "name": "www.example.com",
            "type": t,
            "alias_target": {"dns_name": "d111.cloudfront.net"},
        }
        for t in ("AAAA", "A")
    ]
    held = as_held(rows, written)
    www = [row for row in held if row["name"] == "www.example.com"]
    assert [(row["type"], row["value"], row["route53_zone"]) for row in www] == [
        ("A (alias)", "d111.cloudfront.net", "Z1"),
        ("AAAA (alias)", "d111.cloudfront.net", "Z1"),
    ]
    # The rest (the apex, not in Route 53; the validation records) as before.
    assert [row for row in held if row["name"] != "www.example.com"] == [
        row for row in rows if row["name"] != "www.example.com"
    ]
    parsed = list(csv.DictReader(io.StringIO(records_csv(held))))
    assert {row["type"] for row in parsed if row["name"] == "www.example.com"} == {
        "A (alias)",
        "AAAA (alias)",
    }
    zone = zone_file_lines(held).splitlines()
    assert not any("www.example.com" in line for line in zone if not line.startswith(";"))
    alias_lines = [line for line in zone if "www.example.com." in line]
    assert len(alias_lines) == 2 and all("cannot express an alias record" in line for line in alias_lines)
    assert "is an A alias record to d111.cloudfront.net." in alias_lines[0]
    assert "example.com.\t300\tIN\tCNAME\td111.cloudfront.net." in "\n".join(zone)  # the apex: still to add
