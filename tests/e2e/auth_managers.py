"""An auth manager for the permission tests: Airflow's SimpleAuthManager, except that some users may
use only some DAGs, as a site's own auth manager (or FAB/Keycloak roles per DAG) would decide.

Configured in a real ``airflow api-server`` with
``AIRFLOW__CORE__AUTH_MANAGER=tests.e2e.auth_managers.SomeDagsAuthManager``.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

ONLY_DAGS = {
    "webteam": {"ssl_create_certificates"},
    "importer": {"ssl_import_certificate"},
}
"""User name → the only DAGs that user may read or run; every other user is as SimpleAuthManager says."""


class SomeDagsAuthManager(SimpleAuthManager):
    """SimpleAuthManager, with the DAGs of the users in :data:`ONLY_DAGS` limited to their set."""

    def is_authorized_dag(
        self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        """Refuse every DAG outside the user's set (a request without a DAG id: as SimpleAuthManager)."""
        allowed = ONLY_DAGS.get(user.username)
        if allowed is not None and details is not None and details.id and details.id not in allowed:
            return False
        return super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )
