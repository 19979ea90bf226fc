"""The plain-text messages the domain owners receive. Pure functions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

MAX_SUBJECT = 99
"""SNS subjects must be under 100 characters, on one line."""

KEY_REMOVED = "[private key removed]"
# Scrubbing is deliberately broader than parsing: any case, and blocks cut short at either end
# (error messages are often truncated), so that no fragment of a key survives.
_KEY_BEGIN = r"-----BEGIN [A-Za-z0-9 ]*PRIVATE KEY-----"
_KEY_END = r"-----END [A-Za-z0-9 ]*PRIVATE KEY-----"
_MASK_WHOLE = re.compile(_KEY_BEGIN + r".*?" + _KEY_END, re.DOTALL | re.IGNORECASE)
_MASK_NO_END = re.compile(_KEY_BEGIN + r".*\Z", re.DOTALL | re.IGNORECASE)
_MASK_NO_BEGIN = re.compile(r"\A.*?" + _KEY_END, re.DOTALL | re.IGNORECASE)


MAX_QUOTE = 80
"""Input quoted in a message is cut to this many characters, so that a refusal always fits a message."""
MAX_ERROR = 4000
"""A failure message quotes at most this much of the error: SNS takes 256 KB, and owners read it."""


def quote_input(value: object) -> str:
    """``repr`` of a user's input for a message, cut to :data:`MAX_QUOTE` characters."""
    text = repr(value)
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 4] + "...'"


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying so when it was longer."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit:,} more characters]"


def iso(value: Any) -> str | None:
    """An ACM/CloudFront timestamp (datetime or epoch seconds) as ISO 8601 text, or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return str(value)


def subject(text: str) -> str:
    """An SNS subject: one line, under 100 characters."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 1] + "…"


def scrub_secrets(text: str) -> str:
    """Replace every PEM private-key block of a text by ``[private key removed]`` before it is shown.

    Covers every "... PRIVATE KEY" label (PKCS#8, encrypted, RSA, EC, OpenSSH) and also a block
    whose END or BEGIN line has been cut off, since the text to publish may be truncated.
    Certificates and other blocks are left as they are.
    """
    text = _MASK_WHOLE.sub(KEY_REMOVED, text)
    text = _MASK_NO_END.sub(KEY_REMOVED, text)
    return _MASK_NO_BEGIN.sub(KEY_REMOVED, text)


def validation_message(job_id: str, certificates: list[dict[str, Any]]) -> tuple[str, str]:
    """Subject and body telling the owners which DNS records to add for each requested certificate."""
    lines = [
        f"Certificates were requested in AWS Certificate Manager for job {job_id}.",
        "To prove that you control these domains, add the DNS records below at your DNS provider.",
        "Keep them in place: ACM also uses them to renew the certificates.",
        "",
    ]
    for number, certificate in enumerate(certificates, start=1):
        lines.append(f"Certificate {number}: {', '.join(certificate['names'])}")
        records = certificate.get("validation_records") or []
        if not records:
            lines.append("  (no DNS record to add: ACM has validated these names already)")
        for record in records:
            lines += [
                f"  Name:  {record['name']}",
                f"  Type:  {record['type']}",
                f"  Value: {record['value']}",
            ]
            lines.append("")
        if not records:
            lines.append("")
    count = len(certificates)
    title = f"Add DNS records to validate {count} certificate{'s' if count != 1 else ''} ({job_id})"
    return subject(title), "\n".join(lines).rstrip() + "\n"


def cname_message(job_id: str, distributions: list[dict[str, Any]]) -> tuple[str, str]:
    """Subject and body telling the owners which CNAME target each name must point to."""
    lines = [
        f"CloudFront distributions are ready for job {job_id}.",
        "Point each name below at its target with a CNAME record (or an alias record at the zone apex).",
        "",
    ]
    for distribution in distributions:
        lines.append(f"Distribution {distribution['id']}:")
        for alias in distribution["aliases"]:
            lines.append(f"  {alias}  CNAME  {distribution['domain_name']}")
        lines.append("")
    count = len(distributions)
    title = f"Point your domains at CloudFront: {count} distribution{'s' if count != 1 else ''} ({job_id})"
    return subject(title), "\n".join(lines).rstrip() + "\n"


def import_message(
    job_id: str, certificate: dict[str, Any], facts: dict[str, Any], distributions: list[dict[str, Any]]
) -> tuple[str, str]:
    """Subject and body saying the certificate is in ACM and, with a distribution, the CNAME targets."""
    lines = [
        f"A certificate was imported into AWS Certificate Manager (us-east-1) for job {job_id}.",
        "",
        f"  Names:       {', '.join(certificate['names'])}",
        f"  ARN:         {certificate['arn']}",
        f"  Valid until: {facts['not_after']}",
        "",
        "ACM does not renew imported certificates: import a new one before that date.",
    ]
    for warning in facts.get("warnings") or []:
        lines.append(f"Warning: {warning}")
    if distributions:
        lines += [
            "",
            "Point each name below at its target with a CNAME record (or an alias record at the zone apex).",
        ]
        for distribution in distributions:
            lines.append(f"Distribution {distribution['id']}:")
            lines += [f"  {alias}  CNAME  {distribution['domain_name']}" for alias in distribution["aliases"]]
    return subject(f"Certificate imported: {certificate['names'][0]} ({job_id})"), scrub_secrets(
        "\n".join(lines)
    ) + "\n"


def failure_message(dag_id: str, job_id: str, steps: list[tuple[str, str | None]]) -> tuple[str, str]:
    """Subject and body saying which steps of a job failed and why, with any private key removed.

    ``steps`` holds ``(step, reason)`` for each failed step; a reason may be None (not recorded).
    """
    lines = [f"Job {job_id} of {dag_id} failed.", ""]
    budget = MAX_ERROR
    for step, reason in steps:
        text = scrub_secrets(reason or "").strip() or "no reason was recorded; see the step's log in Airflow"
        text = cut(text, max(budget, 200))
        budget -= len(text)
        lines.append(f"Step '{step}' failed: {text}")
    lines += [
        "",
        "Nothing more will happen for this job. Fix the cause and start a new job; "
        "the clean-up job (ssl_cleanup_job) removes what this one created.",
    ]
    first = steps[0][0] if steps else "an unknown step"
    more = f" and {len(steps) - 1} more" if len(steps) > 1 else ""
    return subject(f"Certificate job failed at {first}{more} ({job_id})"), "\n".join(lines) + "\n"


def _dns_line(entry: dict[str, Any]) -> str:
    """One record the job wrote, in words."""
    target = entry.get("value") or f"alias {entry['alias_target']['dns_name']}"
    replaced = f" (replacing {'; '.join(entry['replaced'])})" if entry.get("replaced") else ""
    return f"  {entry['name']}  {entry['type']}  {target}  (hosted zone {entry['zone_id']}){replaced}"


def dns_validation_message(
    job_id: str, certificates: list[dict[str, Any]], dns: dict[str, Any]
) -> tuple[str, str]:
    """Subject and body after the job wrote validation records to Route 53 (``route53_validation``).

    It lists the records the job wrote and those already in place; the records of names that no
    hosted zone holds stay with the owners, listed as in :func:`validation_message`. With every
    record in Route 53, it says that nothing is left to do.
    """
    left = {entry["name"] for entry in dns.get("not_automated") or []}
    written = dns.get("records") or []
    in_place = dns.get("in_place") or []
    count = len(certificates)
    plural = "s" if count != 1 else ""
    lines = [f"Certificates were requested in AWS Certificate Manager for job {job_id}.", ""]
    if written:
        lines.append("This job added these DNS validation records to Route 53:")
        lines += [_dns_line(entry) for entry in written]
        lines.append("")
    if in_place:
        lines.append("These validation records were in Route 53 already (the job left them as they are):")
        lines += [_dns_line(entry) for entry in in_place]
        lines.append("")
    if not left:
        lines += [
            "Nothing is left for you to do: every validation record is in Route 53, and ACM will issue",
            "the certificates once it sees them. Keep the records: ACM also uses them to renew.",
        ]
        title = f"DNS validation done in Route 53 for {count} certificate{plural} ({job_id})"
        return subject(title), "\n".join(lines).rstrip() + "\n"

    lines += [
        "These names are in no Route 53 hosted zone the job may change: add the records below at your",
        "DNS provider. Keep them in place: ACM also uses them to renew the certificates.",
        "",
    ]
    todo = [
        {
            **certificate,
            "validation_records": [
                record
                for record in certificate.get("validation_records") or []
                if record["name"].lower().rstrip(".") in left
            ],
        }
        for certificate in certificates
    ]
    for number, certificate in enumerate(todo, start=1):
        if not certificate["validation_records"]:
            continue
        lines.append(f"Certificate {number}: {', '.join(certificate['names'])}")
        for record in certificate["validation_records"]:
            lines += [
                f"  Name:  {record['name']}",
                f"  Type:  {record['type']}",
                f"  Value: {record['value']}",
                "",
            ]
    title = f"Add DNS records to validate {count} certificate{plural} ({job_id})"
    return subject(title), "\n".join(lines).rstrip() + "\n"


def dns_cname_message(
    job_id: str, distributions: list[dict[str, Any]], pointed: list[dict[str, Any]]
) -> tuple[str, str]:
    """Subject and body after the distributions exist, with ``route53_aliases``.

    ``pointed`` holds the alias steps' results: the alias records the job wrote and the aliases no
    hosted zone holds, which the owners still point themselves (CNAME to the distribution).
    """
    written = [entry for result in pointed for entry in result.get("records") or []]
    left = {entry["name"] for result in pointed for entry in result.get("not_automated") or []}
    lines = [f"CloudFront distributions are ready for job {job_id}.", ""]
    if written:
        lines.append("This job pointed these names at their distributions with Route 53 alias records:")
        lines += [_dns_line(entry) for entry in written]
        lines.append("")
    if not left:
        lines.append("Nothing is left for you to do: every name points at its distribution.")
        count = len(distributions)
        title = f"Names pointed at CloudFront: {count} distribution{'s' if count != 1 else ''} ({job_id})"
        return subject(title), "\n".join(lines).rstrip() + "\n"
    lines += [
        "Point each name below at its target with a CNAME record (or an alias record at the zone apex):",
        "",
    ]
    for distribution in distributions:
        mine = [alias for alias in distribution["aliases"] if alias.lower() in left]
        if not mine:
            continue
        lines.append(f"Distribution {distribution['id']}:")
        lines += [f"  {alias}  CNAME  {distribution['domain_name']}" for alias in mine]
        lines.append("")
    count = len(left)
    title = f"Point {count} name{'s' if count != 1 else ''} at CloudFront ({job_id})"
    return subject(title), "\n".join(lines).rstrip() + "\n"


def record_key(name: str) -> str:
    """A DNS record name as records are matched: lower case, no trailing dot, ``*`` for ``\\052``."""
    return name.replace("\\052", "*").strip().lower().rstrip(".")


def dns_records(
    certificates: list[dict[str, Any]] | None = None,
    distributions: list[dict[str, Any]] | None = None,
    route53_zones: dict[str, str] | None = None,
    tenants: list[dict[str, Any]] | None = None,
) -> list[dict[str, str]]:
    """The DNS records a job asks for, one row each: ``kind``, ``name``, ``type``, ``value``, ``for``,
    ``route53_zone``.

    ``kind`` is ``validation`` (a certificate's DNS validation record, once per record name: an apex
    and its wildcard share one) or ``cname`` (an alias pointing at its distribution's domain name, or
    a tenant's domain pointing at its routing endpoint). ``for`` says what the record serves: the
    certificate's names, the distribution's id, or ``tenant`` and the tenant's id.
    ``route53_zone`` is the hosted zone that holds the name's record already (the job wrote it, or
    found it in place: nothing to add), else empty. ``certificates`` and ``distributions`` are as in
    a job's summary; ``route53_zones`` maps a :func:`record_key` to its zone id.
    """
    zones = route53_zones or {}
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for certificate in certificates or []:
        for record in certificate.get("validation_records") or []:
            name = str(record.get("name") or "")
            if not name or name.lower() in seen:
                continue
            seen.add(name.lower())
            rows.append(
                {
                    "kind": "validation",
                    "name": name,
                    "type": str(record.get("type") or "CNAME"),
                    "value": str(record.get("value") or ""),
                    "for": ", ".join(certificate.get("names") or []),
                    "route53_zone": zones.get(record_key(name), ""),
                }
            )
    for distribution in distributions or []:
        for alias in distribution.get("aliases") or []:
            rows.append(
                {
                    "kind": "cname",
                    "name": alias,
                    "type": "CNAME",
                    "value": str(distribution.get("domain_name") or ""),
                    "for": str(distribution.get("id") or ""),
                    "route53_zone": zones.get(record_key(alias), ""),
                }
            )
    for tenant in tenants or []:
        for domain in tenant.get("domains") or []:
            rows.append(
                {
                    "kind": "cname",
                    "name": domain,
                    "type": "CNAME",
                    "value": str(tenant.get("routing_endpoint") or ""),
                    "for": f"tenant {tenant.get('id') or ''}",
                    "route53_zone": zones.get(record_key(domain), ""),
                }
            )
    return rows


ALIAS_SUFFIX = " (alias)"
"""How an export types a record Route 53 holds as an alias: ``A (alias)``, ``AAAA (alias)``."""


def as_held(rows: list[dict[str, str]], written: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """:func:`dns_records` rows as Route 53 holds them, for the exports: a name the job pointed at its
    distribution with alias records (``written``: the summary's ``dns_records``) becomes one row per
    alias record, typed ``A (alias)`` / ``AAAA (alias)``, its value the alias target; not the CNAME a
    DNS administrator would add by hand. Every other row is unchanged."""
    aliases: dict[str, list[dict[str, Any]]] = {}
    for record in written or []:
        if isinstance(record, dict) and record.get("alias_target") and record.get("name"):
            aliases.setdefault(record_key(str(record["name"])), []).append(record)
    held: list[dict[str, str]] = []
    for row in rows:
        found = (
            aliases.get(record_key(row["name"]))
            if row["kind"] == "cname" and row.get("route53_zone")
            else None
        )
        if not found:
            held.append(row)
            continue
        for record in sorted(found, key=lambda record: str(record.get("type") or "A")):
            held.append(
                {
                    **row,
                    "type": f"{record.get('type') or 'A'}{ALIAS_SUFFIX}",
                    "value": str(record["alias_target"].get("dns_name") or row["value"]),
                }
            )
    return held


def records_table(
    certificates: list[dict[str, Any]] | None = None, distributions: list[dict[str, Any]] | None = None
) -> str:
    """The job's DNS records as a plain-text table for a task log (columns aligned, one record a line).

    Takes the request step's certificates and/or the created distributions (as in a job's summary).
    """
    rows = dns_records(certificates, distributions)
    if not rows:
        return "(no DNS record)"
    header = {"name": "NAME", "type": "TYPE", "value": "VALUE", "for": "FOR"}
    table = [header, *rows]
    widths = {column: max(len(row[column]) for row in table) for column in ("name", "type", "value")}
    lines = [
        f"{row['name']:<{widths['name']}}  {row['type']:<{widths['type']}}  "
        f"{row['value']:<{widths['value']}}  {row['for']}".rstrip()
        for row in table
    ]
    return "\n".join(lines)


def records_csv(rows: list[dict[str, str]]) -> str:
    """:func:`dns_records` rows as CSV (header ``kind,name,type,value,for,route53_zone``)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=["kind", "name", "type", "value", "for", "route53_zone"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def zone_file_lines(rows: list[dict[str, str]], ttl: int = 300) -> str:
    """:func:`dns_records` rows as zone-file lines (``name. TTL IN CNAME value.``), fully qualified.

    Each line ends with a comment saying what the record is for. (A zone's apex cannot hold a CNAME:
    point it at the distribution with an alias record instead; the owners' message says so too.) A row
    Route 53 holds as an alias record (:func:`as_held`) is a comment line: an alias is Route 53's own,
    and a BIND zone file cannot express it.
    """

    def absolute(name: str) -> str:
        return name if name.endswith(".") else f"{name}."

    lines = ["; DNS records of the job: validation records first, then the CNAME targets"]
    for row in rows:
        if row["type"].endswith(ALIAS_SUFFIX):
            alias = row["type"].removesuffix(ALIAS_SUFFIX)
            lines.append(
                f"; in Route 53 (hosted zone {row['route53_zone']}), nothing to add: {absolute(row['name'])} "
                f"is an {alias} alias record to {absolute(row['value'])} (for {row['for']}); "
                "a BIND zone file cannot express an alias record, so none is written here"
            )
            continue
        line = f"{absolute(row['name'])}\t{ttl}\tIN\t{row['type']}\t{absolute(row['value'])}"
        line = f"{line}\t; {row['kind']} for {row['for']}" if row["for"] else line
        if row.get("route53_zone"):
            # Route 53 holds it already: shown, commented out, so that nobody adds it twice.
            line = f"; in Route 53 (hosted zone {row['route53_zone']}), nothing to add: {line}"
        lines.append(line)
    return "\n".join(lines) + "\n"
