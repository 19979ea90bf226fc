"""The HTML of the SSL Certificates page (spec section 9): pure functions of the API's data.

Server-rendered, no script: a certificates table with a search form, and a job view. Every value is
HTML-escaped; every link is relative, so the page works under any base URL and inside the Airflow
UI's frame. The data never holds a private key (the API's data is built from summaries only).
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from cloudfront_ssl.acm import FAILED_STATUSES

STATE_COLOURS = {
    "success": "#198754",
    "failed": "#dc3545",
    "running": "#20c997",
    "queued": "#6c757d",
    "scheduled": "#b2967d",
    "deferred": "#9370db",
    "up_for_retry": "#d4a017",
    "up_for_reschedule": "#40e0d0",
    "upstream_failed": "#fd7e14",
    "skipped": "#e83e8c",
    "removed": "#adb5bd",
    "restarting": "#9966cc",
}
"""Airflow's colours for task and run states."""
STATUS_COLOURS = {"ISSUED": "#198754", "PENDING_VALIDATION": "#d4a017"}

STYLE = """
:root { color-scheme: light; }
body { font-family: Inter, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0; padding: 20px 24px; color: #1a202c; background: #fff; font-size: 14px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 8px; }
p.sub { color: #4a5568; margin: 0 0 16px; }
form.search { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 16px; align-items: center; }
input, select, button { font: inherit; padding: 6px 10px; border: 1px solid #cbd5e0; border-radius: 6px; }
input[type=search] { min-width: 260px; }
button { background: #017cee; color: #fff; border-color: #017cee; cursor: pointer; }
a { color: #0b63c4; text-decoration: none; } a:hover { text-decoration: underline; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid #e2e8f0; vertical-align: top; }
th { background: #f7fafc; font-weight: 600; color: #4a5568; font-size: 12px; text-transform: uppercase; }
tr:hover td { background: #f7fafc; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; word-break: break-all; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
         white-space: nowrap; }
.names div { white-space: nowrap; }
.muted { color: #718096; }
.error { background: #fff5f5; border: 1px solid #feb2b2; color: #9b2c2c; padding: 10px 12px;
         border-radius: 6px; }
.count { color: #4a5568; margin: 0 0 8px; }
"""


def _badge(text: str | None, colour: str) -> str:
    return f'<span class="badge" style="background:{colour}">{escape(text or "none")}</span>'


def state_badge(state: str | None) -> str:
    """A run or step state in Airflow's colours."""
    return _badge(state, STATE_COLOURS.get(state or "", "#a0aec0"))


def status_badge(status: str | None) -> str:
    """An ACM status: green when issued, amber while pending, red when it will never be issued."""
    colour = STATUS_COLOURS.get(status or "", "#dc3545" if status in FAILED_STATUSES else "#a0aec0")
    return _badge(status, colour)


def job_href(dag_id: str, run_id: str, prefix: str = "") -> str:
    """The relative link to a job's view."""
    return f"{prefix}jobs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}"


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def certificates_page(
    entries: list[dict[str, Any]],
    *,
    cname: str = "",
    status: str = "",
    q: str = "",
    statuses: list[str] | None = None,
    error: str | None = None,
) -> str:
    """The certificates table with the CNAME search form; each row links to the job that made it."""
    options = "".join(
        f'<option value="{escape(s)}"{" selected" if s == status.upper() else ""}>{escape(s or "any status")}</option>'
        for s in ["", *(statuses or [])]
    )
    parts = [
        "<h1>SSL Certificates</h1>",
        '<p class="sub">ACM certificates in us-east-1 (the region CloudFront uses), what serves them, '
        'and the job that made them. <a href="jobs">All jobs</a></p>',
        '<form class="search" method="get" action="">',
        f'<input type="search" name="cname" id="cname" placeholder="Find by CNAME, e.g. www.example.com" '
        f'value="{escape(cname)}" aria-label="CNAME">',
        f'<input type="search" name="q" id="q" placeholder="Any part of a name" value="{escape(q)}" '
        'aria-label="Text in a name">',
        f'<select name="status" id="status" aria-label="Status">{options}</select>',
        '<button type="submit" id="search">Search</button>',
        '<a href="./">Clear</a></form>',
    ]
    if error:
        parts.append(f'<p class="error">{escape(error)}</p>')
    parts.append(f'<p class="count" id="count">{len(entries)} certificate(s)</p>')
    parts.append(
        '<table id="certificates"><thead><tr><th>Names</th><th>Status</th><th>Type</th><th>Expires</th>'
        "<th>Used by</th><th>Job</th></tr></thead><tbody>"
    )
    for entry in entries:
        names = "".join(f"<div>{escape(name)}</div>" for name in entry["names"])
        used = ", ".join(f"<code>{escape(d)}</code>" for d in entry.get("in_use_by") or []) or (
            '<span class="muted">nothing</span>'
        )
        job = entry.get("job")
        job_cell = (
            f'<a href="{job_href(job["dag_id"], job["run_id"])}">{escape(job["run_id"])}</a>'
            f'<div class="muted">{escape(job["dag_id"])}</div>'
            if job
            else '<span class="muted">not made by a job</span>'
        )
        parts.append(
            f'<tr data-arn="{escape(entry["arn"])}"><td class="names">{names}'
            f'<div class="muted"><code>{escape(entry["arn"])}</code></div></td>'
            f"<td>{status_badge(entry.get('status'))}</td><td>{escape(entry.get('type') or '')}</td>"
            f"<td>{escape((entry.get('not_after') or '')[:10])}</td><td>{used}</td><td>{job_cell}</td></tr>"
        )
    if not entries:
        parts.append('<tr><td colspan=6 class="muted">No certificate matches.</td></tr>')
    parts.append("</tbody></table>")
    return _document("SSL Certificates", "".join(parts))


def jobs_page(jobs: list[dict[str, Any]], prefix: str = "") -> str:
    """The list of jobs, newest first."""
    rows = (
        "".join(
            f'<tr><td><a href="{job_href(job["dag_id"], job["run_id"], prefix)}">{escape(job["run_id"])}</a></td>'
            f"<td>{escape(job['dag_id'])}</td><td>{state_badge(job.get('state'))}</td>"
            f"<td>{escape((job.get('start') or '')[:19])}</td><td>{escape((job.get('end') or '')[:19])}</td></tr>"
            for job in jobs
        )
        or '<tr><td colspan=5 class="muted">No job has run yet.</td></tr>'
    )
    body = (
        '<p><a href="./">← SSL Certificates</a></p><h1>Jobs</h1>'
        '<table id="jobs"><thead><tr><th>Job (run id)</th><th>DAG</th><th>State</th><th>Started</th>'
        f"<th>Ended</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _document("SSL certificate jobs", body)


def job_page(job: dict[str, Any], back: str = "../../../") -> str:
    """One job: its steps with their states, the validation records, the distributions, the error."""
    summary = job.get("summary") or {}
    parts = [
        f'<p><a href="{back}">← SSL Certificates</a></p>',
        f'<h1>Job <span id="run-id">{escape(job["run_id"])}</span> {state_badge(job.get("state"))}</h1>',
        f'<p class="sub">{escape(job["dag_id"])} · started {escape((job.get("start") or "")[:19])} · '
        f"ended {escape((job.get('end') or '')[:19] or 'not yet')} · "
        f'<a target="_top" href="/dags/{quote(job["dag_id"], safe="")}/runs/{quote(job["run_id"], safe="")}">'
        "open in Airflow</a></p>",
    ]
    if job.get("error"):
        parts.append(f'<h2>Error</h2><p class="error" id="error">{escape(job["error"])}</p>')

    parts.append('<h2>Steps</h2><table id="steps"><thead><tr><th>Step</th><th>State</th><th>Started</th>')
    parts.append("<th>Ended</th></tr></thead><tbody>")
    for step in job.get("steps") or []:
        parts.append(
            f"<tr><td>{escape(step['name'])}</td><td>{state_badge(step.get('state'))}</td>"
            f"<td>{escape((step.get('start') or '')[:19])}</td><td>{escape((step.get('end') or '')[:19])}</td></tr>"
        )
    parts.append("</tbody></table>")

    parts.append(
        '<h2>Certificates and DNS validation records</h2><table id="validation"><thead><tr>'
        "<th>Certificate</th><th>Status</th><th>Record name</th><th>Type</th><th>Value</th></tr></thead><tbody>"
    )
    certificates = summary.get("certificates") or []
    for certificate in certificates:
        records = certificate.get("validation_records") or [{}]
        for position, record in enumerate(records):
            head = (
                f"<td rowspan={len(records)}>{'<br>'.join(escape(n) for n in certificate.get('names') or [])}"
                f"</td><td rowspan={len(records)}>{status_badge(certificate.get('status'))}</td>"
                if position == 0
                else ""
            )
            parts.append(
                f"<tr>{head}<td><code>{escape(record.get('name', '—'))}</code></td>"
                f"<td>{escape(record.get('type', ''))}</td><td><code>{escape(record.get('value', ''))}</code></td></tr>"
            )
    if not certificates:
        parts.append('<tr><td colspan=5 class="muted">No certificate yet.</td></tr>')
    parts.append("</tbody></table>")

    parts.append(
        '<h2>Distributions and CNAME targets</h2><table id="distributions"><thead><tr><th>Name (alias)</th>'
        "<th>CNAME target</th><th>Distribution</th></tr></thead><tbody>"
    )
    distributions = summary.get("distributions") or []
    for distribution in distributions:
        for alias in distribution.get("aliases") or []:
            parts.append(
                f"<tr><td>{escape(alias)}</td><td><code>{escape(distribution.get('domain_name') or '')}</code></td>"
                f"<td><code>{escape(distribution.get('id') or '')}</code></td></tr>"
            )
    if not distributions:
        parts.append('<tr><td colspan=3 class="muted">No distribution yet.</td></tr>')
    parts.append("</tbody></table>")
    return _document(f"Job {job['run_id']}", "".join(parts))


def message_page(title: str, message: str, status_code: int) -> str:
    """A short page for an error (401: sign in; 404: no such job)."""
    link = ' <a target="_top" href="/">Sign in to Airflow</a>' if status_code == 401 else ""
    return _document(title, f'<h1>{escape(title)}</h1><p class="error">{escape(message)}{link}</p>')
