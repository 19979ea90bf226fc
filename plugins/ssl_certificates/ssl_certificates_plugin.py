"""Registers the SSL Certificates page and API with Airflow (an ``AirflowPlugin``).

The FastAPI app is mounted by the API server at ``/ssl-certificates``; the UI's navigation gets an
entry "SSL Certificates" that shows the page inside Airflow. Only light imports here: the page's
logic is imported when a request needs it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ssl_certificates.app import URL_PREFIX, app


class SslCertificatesPlugin(AirflowPlugin):
    """The certificates page (in the navigation) and its JSON API."""

    name = "ssl_certificates"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "SSL Certificates"}]
    external_views = [
        {
            "name": "SSL Certificates",
            # Relative to Airflow's base URL; with url_route the UI shows the page in its own frame.
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "url_route": "ssl-certificates",
            "category": "browse",
        }
    ]
