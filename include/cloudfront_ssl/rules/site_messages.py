"""The owners' messages about a live site: its names changed, its imported certificate rotated. Pure."""

from __future__ import annotations

from typing import Any

from cloudfront_ssl.rules.messages import scrub_secrets, subject


def site_updated_message(
    job_id: str, distribution: dict[str, Any], pointed: dict[str, Any]
) -> tuple[str, str]:
    """Subject and body after ``ssl_update_site`` changed a distribution.

    ``pointed`` is the alias step's result: the names it pointed with Route 53 need nothing more; the
    other added names are for the owners to point (CNAME to the distribution).
    """
    written = {entry["name"] for entry in pointed.get("records") or []}
    lines = [
        f"Distribution {distribution['id']} ({distribution['domain_name']}) was changed by job {job_id}.",
        "",
        f"  Serves now:   {', '.join(distribution['aliases'])}",
        f"  Certificate:  {distribution['certificate_arn']}",
    ]
    if distribution.get("names_removed"):
        lines.append(f"  No longer:    {', '.join(distribution['names_removed'])}")
    to_point = [name for name in distribution.get("names_added") or [] if name not in written]
    if written:
        lines += [
            "",
            "This job pointed these names at it with Route 53 alias records: " + ", ".join(sorted(written)),
        ]
    if to_point:
        lines += [
            "",
            "Point each new name at the distribution with a CNAME record (an alias record at a zone apex):",
        ]
        lines += [f"  {name}  CNAME  {distribution['domain_name']}" for name in to_point]
    elif distribution.get("names_added"):
        lines += ["", "Nothing is left for you to do: every new name points at the distribution."]
    removed = distribution.get("names_removed") or []
    if removed:
        lines += [
            "",
            "The distribution no longer answers for the removed names: point them elsewhere or remove their "
            "DNS records (with route53_aliases the job removed the alias records that pointed here).",
        ]
    return subject(f"Site changed: {distribution['aliases'][0]} ({job_id})"), "\n".join(lines) + "\n"


def tenant_updated_message(job_id: str, tenant: dict[str, Any], pointed: dict[str, Any]) -> tuple[str, str]:
    """Subject and body after ``ssl_update_site`` changed a distribution tenant.

    ``pointed`` is the Route 53 step's result: the names it pointed need nothing more; the other added
    names are for the owners to point (CNAME to the routing endpoint; an apex as their DNS allows).
    """
    written = {entry["name"] for entry in pointed.get("records") or []}
    reasons = {entry["name"]: entry["reason"] for entry in pointed.get("not_automated") or []}
    lines = [
        f"Distribution tenant {tenant['name']} ({tenant['id']}) was changed by job {job_id}.",
        "",
        f"  Serves now:   {', '.join(tenant['domains'])}",
        f"  Certificate:  {tenant['certificate_arn'] or 'managed by CloudFront'}"
        + (" (managed by CloudFront)" if tenant.get("managed") and tenant.get("certificate_arn") else ""),
    ]
    if tenant.get("names_removed"):
        lines.append(f"  No longer:    {', '.join(tenant['names_removed'])}")
    to_point = [name for name in tenant.get("names_added") or [] if name not in written]
    if written:
        lines += [
            "",
            "This job pointed these names at the routing endpoint with Route 53 CNAME records: "
            + ", ".join(sorted(written)),
        ]
    if to_point:
        lines += ["", "Point each new name at the routing endpoint with a CNAME record:"]
        lines += [
            f"  {name}  CNAME  {tenant['routing_endpoint']}" + (f"   ({reasons[name]})" if name in reasons else "")
            for name in to_point
        ]
    elif tenant.get("names_added"):
        lines += ["", "Nothing is left for you to do: every new name points at the routing endpoint."]
    if tenant.get("names_removed"):
        lines += [
            "",
            "The tenant no longer answers for the removed names: point them elsewhere or remove their DNS "
            "records (with route53_aliases the job removed the CNAME records that pointed at its routing "
            "endpoint).",
        ]
    return subject(f"Tenant changed: {tenant['domains'][0]} ({job_id})"), "\n".join(lines) + "\n"


def rotation_message(
    rotated: list[dict[str, Any]], refused: list[dict[str, Any]], run_id: str
) -> tuple[str, str]:
    """Subject and body of a rotation run: the certificates re-imported, and the secrets refused.

    Each entry has ``arn``, ``names``, ``secret`` and ``not_after`` (rotated) or ``reason`` (refused).
    The reasons come from the checks, which never quote a key; they are scrubbed all the same.
    """
    lines = [f"Rotation of imported certificates, run {run_id}.", ""]
    if refused:
        lines.append(
            "These secrets hold a bundle that failed the checks; their certificates were NOT changed:"
        )
        for entry in refused:
            lines += [
                f"  {entry['arn']} ({', '.join(entry.get('names') or [])})",
                f"    secret: {entry['secret']}",
                f"    why:    {entry['reason']}",
            ]
        lines += ["", "Put a bundle that passes the checks in the secret; the next run rotates it.", ""]
    if rotated:
        lines.append("Rotated (every distribution using them serves the new certificate, unchanged):")
        lines += [
            f"  {entry['arn']} ({', '.join(entry['names'])}), valid until {entry['not_after']}"
            for entry in rotated
        ]
    title = (
        f"Certificate rotation refused for {len(refused)} secret{'s' if len(refused) != 1 else ''} ({run_id})"
        if refused
        else f"Certificates rotated: {len(rotated)} ({run_id})"
    )
    return subject(title), scrub_secrets("\n".join(lines).rstrip() + "\n")
