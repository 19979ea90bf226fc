"""``make bench``'s tenant figure: a tenant job's marginal cost per tenant next to a plain boto3 loop.

In a fresh process: an Airflow home on SQLite, moto for SNS (and ACM), ministack for CloudFront, each
behind a counting fault proxy (``devstack/fault_proxy.py``). The job (``hosting: tenant``,
``certificate_source: managed``, so that ACM's wait is not in the figure) runs with 10 and with 100
lines; the loop makes the same AWS calls with boto3, one after the other, unpaced: the job's checks
(the template's config, the default connection group, the account's tenants twice, its distributions,
the topic), one ``CreateDistributionTenant`` per tenant, the routing endpoint once, the owners'
message, and one ``GetManagedCertificateDetails`` per tenant (ministack issues at once, so the wait
polls once). The calls of both are counted at the proxies and printed side by side, so a figure is
only read beside the proof that both did the same work. The job's rate caps are off (as the other
figures' are): the emulator is not throttled, and a cap would measure itself.

    python scripts/bench_tenants.py [rounds]
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL, LARGE = 10, 100
PACED = ("acm", "cloudfront", "route53", "sns")


def run_tenant_bench(rounds: int) -> None:
    """Time the job and the loop (best of ``rounds`` interleaved rounds); print both side by side."""
    sys.path.insert(0, str(ROOT))
    from devstack.fault_proxy import FaultProxy
    from devstack.ministack import MiniStack, seed_template, tenant_connection_extra
    from devstack.processes import free_port

    home = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-bench-tenants-"))
    moto_port = free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    ministack = MiniStack.start(log=home / "ministack.log")
    cloudfront_proxy = FaultProxy(ministack.url).start()
    moto_proxy = FaultProxy(moto_url).start()
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|cloudfront_ssl)\..*",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            **{f"AIRFLOW__SSL_CERTIFICATES__{service.upper()}_CALLS_PER_SECOND": "0" for service in PACED},
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": tenant_connection_extra(moto_proxy.url, cloudfront_proxy.url, "us-east-1"),
                }
            ),
        }
    )
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    import boto3

    from cloudfront_ssl.aws import pacing

    for service in PACED:
        pacing.reset_limiter(service, 0)
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    topic = session.client("sns", endpoint_url=moto_url).create_topic(Name="bench")["TopicArn"]
    setup = ministack.client()  # arranging the account: not counted
    cloudfront = session.client("cloudfront", endpoint_url=cloudfront_proxy.url)
    sns = session.client("sns", endpoint_url=moto_proxy.url)
    calls: dict[str, Counter[str]] = {}

    def names(n: int) -> list[str]:
        tag = uuid.uuid4().hex[:6]
        return [f"t{i}-{tag}.example.com" for i in range(n)]

    def fresh_template() -> str:
        ministack.reset()
        template = seed_template(setup)
        # The account's default connection group exists (it appears with the first tenant on ministack).
        first = setup.create_distribution_tenant(
            DistributionId=template,
            Name=f"first-{uuid.uuid4().hex[:8]}",
            Domains=[{"Domain": f"first-{uuid.uuid4().hex[:8]}.example.net"}],
        )["DistributionTenant"]
        setup.update_distribution_tenant(
            Id=first["Id"],
            IfMatch=setup.get_distribution_tenant(Identifier=first["Id"])["ETag"],
            DistributionId=template,
            Domains=[{"Domain": entry["Domain"]} for entry in first["Domains"]],
            Enabled=False,
        )
        setup.delete_distribution_tenant(
            Id=first["Id"], IfMatch=setup.get_distribution_tenant(Identifier=first["Id"])["ETag"]
        )
        cloudfront_proxy.clear()
        moto_proxy.clear()
        return template

    def counted() -> Counter[str]:
        return cloudfront_proxy.operations() + moto_proxy.operations()

    def job(n: int) -> float:
        from airflow.dag_processing.dagbag import DagBag

        template = fresh_template()
        dag = DagBag(dag_folder=str(ROOT / "dags" / "ssl_create_certificates.py")).dags[
            "ssl_create_certificates"
        ]
        started = time.perf_counter()
        run = dag.test(
            run_conf={
                "certificates": names(n),
                "hosting": "tenant",
                "multi_tenant_distribution_id": template,
                "certificate_source": "managed",
                "notification_topic_arn": topic,
                "poll_interval_seconds": 1,
            }
        )
        elapsed = time.perf_counter() - started
        if run.state != "success":
            raise SystemExit(f"the {n}-tenant job ended {run.state}")
        calls[f"job {n}"] = counted()
        return elapsed

    def plain_loop(n: int) -> float:
        """The job's AWS calls made with boto3, one after the other, without pacing."""
        template = fresh_template()
        tags = {
            "Items": [{"Key": "airflow:dag_id", "Value": "loop"}, {"Key": "airflow:run_id", "Value": "loop"}]
        }
        started = time.perf_counter()
        wanted = names(n)
        # The check: the template, the default connection group, the tenants (domains taken, quota),
        # the distributions (aliases taken), the topic.
        cloudfront.get_distribution_config(Id=template)
        for _ in cloudfront.get_paginator("list_connection_groups").paginate():
            pass
        for _ in range(2):
            for _ in cloudfront.get_paginator("list_distribution_tenants").paginate():
                pass
        for _ in cloudfront.get_paginator("list_distributions").paginate():
            pass
        sns.get_topic_attributes(TopicArn=topic)
        created = [
            cloudfront.create_distribution_tenant(
                DistributionId=template,
                Name=name,
                Domains=[{"Domain": name}],
                Tags=tags,
                Enabled=True,
                ManagedCertificateRequest={"ValidationTokenHost": "cloudfront", "PrimaryDomainName": name},
            )["DistributionTenant"]
            for name in wanted
        ]
        cloudfront.get_connection_group(Identifier=created[0]["ConnectionGroupId"])
        sns.publish(TopicArn=topic, Subject="Point your names at CloudFront", Message="endpoints")
        for tenant in created:
            details = cloudfront.get_managed_certificate_details(Identifier=tenant["Id"])
            assert details["ManagedCertificateDetails"]["CertificateStatus"] == "issued"
        elapsed = time.perf_counter() - started
        calls[f"loop {n}"] = counted()
        return elapsed

    best: dict[str, float] = {}
    try:
        job(2)  # warm-up: imports, DAG parse, database
        for _ in range(rounds):
            for name, measure in (
                (f"job {SMALL}", lambda: job(SMALL)),
                (f"loop {SMALL}", lambda: plain_loop(SMALL)),
                (f"job {LARGE}", lambda: job(LARGE)),
                (f"loop {LARGE}", lambda: plain_loop(LARGE)),
            ):
                best[name] = min(best.get(name, float("inf")), measure())
    finally:
        server.stop()
        cloudfront_proxy.stop()
        moto_proxy.stop()
        ministack.stop()
    span = LARGE - SMALL
    job_marginal = (best[f"job {LARGE}"] - best[f"job {SMALL}"]) / span
    loop_marginal = (best[f"loop {LARGE}"] - best[f"loop {SMALL}"]) / span
    print(
        "Rate caps off for the job ([ssl_certificates] *_calls_per_second = 0: the emulators are not "
        f"throttled); the loop is unpaced; best of {rounds} interleaved round(s)"
    )
    print(
        f"{'job ' + str(SMALL):>9}{'job ' + str(LARGE):>10}{'job s/tenant':>14}"
        f"{'loop ' + str(SMALL):>9}{'loop ' + str(LARGE):>10}{'loop s/tenant':>15}{'ratio':>8}"
    )
    print(
        f"{best[f'job {SMALL}']:>9.2f}{best[f'job {LARGE}']:>10.2f}{job_marginal:>14.4f}"
        f"{best[f'loop {SMALL}']:>9.2f}{best[f'loop {LARGE}']:>10.2f}{loop_marginal:>15.4f}"
        f"{job_marginal / loop_marginal:>8.2f}"
    )
    print(f"s/tenant: marginal cost per tenant, (t{LARGE} - t{SMALL}) / {span}")
    job_calls, loop_calls = calls[f"job {LARGE}"], calls[f"loop {LARGE}"]
    operations = sorted(set(job_calls) | set(loop_calls))
    print(f"AWS calls of the {LARGE}-tenant runs, counted at the proxies:")
    print(f"  {'operation':<32}{'job':>6}{'loop':>6}")
    for operation in operations:
        print(f"  {operation:<32}{job_calls.get(operation, 0):>6}{loop_calls.get(operation, 0):>6}")
    same = job_calls == loop_calls
    print(
        "same AWS calls on both sides: "
        + (
            "yes"
            if same
            else "NO: "
            + ", ".join(
                f"{op} {job_calls.get(op, 0)}/{loop_calls.get(op, 0)}"
                for op in operations
                if job_calls.get(op, 0) != loop_calls.get(op, 0)
            )
        )
    )


if __name__ == "__main__":
    run_tenant_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
