"""The Fleet page (``/ssl-certificates/fleet``) and its JSON (``GET /ssl-certificates/api/fleet``).

Both show what the last runs of ``ssl_fleet`` planned and did: each site of the fleet file with its
state (``in_step``, ``to_change``, ``failed``, ``drift``), its line of the last plan and its reasons,
and links to its jobs. They read the runs of ``ssl_fleet`` from Airflow's database, so besides the
app's own rule (a signed-in user who may read a job DAG) they need Airflow's permission to read the
runs of ``ssl_fleet``: 403 otherwise. The data comes from :mod:`cloudfront_ssl.views.fleet`.

The routes are added to the plugin's app by :func:`add_routes`, called once from ``app.py``.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations, which name the
# dependencies handed to add_routes, when the routes are defined.
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from cloudfront_ssl.vocabulary import FLEET_DAG_ID


def _overview(session: Any, access: Any) -> dict[str, Any]:
    from cloudfront_ssl.views.fleet import fleet_overview

    if not access.may_read(FLEET_DAG_ID):
        raise HTTPException(
            status_code=403,
            detail=f"You may not read the runs of {FLEET_DAG_ID}: ask an Airflow administrator for "
            "access to this DAG.",
        )
    overview = fleet_overview(session)
    for site in overview["sites"]:
        for job in site["jobs"]:
            # A job of a DAG the user may not read is named, not linked.
            job["readable"] = access.may_read(job["dag_id"]) if job.get("job_view") else True
    return overview


def add_routes(app: FastAPI, access_dep: Any, session_dep: Any, page_root: Any) -> None:
    """Add the Fleet page and its API to the plugin's ``app`` (``access_dep``: the app's access
    dependency; ``session_dep``: Airflow's session dependency; ``page_root``: the page's relative root)."""

    @app.get("/api/fleet")
    def api_fleet(session: session_dep, access: access_dep) -> dict[str, Any]:
        """The fleet as the last ``ssl_fleet`` runs left it: ``settings``, ``runs`` (newest first),
        ``last_run``, ``last_plan``, ``sites`` (each with ``state``: in_step, to_change, failed or
        drift, its plan line and reasons, and its jobs) and ``counts`` of sites per state."""
        return _overview(session, access)

    @app.get("/fleet", response_class=HTMLResponse)
    def fleet_page(request: Request, session: session_dep, access: access_dep) -> HTMLResponse:
        """Each site of the fleet file, its state, the last plan and links to its jobs."""
        from cloudfront_ssl.views.page import render

        overview = _overview(session, access)
        return HTMLResponse(
            render(
                "fleet.html",
                root=page_root(request),
                title="Fleet",
                overview=overview,
                fleet_dag_id=FLEET_DAG_ID,
            )
        )
