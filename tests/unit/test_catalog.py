"""The certificate list behind the page and the API: filters, entries and the cache's AWS calls."""

from __future__ import annotations

from collections import Counter

import pytest

from cloudfront_ssl import catalog
from cloudfront_ssl.catalog import CertificateCatalog, filter_certificates

ENTRIES = [
    {"arn": "w", "names": ["*.shop.example.com"], "status": "ISSUED"},
    {"arn": "e", "names": ["www.example.com", "example.com"], "status": "PENDING_VALIDATION"},
]


@pytest.mark.parametrize(
    ("cname", "expected"),
    [
        ("www.example.com", ["e"]),
        ("EXAMPLE.com.", ["e"]),
        ("a.shop.example.com", ["w"]),
        ("a.b.shop.example.com", []),
        ("shop.example.com", []),
        ("*.shop.example.com", ["w"]),
        ("", ["w", "e"]),
    ],
)
def test_cname_matches_exact_names_and_covering_wildcards(cname, expected):
    assert [e["arn"] for e in filter_certificates(ENTRIES, cname=cname)] == expected


def test_status_and_text_filters():
    assert [e["arn"] for e in filter_certificates(ENTRIES, status="issued")] == ["w"]
    assert [e["arn"] for e in filter_certificates(ENTRIES, q="SHOP")] == ["w"]
    assert [e["arn"] for e in filter_certificates(ENTRIES, q="example", status="PENDING_VALIDATION")] == ["e"]


class FakeAws:
    """ACM and CloudFront clients that count their calls (each page of a list is one call)."""

    def __init__(self, certificates: int, distributions: int) -> None:
        self.calls: Counter[str] = Counter()
        self.summaries = [
            {
                "CertificateArn": f"arn:{n}",
                "DomainName": f"n{n}.example.com",
                "Status": "ISSUED",
                "Type": "AMAZON_ISSUED",
                # AWS lists the alternative names; every third summary here lacks them (as moto's do).
                **({} if n % 3 == 0 else {"SubjectAlternativeNameSummaries": [f"n{n}.example.com"]}),
            }
            for n in range(certificates)
        ]
        self.distributions = [
            {"Id": f"E{n}", "ViewerCertificate": {"ACMCertificateArn": f"arn:{n}"}}
            for n in range(distributions)
        ]

    def get_paginator(self, name):
        fake = self

        class Paginator:
            def paginate(self, **kwargs):
                items = fake.summaries if name == "list_certificates" else fake.distributions
                for start in range(0, max(len(items), 1), 100):
                    fake.calls[name] += 1
                    page = items[start : start + 100]
                    if name == "list_certificates":
                        yield {"CertificateSummaryList": page}
                    else:
                        yield {"DistributionList": {"Items": page}}

        return Paginator()

    def list_tags_for_certificate(self, CertificateArn):
        self.calls["list_tags_for_certificate"] += 1
        number = CertificateArn.split(":")[1]
        return {"Tags": [{"Key": "airflow:dag_id", "Value": "d"}, {"Key": "airflow:run_id", "Value": number}]}

    def describe_certificate(self, CertificateArn):
        self.calls["describe_certificate"] += 1
        number = CertificateArn.split(":")[1]
        return {"Certificate": {"DomainName": f"n{number}.example.com", "SubjectAlternativeNames": []}}


class Hook:
    def __init__(self, conn):
        self.conn = conn


@pytest.fixture
def fake(monkeypatch):
    aws = FakeAws(certificates=200, distributions=50)
    monkeypatch.setattr(catalog.acm, "acm_hook", lambda conn_id: Hook(aws))
    monkeypatch.setattr(catalog.cloudfront, "cloudfront_hook", lambda conn_id: Hook(aws))
    return aws


def test_a_page_view_costs_few_calls_once_the_details_are_cached(fake):
    now = [0.0]
    cached = CertificateCatalog("aws_default", ttl_seconds=60, clock=lambda: now[0])
    entries = cached.certificates()
    assert len(entries) == 200
    assert entries[0]["job"] == {"dag_id": "d", "run_id": entries[0]["arn"].split(":")[1]}
    assert {e["arn"]: e["in_use_by"] for e in entries}["arn:7"] == ["E7"]
    first = sum(fake.calls.values())
    assert fake.calls["list_tags_for_certificate"] == 200 and fake.calls["describe_certificate"] == 67

    fake.calls.clear()
    now[0] = 30
    cached.certificates()
    assert sum(fake.calls.values()) == 0  # within the TTL: no call at all

    now[0] = 120
    cached.certificates()
    # After the TTL: the two listings again, nothing per certificate.
    assert fake.calls == Counter({"list_certificates": 2, "list_distributions": 1})
    assert first == 200 + 67 + 3


def test_a_deleted_certificate_is_forgotten(fake):
    now = [0.0]
    cached = CertificateCatalog("aws_default", ttl_seconds=0, clock=lambda: now[0])
    cached.certificates()
    fake.summaries.pop(1)
    now[0] = 1
    assert "arn:1" not in {e["arn"] for e in cached.certificates()}
    assert "arn:1" not in cached._details
