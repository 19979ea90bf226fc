"""The daily inventory (``ssl_certificate_inventory``): report and alerts.

:func:`certificate_report` reads AWS (one DescribeCertificate and one ListTagsForCertificate per
certificate: a daily job can afford the detail the cached page does without; when the account has a
multi-tenant distribution, one tenant listing and one GetManagedCertificateDetails per tenant without
an ACM certificate); :func:`find_alerts` and :func:`alert_message` are pure functions of that report.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudfront_ssl.aws import acm, cloudfront, notify, tenants
from cloudfront_ssl.aws.connections import require_connection
from cloudfront_ssl.errors import JobInputError
from cloudfront_ssl.rules import messages
from cloudfront_ssl.rules.config import ConfigError, InventoryConfig, parse_config
from cloudfront_ssl.rules.tags import job_of

log = logging.getLogger(__name__)

ALERT_KINDS = {
    "imported_expiring": "Imported certificate expiring (ACM never renews imported certificates)",
    "renewal_failed": "Requested certificate that ACM could not renew",
    "stuck_validation": "Certificate pending validation for too long",
    "request_failed": "Failed or timed-out certificate request",
    "unused": "Issued certificate that nothing uses",
    "managed_failed": "Certificate CloudFront manages for a tenant that it will not issue",
}
"""Each kind of alert, with the heading its section gets in the alert message."""


def _datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value))


TENANT_KEYS = ("id", "name", "distribution_id", "domains")
"""A tenant as the report names it (:func:`cloudfront_ssl.aws.tenants.tenant_entry`)."""


def report_entry(
    certificate: dict[str, Any],
    tags: dict[str, str],
    distribution_ids: list[str],
    tenant_users: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One certificate of the report, from its DescribeCertificate result, tags and users.

    ``in_use_by`` holds the CloudFront distributions (ids) serving it, then the distribution tenants
    (ids) serving it; ``tenants`` names those tenants (``id``, ``name``, ``distribution_id``,
    ``domains``); ``managed_by`` is ACM's ``ManagedBy`` (``CLOUDFRONT`` for a certificate CloudFront
    manages for a tenant); ``other_users`` holds what ACM itself reports beyond those (load balancers,
    for example), so that such a certificate is not called unused.
    """
    tenant_users = tenant_users or []
    names = acm.certificate_names(certificate)
    renewal = certificate.get("RenewalSummary") or {}
    distribution_arns = {f"distribution/{d}" for d in distribution_ids}
    distribution_arns |= {f"distribution-tenant/{tenant['id']}" for tenant in tenant_users}
    other_users = [
        user
        for user in certificate.get("InUseBy") or []
        if not any(user.endswith(suffix) for suffix in distribution_arns)
    ]
    return {
        "arn": certificate["CertificateArn"],
        "names": names,
        "status": certificate.get("Status"),
        "type": acm.certificate_type(certificate),
        "not_after": messages.iso(certificate.get("NotAfter")),
        "created_at": messages.iso(certificate.get("CreatedAt") or certificate.get("ImportedAt")),
        "renewal_eligibility": certificate.get("RenewalEligibility"),
        "renewal_status": renewal.get("RenewalStatus"),
        "renewal_reason": renewal.get("RenewalStatusReason"),
        "failure_reason": certificate.get("FailureReason"),
        "in_use_by": sorted(distribution_ids) + [tenant["id"] for tenant in tenant_users],
        "tenants": [{key: tenant[key] for key in TENANT_KEYS} for tenant in tenant_users],
        "managed_by": certificate.get("ManagedBy"),
        "other_users": sorted(other_users),
        "job": job_of(tags),
    }


def managed_entry(
    tenant: dict[str, Any], details: dict[str, Any], acm_entry: dict[str, Any] | None
) -> dict[str, Any]:
    """A certificate CloudFront manages for a tenant, as the report lists it: ``tenant`` (``id``,
    ``name``, ``distribution_id``, ``domains``), ``status`` (CloudFront's: ``pending-validation``,
    ``issued``, ``failed``...), ``certificate_arn``, ``not_after`` and ``in_acm`` (whether the
    certificate is also in ACM's list, which then reports and alerts on it), ``tenant_created_at``."""
    return {
        "tenant": {key: tenant[key] for key in TENANT_KEYS},
        "status": details.get("status"),
        "certificate_arn": details.get("certificate_arn"),
        "not_after": (acm_entry or {}).get("not_after"),
        "in_acm": acm_entry is not None,
        "tenant_created_at": messages.iso(tenant.get("created_at")),
    }


def certificate_report(acm_client: Any, cloudfront_client: Any) -> dict[str, list[dict[str, Any]]]:
    """Every certificate in us-east-1 (all key types, paginated) with what uses it (distributions and
    distribution tenants) and which job made it; and the certificates CloudFront manages for tenants.

    Returns ``{"certificates": [...], "managed_certificates": [...]}`` (:func:`report_entry`,
    :func:`managed_entry`). The tenants are read in one listing, only when the account has a
    multi-tenant distribution.
    """
    summaries = list(cloudfront.list_distributions(cloudfront_client))
    users = cloudfront.certificate_users(cloudfront_client, summaries)
    account_tenants = [
        {**tenants.tenant_entry(tenant), "created_at": tenant.get("CreatedTime")}
        for tenant in tenants.account_tenants(cloudfront_client, summaries)
    ]
    managed_details = {
        tenant["id"]: details
        for tenant in account_tenants
        if not tenant["certificate_arn"]
        and (details := tenants.find_managed_certificate(cloudfront_client, tenant["id"])) is not None
    }
    tenant_users = tenants.tenants_by_certificate(
        [
            {
                **tenant,
                "certificate_arn": tenant["certificate_arn"]
                or managed_details.get(tenant["id"], {}).get("certificate_arn"),
            }
            for tenant in account_tenants
        ]
    )
    report = []
    for summary in acm.list_certificates(acm_client):
        arn = summary["CertificateArn"]
        certificate = acm_client.describe_certificate(CertificateArn=arn)["Certificate"]
        report.append(
            report_entry(
                certificate, acm.certificate_tags(acm_client, arn), users.get(arn, []), tenant_users.get(arn)
            )
        )
    report.sort(key=lambda entry: (entry["names"][0].lstrip("*."), entry["names"][0], entry["arn"]))
    by_arn = {entry["arn"]: entry for entry in report}
    managed = [
        managed_entry(
            tenant,
            managed_details[tenant["id"]],
            by_arn.get(managed_details[tenant["id"]].get("certificate_arn") or ""),
        )
        for tenant in account_tenants
        if tenant["id"] in managed_details
    ]
    managed.sort(key=lambda entry: (entry["tenant"]["name"], entry["tenant"]["id"]))
    return {"certificates": report, "managed_certificates": managed}


def find_alerts(
    report: list[dict[str, Any]],
    *,
    now: datetime,
    expiry_warning_days: int,
    stuck_validation_hours: float,
    managed: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """What needs attention in a report: one alert (``kind``, ``arn``, ``names``, ``detail``) per finding.

    - ``imported_expiring``: an imported certificate expiring within ``expiry_warning_days`` (or expired);
    - ``renewal_failed``: a requested certificate whose renewal failed, or that expires within
      ``expiry_warning_days`` or has expired (ACM renews from 60 days before expiry, so it could not);
    - ``stuck_validation``: pending validation for longer than ``stuck_validation_hours``;
    - ``request_failed``: a FAILED or VALIDATION_TIMED_OUT request;
    - ``unused``: an issued certificate that no distribution or tenant (and nothing else ACM knows of)
      uses;
    - for a certificate CloudFront manages for a tenant (``managed``) that ACM's list does not hold
      (when it does, the rules above apply to it): ``managed_failed`` when it is ``failed``,
      ``validation-timed-out``, ``revoked``, ``expired`` or ``inactive``; ``stuck_validation`` when
      it is still ``pending-validation`` ``stuck_validation_hours`` after its tenant was created;
      ``renewal_failed`` when its expiry is known and within ``expiry_warning_days``.
    """
    warn_until = now + timedelta(days=expiry_warning_days)
    stuck_before = now - timedelta(hours=stuck_validation_hours)
    alerts: list[dict[str, Any]] = []

    def add(entry: dict[str, Any], kind: str, detail: str) -> None:
        alerts.append({"kind": kind, "arn": entry["arn"], "names": entry["names"], "detail": detail})

    for entry in report:
        status = entry.get("status")
        not_after = _datetime(entry.get("not_after"))
        expiring = not_after is not None and not_after <= warn_until and status in ("ISSUED", "EXPIRED")
        when = "expired" if not_after is not None and not_after <= now else "expires"
        if entry.get("type") == "imported" and expiring:
            assert not_after is not None
            add(entry, "imported_expiring", f"{when} {not_after:%Y-%m-%d}; import a renewed certificate")
        if entry.get("type") == "requested":
            if entry.get("renewal_status") == "FAILED":
                reason = entry.get("renewal_reason") or "no reason given"
                add(entry, "renewal_failed", f"ACM's renewal failed ({reason})")
            elif expiring:
                assert not_after is not None
                add(
                    entry,
                    "renewal_failed",
                    f"{when} {not_after:%Y-%m-%d} and ACM has not renewed it "
                    f"(renewal eligibility: {entry.get('renewal_eligibility') or 'unknown'})",
                )
        if status == "PENDING_VALIDATION":
            created = _datetime(entry.get("created_at"))
            if created is not None and created < stuck_before:
                hours = (now - created).total_seconds() / 3600
                add(
                    entry,
                    "stuck_validation",
                    f"pending validation for {hours:.0f} hours; add its DNS records",
                )
        if status in ("FAILED", "VALIDATION_TIMED_OUT"):
            reason = entry.get("failure_reason")
            add(
                entry,
                "request_failed",
                status + (f" ({reason})" if reason else "") + "; delete and request again",
            )
        if status == "ISSUED" and not entry.get("in_use_by") and not entry.get("other_users"):
            add(entry, "unused", "no distribution or tenant uses it")
    for certificate in managed or []:
        if certificate.get("in_acm"):
            continue
        tenant = certificate["tenant"]
        found = {
            "arn": certificate.get("certificate_arn") or f"tenant {tenant['id']}",
            "names": tenant["domains"],
        }
        whose = f"CloudFront's managed certificate of tenant {tenant['name']} ({tenant['id']})"
        status = certificate.get("status")
        if status in tenants.MANAGED_FAILED:
            add(
                found, "managed_failed", f"{whose} is {status}; check the names point at the routing endpoint"
            )
        created = _datetime(certificate.get("tenant_created_at"))
        if status == "pending-validation" and created is not None and created < stuck_before:
            hours = (now - created).total_seconds() / 3600
            add(
                found,
                "stuck_validation",
                f"{whose} is pending validation for {hours:.0f} hours; point its names at the routing endpoint",
            )
        not_after = _datetime(certificate.get("not_after"))
        if status == tenants.MANAGED_ISSUED and not_after is not None and not_after <= warn_until:
            add(
                found,
                "renewal_failed",
                f"{whose} expires {not_after:%Y-%m-%d} and CloudFront has not renewed it",
            )
    return alerts


def alert_message(alerts: list[dict[str, Any]], report_size: int) -> tuple[str, str]:
    """Subject and body of the one alert message listing everything that needs attention."""
    lines = [
        f"The daily certificate inventory found {len(alerts)} thing(s) to look at "
        f"among {report_size} certificate(s) in ACM us-east-1.",
        "",
    ]
    for kind, heading in ALERT_KINDS.items():
        found = [alert for alert in alerts if alert["kind"] == kind]
        if not found:
            continue
        lines.append(f"{heading}:")
        for alert in found:
            lines.append(f"  {', '.join(alert['names'])}")
            lines.append(f"    {alert['detail']}")
            lines.append(f"    {alert['arn']}")
        lines.append("")
    return messages.subject(f"Certificates need attention: {len(alerts)} finding(s)"), "\n".join(lines)


def run_inventory(params: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """The inventory task: build the report, find the alerts, publish one message if there are any.

    Returns ``{"certificates": report, "managed_certificates": managed, "alerts": alerts,
    "message_id": id or None}`` (the run's XCom; :func:`certificate_report`).
    """
    try:
        config = parse_config(InventoryConfig, params)
    except ConfigError as error:
        raise JobInputError(str(error)) from None
    require_connection(config.aws_conn_id)
    now = now or datetime.now(UTC)
    found = certificate_report(
        acm.acm_hook(config.aws_conn_id).conn, cloudfront.cloudfront_hook(config.aws_conn_id).conn
    )
    report, managed = found["certificates"], found["managed_certificates"]
    alerts = find_alerts(
        report,
        now=now,
        expiry_warning_days=config.expiry_warning_days,
        stuck_validation_hours=config.stuck_validation_hours,
        managed=managed,
    )
    log.info(
        "Inventory: %d certificate(s), %d managed by CloudFront for tenants, %d alert(s)",
        len(report),
        len(managed),
        len(alerts),
    )
    message_id = None
    if alerts:
        subject, body = alert_message(alerts, len(report))
        topic = notify.resolve_topic(config.notification_topic_arn)
        message_id = notify.publish(config.aws_conn_id, topic, subject, body)
    else:
        log.info("Nothing needs attention: no alert sent")
    return {
        "certificates": report,
        "managed_certificates": managed,
        "alerts": alerts,
        "message_id": message_id,
    }
