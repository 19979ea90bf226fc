"""Count the AWS calls one view of the SSL Certificates page costs, against moto in server mode.

Starts moto on 127.0.0.1 (in this process), creates N certificates (half of them tagged as made by
a job) and M distributions serving some of them, then renders the page through the plugin's FastAPI
app (the signed-in user and their permissions are stubbed: they cost no AWS call) and counts every AWS API call
the page made (each page of a paginated list is one call):

    .venv/bin/python scripts/measure_page_calls.py --certificates 200 --distributions 50
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for devstack

from devstack.emulator import Emulator, source_distribution_config  # noqa: E402
from devstack.environment import ROOT, airflow_environment  # noqa: E402


def _distribution_config(alias: str, certificate_arn: str) -> dict[str, Any]:
    """A distribution serving ``alias`` with the given certificate, built on the demo's source config."""
    config = source_distribution_config(uuid.uuid4().hex, [alias])
    config["ViewerCertificate"] = {
        "CloudFrontDefaultCertificate": False,
        "ACMCertificateArn": certificate_arn,
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    return config


def main() -> None:
    """Seed the emulator, view the page three times (cold, warm, after the cache expired), print counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=200)
    parser.add_argument("--distributions", type=int, default=50)
    args = parser.parse_args()

    emulator = Emulator.start(validation_wait_seconds=60)
    home = Path(tempfile.mkdtemp(prefix="measure-page-"))
    os.environ.update(airflow_environment(home, emulator.url))
    os.environ["AIRFLOW__SSL_CERTIFICATES__CACHE_SECONDS"] = "60"
    sys.path.insert(0, str(ROOT / "plugins"))
    try:
        arns = []
        for number in range(args.certificates):
            # Half of them made by a job, as the page tells jobs' certificates from the others.
            tags = [
                {"Key": "airflow:dag_id", "Value": "ssl_create_certificates"},
                {"Key": "airflow:run_id", "Value": f"job{number}"},
            ]
            arns.append(
                emulator.acm.request_certificate(
                    DomainName=f"site{number}.example.com",
                    SubjectAlternativeNames=[f"site{number}.example.com", f"www.site{number}.example.com"],
                    ValidationMethod="DNS",
                    **({"Tags": tags} if number % 2 == 0 else {}),
                )["CertificateArn"]
            )
        for number in range(args.distributions):
            emulator.cloudfront.create_distribution(
                DistributionConfig=_distribution_config(f"site{number}.example.com", arns[number % len(arns)])
            )

        from cloudfront_ssl.views import catalog

        calls: Counter[str] = Counter()

        def count(event_name: str, **kwargs: Any) -> None:
            calls[event_name.split(".")[-1]] += 1

        def counting(factory: Any) -> Any:
            def make(conn_id: str | None) -> Any:
                hook = factory(conn_id)
                hook.conn.meta.events.register("before-call", count)
                return hook

            return make

        catalog.acm.acm_hook = counting(catalog.acm.acm_hook)
        catalog.acm.tagging_hook = counting(catalog.acm.tagging_hook)
        catalog.cloudfront.cloudfront_hook = counting(catalog.cloudfront.cloudfront_hook)

        from fastapi.testclient import TestClient
        from ssl_certificates.app import JobAccess, app, certificate_catalog, require_access

        class Everything(JobAccess):
            """A user who may read every job: permissions cost no AWS call, and need no database here."""

            def _allowed(self, method: str, dag_id: str) -> bool:
                return True

        app.dependency_overrides[require_access] = lambda: Everything({"username": "measure"}, {})
        client = TestClient(app)

        def view(label: str, query: str = "") -> None:
            calls.clear()
            response = client.get(f"/{query}")
            assert response.status_code == 200, response.text
            print(f"{label}: {sum(calls.values())} AWS calls {dict(sorted(calls.items()))}")

        print(f"{args.certificates} certificates, {args.distributions} distributions (moto {emulator.url})")
        view("first view (empty cache)")
        view("second view within the cache time (60 s)", "?cname=www.site7.example.com")
        certificate_catalog()._loaded_at -= 3600  # as if the listing were older than its 60 s
        view("view after the listing expired (details still cached)")
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
