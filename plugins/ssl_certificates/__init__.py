"""The SSL Certificates page and JSON API, served by the Airflow API server (spec section 9).

``ssl_certificates_plugin.py`` registers the plugin; ``app.py`` is the FastAPI app. The logic lives in
the ``cloudfront_ssl`` package (``catalog``, ``jobs``, ``page``).
"""
