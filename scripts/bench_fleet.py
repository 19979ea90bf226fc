"""``make bench``'s fleet figure: planning a 2,000-site fleet file against an account that holds them.

In a fresh process: moto in server mode, populated directly through boto3 with 2,000 site distributions
(tagged as the create job tags them) and their certificates, 5 of which serve a certificate someone
imported by hand (drift), plus distributions that are no site. Then, timed:

- the package: ``read_fleet_text`` + ``read_account_sites`` + ``plan_fleet`` on a 2,000-site file
  (20 sites with changed names, 10 new, 10 gone), at the default paces and with the paces off;
- the reference: the same account read the plain way, an unpaced boto3 loop: ListDistributions, then
  each distribution's tags, one call each.

AWS calls are counted where botocore sends them (every request, retries included), by operation.
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SITES = 2000
OTHER_DISTRIBUTIONS = 100
CHANGED, NEW, GONE, DRIFTED = 20, 10, 10, 5


def self_signed() -> tuple[str, str]:
    """One certificate and key (PEM) for every imported certificate: moto makes no key for an import."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fleet.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("fleet.example.com")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM).decode(),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )


def site_names(index: int) -> list[str]:
    return [f"s{index}.fleet.example.com", f"www.s{index}.fleet.example.com"]


class CallCounter:
    """Counts every request botocore sends in this process, by operation."""

    def __init__(self) -> None:
        from botocore.endpoint import Endpoint

        self.counts: collections.Counter[str] = collections.Counter()
        self.seconds: collections.Counter[str] = collections.Counter()
        self.last_seconds: collections.Counter[str] = collections.Counter()
        original = Endpoint.make_request
        counter = self

        def make_request(endpoint: Any, operation_model: Any, request_dict: Any) -> Any:
            counter.counts[operation_model.name] += 1
            begun = time.perf_counter()
            try:
                return original(endpoint, operation_model, request_dict)
            finally:
                counter.seconds[operation_model.name] += time.perf_counter() - begun

        Endpoint.make_request = make_request  # type: ignore[method-assign]

    def take(self) -> collections.Counter[str]:
        """The calls counted since the last take (their time spent answering: ``last_seconds``)."""
        taken, self.counts = self.counts, collections.Counter()
        self.last_seconds, self.seconds = self.seconds, collections.Counter()
        return taken


def run_fleet_bench() -> None:
    sys.path.insert(0, str(ROOT))
    from devstack.processes import free_port
    from devstack.seed import source_distribution_config

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AIRFLOW_CONN_AWS_FLEET": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": url, "region_name": "us-east-1"},
                }
            ),
        }
    )
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    import boto3

    from cloudfront_ssl.aws import pacing
    from cloudfront_ssl.aws.fleet_sites import read_account_sites
    from cloudfront_ssl.rules.fleet import plan_counts, plan_fleet, read_fleet_text
    from cloudfront_ssl.rules.tags import SITE_TAG, job_tags

    session = boto3.session.Session(region_name="us-east-1")
    cloudfront = session.client("cloudfront", endpoint_url=url)
    acm = session.client("acm", endpoint_url=url)
    body, key = self_signed()

    try:
        started = time.perf_counter()
        for index in range(SITES):
            site = f"site-{index}"
            names = site_names(index)
            run_id = f"manual__{uuid.uuid4().hex}"
            drifted = GONE + CHANGED <= index < GONE + CHANGED + DRIFTED
            # A drifted site serves a certificate someone imported by hand: not the site's, no tags.
            tags = [] if drifted else job_tags("ssl_create_certificates", run_id, {}, site)
            arn = acm.import_certificate(
                Certificate=body, PrivateKey=key, **({"Tags": tags} if tags else {})
            )["CertificateArn"]
            config = source_distribution_config(f"fleet-{index}", names)
            config["ViewerCertificate"] = {
                "CloudFrontDefaultCertificate": False,
                "ACMCertificateArn": arn,
                "SSLSupportMethod": "sni-only",
                "MinimumProtocolVersion": "TLSv1.2_2021",
            }
            cloudfront.create_distribution_with_tags(
                DistributionConfigWithTags={
                    "DistributionConfig": config,
                    "Tags": {
                        "Items": job_tags(
                            "ssl_create_certificates", run_id, {}, site, names, None if drifted else arn
                        )
                    },
                }
            )
        for index in range(OTHER_DISTRIBUTIONS):
            config = source_distribution_config(f"other-{index}", [f"other{index}.example.org"])
            cloudfront.create_distribution(DistributionConfig=config)
        populated = time.perf_counter() - started

        # The file: every site but the first GONE, CHANGED of them with a name more, and NEW new ones.
        lines = ["defaults:", "  source_distribution_id: E2QWRUHEXAMPLE", "sites:"]
        for index in range(GONE, SITES + NEW):
            names = site_names(index) + (
                [f"new.s{index}.fleet.example.com"] if index < GONE + CHANGED else []
            )
            lines += [f"  - site: site-{index}", f"    names: [{', '.join(names)}]"]
        text = "\n".join(lines) + "\n"

        counter = CallCounter()
        phases: list[tuple[float, float, float]] = []
        answered: list[dict[str, float]] = []

        def package(paced: bool) -> tuple[float, collections.Counter[str], dict[str, int]]:
            for service in pacing.PACED_SERVICES:
                pacing.reset_limiter(service, None if paced else 0)
            counter.take()
            begun = time.perf_counter()
            sites = read_fleet_text(text)
            read = time.perf_counter()
            account = read_account_sites("aws_fleet", sites)
            listed = time.perf_counter()
            plan = plan_fleet(sites, account, remove=False)
            elapsed = time.perf_counter() - begun
            phases.append((read - begun, listed - read, elapsed - (listed - begun)))
            counted = counter.take()
            answered.append(dict(counter.last_seconds))
            return elapsed, counted, plan_counts(plan)

        def reference() -> tuple[float, collections.Counter[str], int]:
            """The plain way: list the distributions, then read each one's tags."""
            counter.take()
            begun = time.perf_counter()
            found = 0
            for page in cloudfront.get_paginator("list_distributions").paginate():
                for summary in page["DistributionList"].get("Items") or []:
                    items = (
                        cloudfront.list_tags_for_resource(Resource=summary["ARN"])["Tags"].get("Items") or []
                    )
                    tags = {tag["Key"]: tag["Value"] for tag in items}
                    found += bool(tags.get(SITE_TAG))
            return time.perf_counter() - begun, counter.take(), found

        package(paced=False)  # warm-up: imports, clients
        paced_s, paced_calls, counts = package(paced=True)
        free_s, free_calls, _ = package(paced=False)
        reference_s, reference_calls, found = reference()
    finally:
        server.stop()

    def calls(counted: collections.Counter[str]) -> str:
        return f"{sum(counted.values())} ({', '.join(f'{name} {n}' for name, n in sorted(counted.items()))})"

    print(
        f"account: {SITES:,} site distributions with their certificates and {OTHER_DISTRIBUTIONS} other "
        f"distributions (populated in {populated:.0f} s); file: {SITES - GONE + NEW:,} sites"
    )
    print(
        f"plan: {counts['create']} to create, {counts['change']} to change ({counts['drift']} drift), "
        f"{counts['keep']} unchanged, {counts['reported']} reported (removals without fleet_remove); "
        f"the reference found {found:,} sites"
    )
    print(f"{'':<44}{'seconds':>9}  AWS calls")
    print(f"{'package, default paces (5/s per service)':<44}{paced_s:>9.2f}  {calls(paced_calls)}")
    print(f"{'package, paces off':<44}{free_s:>9.2f}  {calls(free_calls)}")
    print("of which, paced: the file {:.2f} s, the account {:.2f} s, the plan {:.2f} s".format(*phases[1]))
    print(
        "time spent waiting for the emulator's answers, paces off: "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in sorted(answered[2].items()))
    )
    print(f"{'reference: boto3 loop, tags per site':<44}{reference_s:>9.2f}  {calls(reference_calls)}")
    print(
        f"moto pages GetResources by about 100 tags (20 site distributions a page here); AWS by "
        f"ResourcesPerPage=100: the same {SITES:,} site distributions in {-(-SITES // 100)} GetResources calls, "
        f"{-(-SITES // 100) / 5:.0f} s of pacing at the default 5 calls/s"
    )


if __name__ == "__main__":
    run_fleet_bench()
