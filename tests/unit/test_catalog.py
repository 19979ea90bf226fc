"""The certificate list behind the page and the API: filters, entries and the cache's AWS calls."""

from __future__ import annotations

from collections import Counter
from datetime import UTC

import pytest

from cloudfront_ssl.views import catalog
from cloudfront_ssl.views.catalog import CertificateCatalog, filter_certificates

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
                if name == "get_resources":
                    assert kwargs["TagFilters"] == [{"Key": "airflow:dag_id"}]
                    yield from fake.job_tag_pages()
                    return
                items = fake.summaries if name == "list_certificates" else fake.distributions
                for start in range(0, max(len(items), 1), 100):
                    fake.calls[name] += 1
                    page = items[start : start + 100]
                    if name == "list_certificates":
                        yield {"CertificateSummaryList": page}
                    else:
                        yield {"DistributionList": {"Items": page}}

        return Paginator()

    def job_tag_pages(self):
        """GetResources: the certificates with job tags (every even one here), a hundred per page."""
        tagged = [
            s["CertificateArn"] for s in self.summaries if int(s["CertificateArn"].split(":")[1]) % 2 == 0
        ]
        for start in range(0, max(len(tagged), 1), 100):
            self.calls["get_resources"] += 1
            yield {
                "ResourceTagMappingList": [
                    {
                        "ResourceARN": arn,
                        "Tags": [
                            {"Key": "airflow:dag_id", "Value": "d"},
                            {"Key": "airflow:run_id", "Value": arn.split(":")[1]},
                        ],
                    }
                    for arn in tagged[start : start + 100]
                ]
            }

    def describe_certificate(self, CertificateArn):
        self.calls["describe_certificate"] += 1
        number = CertificateArn.split(":")[1]
        return {"Certificate": {"DomainName": f"n{number}.example.com", "SubjectAlternativeNames": []}}


class Hook:
    account_id = "123456789012"

    def __init__(self, conn):
        self.conn = conn


@pytest.fixture
def fake(monkeypatch):
    aws = FakeAws(certificates=200, distributions=50)
    monkeypatch.setattr(catalog.acm, "acm_hook", lambda conn_id: Hook(aws))
    monkeypatch.setattr(catalog.connections, "account_number", lambda conn_id: Hook.account_id)
    monkeypatch.setattr(catalog.acm, "tagging_hook", lambda conn_id: Hook(aws))
    monkeypatch.setattr(catalog.cloudfront, "cloudfront_hook", lambda conn_id: Hook(aws))
    return aws


def test_a_page_view_costs_few_calls_once_the_details_are_cached(fake):
    now = [0.0]
    cached = CertificateCatalog("aws_default", ttl_seconds=60, clock=lambda: now[0])
    entries = cached.certificates()
    assert len(entries) == 200
    jobs = {e["arn"]: e["job"] for e in entries}
    assert jobs["arn:4"] == {"dag_id": "d", "run_id": "4"} and jobs["arn:5"] is None
    assert {e["arn"]: e["in_use_by"] for e in entries}["arn:7"] == ["E7"]
    # The job tags of 100 certificates in one GetResources page, never one call per certificate;
    # a describe only for the summaries that lack names.
    assert fake.calls == Counter(
        {"list_certificates": 2, "list_distributions": 1, "get_resources": 1, "describe_certificate": 67}
    )

    fake.calls.clear()
    now[0] = 30
    cached.certificates()
    assert sum(fake.calls.values()) == 0  # within the TTL: no call at all

    now[0] = 120
    cached.certificates()
    # After the TTL: the two listings again, nothing per certificate.
    assert fake.calls == Counter({"list_certificates": 2, "list_distributions": 1})

    # A new certificate: one tag sweep more, for all of them.
    fake.calls.clear()
    fake.summaries.append({"CertificateArn": "arn:200", "DomainName": "n200.example.com", "Status": "ISSUED"})
    now[0] = 240
    assert {e["arn"]: e["job"] for e in cached.certificates()}["arn:200"] == {"dag_id": "d", "run_id": "200"}
    assert fake.calls == Counter(
        {"list_certificates": 3, "list_distributions": 1, "get_resources": 2, "describe_certificate": 1}
    )


def test_a_young_certificate_without_job_tags_is_looked_for_again(fake):
    """The Tagging API may show a new certificate's tags late: an untagged young one is not cached."""
    from datetime import datetime

    now = [0.0]
    cached = CertificateCatalog("aws_default", ttl_seconds=0, clock=lambda: now[0])
    fake.summaries[:] = [
        {
            "CertificateArn": "arn:1",
            "DomainName": "old.example.com",
            "Status": "ISSUED",
            "SubjectAlternativeNameSummaries": ["old.example.com"],
            "CreatedAt": datetime(2020, 1, 1, tzinfo=UTC),
        },
        {
            "CertificateArn": "arn:3",
            "DomainName": "new.example.com",
            "Status": "ISSUED",
            "SubjectAlternativeNameSummaries": ["new.example.com"],
            "CreatedAt": datetime.now(UTC),
        },
    ]
    cached.certificates()
    fake.calls.clear()
    now[0] = 1
    cached.certificates()
    assert fake.calls["get_resources"] == 1  # the young one again
    fake.summaries.pop()
    fake.calls.clear()
    now[0] = 2
    cached.certificates()
    assert fake.calls["get_resources"] == 0  # the old untagged one is known to have no job


def test_a_deleted_certificate_is_forgotten(fake):
    now = [0.0]
    cached = CertificateCatalog("aws_default", ttl_seconds=0, clock=lambda: now[0])
    cached.certificates()
    fake.summaries.pop(1)
    now[0] = 1
    assert "arn:1" not in {e["arn"] for e in cached.certificates()}
    assert "arn:1" not in cached._details


def test_tenants_are_read_in_one_listing_and_only_with_a_multi_tenant_distribution(fake):
    """A tenant needs a multi-tenant distribution: without one, the tenant listing is never asked."""
    tenant_pages = [
        {
            "DistributionTenantList": [
                {
                    "Id": f"dt_{n}",
                    "Name": f"t{n}.example.net",
                    "DistributionId": "EMT",
                    "Domains": [{"Domain": f"t{n}.example.net"}],
                    "Customizations": {"Certificate": {"Arn": f"arn:{n}"}},
                }
                for n in range(start, start + 100)
            ]
        }
        for start in (100, 200)  # 200 tenants; the first 100 serve arn:100 .. arn:199
    ]

    def list_distribution_tenants(**kwargs):
        for page in tenant_pages:
            fake.calls["list_distribution_tenants"] += 1
            yield page

    paginator = fake.get_paginator

    def get_paginator(name):
        if name != "list_distribution_tenants":
            return paginator(name)
        return type("Paginator", (), {"paginate": staticmethod(list_distribution_tenants)})()

    fake.get_paginator = get_paginator
    entries = {e["arn"]: e for e in CertificateCatalog("aws_default").certificates()}
    assert entries["arn:120"]["in_use_by"] == [] and entries["arn:120"]["tenants"] == []
    assert fake.calls["list_distribution_tenants"] == 0

    fake.distributions.append({"Id": "EMT", "ConnectionMode": "tenant-only", "ViewerCertificate": {}})
    fake.calls.clear()
    entries = {e["arn"]: e for e in CertificateCatalog("aws_default").certificates()}
    assert entries["arn:120"]["in_use_by"] == ["dt_120"]
    assert entries["arn:120"]["tenants"] == [
        {
            "id": "dt_120",
            "name": "t120.example.net",
            "distribution_id": "EMT",
            "domains": ["t120.example.net"],
        }
    ]
    assert entries["arn:7"]["in_use_by"] == ["E7"] and entries["arn:7"]["tenants"] == []
    # Every tenant page once for all 200 certificates: never a call per certificate or per tenant.
    assert fake.calls["list_distribution_tenants"] == 2
    assert set(fake.calls) == {
        "list_certificates",
        "list_distributions",
        "get_resources",
        "describe_certificate",
        "list_distribution_tenants",
    }
    assert [e["arn"] for e in filter_certificates(entries.values(), cname="t150.example.net")] == ["arn:150"]
