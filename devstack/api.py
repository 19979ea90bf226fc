"""The Airflow REST API as a user's script drives it: a JWT from ``POST /auth/token``, then ``/api/v2``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from devstack.processes import StackFailure

TERMINAL_STATES = {"success", "failed"}


def run_path(dag_id: str, run_id: str) -> str:
    """The API path of a DAG run; generated run ids hold ':' and '+', so they are quoted."""
    return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"


@dataclass
class AirflowApi:
    """One Airflow API server, signed in once with :meth:`sign_in`."""

    url: str
    token: str = ""
    timeout: float = 30

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def health(self) -> dict[str, Any] | None:
        """The health report, or None while the API server is not answering."""
        try:
            response = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5)
            return response.json() if response.ok else None
        except requests.RequestException:
            return None

    def sign_in(self, username: str, password: str) -> None:
        """Get a JWT for the user."""
        response = requests.post(
            f"{self.url}/auth/token", json={"username": username, "password": password}, timeout=self.timeout
        )
        if response.status_code not in (200, 201):
            raise StackFailure(
                "sign in", f"POST /auth/token gave HTTP {response.status_code}: {response.text}"
            )
        self.token = response.json()["access_token"]

    def request(self, method: str, path: str, prefix: str = "/api/v2", **kwargs: Any) -> requests.Response:
        """One authenticated call to ``prefix + path`` (``prefix=""`` for a plugin's own API)."""
        kwargs.setdefault("timeout", self.timeout)
        return requests.request(method, f"{self.url}{prefix}{path}", headers=self._headers(), **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        """GET a resource as JSON; raise on an error status."""
        response = self.request("GET", path, params=params)
        response.raise_for_status()
        return response.json()

    def dag_exists(self, dag_id: str) -> bool:
        """Whether the DAG processor has parsed the DAG and the API knows it."""
        return self.request("GET", f"/dags/{dag_id}").status_code == 200

    def import_errors(self, file_name: str) -> list[str]:
        """The import errors of a DAG file, if it failed to parse."""
        errors = self.get("/importErrors", limit=100).get("import_errors", [])
        return [error["stack_trace"] for error in errors if error.get("filename", "").endswith(file_name)]

    def dag_loaded(self, dag_id: str) -> bool | None:
        """True once the DAG is known; :class:`StackFailure` with the traceback if its file fails to import."""
        if self.dag_exists(dag_id):
            return True
        errors = self.import_errors(f"{dag_id}.py")
        if errors:
            raise StackFailure(f"load {dag_id}", f"{dag_id}.py does not import:\n{errors[0]}")
        return None

    def unpause(self, dag_id: str) -> None:
        """Unpause a DAG: runs of a paused DAG are queued but never start."""
        response = self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        if not response.ok:
            raise StackFailure(f"unpause {dag_id}", f"HTTP {response.status_code}: {response.text}")

    def trigger(self, dag_id: str, conf: dict[str, Any], run_id: str | None = None) -> str:
        """Start a job; return its run id. A conf that breaks the DAG's params is refused with HTTP 400."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf}
        if run_id:
            body["dag_run_id"] = run_id
        response = self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)
        if not response.ok:
            raise StackFailure(f"trigger {dag_id}", f"HTTP {response.status_code}: {response.text}")
        return response.json()["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        """A run's state: queued, running, success or failed."""
        return self.get(run_path(dag_id, run_id))["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of a run, mapped ones included."""
        return self.get(f"{run_path(dag_id, run_id)}/taskInstances", limit=1000)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        """A task's return value, or None when it has none."""
        response = self.request(
            "GET",
            f"{run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/return_value",
            params={"map_index": map_index},
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        value = response.json().get("value")
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def summary(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        """A job's result: the return value of its ``summary`` task."""
        value = self.xcom(dag_id, run_id, "summary")
        return value if isinstance(value, dict) and "certificates" in value else None

    def task_log(self, dag_id: str, run_id: str, ti: dict[str, Any], lines: int = 15) -> str:
        """The last lines of a task instance's log (its latest try), indented."""
        path = f"{run_path(dag_id, run_id)}/taskInstances/{ti['task_id']}/logs/{ti.get('try_number') or 1}"
        response = self.request("GET", path, params={"map_index": ti.get("map_index", -1)})
        if not response.ok:
            return f"(log not available: HTTP {response.status_code})"
        content = response.json().get("content", [])
        text = content.splitlines() if isinstance(content, str) else [_log_line(entry) for entry in content]
        return "\n".join("      " + line for line in text[-lines:])


def _log_line(entry: Any) -> str:
    if not isinstance(entry, dict):
        return str(entry)
    event = str(entry.get("event", ""))
    level = entry.get("level")
    line = f"{level.upper()}: {event}" if level else event
    detail = entry.get("error_detail")
    if isinstance(detail, list) and detail:
        line += f"\n{detail[-1].get('exc_type')}: {detail[-1].get('exc_value')}"
    return line
