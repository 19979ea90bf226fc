"""``make bench``: the wait at fleet scale, the create job (its request phase, and the whole job with its
distributions), the tenant job, the fleet plan of 2,000 sites, Route 53 for a large job and the DAG
files' parse time, each next to its reference.

Every figure is measured in this one run, side by side with what it is compared to; nothing here
is an assertion. ACM calls are counted where they arrive: at a counting proxy in front of the
emulator (moto in server mode, in a process of its own), never by the code under test.

    python scripts/bench.py [--jobs 1000] [--certs 10] [--interval 10] [--skip wait,triggerer,create,distributions,tenants,fleet,route53,parse] [--route53-names 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/cloudfront-ssl-bench"


def load_dag(dag_id: str) -> Any:
    """A fresh copy of a DAG of the project, parsed from its file ``dags/<dag_id>.py``."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    if bag.import_errors:
        raise SystemExit(f"{dag_id} does not import: {bag.import_errors}")
    return bag.get_dag(dag_id)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the emulator with a fleet of pending certificates (a process of its own) ------------------------


def serve_fleet(port: int, control_port: int) -> None:
    """moto on ``port`` behind a counting proxy on ``control_port``'s neighbour; control over HTTP.

    Control endpoints (on ``control_port``): ``POST /seed?count=N`` adds N pending certificates and
    answers their ARNs; ``POST /issue`` turns every pending certificate ISSUED and answers the
    time (``time.monotonic()``, the same clock in every process); ``GET /calls?since=T`` answers
    the ACM calls seen since T as ``[[time, operation], ...]``.
    """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    from moto import settings
    from moto.acm.models import acm_backends
    from moto.server import ThreadedMotoServer

    sys.path.insert(0, str(ROOT))
    from devstack.fault_proxy import FaultProxy

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    settings.ACM_VALIDATION_WAIT = 10**9  # issued only when told to
    from moto.acm.models import CertBundle

    describe = CertBundle.describe

    def described_once_per_status(self: Any) -> dict[str, Any]:
        # moto rebuilds every certificate's description (twice) for each ListCertificates: 10,000 of
        # them take it tens of seconds, which is the emulator's cost, not ACM's. Keep it per status.
        cached = self.__dict__.get("_bench_description")
        if cached is None or cached[0] != self.status:
            cached = self.__dict__["_bench_description"] = (self.status, describe(self))
        return {"Certificate": dict(cached[1]["Certificate"])}

    CertBundle.describe = described_once_per_status

    from moto.acm.responses import AWSCertificateManagerResponse
    from moto.core.responses import ActionResult

    summary_fields = (
        "CertificateArn",
        "DomainName",
        "Status",
        "Type",
        "KeyAlgorithm",
        "NotBefore",
        "NotAfter",
        "CreatedAt",
        "IssuedAt",
        "ImportedAt",
        "RenewalEligibility",
    )

    def list_like_acm(self: Any) -> ActionResult:
        # ACM answers summaries, 1,000 at most per page; moto answers every full description in one
        # page (megabytes for 10,000 certificates). Answer as ACM does, so that the sweep's cost is real.
        statuses = self._get_param("CertificateStatuses")
        size = min(int(self._get_param("MaxItems") or 1000), 1000)
        start = int(self._get_param("NextToken") or 0)
        bundles = list(self.acm_backend.list_certificates(statuses, self._get_param("Includes")))
        page = [bundle.describe()["Certificate"] for bundle in bundles[start : start + size]]
        result: dict[str, Any] = {
            "CertificateSummaryList": [{k: c[k] for k in summary_fields if k in c} for c in page]
        }
        if start + size < len(bundles):
            result["NextToken"] = str(start + size)
        return ActionResult(result=result)

    AWSCertificateManagerResponse.list_certificates = list_like_acm
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    proxy = FaultProxy(f"http://127.0.0.1:{port}").start()
    backend = acm_backends[ACCOUNT_ID]["us-east-1"]
    template_arn = backend.request_certificate("template.bench.example.com", None, [], [])
    template = backend._certificates.pop(template_arn)

    class Control(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def _reply(self, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            if self.path.startswith("/url"):
                self._reply({"proxy": proxy.url, "moto": f"http://127.0.0.1:{port}"})
            elif self.path.startswith("/answered"):
                since = float(query.get("since", ["0"])[0])
                with proxy._lock:
                    self._reply([list(row) for row in proxy.answered if row[0] >= since])
            else:
                since = float(query.get("since", ["0"])[0])
                with proxy._lock:
                    self._reply([[at, name] for at, name in proxy.calls if at >= since])

        def do_POST(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            if self.path.startswith("/seed"):
                arns = []
                for _ in range(int(query["count"][0])):
                    clone = copy.copy(template)
                    clone.arn = f"arn:aws:acm:us-east-1:{ACCOUNT_ID}:certificate/{uuid.uuid4()}"
                    clone.status = "PENDING_VALIDATION"
                    backend._certificates[clone.arn] = clone
                    arns.append(clone.arn)
                self._reply(arns)
            elif self.path.startswith("/issue"):
                at = time.monotonic()
                for bundle in backend._certificates.values():
                    bundle.status = "ISSUED"
                self._reply(at)
            elif self.path.startswith("/reset"):
                for arn in list(backend._certificates):
                    del backend._certificates[arn]
                proxy.clear()
                self._reply("ok")

    control = ThreadingHTTPServer(("127.0.0.1", control_port), Control)
    print("ready", flush=True)
    control.serve_forever()


class Fleet:
    """The emulator process, seen from the benchmark."""

    def __init__(self) -> None:
        self.control = f"http://127.0.0.1:{free_port()}"
        port = int(self.control.rsplit(":", 1)[1])
        self.process = subprocess.Popen(
            [sys.executable, __file__, "_fleet", str(free_port()), str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"
        urls = self.get("/url")
        self.proxy_url, self.moto_url = urls["proxy"], urls["moto"]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.control + path, timeout=600) as answer:
            return json.load(answer)

    def post(self, path: str) -> Any:
        request = urllib.request.Request(self.control + path, method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=600) as answer:
            return json.load(answer)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def connection_env(fleet: Fleet, conn_id: str, role: bool) -> dict[str, str]:
    """An Airflow AWS connection on the proxied emulator: access keys, or access keys + ``role_arn``."""
    extra: dict[str, Any] = {"endpoint_url": fleet.proxy_url, "region_name": "us-east-1"}
    if role:
        extra["role_arn"] = ROLE_ARN
        extra["service_config"] = {"sts": {"endpoint_url": fleet.moto_url}}
    value = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


# --- the old wait, kept here only as the reference ---------------------------------------------------


def reference_trigger_class() -> type:
    """The wait as it was: its own client per trigger, one DescribeCertificate per pending certificate."""
    from scripts.bench_reference import OneClientPerJobTrigger

    return OneClientPerJobTrigger


# --- one wait scenario (a process of its own, so that its memory is its own) --------------------------


def rss_mb() -> float:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def run_wait_scenario(args: argparse.Namespace) -> None:
    """Run ``jobs`` waits in one asyncio loop as the triggerer does; print one JSON line of figures."""
    from cloudfront_ssl.steps.triggers import CertificatesIssuedTrigger

    groups = json.loads(Path(args.arns_file).read_text())
    trigger_class = CertificatesIssuedTrigger if args.impl == "shared" else reference_trigger_class()
    interval = args.interval
    control = args.control

    def fleet(path: str, post: bool = False) -> Any:
        request = urllib.request.Request(
            control + path, method="POST" if post else "GET", data=b"" if post else None
        )
        with urllib.request.urlopen(request, timeout=600) as answer:
            return json.load(answer)

    async def scenario() -> dict[str, Any]:
        baseline = rss_mb()
        fired: list[float] = []

        async def wait(trigger: Any) -> None:
            async for _ in trigger.run():
                fired.append(time.monotonic())
                return

        triggers = [trigger_class(arns, args.conn_id, interval, time.time() + 3600) for arns in groups]
        # One job first: its client and the first sweeps set the process's working memory; the
        # memory per waiting job is what each further job adds to that.
        tasks = [asyncio.create_task(wait(triggers[0]))]
        await asyncio.sleep(interval * 2)
        warm = rss_mb()
        tasks += [asyncio.create_task(wait(trigger)) for trigger in triggers[1:]]
        # Let every job start and poll for a few rounds: the steady state of a long wait.
        await asyncio.sleep(interval * 1.5)
        steady_from = time.monotonic()
        await asyncio.sleep(interval * args.rounds)
        memory = rss_mb()
        issued_at = await asyncio.to_thread(fleet, "/issue", True)
        steady_to = issued_at
        calls = await asyncio.to_thread(fleet, f"/calls?since={steady_from}")
        answered = await asyncio.to_thread(fleet, f"/answered?since={steady_from}")
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=interval * 4 + 600)
        steady = [(at, name) for at, name in calls if at <= steady_to]
        rounds = (steady_to - steady_from) / interval
        lists = [seconds for _, name, seconds in answered if name == "ListCertificates"]
        times = [at for at, _ in calls]
        from devstack.fault_proxy import peak_per_second

        delays = sorted(at - issued_at for at in fired)
        return {
            "impl": args.impl,
            "conn": args.conn_label,
            "jobs": len(groups),
            "certificates": sum(len(arns) for arns in groups),
            "memory_per_job_mb": (memory - warm) / max(len(groups) - 1, 1),
            "memory_total_mb": memory - baseline,
            "calls_per_round": len(steady) / rounds,
            "lists_per_round": sum(1 for _, name in steady if name == "ListCertificates") / rounds,
            "describes_per_round": sum(1 for _, name in steady if name == "DescribeCertificate") / rounds,
            "list_seconds": statistics.median(lists) if lists else 0.0,
            "peak_calls_per_second": peak_per_second(times),
            "delay_median_s": statistics.median(delays),
            "delay_max_s": delays[-1],
            "interval_s": interval,
        }

    print(json.dumps(asyncio.run(scenario())), flush=True)


def wait_bench(args: argparse.Namespace, fleet: Fleet) -> list[dict[str, Any]]:
    """Each scenario against a freshly seeded fleet, in a fresh process."""
    scenarios = [
        ("shared", "access keys", False, args.jobs),
        ("shared", "role_arn", True, args.jobs),
        ("one client per job (old)", "access keys", False, args.reference_jobs),
        ("one client per job (old)", "role_arn", True, args.reference_role_jobs),
    ]
    results = []
    for impl, label, role, jobs in scenarios:
        fleet.post("/reset")
        arns = fleet.post(f"/seed?count={jobs * args.certs}")
        groups = [arns[i : i + args.certs] for i in range(0, len(arns), args.certs)]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(groups, handle)
        env = {
            **os.environ,
            **connection_env(fleet, "bench_acm", role),
            "PYTHONPATH": str(ROOT),
            "AIRFLOW__SSL_CERTIFICATES__ACM_CALLS_PER_SECOND": str(args.cap),
        }
        print(
            f"  wait: {impl}, {label}, {jobs} jobs x {args.certs} certificates ...",
            file=sys.stderr,
            flush=True,
        )
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "_wait",
                "--impl",
                "shared" if impl == "shared" else "old",
                "--conn-id",
                "bench_acm",
                "--conn-label",
                label,
                "--arns-file",
                handle.name,
                "--interval",
                str(args.interval),
                "--rounds",
                str(args.rounds),
                "--control",
                fleet.control,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
        os.unlink(handle.name)
        if done.returncode != 0:
            print(done.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"wait scenario {impl} / {label} failed")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["impl"] = impl
        results.append(result)
    return results


def print_wait(results: list[dict[str, Any]], cap: float) -> None:
    print("\n== The wait: jobs waiting in one process, as the triggerer runs them (one asyncio loop) ==")
    print(
        f"ACM rate cap [ssl_certificates] acm_calls_per_second = {cap:g}; poll interval {results[0]['interval_s']:g} s"
    )
    header = (
        f"{'implementation':<26}{'connection':<13}{'jobs':>6}{'certs':>7}{'MB/job':>9}{'MB all':>8}"
        f"{'calls/round':>12}{'(list+desc)':>14}{'peak/s':>8}{'list s':>8}{'issued->fired median/max s':>28}"
    )
    print(header)
    for r in results:
        print(
            f"{r['impl']:<26}{r['conn']:<13}{r['jobs']:>6}{r['certificates']:>7}{r['memory_per_job_mb']:>9.3f}"
            f"{r['memory_total_mb']:>8.0f}{r['calls_per_round']:>12.1f}"
            f"{r['lists_per_round']:>7.1f}+{r['describes_per_round']:<6.1f}{r['peak_calls_per_second']:>8}"
            f"{r['list_seconds']:>8.1f}"
            f"{r['delay_median_s']:>14.1f} / {r['delay_max_s']:.1f}"
        )
    print(
        "MB/job: what each job adds once one job waits (its client, if it has one, included);"
        " MB all: above the process before any wait; calls/round: ACM calls per poll interval in the steady"
        " state; list s: the emulator's answer time for one ListCertificates of the whole account"
    )
    print(
        "goals: MB/job <= 0.1 on role_arn; calls/round <= sweep pages + changed certificates; peak/s <= cap;"
        " issued->fired <= one poll interval (+ the sweep)"
    )


# --- the create job next to a plain boto3 loop --------------------------------------------------------


def create_bench(args: argparse.Namespace) -> None:
    print(
        "\n== The create job (dag.test, validation wait 0, no distributions) vs a plain boto3 loop ==",
        flush=True,
    )
    done = subprocess.run(
        [sys.executable, __file__, "_create", "--cap", str(args.cap)]
        + (["--uncapped"] if args.uncapped else []),
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        print("create job bench failed (see above)")
        return
    # Only the figures: Airflow's own warnings of the in-process runs go to the same stream.
    print("\n".join(line for line in done.stdout.strip().splitlines() if not line.startswith("20")))


def run_create_bench(args: argparse.Namespace) -> None:
    """In a fresh process: an Airflow home on SQLite, moto in this process, the job and the loop."""
    home = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|cloudfront_ssl)\..*",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MOTO_ACM_VALIDATION_WAIT": "0",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": url, "region_name": "us-east-1"},
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
    import boto3
    from moto import settings
    from moto.server import ThreadedMotoServer

    settings.ACM_VALIDATION_WAIT = 0
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    sys.path.insert(0, str(ROOT))
    from devstack.fault_proxy import FaultProxy

    # The job and the loop both go through a counting proxy, so that their AWS calls can be compared.
    proxy = FaultProxy(url).start()
    url = proxy.url
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": url, "region_name": "us-east-1"},
        }
    )

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    reset_url = f"http://127.0.0.1:{port}"
    acm = session.client("acm", endpoint_url=url)
    sns = session.client("sns", endpoint_url=url)
    topic = sns.create_topic(Name="bench")["TopicArn"]

    def reset() -> None:
        urllib.request.urlopen(urllib.request.Request(f"{reset_url}/moto-api/reset", method="POST", data=b""))
        sns.create_topic(Name="bench")
        proxy.clear()

    calls: dict[str, Any] = {}

    def items(n: int) -> list[str]:
        tag = uuid.uuid4().hex[:6]
        return [f"a{i}-{tag}.example.com, www.a{i}-{tag}.example.com" for i in range(n)]

    def job(n: int, cap: float) -> float:
        from cloudfront_ssl.aws import pacing

        pacing.reset_limiter("acm", cap)
        reset()
        dag = load_dag("ssl_create_certificates")  # a fresh copy: a run updates its DAG's params
        started = time.perf_counter()
        run = dag.test(
            run_conf={
                "certificates": items(n),
                "create_distributions": False,
                "notification_topic_arn": topic,
                "poll_interval_seconds": 1,
            }
        )
        elapsed = time.perf_counter() - started
        if run.state != "success":
            raise SystemExit(f"the {n}-certificate job ended {run.state}")
        calls[f"job {n}"] = proxy.operations()
        return elapsed

    def plain_loop(n: int, cap: float | None) -> float:
        """The same AWS calls with boto3: list, request, describe (records), one message, one list (wait)."""
        reset()
        spacing = 1 / cap if cap else 0.0
        last = [0.0]

        def paced() -> None:
            if spacing:
                delay = last[0] + spacing - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                last[0] = time.perf_counter()

        started = time.perf_counter()
        paced()
        acm.list_certificates(Includes={"keyTypes": ["RSA_2048"]})
        arns = []
        for names in items(n):
            first, second = [name.strip() for name in names.split(",")]
            paced()
            arns.append(
                acm.request_certificate(
                    DomainName=first,
                    SubjectAlternativeNames=[first, second],
                    ValidationMethod="DNS",
                    IdempotencyToken=uuid.uuid4().hex,
                    Tags=[
                        {"Key": "airflow:dag_id", "Value": "loop"},
                        {"Key": "airflow:run_id", "Value": "loop"},
                    ],
                )["CertificateArn"]
            )
        for arn in arns:
            paced()
            acm.describe_certificate(CertificateArn=arn)
        sns.publish(TopicArn=topic, Subject="Add these DNS records", Message="records")
        paced()
        acm.list_certificates(Includes={"keyTypes": ["RSA_2048"]})
        elapsed = time.perf_counter() - started
        calls[f"loop {n}"] = proxy.operations()
        return elapsed

    job(2, 10**6)  # warm-up: imports, DAG parse, database
    rows = []
    variants = [(f"cap {args.cap:g}/s", args.cap, args.cap)]
    if args.uncapped:
        variants.insert(0, ("rate cap off", 10**6, None))
    for label, cap, loop_cap in variants:
        job_10, job_100 = job(10, cap), job(100, cap)
        loop_10, loop_100 = plain_loop(10, loop_cap), plain_loop(100, loop_cap)
        job_marginal, loop_marginal = (job_100 - job_10) / 90, (loop_100 - loop_10) / 90
        rows.append((label, job_10, job_100, job_marginal, loop_10, loop_100, loop_marginal))
    print(
        f"{'':<16}{'job 10':>9}{'job 100':>9}{'job s/cert':>12}{'loop 10':>9}{'loop 100':>10}{'loop s/cert':>12}{'ratio':>8}"
    )
    for label, j10, j100, jm, l10, l100, lm in rows:
        print(
            f"{label:<16}{j10:>9.2f}{j100:>9.2f}{jm:>12.3f}{l10:>9.2f}{l100:>10.2f}{lm:>12.3f}{jm / lm:>8.2f}"
        )
    print(
        "goal: the job's marginal cost per certificate <= 2x the plain loop's (the loop paced at the same cap"
        " in the capped row)"
    )
    for name in ("job 100", "loop 100"):
        counted = ", ".join(f"{op} {count}" for op, count in sorted(calls[name].items()) if op != "unknown")
        print(f"AWS calls counted at the proxy, {name}: {counted}")
    server.stop()


# --- the whole create job, distributions included, next to a plain boto3 loop ------------------------


def create_with_distributions_bench(args: argparse.Namespace) -> None:
    """Print the whole create job's cost per certificate (distributions included) next to the loop's."""
    print(
        "\n== The whole create job (dag.test, validation wait 0, with distributions) vs a plain unpaced boto3 loop ==",
        flush=True,
    )
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "_create_distributions",
            "--sizes",
            args.distribution_sizes,
            "--rounds",
            str(args.distribution_rounds),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        print("create job (with distributions) bench failed (see above)")
        return
    print("\n".join(line for line in done.stdout.strip().splitlines() if not line.startswith("20")))


PACED = ("acm", "cloudfront", "route53", "sns")
"""The services the package paces (``cloudfront_ssl.aws.pacing``), each turned off for this figure."""


def run_create_with_distributions_bench(args: argparse.Namespace) -> None:
    """In a fresh process: an Airflow home on SQLite, one moto server, the whole job and the loop.

    The job runs with ``dag.test()`` (every task in this process, as ``airflow dags test`` runs them),
    certificates turn ISSUED at once (validation wait 0), and the package's rate caps are off for the
    job: the emulator is not throttled, and a job paced at AWS's real rates next to an unpaced loop
    would only measure the pacing. The loop makes the same AWS calls for the same resources without Airflow:
    RequestCertificate with tags, DescribeCertificate until the records are there, one SNS message,
    GetDistributionConfig of the source, CreateDistributionWithTags for each item, one last message.
    """
    small, large = (int(size) for size in args.sizes.split(","))
    home = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-bench-"))
    port = free_port()
    moto_url = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|cloudfront_ssl)\..*",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            # The caps off, as the tests raise them: the emulator takes any rate (see the docstring).
            **{f"AIRFLOW__SSL_CERTIFICATES__{service.upper()}_CALLS_PER_SECOND": "0" for service in PACED},
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "MOTO_ACM_VALIDATION_WAIT": "0",
        }
    )
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    import boto3
    from moto import settings
    from moto.server import ThreadedMotoServer

    settings.ACM_VALIDATION_WAIT = 0
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    sys.path.insert(0, str(ROOT))
    from devstack.fault_proxy import FaultProxy
    from devstack.seed import seed
    from tests.dag_runs import load_dag

    # Job and loop go through the same counting proxy: their AWS calls are compared below.
    proxy = FaultProxy(moto_url).start()
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": proxy.url, "region_name": "us-east-1"},
        }
    )
    from cloudfront_ssl.aws import pacing

    for service in PACED:
        pacing.reset_limiter(service, 0)
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    acm = session.client("acm", endpoint_url=proxy.url)
    sns = session.client("sns", endpoint_url=proxy.url)
    cloudfront = session.client("cloudfront", endpoint_url=proxy.url)
    seeded: dict[str, str] = {}

    def reset() -> None:
        request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST", data=b"")
        urllib.request.urlopen(request).close()
        found = seed(moto_url)
        seeded.update(source=found.source_distribution_id, topic=found.topic_arn)
        proxy.clear()

    calls: dict[str, Any] = {}
    last_run: list[str] = []

    def items(n: int) -> list[list[str]]:
        tag = uuid.uuid4().hex[:6]
        return [[f"a{i}-{tag}.example.com", f"www.a{i}-{tag}.example.com"] for i in range(n)]

    def job(n: int) -> float:
        reset()
        dag = load_dag("ssl_create_certificates")
        started = time.perf_counter()
        run = dag.test(
            run_conf={
                "certificates": [", ".join(names) for names in items(n)],
                "source_distribution_id": seeded["source"],
                "notification_topic_arn": seeded["topic"],
                "poll_interval_seconds": 1,
            }
        )
        elapsed = time.perf_counter() - started
        last_run[:] = [run.run_id]
        if run.state != "success":
            raise SystemExit(f"the {n}-item job ended {run.state}")
        calls[f"job {n}"] = proxy.operations()
        return elapsed

    def plain_loop(n: int) -> float:
        """The job's changes made with boto3, one call after the other, without pacing."""
        reset()
        started = time.perf_counter()
        wanted = items(n)
        tags = [{"Key": "airflow:dag_id", "Value": "loop"}, {"Key": "airflow:run_id", "Value": "loop"}]
        arns = [
            acm.request_certificate(
                DomainName=names[0],
                SubjectAlternativeNames=names,
                ValidationMethod="DNS",
                IdempotencyToken=uuid.uuid4().hex,
                Tags=tags,
            )["CertificateArn"]
            for names in wanted
        ]
        for arn in arns:
            while True:
                options = acm.describe_certificate(CertificateArn=arn)["Certificate"][
                    "DomainValidationOptions"
                ]
                if all(option.get("ResourceRecord") for option in options):
                    break
        sns.publish(TopicArn=seeded["topic"], Subject="Add these DNS records", Message="records")
        source = cloudfront.get_distribution_config(Id=seeded["source"])["DistributionConfig"]
        for index, (names, arn) in enumerate(zip(wanted, arns, strict=True)):
            config = copy.deepcopy(source)
            config["CallerReference"] = f"loop-{index}-{uuid.uuid4().hex}"
            config["Aliases"] = {"Quantity": len(names), "Items": names}
            config["ViewerCertificate"] = {
                "CloudFrontDefaultCertificate": False,
                "ACMCertificateArn": arn,
                "SSLSupportMethod": "sni-only",
                "MinimumProtocolVersion": "TLSv1.2_2021",
            }
            cloudfront.create_distribution_with_tags(
                DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": tags}}
            )
        sns.publish(TopicArn=seeded["topic"], Subject="Point your names at CloudFront", Message="cnames")
        elapsed = time.perf_counter() - started
        calls[f"loop {n}"] = proxy.operations()
        return elapsed

    steps: dict[str, float] = {}

    def step_seconds(run_id: str) -> dict[str, float]:
        """Each step's time in one run (a step's task instances summed)."""
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        seconds: dict[str, float] = {}
        with create_session() as db:
            for ti in db.query(TaskInstance).filter_by(dag_id="ssl_create_certificates", run_id=run_id):
                if ti.start_date and ti.end_date:
                    took = (ti.end_date - ti.start_date).total_seconds()
                    seconds[ti.task_id] = seconds.get(ti.task_id, 0.0) + took
        return seconds

    job(2)  # warm-up: imports, DAG parse, database
    # Interleaved rounds, the best time of each kind kept: on a shared machine, another process's burst
    # slows one run, not the figure.
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, measure in (
            (f"job {small}", lambda: job(small)),
            (f"loop {small}", lambda: plain_loop(small)),
            (f"job {large}", lambda: job(large)),
            (f"loop {large}", lambda: plain_loop(large)),
        ):
            took = measure()
            if took < best.get(name, float("inf")):
                best[name] = took
                if name == f"job {large}":
                    steps.clear()
                    steps.update(step_seconds(last_run[0]))
    job_small, job_large = best[f"job {small}"], best[f"job {large}"]
    loop_small, loop_large = best[f"loop {small}"], best[f"loop {large}"]
    span = large - small
    job_marginal, loop_marginal = (job_large - job_small) / span, (loop_large - loop_small) / span
    print(
        "Rate caps off for the job ([ssl_certificates] "
        + ", ".join(f"{service}_calls_per_second" for service in PACED)
        + " = 0: the emulator is not throttled); the loop is unpaced;"
        f" best of {args.rounds} interleaved round(s)"
    )
    print(
        f"{'job ' + str(small):>9}{'job ' + str(large):>10}{'job s/cert':>12}"
        f"{'loop ' + str(small):>9}{'loop ' + str(large):>10}{'loop s/cert':>13}{'ratio':>8}"
    )
    print(
        f"{job_small:>9.2f}{job_large:>10.2f}{job_marginal:>12.3f}{loop_small:>9.2f}{loop_large:>10.2f}"
        f"{loop_marginal:>13.3f}{job_marginal / loop_marginal:>8.2f}"
    )
    print(
        f"s/cert: marginal cost per certificate, (t{large} - t{small}) / {span}; goal: the job's <= 2x the loop's"
    )
    print(
        f"steps of the {large}-item job, s: "
        + ", ".join(f"{task} {seconds:.1f}" for task, seconds in sorted(steps.items(), key=lambda kv: -kv[1]))
    )
    for name in (f"job {large}", f"loop {large}"):
        counted = ", ".join(f"{op} {count}" for op, count in sorted(calls[name].items()) if op != "unknown")
        print(f"AWS calls counted at the proxy, {name}: {counted}")
    proxy.stop()
    server.stop()


def fleet_bench() -> None:
    """Planning a 2,000-site fleet file against an account holding them, next to a boto3 loop that reads
    each site's tags (scripts/bench_fleet.py)."""
    print(
        "\n== The fleet plan, 2,000 sites: read the file, read the account in bulk, plan "
        "vs a boto3 loop reading tags site by site ==",
        flush=True,
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_fleet.py")],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        print("fleet bench failed (see above)")
        return
    print(done.stdout.strip())


def tenant_bench(args: argparse.Namespace) -> None:
    """A 100-tenant job's marginal cost per tenant next to a plain boto3 loop making the same AWS calls
    (ministack for CloudFront); both sides' calls counted at proxies and printed beside the times."""
    print(
        "\n== The tenant job (managed certificates, ministack) vs a plain boto3 loop making the same calls ==",
        flush=True,
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_tenants.py"), str(args.rounds)],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        print("tenant bench failed (see above)")
        return
    print("\n".join(line for line in done.stdout.strip().splitlines() if not line.startswith("20")))


# --- Route 53 reads for a 1,000-name job next to a plain boto3 loop -----------------------------------

ROUTE53_ZONES = 3
ROUTE53_FILLER_RECORDS = 400
"""Records each bench zone holds before the job (the owner's own), so that a zone is more than one page."""


def route53_bench(args: argparse.Namespace) -> None:
    print(
        f"\n== Route 53 for a {args.route53_names}-name job in {ROUTE53_ZONES} zones (check, then validation "
        "records found and written) vs a plain boto3 loop ==",
        flush=True,
    )
    done = subprocess.run(
        [sys.executable, __file__, "_route53", "--names", str(args.route53_names)],
        capture_output=True,
        text=True,
        timeout=3600,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])),
        },
    )
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        print("Route 53 bench failed (see above)")
        return
    print("\n".join(line for line in done.stdout.strip().splitlines() if not line.startswith("20")))


def run_route53_bench(args: argparse.Namespace) -> None:
    """In a fresh process: moto behind the counting proxy; the package's DNS steps, then the loop."""
    from types import SimpleNamespace

    import boto3
    from moto.server import ThreadedMotoServer

    sys.path.insert(0, str(ROOT))
    from devstack.fault_proxy import FaultProxy

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    upstream = f"http://127.0.0.1:{port}"
    proxy = FaultProxy(upstream).start()
    os.environ["AIRFLOW_CONN_AWS_BENCH"] = json.dumps(
        {"conn_type": "aws", "login": "testing", "password": "testing", "extra": {"endpoint_url": proxy.url}}
    )
    seeder = boto3.client(
        "route53",
        endpoint_url=upstream,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    value = "_c9edd76ee4a0e2a74388032f3861cc50.ykybfrwcxw.acm-validations.aws."

    def reset() -> tuple[list[str], list[str]]:
        """Fresh zones, each holding the owner's records; return the zone names and the job's names."""
        urllib.request.urlopen(urllib.request.Request(f"{upstream}/moto-api/reset", method="POST", data=b""))
        zones = [f"zone{number}-bench.example" for number in range(ROUTE53_ZONES)]
        for zone in zones:
            zone_id = seeder.create_hosted_zone(Name=zone, CallerReference=uuid.uuid4().hex)["HostedZone"][
                "Id"
            ]
            filler = [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"owner{number}.{zone}",
                        "Type": "A",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": "192.0.2.1"}],
                    },
                }
                for number in range(ROUTE53_FILLER_RECORDS)
            ]
            seeder.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": filler})
        names = [f"site{number}.{zones[number % len(zones)]}" for number in range(args.names)]
        proxy.clear()
        return zones, names

    def validation_name(name: str) -> str:
        return f"_{uuid.uuid5(uuid.NAMESPACE_DNS, name).hex}.{name}."

    def package() -> tuple[float, float]:
        from cloudfront_ssl.steps import dns_job

        _, names = reset()
        config = SimpleNamespace(
            aws_conn_id="aws_bench",
            dns_aws_conn_id=None,
            route53_validation=True,
            route53_aliases=True,
            route53_overwrite=False,
            route53_zone_ids=None,
        )
        result: dict[str, Any] = {"errors": [], "notes": [], "conflicts": []}
        started = time.perf_counter()
        dns_job.check_dns(
            config,
            result,
            names=names,
            item_of_alias={name: number // 10 for number, name in enumerate(names)},
            own_targets=[],
            error=lambda field, message, item=None: {"field": field, "message": message, "item": item},
        )
        checked = time.perf_counter()
        if result["errors"]:
            raise SystemExit(f"the check refused the bench job: {result['errors'][:3]}")
        certificates = [
            {
                "names": names[start : start + 10],
                "validation_records": [
                    {"name": validation_name(name), "type": "CNAME", "value": value}
                    for name in names[start : start + 10]
                ],
            }
            for start in range(0, len(names), 10)
        ]
        plan = dns_job.find_validation_records(config, certificates)
        written = dns_job.write_validation_records(config, plan, "bench")
        if len(written["records"]) != len(names):
            raise SystemExit(f"the job wrote {len(written['records'])} validation records, not {len(names)}")
        return checked - started, time.perf_counter() - checked

    def plain_loop() -> tuple[float, float]:
        """The same reads and writes, boto3 only, unpaced: one read per name, one change batch per zone."""
        zones, names = reset()
        client = boto3.client(
            "route53",
            endpoint_url=proxy.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        started = time.perf_counter()
        zone_ids = {
            zone["Name"].rstrip("."): zone["Id"]
            for page in client.get_paginator("list_hosted_zones").paginate()
            for zone in page["HostedZones"]
        }

        def zone_of(name: str) -> str:
            return next(zone for zone in zones if name.rstrip(".").endswith("." + zone))

        for name in names:
            client.list_resource_record_sets(
                HostedZoneId=zone_ids[zone_of(name)], StartRecordName=name, MaxItems="1"
            )
        checked = time.perf_counter()
        changes: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            record_name = validation_name(name)
            client.list_resource_record_sets(
                HostedZoneId=zone_ids[zone_of(name)], StartRecordName=record_name, MaxItems="1"
            )
            changes.setdefault(zone_of(name), []).append(
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": record_name,
                        "Type": "CNAME",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            )
        for zone, batch in changes.items():
            client.change_resource_record_sets(HostedZoneId=zone_ids[zone], ChangeBatch={"Changes": batch})
        return checked - started, time.perf_counter() - checked

    rows = []
    for label, run in (("the package (paced)", package), ("plain boto3 loop", plain_loop)):
        check_s, steps_s = run()
        operations = proxy.operations()
        rows.append((label, check_s, steps_s, sum(operations.values()), operations))
    print(f"{'':<22}{'check s':>9}{'DNS steps s':>13}{'calls':>7}  calls by operation")
    for label, check_s, steps_s, total, operations in rows:
        counted = ", ".join(f"{op} {count}" for op, count in sorted(operations.items()))
        print(f"{label:<22}{check_s:>9.1f}{steps_s:>13.1f}{total:>7}  {counted}")
    print(
        f"{args.names} names in {ROUTE53_ZONES} zones of {ROUTE53_FILLER_RECORDS} records each; the package is paced at"
        " [ssl_certificates] route53_calls_per_second (Route 53 takes 5 requests a second per account)"
    )
    proxy.stop()
    server.stop()


# --- DAG parse time next to Airflow's example ---------------------------------------------------------


def run_parse_bench() -> None:
    """Parse each DAG file as the DAG processor does (a fresh child per file, Airflow already loaded)."""
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="cloudfront-ssl-bench-"))
    import airflow.example_dags
    import airflow.providers.standard.example_dags
    import airflow.sdk  # noqa: F401 - what the DAG processor has loaded before it parses a file
    from airflow.dag_processing.dagbag import DagBag

    reference = Path(airflow.providers.standard.example_dags.__file__).parent / "example_bash_operator.py"
    # Airflow's own TaskFlow example: what any DAG written with @task pays for Airflow's decorators.
    taskflow = Path(airflow.example_dags.__file__).parent / "tutorial_taskflow_api.py"
    files = [reference, taskflow, *sorted((ROOT / "dags").glob("*.py"))]
    for path in files:
        if not path.exists():
            raise SystemExit(f"parse bench: {path} does not exist")

    def parse_in_child(path: Path) -> float:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            started = time.perf_counter()
            bag = DagBag(dag_folder=str(path))
            elapsed = time.perf_counter() - started if not bag.import_errors and bag.dags else -1.0
            os.write(write, str(elapsed).encode())
            os._exit(0)
        os.close(write)
        value = float(os.read(read, 64).decode() or -1)
        os.close(read)
        os.waitpid(pid, 0)
        return value

    def parse_warm(path: Path, times: int = 5) -> float:
        DagBag(dag_folder=str(path))
        samples = []
        for _ in range(times):
            started = time.perf_counter()
            DagBag(dag_folder=str(path))
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    cold = {path: statistics.median(parse_in_child(path) for _ in range(3)) for path in files}
    warm = {path: parse_warm(path) for path in files}
    print("\n== DAG files' parse time, in one process, next to Airflow's example_bash_operator ==")
    print(
        f"{'file':<36}{'fresh child s':>14}{'x bash':>8}{'x taskflow':>11}{'again s':>10}{'x bash':>8}{'x taskflow':>11}"
    )
    for path in files:
        print(
            f"{path.name:<36}{cold[path]:>14.3f}{cold[path] / cold[reference]:>8.2f}{cold[path] / cold[taskflow]:>11.2f}"
            f"{warm[path]:>10.4f}{warm[path] / warm[reference]:>8.2f}{warm[path] / warm[taskflow]:>11.2f}"
        )
    print(
        "goal: <= 1.5x the reference (fresh child: as the DAG processor parses a file; again: modules cached).\n"
        "example_bash_operator uses no @task; a TaskFlow DAG also pays for Airflow's decorators on its first\n"
        "parse in a process, as tutorial_taskflow_api shows."
    )


def parse_bench() -> None:
    done = subprocess.run(
        [sys.executable, __file__, "_parse"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"},
    )
    if done.returncode != 0:
        print(done.stderr[-3000:])
    print("\n".join(line for line in done.stdout.strip().splitlines() if not line.startswith("20")))


# --- entry point --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run")
    run.add_argument("--jobs", type=int, default=1000)
    run.add_argument("--certs", type=int, default=10)
    run.add_argument("--reference-jobs", type=int, default=100)
    run.add_argument("--reference-role-jobs", type=int, default=30)
    run.add_argument("--interval", type=float, default=10.0)
    run.add_argument("--rounds", type=int, default=2)
    run.add_argument("--cap", type=float, default=5.0)
    run.add_argument("--triggerer-jobs", type=int, default=100)
    run.add_argument("--route53-names", type=int, default=1000)
    run.add_argument("--skip", default="")
    run.add_argument(
        "--distribution-sizes", default="10,100", help="the two job sizes of the whole-job figure (items)"
    )
    run.add_argument(
        "--distribution-rounds",
        type=int,
        default=2,
        help="interleaved rounds of the whole-job figure (best kept)",
    )
    run.add_argument("--uncapped", action="store_true", help="also time the create job with the rate cap off")
    fleet_cmd = sub.add_parser("_fleet")
    fleet_cmd.add_argument("port", type=int)
    fleet_cmd.add_argument("control_port", type=int)
    wait_cmd = sub.add_parser("_wait")
    for name in ("--impl", "--conn-id", "--conn-label", "--arns-file", "--control"):
        wait_cmd.add_argument(name)
    wait_cmd.add_argument("--interval", type=float)
    wait_cmd.add_argument("--rounds", type=int)
    create_cmd = sub.add_parser("_create")
    create_cmd.add_argument("--cap", type=float)
    create_cmd.add_argument("--uncapped", action="store_true")
    distributions_cmd = sub.add_parser("_create_distributions")
    distributions_cmd.add_argument("--sizes", default="10,100")
    distributions_cmd.add_argument("--rounds", type=int, default=2)
    route53_cmd = sub.add_parser("_route53")
    route53_cmd.add_argument("--names", type=int, default=1000)
    sub.add_parser("_parse")
    triggerer_cmd = sub.add_parser("_triggerer")
    triggerer_cmd.add_argument("--jobs", type=int)
    triggerer_cmd.add_argument("--cap", type=float)
    args = parser.parse_args(sys.argv[1:] if len(sys.argv) > 1 else ["run"])
    if args.command == "_fleet":
        serve_fleet(args.port, args.control_port)
        return
    if args.command == "_wait":
        run_wait_scenario(args)
        return
    if args.command == "_create":
        run_create_bench(args)
        return
    if args.command == "_create_distributions":
        run_create_with_distributions_bench(args)
        return
    if args.command == "_parse":
        run_parse_bench()
        return
    if args.command == "_route53":
        run_route53_bench(args)
        return
    if args.command == "_triggerer":
        from scripts.bench_triggerer import run_triggerer_bench

        run_triggerer_bench(args)
        return
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="cloudfront-ssl-bench-"))
    os.environ.update(
        {
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    skip = set(filter(None, args.skip.split(",")))
    started = time.monotonic()
    if "wait" not in skip:
        fleet = Fleet()
        try:
            print_wait(wait_bench(args, fleet), args.cap)
        finally:
            fleet.stop()
    if "triggerer" not in skip:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "_triggerer",
                "--jobs",
                str(args.triggerer_jobs),
                "--cap",
                str(args.cap),
            ],
            text=True,
            timeout=1800,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        if done.returncode != 0:
            print("real triggerer bench failed (see above)")
    if "create" not in skip:
        create_bench(args)
    if "distributions" not in skip:
        create_with_distributions_bench(args)
    if "tenants" not in skip:
        tenant_bench(args)
    if "fleet" not in skip:
        fleet_bench()
    if "route53" not in skip:
        route53_bench(args)
    if "parse" not in skip:
        parse_bench()
    print(f"\n(bench took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
