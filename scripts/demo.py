"""Run both jobs end to end on a local stack: moto as AWS, ``airflow standalone`` as Airflow.

``make demo`` runs this script on the development stack (:mod:`devstack`, shared with the tests): moto
in server mode on 127.0.0.1 as the AWS endpoint, seeded with a source distribution, an SNS topic and
a public Route 53 hosted zone (``demo.example.com``); ``airflow standalone`` (SQLite) on this
repository's DAGs and plugins with the ``aws_default`` connection pointing at moto. It drives the jobs
the way a user's script would, through the Airflow REST API: a token from ``/auth/token``, the DAGs
unpaused, three jobs triggered together: a create job (with Route 53 on), an import job and a tenant
job (``ssl_create_certificates`` with ``hosting: tenant`` on a multi-tenant distribution, CloudFront
served by ministack, the CloudFront SaaS Manager emulator the tests use, started beside moto; when it
cannot start, the demo says why and runs the other jobs); then, once the create job's site is live,
an update of its names (``ssl_update_site``: ``www.`` dropped, ``m.`` added, the certificate swapped
in the same change). It prints each task's state as it changes, then the
certificates with their validation records, the distributions with their CNAME targets, the Route 53
records the create job wrote (and that it left no step to a person), the site before and after the
update, and the SNS messages sent. It ends with a fleet run (``ssl_fleet``) over a small fleet file of
two sites: it prints the run's plan and what each site ended as. It exits 0 when every job succeeds
and 1 naming the failing step otherwise, and always stops every process it started (also on Ctrl-C).

``make up`` runs it with ``--keep-running``: the same stack and jobs, then the stack stays up for the
UI until Ctrl-C. Its Airflow home is ``.airflow/`` in the repository (git-ignored), so the admin
password stays the same from one ``make up`` to the next.

The emulator issues certificates after a few seconds and the jobs poll every few seconds, so the
demo takes minutes, not the hours that DNS validation can take on real AWS.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, for devstack

from devstack import pki  # noqa: E402
from devstack.emulator import Emulator  # noqa: E402
from devstack.engine import engine_stack  # noqa: E402
from devstack.environment import CONNECTION_REGION, DEMO_USERS, ROOT, USER, VIEWER, password_file  # noqa: E402
from devstack.jobs import Job, explain_failure, follow  # noqa: E402
from devstack.processes import StackFailure, tail  # noqa: E402
from devstack.stack import AirflowStack, standalone  # noqa: E402

CREATE_DAG = "ssl_create_certificates"
IMPORT_DAG = "ssl_import_certificate"
UPDATE_DAG = "ssl_update_site"
CLEANUP_DAG = "ssl_cleanup_job"
FLEET_DAG = "ssl_fleet"
FLEET_FILE = "fleet.yaml"
"""The demo's fleet file, in the Airflow home (``[ssl_certificates] fleet_file``)."""
STANDALONE_LOG = "airflow-standalone"
REPORT_ORDER = ("create", "import", "update", "tenant")
"""The order of the jobs in the demo's report and its last line."""
TENANT_CONN_ID = "aws_tenants"
"""The demo's connection for the tenant job: CloudFront at ministack, every other service at moto."""
DEMO_ZONE = "demo.example.com"
"""The public hosted zone the demo's create job writes its DNS records to (Route 53 on)."""


@dataclass
class Settings:
    """What one demo run uses: emulator timings, the jobs' size, where Airflow lives."""

    quick: bool
    keep_running: bool
    home: Path
    keep_home: bool
    port: int | None
    timeout_seconds: float
    engine: bool = False

    @property
    def validation_wait_seconds(self) -> int:
        """How long moto keeps a requested certificate PENDING_VALIDATION before issuing it."""
        return 6 if self.quick else 10

    @property
    def poll_interval_seconds(self) -> int:
        """The create job's ``poll_interval_seconds``."""
        return 2 if self.quick else 5


_START = time.monotonic()


def say(text: str = "") -> None:
    """Print one line of progress, prefixed with the time since the demo started."""
    elapsed = int(time.monotonic() - _START)
    prefix = f"[{elapsed // 60:2d}:{elapsed % 60:02d}] " if text else ""
    print(prefix + text, flush=True)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Announce a step; turn an unexpected error inside it into a :class:`StackFailure` naming it."""
    say(f"▶ {name}")
    try:
        yield
    except (StackFailure, KeyboardInterrupt):
        raise
    except Exception as error:  # any other error: say which step it broke
        raise StackFailure(name, f"{type(error).__name__}: {error}") from error


# --- the jobs --------------------------------------------------------------------------------------


def create_job_conf(settings: Settings, emulator: Emulator) -> dict[str, Any]:
    """The create job's conf: one certificate per line of names, copied from the seeded source."""
    certificates = ["demo.example.com, www.demo.example.com"]
    if not settings.quick:
        certificates += ["api.demo.example.com", "*.cdn.demo.example.com, cdn.demo.example.com"]
    return {
        "certificates": certificates,
        "create_distributions": True,
        "source_distribution_id": emulator.source_distribution_id,
        "tags": {"project": "cloudfront-ssl-demo"},
        "notification_topic_arn": emulator.topic_arn,
        "poll_interval_seconds": settings.poll_interval_seconds,
        "validation_timeout_hours": 1,
        # Every name is in the seeded hosted zone: the job writes the validation records and points
        # the names itself, so no DNS step is left to a person.
        "route53_validation": True,
        "route53_aliases": True,
    }


def update_site_conf(settings: Settings, emulator: Emulator, site: dict[str, Any]) -> dict[str, Any]:
    """The update of the create job's first site: it drops ``www.`` and gains ``m.`` (its
    certificate swapped in the same change; Route 53 records follow)."""
    names = [alias for alias in site["aliases"] if not alias.startswith("www.")]
    return {
        "distribution_id": site["id"],
        "names": [*names, f"m.{DEMO_ZONE}"],
        "notification_topic_arn": emulator.topic_arn,
        "poll_interval_seconds": settings.poll_interval_seconds,
        "validation_timeout_hours": 1,
        "route53_validation": True,
        "route53_aliases": True,
    }


@dataclass
class TenantStack:
    """ministack serving CloudFront SaaS Manager for the tenant job, and its multi-tenant distribution."""

    ministack: Any
    template_id: str

    def connection_env(self, emulator: Emulator) -> dict[str, str]:
        """The Airflow connection ``aws_tenants`` (an environment variable for the stack)."""
        from devstack.ministack import tenant_connection_extra

        extra = tenant_connection_extra(emulator.url, self.ministack.url, CONNECTION_REGION)
        connection = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
        return {f"AIRFLOW_CONN_{TENANT_CONN_ID.upper()}": json.dumps(connection)}


def start_tenant_stack(home: Path) -> TenantStack | None:
    """Start ministack and seed a multi-tenant distribution; None (and why, printed) when it cannot start."""
    from devstack.ministack import MiniStack, seed_template

    try:
        ministack = MiniStack.start(log=home / "ministack.log")
    except Exception as error:  # its virtualenv missing, no free port, it exited: say so, go on
        say(f"  ministack could not start ({type(error).__name__}: {error}); the tenant job is left out")
        say("  (make venv builds .venv/ministack; its log is ministack.log in the Airflow home)")
        return None
    try:
        template = seed_template(ministack.client())
    except Exception as error:
        ministack.stop()
        say(f"  ministack did not take the multi-tenant distribution ({error}); the tenant job is left out")
        return None
    say(f"  ministack listens on {ministack.url}; multi-tenant distribution {template}")
    return TenantStack(ministack, template)


def tenant_job_conf(settings: Settings, emulator: Emulator, tenants: TenantStack) -> dict[str, Any]:
    """The tenant job's conf: one tenant with its own ACM certificate, Route 53 on."""
    return {
        "certificates": [f"tenant.{DEMO_ZONE}, www.tenant.{DEMO_ZONE}"],
        "hosting": "tenant",
        "multi_tenant_distribution_id": tenants.template_id,
        "certificate_source": "acm",
        "tags": {"project": "cloudfront-ssl-demo"},
        "notification_topic_arn": emulator.topic_arn,
        "poll_interval_seconds": settings.poll_interval_seconds,
        "validation_timeout_hours": 1,
        "route53_validation": True,
        "route53_aliases": True,
        "aws_conn_id": TENANT_CONN_ID,
    }


def print_tenants(job: Job) -> None:
    """The tenant job's tenants with their routing endpoint and certificate."""
    summary = job.summary or {}
    print(f"{job.label}: {job.dag_id} run {job.run_id}: {job.state.upper()} in {job.duration()}")
    if not summary.get("tenants"):
        print("  (no tenant)")
    for tenant in summary.get("tenants") or []:
        print(f"  tenant {tenant['id']} ({tenant['name']}), certificate {tenant['certificate_arn']}")
        for name in tenant["domains"]:
            print(f"    {name}  CNAME  {tenant['routing_endpoint']}")
    written = summary.get("dns_records") or []
    if written:
        print(f"  Route 53 records the job wrote: {len(written)}")
        for record in written:
            print(
                f"    {record['name']}  {record['type']}  {record.get('value')}  (hosted zone {record['zone_id']})"
            )
    print()


def print_site_change(job: Job) -> None:
    """The update's site before and after, as its summary says."""
    summary = job.summary or {}
    print(f"{job.label}: {job.dag_id} run {job.run_id}: {job.state.upper()} in {job.duration()}")
    if not summary.get("distribution_id"):
        print("  (no summary)")
        return
    print(f"  distribution {summary['distribution_id']}")
    print(f"    names before: {', '.join(summary['names_before'])}")
    print(f"    names after:  {', '.join(summary['names_after'])}")
    print(
        f"    added {', '.join(summary['names_added']) or 'nothing'}; removed {', '.join(summary['names_removed']) or 'nothing'}"
    )
    print(f"    certificate before: {summary['certificate_before']}")
    print(f"    certificate after:  {summary['certificate_arn']}")
    deleted = "deleted" if summary["replaced_certificate_deleted"] else "kept"
    print(
        f"    replaced certificate {deleted}; Route 53 records written {len(summary['dns_records'])}, removed "
        f"{len([r for r in summary.get('dns_records_removed') or [] if r.get('action') == 'deleted'])}"
    )
    print()


def seed_hosted_zone(emulator: Emulator) -> str:
    """The public Route 53 hosted zone of the create job's names (created once); its id."""
    import boto3

    route53 = boto3.client(
        "route53",
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for zone in route53.list_hosted_zones()["HostedZones"]:
        if zone["Name"] == f"{DEMO_ZONE}." and not zone.get("Config", {}).get("PrivateZone"):
            return zone["Id"].rsplit("/", 1)[-1]
    created = route53.create_hosted_zone(Name=DEMO_ZONE, CallerReference=f"demo-{time.time_ns()}")
    return created["HostedZone"]["Id"].rsplit("/", 1)[-1]


def import_job_conf(emulator: Emulator) -> dict[str, Any]:
    """The import job's conf: a freshly made certificate bundle and a distribution for its names."""
    return {
        "certificate_name": "demo-shop",
        **pki.certificate_bundle(["shop.demo.example.com", "www.shop.demo.example.com"]),
        "create_distributions": True,
        "source_distribution_id": emulator.source_distribution_id,
        "tags": {"project": "cloudfront-ssl-demo"},
        "notification_topic_arn": emulator.topic_arn,
    }


# --- the report ------------------------------------------------------------------------------------


def fleet_file_text(settings: Settings, emulator: Emulator) -> str:
    """The demo's fleet file: two sites in the demo zone, Route 53 writing their records."""
    return "\n".join(
        [
            "# The sites this account should serve (docs/fleet.md). ssl_fleet keeps the account so.",
            "defaults:",
            f"  source_distribution_id: {emulator.source_distribution_id}",
            f"  notification_topic_arn: {emulator.topic_arn}",
            f"  poll_interval_seconds: {settings.poll_interval_seconds}",
            "  validation_timeout_hours: 1",
            "  route53_validation: true",
            "  route53_aliases: true",
            "sites:",
            "  - site: store",
            f"    names: [store.{DEMO_ZONE}, www.store.{DEMO_ZONE}]",
            "  - site: blog",
            f'    names: "blog.{DEMO_ZONE}"',
            "",
        ]
    )


def run_fleet(settings: Settings, emulator: Emulator, stack: AirflowStack) -> Job:
    """Write the fleet file, run ``ssl_fleet`` once through the REST API, print its plan and result."""
    api = stack.api
    fleet = Job("fleet", FLEET_DAG)
    path = settings.home / FLEET_FILE
    with step(f"write the fleet file {path} (two sites) and trigger {FLEET_DAG}"):
        path.write_text(fleet_file_text(settings, emulator))
        for line in path.read_text().splitlines():
            say(f"  | {line}")
        stack.wait_for_dags([FLEET_DAG, CLEANUP_DAG])
        for dag_id in (FLEET_DAG, CREATE_DAG, UPDATE_DAG, CLEANUP_DAG):
            api.unpause(dag_id)
        fleet.run_id = api.trigger(FLEET_DAG, {})
        fleet.started = time.monotonic()
        say(f"  run {fleet.run_id}")
    with step("follow the fleet run (it starts one create job per site and waits for them deferred)"):
        follow(api, [fleet], settings.timeout_seconds, stack.processes.check_alive, say)
    plan = api.xcom(FLEET_DAG, fleet.run_id, "plan") or {}
    report = api.xcom(FLEET_DAG, fleet.run_id, "report") or {}
    say("The fleet run's plan:")
    for line in str(plan.get("text") or "(no plan: see the read_fleet step's log)").splitlines():
        say(f"  {line}")
    say("What each site ended as:")
    for line in str(report.get("text") or "(no report)").splitlines():
        say(f"  {line}")
    fleet.summary = report
    if fleet.state != "success":
        explain_failure(api, fleet, say)
    return fleet


def fleet_line(fleet: Job) -> str:
    """One line for the fleet run, e.g. ``FLEET OK: 2 sites planned, 2 applied``."""
    sites = (fleet.summary or {}).get("sites") or []
    applied = sum(1 for site in sites if site.get("ended_as") == "applied")
    verdict = "OK" if fleet.state == "success" else "FAILED"
    return f"FLEET {verdict}: {len(sites)} sites planned, {applied} applied (run {fleet.run_id})"


def print_report(jobs: list[Job], messages: list[dict[str, str]], topic_arn: str) -> None:
    """Print what a user needs: certificates with validation records, distributions with CNAMEs, messages."""
    print("\n" + "=" * 100)
    for job in jobs:
        print(f"{job.label}: {job.dag_id} run {job.run_id}: {job.state.upper()} in {job.duration()}")
        summary = job.summary or {}
        if not summary:
            print("  (no summary)")
        for certificate in summary.get("certificates", []):
            print(f"  certificate {certificate['arn']}")
            print(f"    status {certificate.get('status')}; names: {', '.join(certificate.get('names', []))}")
            for record in certificate.get("validation_records") or []:
                print(f"    DNS validation record: {record['name']}  {record['type']}  {record['value']}")
        for distribution in summary.get("distributions", []):
            print(f"  distribution {distribution['id']} ({distribution['domain_name']})")
            for alias in distribution.get("aliases", []):
                print(f"    {alias}  CNAME  {distribution['domain_name']}")
        if summary.get("dns_records"):
            print(f"  Route 53 records the job wrote: {len(summary['dns_records'])}")
            for record in summary["dns_records"]:
                target = record.get("value") or f"alias {record['alias_target']['dns_name']}"
                print(f"    {record['name']}  {record['type']}  {target}  (hosted zone {record['zone_id']})")
        line = dns_line(summary)
        if line:
            print(f"  {line}")
        print()
    print(f"SNS messages published to {topic_arn}: {len(messages)}")
    for number, message in enumerate(messages, start=1):
        print(f"  --- message {number}: {message['subject']}")
        for line in message["message"].rstrip().splitlines():
            print(f"    {line}")
    print("=" * 100)


def dns_line(summary: dict[str, Any]) -> str | None:
    """Whether a job with Route 53 left a DNS step to a person: what it wrote, and what is left."""
    written = summary.get("dns_records") or []
    if not written:
        return None

    def count(number: int, noun: str) -> str:
        return f"{number} {noun}{'' if number == 1 else 's'}"

    in_dns = {(record["name"].rstrip("."), record["type"]) for record in written}
    validation = {
        record["name"].rstrip(".")
        for certificate in summary.get("certificates", [])
        for record in certificate.get("validation_records") or []
    }
    aliases = [
        alias for distribution in summary.get("distributions", []) for alias in distribution["aliases"]
    ]
    left_validation = sorted(name for name in validation if (name, "CNAME") not in in_dns)
    left_aliases = sorted(alias for alias in aliases if (alias, "A") not in in_dns)
    done = (
        f"{count(len(validation) - len(left_validation), 'validation record')} written in Route 53, "
        f"{count(len(summary.get('distributions', [])), 'distribution')} created, "
        f"{count(len(aliases) - len(left_aliases), 'name')} pointed at CloudFront"
    )
    if left_validation or left_aliases:
        return f"Left to a person: {', '.join(left_validation + left_aliases)} ({done})"
    return f"No step was left to a person: {done}"


def result_line(jobs: list[Job], messages: list[dict[str, str]]) -> str:
    """The one-line outcome that ``make demo`` ends with (the e2e test reads it)."""

    def count(number: int, noun: str) -> str:
        return f"{number} {noun}{'' if number == 1 else 's'}"

    parts = []
    for job in jobs:
        summary = job.summary or {}
        certificates = count(len(summary.get("certificates", [])), "certificate")
        distributions = count(len(summary.get("distributions", [])), "distribution")
        if job.label == "tenant":
            distributions = count(len(summary.get("tenants", [])), "tenant")
        parts.append(f"{job.label} job {job.state} ({certificates}, {distributions})")
    ok = all(job.state == "success" for job in jobs)
    return (
        f"DEMO {'OK' if ok else 'FAILED'}: " + ", ".join(parts) + f", {count(len(messages), 'SNS message')}"
    )


# --- main ------------------------------------------------------------------------------------------


def run(
    settings: Settings, emulator: Emulator, stack: AirflowStack, tenants: TenantStack | None = None
) -> int:
    """Run the jobs on the started stack, print the report; return the exit code."""
    with step(f"wait for Airflow to be healthy on {stack.url}"):
        stack.wait_healthy(say=say)
    with step("sign in: POST /auth/token"):
        stack.sign_in()
        say("  got a JWT for user admin")
    with step("wait for the DAG processor to load the DAGs"):
        stack.wait_for_dags([CREATE_DAG, IMPORT_DAG, UPDATE_DAG])
        say(f"  {CREATE_DAG}, {IMPORT_DAG} and {UPDATE_DAG} are loaded")

    api = stack.api
    # The create and import jobs, and beside them a tenant job: one distribution tenant on a
    # multi-tenant distribution (CloudFront on ministack).
    jobs = [Job("create", CREATE_DAG), Job("import", IMPORT_DAG)]
    confs = {"create": create_job_conf(settings, emulator), "import": import_job_conf(emulator)}
    if tenants is None:
        say("The tenant job is left out: ministack did not start (see above)")
    else:
        jobs.append(Job("tenant", CREATE_DAG))
        confs["tenant"] = tenant_job_conf(settings, emulator, tenants)
    for job in jobs:
        what = " with hosting: tenant (CloudFront on ministack)" if job.label == "tenant" else ""
        with step(f"unpause and trigger {job.dag_id}{what} (POST /api/v2/dags/{job.dag_id}/dagRuns)"):
            api.unpause(job.dag_id)
            job.run_id = api.trigger(job.dag_id, confs[job.label])
            job.started = time.monotonic()
            pem = ("private_key", "certificate_body", "certificate_chain")
            shown = {k: v for k, v in confs[job.label].items() if k not in pem}
            bundle = " + PEM bundle" if job.dag_id == IMPORT_DAG else ""
            say(f"  run {job.run_id}, conf {json.dumps(shown)}{bundle}")

    with step("follow the jobs, task by task"):
        follow(api, jobs, settings.timeout_seconds, stack.processes.check_alive, say)
    with step("read the results"):
        for job in jobs:
            job.summary = api.summary(job.dag_id, job.run_id)
            if job.state != "success":
                explain_failure(api, job, say)

    # Once the create job's site is live: change its names, the certificate swapped in the same change.
    sites = ((jobs[0].summary or {}).get("distributions") or []) if jobs[0].state == "success" else []
    if sites:
        update = Job("update", UPDATE_DAG)
        conf = update_site_conf(settings, emulator, sites[0])
        with step(f"change the site's names: trigger {UPDATE_DAG} (POST /api/v2/dags/{UPDATE_DAG}/dagRuns)"):
            api.unpause(UPDATE_DAG)
            update.run_id = api.trigger(UPDATE_DAG, conf)
            update.started = time.monotonic()
            say(f"  run {update.run_id}, conf {json.dumps(conf)}")
        with step("follow the update, task by task"):
            follow(api, [update], settings.timeout_seconds, stack.processes.check_alive, say)
        update.summary = api.summary(UPDATE_DAG, update.run_id)
        if update.state != "success":
            explain_failure(api, update, say)
        jobs.append(update)
    jobs.sort(key=lambda job: REPORT_ORDER.index(job.label))

    fleet = run_fleet(settings, emulator, stack)
    messages = emulator.messages()

    print_report([job for job in jobs if job.label in ("create", "import")], messages, emulator.topic_arn)
    for job in jobs:
        if job.dag_id == UPDATE_DAG:
            print_site_change(job)
        elif job.label == "tenant":
            print_tenants(job)
    failed = [job for job in jobs if job.state != "success"]
    for job in failed:
        say(f"FAILED: {job.label} job ({job.dag_id} {job.run_id}) at step {', '.join(job.failed_steps)}")
    if fleet.state != "success":
        say(f"FAILED: fleet run ({FLEET_DAG} {fleet.run_id}) at step {', '.join(fleet.failed_steps)}")
    print(fleet_line(fleet), flush=True)
    print(result_line(jobs, messages), flush=True)
    if settings.keep_running:
        keep_running(settings, emulator, stack)
    return 1 if failed or fleet.state != "success" else 0


def keep_running(settings: Settings, emulator: Emulator, stack: AirflowStack) -> None:
    """Keep the stack up for the UI until Ctrl-C (or until a component dies)."""
    passwords = password_file(settings.home)
    print(
        f"\nThe stack is running. Start here:\n"
        f"  SSL Certificates page:   {stack.url}/plugin/ssl-certificates  (New job: {stack.url}/ssl-certificates/new)\n"
        f"  Fleet page:              {stack.url}/ssl-certificates/fleet  (fleet file: {settings.home / FLEET_FILE})\n"
        f"  sign in as:              admin (password in {passwords}),\n"
        f"                           viewer / {DEMO_USERS[VIEWER][1]} (reads, may not start jobs),"
        f" user / {DEMO_USERS[USER][1]} (starts jobs)\n"
        f"  Airflow UI and REST API: {stack.url}\n"
        f"  AWS emulator (moto):     {emulator.url}  (state: {emulator.url}/moto-api/)\n"
        f"  source distribution:     {emulator.source_distribution_id}\n"
        f"  tenants:                 connection {TENANT_CONN_ID} (CloudFront on ministack), if ministack started\n"
        f"  SNS topic:               {emulator.topic_arn}\n"
        f"  logs:                    {settings.home}\n"
        "Press Ctrl-C to stop everything.",
        flush=True,
    )
    try:
        while True:
            stack.processes.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        # Ctrl-C is how `make up` is meant to end: the exit code stays that of the jobs.
        print("\nStopping the stack.", flush=True)


def parse_args(argv: list[str] | None = None) -> Settings:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one certificate per job and shorter waits (CI)")
    parser.add_argument(
        "--keep-running", action="store_true", help="keep the stack up until Ctrl-C (make up)"
    )
    parser.add_argument(
        "--home", type=Path, help="Airflow home (default: temporary, or .airflow/ with --keep-running)"
    )
    parser.add_argument(
        "--port", type=int, help="API server port (default: 8080 when free, else any free port)"
    )
    parser.add_argument(
        "--engine",
        action="store_true",
        help="docker-compose.yaml's engine instead of standalone: CeleryExecutor, PostgreSQL, Redis, "
        "two workers, two triggerers (make up-celery)",
    )
    parser.add_argument(
        "--timeout", type=float, default=420, help="seconds to wait for the jobs (default 420)"
    )
    args = parser.parse_args(argv)
    if args.home:
        home, keep = args.home.resolve(), True
    elif args.keep_running:
        home, keep = ROOT / ".airflow" / ("engine" if args.engine else ""), True
    else:
        home, keep = Path(tempfile.mkdtemp(prefix="cloudfront-ssl-demo-")), False
    return Settings(args.quick, args.keep_running, home, keep, args.port, args.timeout, args.engine)


def prepare_home(home: Path) -> None:
    """Create the Airflow home; in a kept home, forget the last stack's database and logs.

    The emulator keeps its state in memory, so runs recorded by an earlier stack would point at
    certificates and distributions that no longer exist. The password file is kept.
    """
    home.mkdir(parents=True, exist_ok=True)
    for path in [*home.glob("airflow.db*"), *home.glob("*.log"), home / "logs"]:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def main(argv: list[str] | None = None) -> int:
    """Entry point: start the stack, run the demo, stop everything, return the exit code."""
    settings = parse_args(argv)
    prepare_home(settings.home)

    def stop_on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # SIGTERM (a CI timeout, `kill`) must clean up like Ctrl-C does; SIGINT is set explicitly because a
    # shell starting the demo in the background hands it down ignored.
    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    say(
        f"Demo on the AWS emulator: certificates are issued {settings.validation_wait_seconds} s after "
        f"they are requested and the create job checks every {settings.poll_interval_seconds} s "
        "(on real AWS this waits for your DNS records)."
    )
    say(f"Airflow home: {settings.home} (a log per process: *.log)")
    emulator: Emulator | None = None
    stack: AirflowStack | None = None
    tenants: TenantStack | None = None
    code = 1
    try:
        with step("start the AWS emulator (moto in server mode on 127.0.0.1) and seed it"):
            emulator = Emulator.start(settings.validation_wait_seconds)
            emulator.seed()
            zone_id = seed_hosted_zone(emulator)
            say(f"  moto listens on {emulator.url}")
            say(f"  source distribution {emulator.source_distribution_id}, topic {emulator.topic_arn}")
            say(f"  public Route 53 hosted zone {DEMO_ZONE} ({zone_id})")
        with step("start ministack (CloudFront SaaS Manager, for the tenant job) beside moto"):
            tenants = start_tenant_stack(settings.home)
        # The jobs' default topic, so that jobs started from the UI notify too.
        topic = {
            "AIRFLOW_VAR_SSL_NOTIFICATION_TOPIC_ARN": emulator.topic_arn,
            # The fleet file the demo writes; ssl_fleet runs when triggered (no schedule in the demo).
            "AIRFLOW__SSL_CERTIFICATES__FLEET_FILE": str(settings.home / FLEET_FILE),
            "AIRFLOW__SSL_CERTIFICATES__FLEET_SCHEDULE": "none",
        }
        if tenants is not None:
            topic.update(tenants.connection_env(emulator))
        if settings.engine:
            with step("start the engine of docker-compose.yaml (CeleryExecutor, PostgreSQL, Redis)"):
                stack = engine_stack(settings.home, emulator.url, topic, api_port=settings.port or 8080)
                say(f"  PostgreSQL database {stack.database}, Redis database {stack.redis_db}")
                say(f"  started {', '.join(stack.start_components())}")
        else:
            with step("start airflow standalone (LocalExecutor)"):
                stack = standalone(settings.home, emulator.url, settings.port, topic)
                where = f"PostgreSQL database {stack.database}" if stack.postgres else "SQLite"
                say(f"  metadata database: {where}")
                stack.start(STANDALONE_LOG, "standalone")
        code = run(settings, emulator, stack, tenants)
    except StackFailure as failure:
        print(f"\nDEMO FAILED at step '{failure.step}': {failure.detail}", flush=True)
        if not settings.engine:
            print(tail(settings.home / f"{STANDALONE_LOG}.log", 20), flush=True)
    except KeyboardInterrupt:
        print("\nInterrupted.", flush=True)
        code = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("Stopping every process the demo started")
        if stack:
            stack.stop(say)
        if emulator:
            emulator.stop()
        if tenants:
            tenants.ministack.stop()
        if code == 0 and not settings.keep_home:
            shutil.rmtree(settings.home, ignore_errors=True)
        elif not settings.keep_home:
            say(f"Logs kept in {settings.home}")
        say(f"Done (exit code {code}).")
    return code


if __name__ == "__main__":
    sys.exit(main())
