"""The inventory's alert rules and message (pure functions), and its conf."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloudfront_ssl.rules.config import ConfigError, parse_config
from cloudfront_ssl.steps.inventory import InventoryConfig, alert_message, find_alerts, report_entry

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def entry(**overrides):
    base = {
        "arn": "arn:aws:acm:us-east-1:123456789012:certificate/fine",
        "names": ["fine.example.com"],
        "status": "ISSUED",
        "type": "requested",
        "not_after": (NOW + timedelta(days=300)).isoformat(),
        "created_at": (NOW - timedelta(days=60)).isoformat(),
        "renewal_eligibility": "ELIGIBLE",
        "renewal_status": None,
        "renewal_reason": None,
        "failure_reason": None,
        "in_use_by": ["E1"],
        "other_users": [],
        "job": None,
    }
    return {**base, **overrides}


def kinds(*entries, days=30, hours=48.0):
    alerts = find_alerts(list(entries), now=NOW, expiry_warning_days=days, stuck_validation_hours=hours)
    return [alert["kind"] for alert in alerts]


def test_nothing_to_say_about_healthy_certificates():
    assert kinds(entry(), entry(type="imported", not_after=(NOW + timedelta(days=31)).isoformat())) == []


def test_imported_certificate_expiring_within_the_warning():
    soon = entry(type="imported", not_after=(NOW + timedelta(days=29)).isoformat())
    assert kinds(soon) == ["imported_expiring"]
    assert kinds(soon, days=10) == []
    expired = entry(type="imported", status="EXPIRED", not_after=(NOW - timedelta(days=1)).isoformat())
    assert kinds(expired) == ["imported_expiring"]
    (alert,) = find_alerts([expired], now=NOW, expiry_warning_days=30, stuck_validation_hours=48)
    assert alert["detail"].startswith("expired")


def test_requested_certificate_acm_could_not_renew():
    assert kinds(entry(renewal_status="FAILED", renewal_reason="CAA_ERROR")) == ["renewal_failed"]
    # ACM renews from 60 days before expiry: one still expiring within the warning was not renewed.
    assert kinds(
        entry(not_after=(NOW + timedelta(days=5)).isoformat(), renewal_eligibility="INELIGIBLE")
    ) == ["renewal_failed"]


def test_pending_validation_for_too_long():
    old = entry(status="PENDING_VALIDATION", created_at=(NOW - timedelta(hours=49)).isoformat(), in_use_by=[])
    fresh = entry(
        status="PENDING_VALIDATION", created_at=(NOW - timedelta(hours=47)).isoformat(), in_use_by=[]
    )
    assert kinds(old, fresh) == ["stuck_validation"]
    assert kinds(old, hours=50) == []


def test_failed_and_timed_out_requests():
    assert kinds(entry(status="FAILED", failure_reason="CAA_ERROR", in_use_by=[])) == ["request_failed"]
    assert kinds(entry(status="VALIDATION_TIMED_OUT", in_use_by=[])) == ["request_failed"]


def test_unused_means_issued_and_used_by_nothing_at_all():
    assert kinds(entry(in_use_by=[])) == ["unused"]
    lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
    assert kinds(entry(in_use_by=[], other_users=[lb])) == []
    assert kinds(entry(status="PENDING_VALIDATION", in_use_by=[], created_at=NOW.isoformat())) == []


def test_report_entry_separates_cloudfront_from_other_users():
    described = {
        "CertificateArn": "arn:c",
        "DomainName": "a.example.com",
        "SubjectAlternativeNames": ["a.example.com", "b.example.com"],
        "Status": "ISSUED",
        "Type": "IMPORTED",
        "NotAfter": NOW,
        "InUseBy": ["arn:aws:cloudfront::123456789012:distribution/E1", "arn:aws:elasticloadbalancing:lb"],
    }
    tags = {"airflow:dag_id": "ssl_import_certificate", "airflow:run_id": "r"}
    result = report_entry(described, tags, ["E1"])
    assert result["names"] == ["a.example.com", "b.example.com"]
    assert result["type"] == "imported" and result["in_use_by"] == ["E1"]
    assert result["other_users"] == ["arn:aws:elasticloadbalancing:lb"]
    assert result["job"] == {"dag_id": "ssl_import_certificate", "run_id": "r"}


def test_one_message_grouped_by_kind():
    alerts = find_alerts(
        [entry(in_use_by=[]), entry(arn="arn:f", names=["f.example.com"], status="FAILED", in_use_by=[])],
        now=NOW,
        expiry_warning_days=30,
        stuck_validation_hours=48,
    )
    subject, body = alert_message(alerts, report_size=2)
    assert len(subject) < 100 and "2" in subject
    assert body.index("Failed or timed-out") < body.index("nothing uses")
    assert "fine.example.com" in body and "f.example.com" in body and "arn:f" in body


def test_conf():
    assert parse_config(InventoryConfig, {}).expiry_warning_days == 30
    assert parse_config(InventoryConfig, {}).stuck_validation_hours == 48
    with pytest.raises(ConfigError, match="stuck_validation_hours"):
        parse_config(InventoryConfig, {"stuck_validation_hours": 0})
    with pytest.raises(ConfigError, match="notification_topic_arn"):
        parse_config(InventoryConfig, {"notification_topic_arn": "not-an-arn"})


def test_a_tenant_is_a_user_of_its_certificate_beside_distributions():
    described = {
        "CertificateArn": "arn:t",
        "DomainName": "t.example.com",
        "Status": "ISSUED",
        "Type": "AMAZON_ISSUED",
        "ManagedBy": "CLOUDFRONT",
        "InUseBy": [
            "arn:aws:cloudfront::123456789012:distribution/E1",
            "arn:aws:cloudfront::123456789012:distribution-tenant/dt_1",
        ],
    }
    tenant = {"id": "dt_1", "name": "t.example.com", "distribution_id": "EMT", "domains": ["t.example.com"]}
    result = report_entry(described, {}, ["E1"], [{**tenant, "certificate_arn": "arn:t", "enabled": True}])
    assert result["in_use_by"] == ["E1", "dt_1"]
    assert result["tenants"] == [tenant]
    assert result["other_users"] == [] and result["managed_by"] == "CLOUDFRONT"
    assert kinds({**entry(), **result, "in_use_by": ["dt_1"]}) == []  # used by a tenant: not unused


def managed(status, *, created_hours_ago=1.0, not_after=None, in_acm=False):
    return {
        "tenant": {
            "id": "dt_9",
            "name": "m.example.com",
            "distribution_id": "EMT",
            "domains": ["m.example.com"],
        },
        "status": status,
        "certificate_arn": "arn:m" if status == "issued" else None,
        "not_after": not_after,
        "in_acm": in_acm,
        "tenant_created_at": (NOW - timedelta(hours=created_hours_ago)).isoformat(),
    }


@pytest.mark.parametrize(
    ("certificate", "expected"),
    [
        (managed("issued"), []),
        (managed("pending-validation"), []),
        (managed("pending-validation", created_hours_ago=72), ["stuck_validation"]),
        (managed("failed"), ["managed_failed"]),
        (managed("validation-timed-out"), ["managed_failed"]),
        (managed("issued", not_after=(NOW + timedelta(days=5)).isoformat()), ["renewal_failed"]),
        (managed("issued", not_after=(NOW + timedelta(days=90)).isoformat()), []),
        # In ACM's list too: ACM's entry carries its alerts, not this one.
        (managed("failed", in_acm=True), []),
    ],
)
def test_certificates_cloudfront_manages_for_tenants(certificate, expected):
    alerts = find_alerts(
        [], now=NOW, expiry_warning_days=30, stuck_validation_hours=48, managed=[certificate]
    )
    assert [alert["kind"] for alert in alerts] == expected
    for alert in alerts:
        assert alert["names"] == ["m.example.com"] and "tenant m.example.com (dt_9)" in alert["detail"]
