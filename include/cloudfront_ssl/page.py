"""The HTML of the SSL Certificates pages: Jinja2 templates (``templates/``) rendered from the API's data.

The markup, styles and scripts live in the templates, so the pages' look changes without touching
Python; this module only chooses the template and its data. Autoescape is on for every ``.html``
template. No link is absolute: each page gets ``root`` (the relative path from the page to the
plugin's root, e.g. ``../../``) and ``airflow`` (to Airflow's root), so the pages work under any
``[api] base_url``, one with a path included, and inside the Airflow UI's frame. The data never holds
a private key (the API's data is built from job summaries only).
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import quote

from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape

from cloudfront_ssl.acm import FAILED_STATUSES


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


def relative_root(route_path: str) -> str:
    """The relative link from a page at ``route_path`` (inside the plugin, e.g. ``/jobs/d/r``) to the
    plugin's root: ``./`` for ``/`` and ``/jobs``, ``../../`` for ``/jobs/d/r``.

    ``route_path`` is the raw (still percent-encoded) path, so a ``/`` inside a run id is not counted.
    """
    depth = max(route_path.count("/") - 1, 0)
    return "../" * depth or "./"


@cache
def environment() -> Environment:
    """The Jinja2 environment of the pages (templates packaged with ``cloudfront_ssl``)."""
    env = Environment(
        loader=PackageLoader("cloudfront_ssl", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=ChainableUndefined,  # optional keys of the API data render as empty
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["segment"] = segment
    env.globals.update(job_path=job_href, status_class=status_class)
    return env


def render(template: str, *, root: str = "./", **context: Any) -> str:
    """Render one page template; ``root`` is the relative path from the page to the plugin's root."""
    return environment().get_template(template).render(root=root, airflow=f"{root}../", **context)


def certificates_page(
    entries: list[dict[str, Any]],
    *,
    cname: str = "",
    status: str = "",
    q: str = "",
    statuses: list[str] | None = None,
    error: str | None = None,
    root: str = "./",
) -> str:
    """The certificates table with the CNAME search form; each row links to the job that made it."""
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
    )


def jobs_page(jobs: list[dict[str, Any]], *, root: str = "./") -> str:
    """The list of jobs, newest first."""
    return render("jobs.html", root=root, title="SSL certificate jobs", jobs=jobs)


def job_page(job: dict[str, Any], *, root: str = "../../") -> str:
    """One job: its steps with their states, the validation records, the distributions, the error."""
    return render("job.html", root=root, title=f"Job {job['run_id']}", job=job)


def message_page(title: str, message: str, status_code: int, *, root: str = "./") -> str:
    """A short page for an error (401: sign in; 403: not allowed; 404: no such job)."""
    return render("message.html", root=root, title=title, message=message, status_code=status_code)
