"""``make bench``'s tenant figure: a tenant job's marginal cost per tenant next to a plain boto3 loop.

In a fresh process: an Airflow home on SQLite, moto for ACM and SNS, ministack for CloudFront, the
job (``hosting: tenant``, ``certificate_source: managed``, so that ACM's wait is not in the figure)
with 10 and with 100 lines, and a loop that creates the same tenants with ``CreateDistributionTenant``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_tenant_bench(cap: float) -> None:
    """Time the job and the loop; print seconds and the marginal seconds per tenant of each."""
    sys.path.insert(0, str(ROOT))
    from devstack.ministack import MiniStack, seed_template, tenant_connection_extra
    from devstack.processes import free_port

    home = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-bench-tenants-"))
    moto_port = free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    ministack = MiniStack.start(log=home / "ministack.log")
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "AIRFLOW__SSL_CERTIFICATES__CLOUDFRONT_CALLS_PER_SECOND": str(cap),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": tenant_connection_extra(moto_url, ministack.url, "us-east-1"),
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

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    topic = session.client("sns", endpoint_url=moto_url).create_topic(Name="bench")["TopicArn"]
    cloudfront = ministack.client()

    def names(n: int) -> list[str]:
        tag = uuid.uuid4().hex[:6]
        return [f"t{i}-{tag}.example.com" for i in range(n)]

    def job(n: int) -> float:
        from airflow.dag_processing.dagbag import DagBag

        ministack.reset()
        template = seed_template(cloudfront)
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
        return elapsed

    def plain_loop(n: int) -> float:
        """CreateDistributionTenant per name, paced at the same cap: what a script would do."""
        ministack.reset()
        template = seed_template(cloudfront)
        spacing = 1 / cap if cap > 0 else 0.0
        started = time.perf_counter()
        last = 0.0
        for name in names(n):
            delay = last + spacing - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            last = time.perf_counter()
            cloudfront.create_distribution_tenant(
                DistributionId=template,
                Name=name,
                Domains=[{"Domain": name}],
                ManagedCertificateRequest={"ValidationTokenHost": "cloudfront"},
            )
        return time.perf_counter() - started

    try:
        job(2)  # warm-up: imports, DAG parse, database
        job_10, job_100 = job(10), job(100)
        loop_10, loop_100 = plain_loop(10), plain_loop(100)
    finally:
        server.stop()
        ministack.stop()
    job_marginal, loop_marginal = (job_100 - job_10) / 90, (loop_100 - loop_10) / 90
    print(
        f"{'':<16}{'job 10':>9}{'job 100':>9}{'job s/tenant':>14}{'loop 10':>9}{'loop 100':>10}{'loop s/tenant':>15}{'ratio':>8}"
    )
    print(
        f"{f'cap {cap:g}/s':<16}{job_10:>9.2f}{job_100:>9.2f}{job_marginal:>14.3f}"
        f"{loop_10:>9.2f}{loop_100:>10.2f}{loop_marginal:>15.3f}{job_marginal / loop_marginal:>8.2f}"
    )
    print(
        "the job also lists the account's tenants and distributions in check, reads the connection group, "
        "and asks CloudFront to verify DNS and read each managed certificate while it waits"
    )


if __name__ == "__main__":
    run_tenant_bench(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
