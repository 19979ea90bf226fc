"""The owners' messages of tenant mode: where each name points, and what is left for them to do. Pure."""

from __future__ import annotations

from typing import Any

from cloudfront_ssl.rules.messages import subject


def routing_message(
    job_id: str, tenants: list[dict[str, Any]], pointed: dict[str, Any] | None, *, managed: bool
) -> tuple[str, str]:
    """Subject and body once the tenants exist: each name's routing endpoint, what the job did in DNS.

    :param pointed: the result of the job's Route 53 step (``records`` written, ``not_automated``
        names with their reason), or None without ``route53_aliases``.
    :param managed: the tenants' certificates are CloudFront's own: they are issued only once the
        names point at the routing endpoint.
    """
    written = list((pointed or {}).get("records") or [])
    written_names = {entry["name"] for entry in written}
    reasons = {entry["name"]: entry["reason"] for entry in (pointed or {}).get("not_automated") or []}
    lines = [f"CloudFront distribution tenants are ready for job {job_id}.", ""]
    if written:
        lines.append("This job pointed these names at their routing endpoint with Route 53 CNAME records:")
        lines += [f"  {entry['name']}  CNAME  {entry['value']}" for entry in written]
        lines.append("")
    left = [(tenant, name) for tenant in tenants for name in tenant["domains"] if name not in written_names]
    if left:
        lines.append("Point each name below at its routing endpoint with a CNAME record:")
        lines.append("")
        for tenant in tenants:
            mine = [name for owner, name in left if owner is tenant]
            if not mine:
                continue
            lines.append(f"Tenant {tenant['name']} ({tenant['id']}):")
            for name in mine:
                reason = f"   ({reasons[name]})" if name in reasons else ""
                lines.append(f"  {name}  CNAME  {tenant['routing_endpoint']}{reason}")
            lines.append("")
        lines += [
            "A zone apex (example.com) cannot hold a CNAME record: point it with your DNS provider's",
            "apex alias to the routing endpoint if it has one, or serve the apex elsewhere.",
            "",
        ]
    else:
        lines += ["Nothing is left for you to do in DNS: every name points at its routing endpoint.", ""]
    if managed:
        lines.append(
            "CloudFront requests each tenant's certificate itself and issues it once the names point at "
            "the routing endpoint (HTTP validation); the job waits for that."
        )
    count = len(left)
    title = (
        f"Point {count} name{'s' if count != 1 else ''} at CloudFront ({job_id})"
        if left
        else f"Names pointed at CloudFront: {len(tenants)} tenant{'s' if len(tenants) != 1 else ''} ({job_id})"
    )
    return subject(title), "\n".join(lines).rstrip() + "\n"
