"""How the claims read Airflow's answers, without a run."""

from __future__ import annotations

import httpx


def _server_error(status: int, detail: dict) -> Exception:
    from airflow.sdk.api.client import ServerResponseError

    request = httpx.Request("GET", "http://in-process/execution/dag-runs/a_dag/a_run")
    error = ServerResponseError.from_response(httpx.Response(status, json={"detail": detail}, request=request))
    assert error is not None
    return error


def test_a_run_the_api_does_not_find_is_not_found_whatever_the_client_raises():
    """A run listed a moment ago and gone since (or a task instance left without its run) is skipped
    as ended, not taken for an unreadable store: the in-process API client raises ServerResponseError."""
    from cloudfront_ssl.steps.claims import _is_not_found

    gone = {"reason": "not_found", "message": "Dag run with dag_id 'a_dag' and run_id 'a_run' was not found"}
    assert _is_not_found(_server_error(404, gone))
    assert not _is_not_found(_server_error(500, {"reason": "error", "message": "database is locked"}))
    assert not _is_not_found(_server_error(409, {"reason": "conflict", "message": "busy"}))
