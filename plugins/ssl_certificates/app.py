"""The FastAPI app of the SSL Certificates plugin: the page and the JSON API under ``api/``.

Every route needs a signed-in Airflow user (a JWT in the ``Authorization`` header, or the UI's
session cookie): the app-wide dependency on ``get_user`` answers 401 otherwise. Certificates come from
ACM and CloudFront through :class:`cloudfront_ssl.catalog.CertificateCatalog` (cached); jobs come from
Airflow's database.

Settings (Airflow config, section ``ssl_certificates``): ``aws_conn_id`` (default ``aws_default``)
and ``cache_seconds`` (default 60).
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

log = logging.getLogger(__name__)

URL_PREFIX = "/ssl-certificates"
ACM_STATUSES = [
    "ISSUED",
    "PENDING_VALIDATION",
    "FAILED",
    "VALIDATION_TIMED_OUT",
    "EXPIRED",
    "INACTIVE",
    "REVOKED",
]

app = FastAPI(
    title="SSL Certificates",
    description="ACM certificates for CloudFront and the jobs that make them.",
    dependencies=[Depends(get_user)],
)

_catalogs: dict[str, Any] = {}
_catalogs_lock = threading.Lock()


def certificate_catalog() -> Any:
    """The process's cached :class:`~cloudfront_ssl.catalog.CertificateCatalog` for the configured connection."""
    from airflow.configuration import conf

    from cloudfront_ssl.catalog import CertificateCatalog

    conn_id = conf.get("ssl_certificates", "aws_conn_id", fallback="aws_default")
    ttl = conf.getfloat("ssl_certificates", "cache_seconds", fallback=60.0)
    with _catalogs_lock:
        catalog = _catalogs.get(conn_id)
        if catalog is None or catalog.ttl_seconds != ttl:
            catalog = _catalogs[conn_id] = CertificateCatalog(conn_id, ttl_seconds=ttl)
        return catalog


def page_root(request: Request) -> str:
    """The relative link from the requested page to the plugin's root (see :func:`cloudfront_ssl.page.relative_root`).

    Computed from the raw path below the plugin's mount point, whatever ``[api] base_url`` puts in front.
    """
    from cloudfront_ssl.page import relative_root

    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1")
    mount = request.scope.get("root_path", "")
    if mount and path.startswith(mount):
        path = path[len(mount) :]
    return relative_root(path or "/")


class AwsUnavailable(Exception):
    """ACM or CloudFront could not be read."""


def _certificates() -> list[dict[str, Any]]:
    try:
        return certificate_catalog().certificates()
    except Exception as error:
        log.exception("Could not list the certificates")
        raise AwsUnavailable(f"Could not read ACM/CloudFront: {type(error).__name__}: {error}") from None


@app.exception_handler(HTTPException)
async def _http_error(request: Request, error: HTTPException) -> Any:
    # The API answers JSON; the pages answer a readable page with the same status.
    if "/api/" in request.url.path:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
    from cloudfront_ssl.page import message_page

    title = {401: "Sign in required", 403: "Not allowed", 404: "Not found"}.get(error.status_code, "Error")
    return HTMLResponse(
        message_page(title, str(error.detail), error.status_code, root=page_root(request)),
        status_code=error.status_code,
    )


@app.exception_handler(AwsUnavailable)
async def _aws_error(request: Request, error: AwsUnavailable) -> Any:
    return JSONResponse({"detail": str(error)}, status_code=502)


# --- JSON API -------------------------------------------------------------------------------------


@app.get("/api/certificates")
def api_certificates(
    cname: Annotated[
        str | None, Query(description="A name the certificate serves (exact or by wildcard)")
    ] = None,
    status: Annotated[str | None, Query(description="An ACM status, e.g. ISSUED")] = None,
    q: Annotated[str | None, Query(description="Text found in any of the certificate's names")] = None,
) -> dict[str, Any]:
    """The certificates in us-east-1 that match every given filter."""
    from cloudfront_ssl.catalog import filter_certificates

    found = filter_certificates(_certificates(), cname=cname, status=status, q=q)
    return {"certificates": found, "total_entries": len(found)}


@app.get("/api/jobs")
def api_jobs(
    session: SessionDep,
    dag_id: Annotated[
        str | None, Query(description="ssl_create_certificates or ssl_import_certificate")
    ] = None,
    state: Annotated[
        str | None, Query(description="A DAG run state: queued, running, success, failed")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The jobs (runs of the job DAGs), newest first."""
    from cloudfront_ssl.jobs import list_jobs

    found = list_jobs(session, dag_id=dag_id, state=state, limit=limit)
    return {"jobs": found, "total_entries": len(found)}


def _job(session: Any, dag_id: str, run_id: str) -> dict[str, Any]:
    from cloudfront_ssl.jobs import job_detail, with_current_status

    job = job_detail(session, dag_id, run_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"No job {run_id} of {dag_id}")
    try:
        job["summary"] = with_current_status(job["summary"], certificate_catalog().certificates())
    except Exception:  # the job's own record is still worth showing without AWS
        log.warning("Could not read the certificates' current status", exc_info=True)
    return job


@app.get("/api/jobs/{dag_id}/{run_id:path}")
def api_job(dag_id: str, run_id: str, session: SessionDep) -> dict[str, Any]:
    """One job: its state, steps, summary (spec section 7) as far as it got, and its error."""
    return _job(session, dag_id, run_id)


# --- pages ----------------------------------------------------------------------------------------


@app.get("/", response_class=HTMLResponse)
def certificates_page(request: Request, cname: str = "", status: str = "", q: str = "") -> HTMLResponse:
    """The certificates table with the CNAME search box."""
    from cloudfront_ssl.catalog import filter_certificates
    from cloudfront_ssl.page import certificates_page as render

    error = None
    try:
        entries = filter_certificates(_certificates(), cname=cname, status=status, q=q)
    except AwsUnavailable as problem:
        entries, error = [], str(problem)
    return HTMLResponse(
        render(
            entries,
            cname=cname,
            status=status,
            q=q,
            statuses=ACM_STATUSES,
            error=error,
            root=page_root(request),
        )
    )


@app.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, session: SessionDep) -> HTMLResponse:
    """The jobs, newest first."""
    from cloudfront_ssl.jobs import list_jobs
    from cloudfront_ssl.page import jobs_page as render

    return HTMLResponse(render(list_jobs(session), root=page_root(request)))


@app.get("/jobs/{dag_id}/{run_id:path}", response_class=HTMLResponse)
def job_page(request: Request, dag_id: str, run_id: str, session: SessionDep) -> HTMLResponse:
    """One job's steps, validation records, distributions and error."""
    from cloudfront_ssl.page import job_page as render

    return HTMLResponse(render(_job(session, dag_id, run_id), root=page_root(request)))
