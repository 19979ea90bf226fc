"""The HTML of the SSL Certificates pages: Jinja2 templates (``templates/``) rendered from the API's data.

The markup, styles and scripts live in the templates, so the pages' look changes without touching
Python; this module only chooses the template and its data. Autoescape is on for every ``.html``
template. No link is absolute: each page gets ``root`` (the relative path from the page to the
plugin's root, e.g. ``../../``) and ``airflow`` (to Airflow's root), so the pages work under any
``[api] base_url``, one with a path included, and inside the Airflow UI's frame. The data never holds
a private key (the API's data is built from job summaries only).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from urllib.parse import quote

from jinja2 import ChainableUndefined, Environment, PackageLoader, StrictUndefined, select_autoescape

from cloudfront_ssl.aws.acm import FAILED_STATUSES
from cloudfront_ssl.rules.messages import record_key
from cloudfront_ssl.vocabulary import CLOSING_STEPS, FAILED, SKIPPED, SUCCESS

FINAL_RUN_STATES = (SUCCESS, FAILED)
"""A job in one of these states has ended: its view stops following it."""
ERROR_CLASSES = re.compile(r"\b(?:[A-Z][A-Za-z]*(?:Error|Exception)): ")
"""A Python class name in front of an error (``JobInputError: ``): the reader wants the message."""
ITEM_INDEX = re.compile(r"certificates\[(\d+)\](?: \(line \d+\))?")
"""``certificates[2]``, 0-based, as the conf's errors name an item; the page says ``line 3``."""


def segment(value: str) -> str:
    """``value`` quoted as one URL path segment (a ``/`` in a run id stays inside the segment)."""
    return quote(str(value), safe="")


def job_href(dag_id: str, run_id: str, prefix: str = "") -> str:
    """The link to a job's view, relative to the plugin's root (``prefix`` goes in front)."""
    return f"{prefix}jobs/{segment(dag_id)}/{segment(run_id)}"


def status_class(status: str | None) -> str:
    """The CSS class of an ACM status: issued (green), pending (amber), failed (red) or other (grey)."""
    if status == "ISSUED":
        return "issued"
    if status == "PENDING_VALIDATION":
        return "pending"
    if status in FAILED_STATUSES:
        return "failed"
    return "other"


def readable_error(text: str | None) -> str:
    """An error as the page shows it: no Python class names, and certificates by their line (1-based,
    as the form's textarea counts them) rather than by their 0-based item."""
    if not text:
        return ""
    text = ERROR_CLASSES.sub("", text)
    return ITEM_INDEX.sub(lambda match: f"line {int(match.group(1)) + 1}", text)


def step_state_class(step: str, state: str | None, job_state: str | None) -> str:
    """The badge class of a step: ``expected`` (neutral grey) for a step skipped because the job does
    not need it, else its state.

    A skip is the job taking its branch, not a fault: the closing steps (``notify_failure``,
    ``cleanup_on_failure``) after a success, the tenant steps of a distribution job and the reverse,
    the Route 53 steps with Route 53 off. Only a closing step skipped in a failed job keeps its colour:
    the owners should have been told.
    """
    if state == SKIPPED and not (step in CLOSING_STEPS and job_state == FAILED):
        return "expected"
    return state or "none"


def is_closing_step(step: str) -> bool:
    """Whether ``step`` runs only when another step failed (``notify_failure``, ``cleanup_on_failure``)."""
    return step in CLOSING_STEPS


def relative_root(route_path: str) -> str:
    """The relative link from a page at ``route_path`` (inside the plugin, e.g. ``/jobs/d/r``) to the
    plugin's root: ``./`` for ``/`` and ``/jobs``, ``../../`` for ``/jobs/d/r``.

    ``route_path`` is the raw (still percent-encoded) path, so a ``/`` inside a run id is not counted.
    """
    depth = max(route_path.count("/") - 1, 0)
    return "../" * depth or "./"


def strict_templates() -> bool:
    """Whether a name a template uses but its data lacks is an error (the tests turn this on).

    In production an optional key of the API data that is absent renders as empty, so a page still
    shows; under test (``[ssl_certificates] strict_templates``) a misspelt name fails the render.
    """
    from airflow.configuration import conf

    return conf.getboolean("ssl_certificates", "strict_templates", fallback=False)


@cache
def environment() -> Environment:
    """The Jinja2 environment of the pages (templates packaged with ``cloudfront_ssl``)."""
    env = Environment(
        loader=PackageLoader("cloudfront_ssl.views", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined if strict_templates() else ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["segment"] = segment
    env.filters["readable_error"] = readable_error
    env.globals.update(
        job_path=job_href,
        status_class=status_class,
        step_state_class=step_state_class,
        is_closing_step=is_closing_step,
    )
    return env


def render(template: str, *, root: str = "./", **context: Any) -> str:
    """Render one page template; ``root`` is the relative path from the page to the plugin's root."""
    return environment().get_template(template).render(root=root, airflow=f"{root}../", **context)


FORM_FIELDS = (
    "certificates",
    "aggregate",
    "create_distributions",
    "source_distribution_id",
    "tags",
    "hosting",
    "multi_tenant_distribution_id",
    "connection_group_id",
    "certificate_source",
    "tenant_parameters",
)
"""Create-job conf keys that the New job page lays out itself; every other key is an option."""
FORM_LABELS = {
    "certificates": "Certificates",
    "aggregate": "Aggregate under wildcards",
    "create_distributions": "Create distributions",
    "source_distribution_id": "Source distribution",
    "tags": "Tags",
    "hosting": "Hosting",
    "multi_tenant_distribution_id": "Multi-tenant distribution",
    "connection_group_id": "Connection group id",
    "certificate_source": "Certificate source",
    "tenant_parameters": "Tenant parameters",
}
"""How the New job page names the fields it lays out itself, in the plan's problems."""
OPTION_KINDS = {"boolean": "boolean", "integer": "integer", "number": "number", "string": "string"}


def job_options(model: Any = None, form_fields: tuple[str, ...] = FORM_FIELDS) -> list[dict[str, Any]]:
    """The create job's options for the New job page, from its config model: one per conf key that the
    page does not lay out itself, in the trigger form's order, each with ``name``, ``title``,
    ``description``, ``section``, ``kind`` (boolean, integer, number or string), ``default``,
    ``nullable`` and ``minimum`` / ``exclusive_minimum``.

    A key added to the model (the Route 53 options, say) appears on the page with no change here.
    """
    from cloudfront_ssl.rules.config import CreateJobConfig

    model = model or CreateJobConfig
    properties = model.model_json_schema()["properties"]
    options = []
    for name in model.field_order():
        if name in form_fields:
            continue
        schema = dict(properties[name])
        types = [option.get("type") for option in schema.get("anyOf", [])] or [schema.get("type")]
        kind = next((OPTION_KINDS[t] for t in types if t in OPTION_KINDS), "string")
        options.append(
            {
                "name": name,
                "title": schema.get("title", name),
                "description": schema.get("description", ""),
                "section": schema.get("section") or "Options",
                "kind": kind,
                "default": schema.get("default"),
                "nullable": "null" in types,
                "minimum": schema.get("minimum"),
                "exclusive_minimum": schema.get("exclusiveMinimum"),
            }
        )
    return options


def certificates_page(
    entries: list[dict[str, Any]],
    *,
    cname: str = "",
    status: str = "",
    q: str = "",
    statuses: list[str] | None = None,
    error: str | None = None,
    may_start: bool = False,
    show_account: bool = False,
    root: str = "./",
) -> str:
    """The certificates table with the CNAME search form; each row links to the job that made it and
    names the distributions that serve it by their CNAME targets, and the distribution tenants that
    serve it (name, id, multi-tenant distribution). ``show_account``: an Account column (the connection
    and the account number), for a page listing several accounts."""
    return render(
        "certificates.html",
        root=root,
        title="SSL Certificates",
        entries=entries,
        cname=cname,
        status=status,
        q=q,
        statuses=statuses or [],
        error=error,
        may_start=may_start,
        show_account=show_account,
    )


def jobs_page(
    jobs: list[dict[str, Any]],
    *,
    state: str = "",
    name: str = "",
    dag_id: str = "",
    states: list[str] | None = None,
    dag_ids: list[str] | None = None,
    root: str = "./",
) -> str:
    """The jobs, newest first: names, state, start, counts, the error of a failed one; with filters."""
    return render(
        "jobs.html",
        root=root,
        title="SSL certificate jobs",
        jobs=jobs,
        state=state,
        name=name,
        dag_id=dag_id,
        states=states or [],
        dag_ids=dag_ids or [],
    )


def new_job_page(*, may_start: bool, connections: list[str] | None = None, root: str = "./") -> str:
    """The New job page: certificates one per line, the hosting (distributions copied from a source
    distribution, or tenants of a multi-tenant distribution), tags, options, the plan. ``connections``:
    the accounts the page reads (offered for ``aws_conn_id``; the distributions listed are the chosen
    account's)."""
    options = job_options()
    sections: dict[str, list[dict[str, Any]]] = {}
    for option in options:
        sections.setdefault(option["section"], []).append(option)
    labels = {**FORM_LABELS, **{option["name"]: option["title"] for option in options}}
    return render(
        "new_job.html",
        root=root,
        title="New certificate job",
        sections=sections,
        may_start=may_start,
        field_labels=labels,
        connections=connections or [],
    )


def held_as(records: list[dict[str, Any]], written: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The DNS records with ``held_as``: the record types Route 53 holds for a row in Route 53.

    A name the job pointed at its distribution is held as alias records (``A``, and ``AAAA`` with
    IPv6), not as the CNAME a DNS administrator would add by hand; the page says so.
    """
    aliases: dict[str, list[str]] = {}
    for record in written or []:
        if isinstance(record, dict) and record.get("alias_target") and record.get("name"):
            aliases.setdefault(record_key(str(record["name"])), []).append(str(record.get("type") or "A"))
    rows = []
    for record in records:
        types = aliases.get(record_key(record["name"])) if record.get("route53_zone") else None
        held = f"{' and '.join(sorted(set(types)))} alias" if types else record["type"]
        rows.append({**record, "held_as": held if record.get("route53_zone") else ""})
    return rows


UPDATE_FORM_FIELDS = ("distribution_id", "names", "tags", "route53_zone_ids")
"""Update-job conf keys the update page lays out itself (or leaves to the trigger form)."""


def update_site_page(distribution: dict[str, Any], *, may_start: bool, root: str = "./") -> str:
    """The page that starts ``ssl_update_site`` for one distribution: its names (the current ones to
    edit), the options, and the plan as the user types."""
    from cloudfront_ssl.rules.config import UpdateSiteConfig

    sections: dict[str, list[dict[str, Any]]] = {}
    for option in job_options(UpdateSiteConfig, UPDATE_FORM_FIELDS):
        sections.setdefault(option["section"], []).append(option)
    return render(
        "update_site.html",
        root=root,
        title=f"Change the names of {distribution['id']}",
        distribution=distribution,
        sections=sections,
        may_start=may_start,
    )


def job_page(job: dict[str, Any], *, root: str = "../../") -> str:
    """One job, followed as it runs: its steps in the DAG's order, the DNS records to add first and
    those Route 53 holds already apart (with copy buttons and exports), the certificates, the
    distributions and their CNAME targets, the error. The page's script asks the API for the job
    until it has ended (``final``)."""
    from cloudfront_ssl.rules.messages import as_held, dns_records, zone_file_lines

    summary = job.get("summary") or {}
    records = dns_records(
        summary.get("certificates"),
        summary.get("distributions"),
        job.get("route53_zones"),
        summary.get("tenants"),
    )
    rows = held_as(records, summary.get("dns_records"))
    return render(
        "job.html",
        root=root,
        title=f"Job {job['run_id']}",
        job=job,
        final=job.get("state") in FINAL_RUN_STATES,
        to_add=[row for row in rows if not row["route53_zone"]],
        in_route53=[row for row in rows if row["route53_zone"]],
        zone_lines=zone_file_lines(as_held(records, summary.get("dns_records"))) if records else "",
    )


def message_page(title: str, message: str, status_code: int, *, root: str = "./") -> str:
    """A short page for an error (401: sign in; 403: not allowed; 404: no such job)."""
    return render("message.html", root=root, title=title, message=message, status_code=status_code)
