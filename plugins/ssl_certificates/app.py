"""The FastAPI app of the SSL Certificates plugin: the pages and the JSON API under ``api/``.

Every route, the API's own ``docs``, ``redoc`` and ``openapi.json`` included, needs a signed-in Airflow
user (a JWT in the ``Authorization`` header, or the UI's session cookie): 401 otherwise. Access then
follows Airflow's auth manager, as Airflow's own API does for DAG runs:

- a user who may read the runs of neither job DAG (``ssl_create_certificates``, ``ssl_import_certificate``)
  gets 403 everywhere;
- a job, and the certificates it made, are shown only to a user who may read the runs of its DAG
  (a certificate that no job made is shown to every user who passes the first rule);
- *Start* (``POST api/jobs``) needs the permission to trigger ``ssl_create_certificates``, checked by
  Airflow's own ``requires_access_dag`` dependency; 403 otherwise.

Certificates come from ACM and CloudFront through :class:`cloudfront_ssl.views.catalog.CertificateCatalog`,
distributions through :class:`ssl_certificates.distributions.DistributionDirectory` (both cached); jobs
come from Airflow's database. Settings (Airflow config, section ``ssl_certificates``): ``aws_conn_id``
(default ``aws_default``: the New job page's distributions until the user picks another account),
``aws_conn_ids`` (comma-separated: the accounts whose certificates are listed, and whose distributions
``api/distributions`` may list; default the one ``aws_conn_id``) and ``cache_seconds`` (default 60).
A job view reads the job's resources through the job's own ``aws_conn_id``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from cloudfront_ssl.rules.config import register_trigger_checks
from cloudfront_ssl.vocabulary import CREATE_DAG_ID, JOB_DAG_IDS, RUN_STATES, UPDATE_DAG_ID

log = logging.getLogger(__name__)

# Airflow validates a triggered run's conf (POST /api/v2/dags/{dag_id}/dagRuns, its trigger form, and
# Start here) in this API server: with these checks its refusals name the line and the rule in words.
register_trigger_checks()

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
DISTRIBUTIONS_PAGE = 50


class JobAccess:
    """What the signed-in user may see and do, as Airflow's auth manager answers it (asked once per
    DAG per request)."""

    def __init__(self, user: Any, team_names: dict[str, str | None]) -> None:
        self.user = user
        self._team_names = team_names
        self._read: dict[str, bool] = {}

    def _allowed(self, method: str, dag_id: str) -> bool:
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

        return get_auth_manager().is_authorized_dag(
            method=method,  # type: ignore[arg-type]
            access_entity=DagAccessEntity.RUN,
            details=DagDetails(id=dag_id, team_name=self._team_names.get(dag_id)),
            user=self.user,
        )

    def may_read(self, dag_id: str) -> bool:
        """Whether the user may read the runs (jobs) of ``dag_id``."""
        if dag_id not in self._read:
            self._read[dag_id] = self._allowed("GET", dag_id)
        return self._read[dag_id]

    def readable(self, dag_ids: Iterable[str]) -> list[str]:
        """The DAGs of ``dag_ids`` whose runs the user may read."""
        return [dag_id for dag_id in dag_ids if self.may_read(dag_id)]

    def may_trigger(self, dag_id: str = CREATE_DAG_ID) -> bool:
        """Whether the user may start a run of ``dag_id``."""
        return self._allowed("POST", dag_id)


def require_access(user: GetUserDep, session: SessionDep) -> JobAccess:
    """The app-wide dependency: a signed-in user (401 otherwise) who may read some job DAG (403)."""
    from airflow.models.dag import DagModel

    access = JobAccess(user, DagModel.get_dag_id_to_team_name_mapping(list(JOB_DAG_IDS), session=session))
    if not access.readable(JOB_DAG_IDS):
        raise HTTPException(
            status_code=403,
            detail="You may not read the runs of the certificate jobs (ssl_create_certificates, "
            "ssl_import_certificate): ask an Airflow administrator for access to these DAGs.",
        )
    return access


AccessDep = Annotated[JobAccess, Depends(require_access)]

app = FastAPI(
    title="SSL Certificates",
    description="ACM certificates for CloudFront and the jobs that make them. Every endpoint needs a "
    "signed-in Airflow user with read access to the job DAGs; see docs/reference.md of the project.",
    dependencies=[Depends(require_access)],
    # Served below by routes of their own, so that they too need a signed-in user.
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)

_caches: dict[tuple[str, str], Any] = {}
_caches_lock = threading.Lock()
_catalogs = _caches
"""Kept under its former name: the tests clear it between emulator resets."""


def default_connection() -> str:
    """``[ssl_certificates] aws_conn_id``: the connection of the New job page's distributions."""
    from airflow.configuration import conf

    return conf.get("ssl_certificates", "aws_conn_id", fallback="aws_default") or "aws_default"


def listed_connections() -> list[str]:
    """The connections whose certificates the page lists: ``[ssl_certificates] aws_conn_ids``
    (comma-separated, each once, in order); without it, the one :func:`default_connection`."""
    from airflow.configuration import conf

    listed = conf.get("ssl_certificates", "aws_conn_ids", fallback="") or ""
    conn_ids = [part.strip() for part in listed.split(",") if part.strip()]
    return list(dict.fromkeys(conn_ids)) or [default_connection()]


def _cached(kind: str, factory: Any, conn_id: str | None = None) -> Any:
    from airflow.configuration import conf

    conn_id = conn_id or default_connection()
    ttl = conf.getfloat("ssl_certificates", "cache_seconds", fallback=60.0)
    with _caches_lock:
        cache = _caches.get((kind, conn_id))
        if cache is None or cache.ttl_seconds != ttl:
            cache = _caches[(kind, conn_id)] = factory(conn_id, ttl_seconds=ttl)
        return cache


def certificate_catalog(conn_id: str | None = None) -> Any:
    """The process's cached :class:`~cloudfront_ssl.views.catalog.CertificateCatalog` of a connection
    (default: the configured ``aws_conn_id``)."""
    from cloudfront_ssl.views.catalog import CertificateCatalog

    return _cached("certificates", CertificateCatalog, conn_id)


def distribution_directory(conn_id: str | None = None) -> Any:
    """The process's cached :class:`~ssl_certificates.distributions.DistributionDirectory` of a
    connection (default: the configured ``aws_conn_id``)."""
    from ssl_certificates.distributions import DistributionDirectory

    return _cached("distributions", DistributionDirectory, conn_id)


def page_root(request: Request) -> str:
    """The relative link from the requested page to the plugin's root (see :func:`cloudfront_ssl.views.page.relative_root`).

    Computed from the raw path below the plugin's mount point, whatever ``[api] base_url`` puts in front.
    """
    from cloudfront_ssl.views.page import relative_root

    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = raw.decode("latin-1")
    mount = request.scope.get("root_path", "")
    if mount and path.startswith(mount):
        path = path[len(mount) :]
    return relative_root(path or "/")


class AwsUnavailable(Exception):
    """ACM or CloudFront could not be read."""


def _read_aws(what: str, call: Any) -> Any:
    try:
        return call()
    except HTTPException:
        raise
    except Exception as error:
        log.exception("Could not read %s", what)
        raise AwsUnavailable(f"Could not read {what}: {type(error).__name__}: {error}") from None


@app.exception_handler(HTTPException)
async def _http_error(request: Request, error: HTTPException) -> Any:
    # The API answers JSON; the pages answer a readable page with the same status.
    if "/api/" in request.url.path or request.url.path.endswith("openapi.json"):
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
    from cloudfront_ssl.views.page import message_page

    title = {401: "Sign in required", 403: "Not allowed", 404: "Not found"}.get(error.status_code, "Error")
    return HTMLResponse(
        message_page(title, str(error.detail), error.status_code, root=page_root(request)),
        status_code=error.status_code,
    )


@app.exception_handler(AwsUnavailable)
async def _aws_error(request: Request, error: AwsUnavailable) -> Any:
    return JSONResponse({"detail": str(error)}, status_code=502)


# --- the API's own documentation, behind the same sign-in ----------------------------------------


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> JSONResponse:
    """The OpenAPI schema of this API."""
    return JSONResponse(app.openapi())


DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
"""Swagger UI's and ReDoc's files, served from the ``fastapi-offline`` package (no CDN: many
deployments have no internet access)."""


@app.get("/docs", include_in_schema=False)
def swagger_ui() -> HTMLResponse:
    """Swagger UI for this API (relative links to the schema and the assets: works under any base URL)."""
    return get_swagger_ui_html(
        openapi_url="openapi.json",
        title="SSL Certificates API",
        swagger_js_url="docs/assets/swagger-ui-bundle.js",
        swagger_css_url="docs/assets/swagger-ui.css",
        swagger_favicon_url="docs/assets/favicon.png",
    )


@app.get("/redoc", include_in_schema=False)
def redoc() -> HTMLResponse:
    """ReDoc for this API (no web fonts: they too would come from the internet)."""
    return get_redoc_html(
        openapi_url="openapi.json",
        title="SSL Certificates API",
        redoc_js_url="docs/assets/redoc.standalone.js",
        redoc_favicon_url="docs/assets/favicon.png",
        with_google_fonts=False,
    )


@app.get("/docs/assets/{name}", include_in_schema=False)
def docs_asset(name: str) -> Response:
    """One of Swagger UI's or ReDoc's files (:data:`DOCS_ASSETS`), from the installed package."""
    from importlib.resources import files

    if name not in DOCS_ASSETS:
        raise HTTPException(status_code=404, detail=f"No asset {name}")
    body = (files("fastapi_offline") / "static" / name).read_bytes()
    return Response(body, media_type=DOCS_ASSETS[name], headers={"Cache-Control": "private, max-age=86400"})


# --- data shared by the API and the pages ---------------------------------------------------------


def _account_certificates(conn_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One account's certificates, each with ``used_by`` (the distributions that serve it, with their
    CNAME targets, then the distribution tenants, with their multi-tenant distribution's), and the account: ``{"conn_id", "id", "error"}``. A failure to read the account is
    its ``error``, with no certificates."""
    catalog = certificate_catalog(conn_id)
    try:
        entries = catalog.certificates()
        account = {**catalog.account(), "error": None}
    except Exception as error:
        log.warning("Could not read the certificates of connection %s", conn_id, exc_info=True)
        return [], {"conn_id": conn_id, "id": None, "error": f"{type(error).__name__}: {error}"}
    try:
        by_id = {entry["id"]: entry for entry in distribution_directory(conn_id).distributions()}
    except Exception:  # the certificates are still worth showing with bare ids
        log.warning("Could not list the distributions of connection %s", conn_id, exc_info=True)
        by_id = {}
    for entry in entries:
        tenants = entry.get("tenants") or []
        tenant_ids = {tenant["id"] for tenant in tenants}
        entry["used_by"] = [
            {
                "kind": "distribution",
                "id": dist_id,
                "domain_name": (by_id.get(dist_id) or {}).get("domain_name"),
            }
            for dist_id in entry.get("in_use_by") or []
            if dist_id not in tenant_ids
        ] + [
            {
                "kind": "tenant",
                **tenant,
                "domain_name": (by_id.get(tenant["distribution_id"]) or {}).get("domain_name"),
            }
            for tenant in tenants
        ]
    return entries, account


def _visible_certificates(access: JobAccess) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The certificates of every listed account that the user may see, and the accounts (each with
    its ``error`` when it could not be read). Raises :class:`AwsUnavailable` only when no account
    could be read: one account's bad credentials do not hide the others."""
    from cloudfront_ssl.views.catalog import sort_key

    entries: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    for conn_id in listed_connections():
        found, account = _account_certificates(conn_id)
        entries += found
        accounts.append(account)
    if all(account["error"] for account in accounts):
        detail = "; ".join(f"{account['conn_id']}: {account['error']}" for account in accounts)
        raise AwsUnavailable(f"Could not read ACM/CloudFront ({detail})")
    visible = [entry for entry in entries if not entry.get("job") or access.may_read(entry["job"]["dag_id"])]
    return sorted(visible, key=sort_key), accounts


def unread_accounts_note(accounts: list[dict[str, Any]]) -> str | None:
    """A sentence naming the accounts that could not be read, for the page; None when all were read."""
    failed = [account for account in accounts if account.get("error")]
    if not failed:
        return None
    listed = "; ".join(f"connection {account['conn_id']}: {account['error']}" for account in failed)
    return f"Could not read the certificates of {len(failed)} of {len(accounts)} accounts ({listed}); the other accounts' certificates are shown."


def _job(session: Any, access: JobAccess, dag_id: str, run_id: str) -> dict[str, Any]:
    from cloudfront_ssl.views.jobs import job_detail, with_current_status

    if dag_id not in JOB_DAG_IDS:
        raise HTTPException(status_code=404, detail=f"{dag_id} is not a certificate job DAG")
    if not access.may_read(dag_id):
        raise HTTPException(status_code=403, detail=f"You may not read the runs of {dag_id}")
    job = job_detail(session, dag_id, run_id)
    if job is None:
        raise HTTPException(status_code=404, detail=f"No job {run_id} of {dag_id}")
    try:
        statuses = _current_statuses(job["summary"], job["aws_conn_id"])
        job["summary"] = with_current_status(job["summary"], statuses)
    except Exception:  # the job's own record is still worth showing without AWS
        log.warning("Could not read the certificates' current status", exc_info=True)
    return job


def _current_statuses(summary: dict[str, Any], conn_id: str) -> dict[str, str]:
    """ACM's status now of the job's own certificates, read through the connection the job ran with
    (its certificates live in that account): one sweep, not the account's whole catalog."""
    from cloudfront_ssl.aws.acm import acm_hook
    from cloudfront_ssl.aws.acm_status import current_statuses

    arns = [certificate["arn"] for certificate in summary.get("certificates", []) if certificate.get("arn")]
    if not arns:
        return {}
    return current_statuses(acm_hook(conn_id).conn, arns)


def _jobs(
    session: Any, access: JobAccess, dag_id: str | None, state: str | None, name: str | None, limit: int
) -> list[dict[str, Any]]:
    from cloudfront_ssl.views.jobs import list_jobs

    return list_jobs(
        session, dag_ids=access.readable(JOB_DAG_IDS), dag_id=dag_id, state=state, name=name, limit=limit
    )


def _require_connection(conn_id: str) -> None:
    """The check step's "the connection exists" test, where this API server can answer it."""
    from cloudfront_ssl.aws.connections import require_connection
    from cloudfront_ssl.errors import JobInputError

    try:
        require_connection(conn_id)
    except JobInputError:
        raise
    except Exception:  # this server cannot look connections up: the job's check step still does
        log.warning("Could not look up connection %s for the plan", conn_id, exc_info=True)


def _plan(conf: dict[str, Any], session: Any) -> dict[str, Any]:
    """The create job's own planning (its check step's), as a dry run: other running jobs' claims on
    the names count, nothing is claimed or created."""
    from cloudfront_ssl.steps.claims import DatabaseClaims
    from cloudfront_ssl.steps.plan import plan_create_job

    if _is_update(conf):
        from cloudfront_ssl.steps.update_site import plan_update_site

        return _read_aws(
            "ACM/CloudFront for the plan",
            lambda: plan_update_site(
                conf,
                dag_id=UPDATE_DAG_ID,
                claims=DatabaseClaims(session),
                require_connection=_require_connection,
            ),
        )
    return _read_aws(
        "ACM/CloudFront for the plan",
        lambda: plan_create_job(
            conf,
            dag_id=CREATE_DAG_ID,
            claims=DatabaseClaims(session),
            require_connection=_require_connection,
        ),
    )


def _is_update(conf: dict[str, Any]) -> bool:
    """An ``ssl_update_site`` conf (it names the distribution or tenant it changes) rather than a create job's."""
    return "distribution_id" in conf or "tenant_id" in conf


def _distributions(
    q: str | None, conn_id: str | None = None, multi_tenant: bool | None = None
) -> list[dict[str, Any]]:
    from ssl_certificates.distributions import matches

    found = _read_aws("the CloudFront distributions", lambda: distribution_directory(conn_id).distributions())
    return [
        entry
        for entry in found
        if matches(entry, q or "") and (multi_tenant is None or entry["multi_tenant"] == multi_tenant)
    ]


def _known_connection(conn_id: str | None) -> str:
    """``conn_id`` when the page may read it (``[ssl_certificates] aws_conn_ids`` or ``aws_conn_id``);
    the default connection when none is given; 422 naming the field otherwise."""
    if not conn_id:
        return default_connection()
    known = list(dict.fromkeys([*listed_connections(), default_connection()]))
    if conn_id not in known:
        raise HTTPException(
            status_code=422,
            detail=f"aws_conn_id: {conn_id} is not an account this page reads; the configured ones "
            f"([ssl_certificates] aws_conn_ids, aws_conn_id) are {', '.join(known)}",
        )
    return conn_id


# --- JSON API -------------------------------------------------------------------------------------


@app.get("/api/certificates")
def api_certificates(
    access: AccessDep,
    cname: Annotated[
        str | None, Query(description="A name the certificate serves (exact or by wildcard)")
    ] = None,
    status: Annotated[str | None, Query(description="An ACM status, e.g. ISSUED")] = None,
    q: Annotated[str | None, Query(description="Text found in any of the certificate's names")] = None,
) -> dict[str, Any]:
    """The certificates in us-east-1 of every listed account that match every given filter and that the
    user may see, each with its ``account``; ``accounts`` lists the accounts read, each with its
    ``error`` when it could not be read."""
    from cloudfront_ssl.views.catalog import filter_certificates

    entries, accounts = _visible_certificates(access)
    found = filter_certificates(entries, cname=cname, status=status, q=q)
    return {"certificates": found, "total_entries": len(found), "accounts": accounts}


@app.get("/api/distributions")
def api_distributions(
    q: Annotated[
        str | None, Query(description="Text in the id, domain name, an alias or the comment")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = DISTRIBUTIONS_PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
    aws_conn_id: Annotated[
        str | None,
        Query(
            description="The account's connection: one of [ssl_certificates] aws_conn_ids (default aws_conn_id)"
        ),
    ] = None,
    multi_tenant: Annotated[
        bool | None,
        Query(
            description="true: only multi-tenant distributions (tenants' templates); false: only the others"
        ),
    ] = None,
) -> dict[str, Any]:
    """An account's CloudFront distributions (the sources a new job can copy, the multi-tenant ones its
    tenants can use), by domain name, a page at a time: ``id``, ``domain_name``, ``aliases``,
    ``comment``, ``status``, ``enabled``, ``multi_tenant``. 422 for a connection not configured."""
    found = _distributions(q, _known_connection(aws_conn_id), multi_tenant)
    return {"distributions": found[offset : offset + limit], "total_entries": len(found)}


@app.get("/api/jobs")
def api_jobs(
    session: SessionDep,
    access: AccessDep,
    dag_id: Annotated[
        str | None, Query(description="ssl_create_certificates or ssl_import_certificate")
    ] = None,
    state: Annotated[
        str | None, Query(description="A DAG run state: queued, running, success, failed")
    ] = None,
    name: Annotated[
        str | None, Query(description="Text in one of the names the job was started with")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The jobs (runs of the job DAGs the user may read), newest first, with their first names, counts
    of certificates and distributions, and the error of a failed one."""
    found = _jobs(session, access, dag_id, state, name, limit)
    return {"jobs": found, "total_entries": len(found)}


@app.post(
    "/api/jobs",
    dependencies=[
        Depends(
            requires_access_dag(method="POST", access_entity=DagAccessEntity.RUN, param_dag_id=CREATE_DAG_ID)
        )
    ],
    responses={
        403: {"description": "The user may not trigger ssl_create_certificates"},
        422: {"description": "The conf is refused: the body is the plan with every error"},
    },
)
def api_start_job(
    request: Request,
    session: SessionDep,
    user: GetUserDep,
    access: AccessDep,
    conf: Annotated[dict[str, Any], Body(description="A create-job conf, as for the plan")],
) -> Any:
    """Start a create job (``ssl_create_certificates``) as the signed-in user, once its plan is valid.

    The run is created through Airflow's own trigger endpoint code (its permission check, params
    validation and run bookkeeping). When the DAG is paused and the user may edit it, it is unpaused,
    as Airflow's trigger form does. Answers ``dag_id``, ``run_id``, ``state``, ``paused`` and ``href``
    (the job view, relative to the plugin's root); 422 with the plan when the conf is refused.
    """
    from cloudfront_ssl.views.page import job_href

    plan = _plan(conf, session)
    if not plan["valid"]:
        return JSONResponse(plan, status_code=422)
    run = _trigger(request, session, user, _without_blank_lines(conf))
    return {**run, "href": job_href(run["dag_id"], run["run_id"])}


def _without_blank_lines(conf: dict[str, Any]) -> dict[str, Any]:
    """The conf without blank ``certificates`` lines (a pasted list often ends with a newline)."""
    items = conf.get("certificates")
    if isinstance(items, list):
        conf = {**conf, "certificates": [i for i in items if not (isinstance(i, str) and not i.strip())]}
    return conf


def _trigger(
    request: Request, session: Any, user: Any, conf: dict[str, Any], dag_id: str = CREATE_DAG_ID
) -> dict[str, Any]:
    """Create the run with Airflow's own trigger endpoint code, as ``user``; unpause the DAG if allowed."""
    from airflow.api_fastapi.common.dagbag import create_dag_bag
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
    from airflow.api_fastapi.core_api.routes.public.dag_run import trigger_dag_run
    from airflow.models.dag import DagModel
    from sqlalchemy import select

    # The route function returns the DagRun row (FastAPI turns it into DAGRunResponse for HTTP).
    run: Any = trigger_dag_run(
        dag_id=dag_id,
        body=TriggerDAGRunPostBody(logical_date=None, conf=conf),
        dag_bag=create_dag_bag(),
        user=user,
        session=session,
        request=request,
    )
    dag = session.scalar(select(DagModel).where(DagModel.dag_id == dag_id))
    paused = bool(dag and dag.is_paused)
    if paused and _may_edit(user, dag_id):
        dag.is_paused = False
        paused = False
    session.commit()
    return {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "state": str(getattr(run.state, "value", run.state)),
        "paused": paused,
    }


def _may_edit(user: Any, dag_id: str = CREATE_DAG_ID) -> bool:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return get_auth_manager().is_authorized_dag(method="PUT", details=DagDetails(id=dag_id), user=user)


@app.post(
    "/api/sites",
    dependencies=[
        Depends(
            requires_access_dag(method="POST", access_entity=DagAccessEntity.RUN, param_dag_id=UPDATE_DAG_ID)
        )
    ],
    responses={
        403: {"description": "The user may not trigger ssl_update_site"},
        422: {"description": "The conf is refused: the body is the plan with every error"},
    },
)
def api_start_update(
    request: Request,
    session: SessionDep,
    user: GetUserDep,
    access: AccessDep,
    conf: Annotated[dict[str, Any], Body(description="An ssl_update_site conf, as for the plan")],
) -> Any:
    """Start ``ssl_update_site`` as the signed-in user, once its plan is valid; answers as ``POST jobs``."""
    from cloudfront_ssl.views.page import job_href

    plan = _plan({**conf, "distribution_id": conf.get("distribution_id")}, session)
    if not plan["valid"]:
        return JSONResponse(plan, status_code=422)
    run = _trigger(request, session, user, conf, UPDATE_DAG_ID)
    return {**run, "href": job_href(run["dag_id"], run["run_id"])}


@app.post(
    "/api/plan",
    responses={422: {"description": "The conf is refused: every error, each with its field and line"}},
)
def api_plan(
    session: SessionDep,
    access: AccessDep,
    conf: Annotated[
        dict[str, Any], Body(description="A create-job conf (the keys of ssl_create_certificates)")
    ],
) -> Any:
    """The dry run of a create job: the same validation and planning as its ``check`` step, changing
    nothing. 200 with the plan when the conf is valid, 422 with the same body (every error) otherwise.
    A conf with ``distribution_id`` is an update's (``ssl_update_site``), planned by its own check."""
    dag_id = UPDATE_DAG_ID if _is_update(conf) else CREATE_DAG_ID
    if not access.may_read(dag_id):
        raise HTTPException(status_code=403, detail=f"You may not read the runs of {dag_id}")
    plan = _plan(conf, session)
    return JSONResponse(plan, status_code=200 if plan["valid"] else 422)


@app.get("/api/jobs/{dag_id}/{run_id:path}/records")
def api_job_records(
    dag_id: str,
    run_id: str,
    session: SessionDep,
    access: AccessDep,
    format: Annotated[str, Query(pattern="^(csv|zone|json)$", description="csv, zone or json")] = "csv",
) -> Response:
    """The job's DNS records for a DNS administrator: validation records and CNAME targets, as CSV,
    zone-file lines or JSON. ``route53_zone`` names the hosted zone of a record Route 53 holds
    already (nothing to add); zone-file lines show those commented out. A name Route 53 holds as alias
    records is typed ``A (alias)`` / ``AAAA (alias)`` (a comment in a zone file, which cannot hold one)."""
    from cloudfront_ssl.rules.messages import as_held, dns_records, records_csv, zone_file_lines

    job = _job(session, access, dag_id, run_id)
    summary = job["summary"]
    rows = as_held(
        dns_records(
            summary.get("certificates"),
            summary.get("distributions"),
            job.get("route53_zones"),
            summary.get("tenants"),
        ),
        summary.get("dns_records"),
    )
    if format == "json":
        return JSONResponse({"records": rows})
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    if format == "zone":
        return PlainTextResponse(
            zone_file_lines(rows), headers={"Content-Disposition": f'attachment; filename="{stem}.zone"'}
        )
    return Response(
        records_csv(rows),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
    )


@app.get("/api/jobs/{dag_id}/{run_id:path}")
def api_job(dag_id: str, run_id: str, session: SessionDep, access: AccessDep) -> dict[str, Any]:
    """One job: its state, steps, summary as far as it got, and its error."""
    return _job(session, access, dag_id, run_id)


# --- pages ----------------------------------------------------------------------------------------


@app.get("/", response_class=HTMLResponse)
def certificates_page(
    request: Request, access: AccessDep, cname: str = "", status: str = "", q: str = ""
) -> HTMLResponse:
    """The certificates table with the CNAME search box."""
    from cloudfront_ssl.views.catalog import filter_certificates
    from cloudfront_ssl.views.page import certificates_page as render

    error = None
    try:
        found, accounts = _visible_certificates(access)
        entries = filter_certificates(found, cname=cname, status=status, q=q)
        error = unread_accounts_note(accounts)
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
            may_start=access.may_trigger(),
            show_account=len(listed_connections()) > 1,
            root=page_root(request),
        )
    )


@app.get("/jobs", response_class=HTMLResponse)
def jobs_page(
    request: Request,
    session: SessionDep,
    access: AccessDep,
    state: str = "",
    name: str = "",
    dag_id: str = "",
) -> HTMLResponse:
    """The jobs, newest first, with a filter by state, name and DAG."""
    from cloudfront_ssl.views.page import jobs_page as render

    jobs = _jobs(session, access, dag_id or None, state or None, name or None, 200)
    return HTMLResponse(
        render(
            jobs,
            state=state,
            name=name,
            dag_id=dag_id,
            states=list(RUN_STATES),
            dag_ids=access.readable(JOB_DAG_IDS),
            root=page_root(request),
        )
    )


@app.get("/new", response_class=HTMLResponse)
def new_job_page(request: Request, access: AccessDep, distribution_id: str = "") -> HTMLResponse:
    """The New job page: the create job's conf as a form, its plan as the user types, and *Start*.

    With ``distribution_id`` (a link from a distribution on the certificates page): the update of
    that distribution's names instead, its current names filled in.
    """
    from cloudfront_ssl.views.page import new_job_page as render

    if distribution_id:
        from cloudfront_ssl.views.page import update_site_page

        found = [entry for entry in _distributions(distribution_id) if entry.get("id") == distribution_id]
        if not found:
            raise HTTPException(status_code=404, detail=f"No distribution {distribution_id} in the account")
        return HTMLResponse(
            update_site_page(found[0], may_start=access.may_trigger(UPDATE_DAG_ID), root=page_root(request))
        )
    return HTMLResponse(
        render(may_start=access.may_trigger(), connections=listed_connections(), root=page_root(request))
    )


@app.get("/jobs/{dag_id}/{run_id:path}", response_class=HTMLResponse)
def job_page(
    request: Request, dag_id: str, run_id: str, session: SessionDep, access: AccessDep
) -> HTMLResponse:
    """One job's steps, validation records, distributions and error."""
    from cloudfront_ssl.views.page import job_page as render

    return HTMLResponse(render(_job(session, access, dag_id, run_id), root=page_root(request)))


# --- the Fleet page and its API (routes of their own: ssl_certificates.fleet) -------------------------


def _add_fleet_routes() -> None:
    from ssl_certificates.fleet import add_routes

    add_routes(app, AccessDep, SessionDep, page_root)


_add_fleet_routes()
