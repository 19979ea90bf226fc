"""The SSL Certificates pages and JSON API, served by the Airflow API server (see docs/reference.md).

``ssl_certificates_plugin.py`` registers the plugin; ``app.py`` is the FastAPI app. The logic lives in
the ``cloudfront_ssl`` package (``catalog``, ``jobs``, ``page``).
"""
