"""ssl_update_site and ssl_cleanup_job with ``tenant_id``: real DAG runs on moto (ACM, SNS, Route 53) and
ministack (CloudFront SaaS Manager).

What a SaaS operator would check: a live tenant's names changed with no moment at which a name it keeps
is served without a certificate that covers it (a watcher reads the tenant throughout), in one
UpdateDistributionTenant with an ACM certificate and, with a certificate CloudFront manages, the old
names dropped only once the new certificate is issued; a change someone makes to the tenant meanwhile
kept (ministack checks IfMatch, so a stale write really is refused); every refusal before anything
changes; Route 53 CNAMEs; and one tenant removed (dry run first). ministack checks neither certificate
coverage nor DNS, issues managed certificates at once and never shows a tenant deploying: the fault
proxy makes a certificate pending, a DNS check fail and a tenant deploy.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.dag_runs import load_dag, run_dag
from tests.e2e.test_update_site import CREATOR, issued_certificate
from tests.route53_support import create_zone, put_record, records, route53_client
from tests.tenants import TENANT_CONN_ID

DAG_ID = "ssl_update_site"
PROXIED_CONN_ID = "aws_tenants_update_proxied"


@pytest.fixture
def dag(airflow_db):
    return load_dag(DAG_ID)


@pytest.fixture
def cleanup_dag(airflow_db):
    return load_dag("ssl_cleanup_job")


@pytest.fixture
def proxied(tenant_aws):
    """A connection whose CloudFront goes through the fault proxy to ministack."""
    from devstack.fault_proxy import FaultProxy
    from tests.conftest import tenant_connection

    with FaultProxy(tenant_aws.ministack.url) as proxy:
        tenant_connection(PROXIED_CONN_ID, proxy.url)
        yield proxy


def make_tenant(world, template, names, *, managed=False, tags=CREATOR, parameters=None):
    """A live tenant serving ``names``, as a create job leaves it: its ACM certificate (made by a job of
    the package) or a managed one. Returns ``(tenant id, certificate ARN)``."""
    kwargs = {}
    if managed:
        kwargs["ManagedCertificateRequest"] = {
            "ValidationTokenHost": "cloudfront",
            "PrimaryDomainName": names[0],
        }
        certificate = None
    else:
        certificate = issued_certificate(world.aws, names, CREATOR)
        kwargs["Customizations"] = {"Certificate": {"Arn": certificate}}
    if parameters:
        kwargs["Parameters"] = [{"Name": k, "Value": v} for k, v in parameters.items()]
    tenant = world.cloudfront.create_distribution_tenant(
        DistributionId=template,
        Name=names[0],
        Domains=[{"Domain": name} for name in names],
        Tags={"Items": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]},
        Enabled=True,
        **kwargs,
    )["DistributionTenant"]
    if managed:
        certificate = world.cloudfront.get_managed_certificate_details(Identifier=tenant["Id"])[
            "ManagedCertificateDetails"
        ]["CertificateArn"]
    return tenant["Id"], certificate


def conf(world, tenant_id, names, **extra):
    return {
        # Spelled out: dag.test() keeps an earlier run's params on the DAG object.
        "distribution_id": None,
        "tenant_id": tenant_id,
        "names": names,
        "notification_topic_arn": world.aws.topic_arn,
        "poll_interval_seconds": 1,
        "aws_conn_id": TENANT_CONN_ID,
        **extra,
    }


def tenant_state(world, tenant_id):
    """``(sorted domains, ACM certificate ARN or None, parameters)`` of a tenant on ministack."""
    tenant = world.cloudfront.get_distribution_tenant(Identifier=tenant_id)["DistributionTenant"]
    domains = sorted(entry["Domain"] for entry in tenant.get("Domains") or [])
    arn = ((tenant.get("Customizations") or {}).get("Certificate") or {}).get("Arn")
    return domains, arn, tenant.get("Parameters") or []


def certificate_arns(world):
    return {certificate["CertificateArn"] for certificate in world.aws.certificates()}


class TenantWatcher:
    """Reads a tenant every ``interval`` seconds from a thread and records every moment at which a
    domain is not covered by the certificate it serves: its ACM certificate (names from moto) or, for a
    managed one, the names CloudFront validated (``ValidationTokenDetails``). With ``kept``, only those
    names are held to it (a managed certificate is issued for names that already point at the tenant)."""

    def __init__(self, world, tenant_id, *, kept=None, interval=0.05):
        from cloudfront_ssl.rules.names import covers

        self.world, self.tenant_id, self.kept, self.interval = world, tenant_id, kept, interval
        self.covers = covers
        self.reads = 0
        self.states: list[tuple[tuple[str, ...], str | None]] = []
        self.uncovered: list[str] = []
        self._names: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _certificate(self):
        cf = self.world.cloudfront
        tenant = cf.get_distribution_tenant(Identifier=self.tenant_id)["DistributionTenant"]
        domains = tuple(sorted(entry["Domain"] for entry in tenant.get("Domains") or []))
        arn = ((tenant.get("Customizations") or {}).get("Certificate") or {}).get("Arn")
        if arn:
            if arn not in self._names:
                certificate = self.world.aws.acm.describe_certificate(CertificateArn=arn)["Certificate"]
                self._names[arn] = [
                    certificate["DomainName"],
                    *certificate.get("SubjectAlternativeNames", []),
                ]
            return domains, arn, self._names[arn]
        details = (
            cf.get_managed_certificate_details(Identifier=self.tenant_id).get("ManagedCertificateDetails")
            or {}
        )
        covered = [entry["Domain"] for entry in details.get("ValidationTokenDetails") or []]
        if details.get("CertificateStatus") != "issued":
            covered = []
        return domains, details.get("CertificateArn"), covered

    def _run(self):
        while not self._stop.is_set():
            domains, arn, names = self._certificate()
            self.reads += 1
            if not self.states or self.states[-1] != (domains, arn):
                self.states.append((domains, arn))
            for domain in domains:
                if self.kept is not None and domain not in self.kept:
                    continue
                if not any(self.covers(name, domain) for name in names):
                    self.uncovered.append(f"{domain} served with {arn} covering {names}")
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)


def test_acm_tenant_new_certificate_swapped_in_one_change_and_a_concurrent_edit_kept(dag, tenant_aws):
    template = tenant_aws.template({"tier": False})
    tenant_id, old_certificate = make_tenant(
        tenant_aws, template, ["shop.example.com", "old.example.com"], parameters={"tier": "gold"}
    )
    edited = {}

    def edit_while_the_job_waits():
        # Once the job has requested its certificate it waits for ACM: change the tenant then, as a
        # person in the console would.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            requested = [
                c for c in tenant_aws.aws.certificates() if c["Tags"].get("airflow:dag_id") == DAG_ID
            ]
            if requested:
                response = tenant_aws.cloudfront.get_distribution_tenant(Identifier=tenant_id)
                tenant = response["DistributionTenant"]
                tenant_aws.cloudfront.update_distribution_tenant(
                    Id=tenant_id,
                    IfMatch=response["ETag"],
                    DistributionId=tenant["DistributionId"],
                    Domains=[{"Domain": d["Domain"]} for d in tenant["Domains"]],
                    Customizations=tenant["Customizations"],
                    Parameters=[{"Name": "tier", "Value": "platinum"}],
                )
                edited["status"] = requested[0]["Status"]
                return
            time.sleep(0.1)

    editor = threading.Thread(target=edit_while_the_job_waits, daemon=True)
    editor.start()
    with TenantWatcher(tenant_aws, tenant_id) as watcher:
        result = run_dag(dag, conf(tenant_aws, tenant_id, ["shop.example.com", "www.shop.example.com"]))
    editor.join(timeout=30)

    assert result.state == "success", result.task_states
    assert edited["status"] == "PENDING_VALIDATION"  # the edit landed while the job waited, before the swap
    summary = result.xcom("summary")
    (new_certificate,) = summary["certificates"]
    domains, arn, parameters = tenant_state(tenant_aws, tenant_id)
    assert domains == ["shop.example.com", "www.shop.example.com"]
    assert arn == new_certificate["arn"] != old_certificate
    assert parameters == [{"Name": "tier", "Value": "platinum"}]  # the person's change is kept
    assert summary["tenant_id"] == tenant_id
    assert summary["names_before"] == ["shop.example.com", "old.example.com"]
    assert summary["names_after"] == ["shop.example.com", "www.shop.example.com"]
    assert summary["names_added"] == ["www.shop.example.com"]
    assert summary["names_removed"] == ["old.example.com"]
    assert summary["certificate_before"] == old_certificate
    assert summary["certificate_arn"] == new_certificate["arn"]
    assert summary["replaced_certificate_deleted"] is True
    assert old_certificate not in certificate_arns(tenant_aws)
    assert summary["tenants"][0]["id"] == tenant_id and summary["tenants"][0]["managed"] is False
    assert result.task_states["update_distribution"] == ["skipped"]

    # Watched throughout: two states only (before, after), never an uncovered domain.
    assert watcher.reads > 10
    assert watcher.uncovered == []
    assert [state[1] for state in watcher.states] == [old_certificate, new_certificate["arn"]]
    told = tenant_aws.aws.messages()[-1]
    assert f"tenant shop.example.com ({tenant_id})" in told["message"]
    assert "www.shop.example.com  CNAME  " in told["message"]


def test_a_stale_write_is_refused_by_cloudfront_read_again_and_the_other_change_kept(tenant_aws):
    """ministack checks IfMatch: a person's change lands between the job's read and its write, CloudFront
    answers PreconditionFailed, and the change is made again on the tenant read anew."""
    from cloudfront_ssl.aws.tenants import set_tenant_domains

    template = tenant_aws.template({"tier": False})
    tenant_id, certificate = make_tenant(
        tenant_aws, template, ["race.example.com"], parameters={"tier": "gold"}
    )
    wide = issued_certificate(tenant_aws.aws, ["race.example.com", "*.race.example.com"])
    person = tenant_aws.ministack.client()
    job = tenant_aws.ministack.client()
    failures = []

    def edit_after_the_first_read(**_):
        if failures:
            return
        failures.append("edited")
        response = person.get_distribution_tenant(Identifier=tenant_id)
        tenant = response["DistributionTenant"]
        person.update_distribution_tenant(
            Id=tenant_id,
            IfMatch=response["ETag"],
            DistributionId=tenant["DistributionId"],
            Domains=[{"Domain": d["Domain"]} for d in tenant["Domains"]],
            Customizations=tenant["Customizations"],
            Parameters=[{"Name": "tier", "Value": "edited in between"}],
        )

    job.meta.events.register("after-call.cloudfront.GetDistributionTenant", edit_after_the_first_read)
    sent = []
    job.meta.events.register(
        "after-call.cloudfront.UpdateDistributionTenant",
        lambda http_response, **_: sent.append(http_response.status_code),
    )

    result = set_tenant_domains(
        job, tenant_id, domains=["race.example.com", "www.race.example.com"], certificate_arn=wide
    )

    assert sent == [412, 200]  # refused as stale, then sent again on the tenant read anew
    assert result["changed"] is True
    domains, arn, parameters = tenant_state(tenant_aws, tenant_id)
    assert domains == ["race.example.com", "www.race.example.com"] and arn == wide != certificate
    assert parameters == [{"Name": "tier", "Value": "edited in between"}]


ISSUED = b"<CertificateStatus>issued</CertificateStatus>"
VALID = b"<Status>valid-configuration</Status>"


def test_managed_tenant_gets_its_new_certificate_before_the_old_names_go(dag, tenant_aws, proxied):
    r53 = route53_client(tenant_aws.aws.url)
    zone = create_zone(r53, "example.com")
    template = tenant_aws.template()
    tenant_id, old_certificate = make_tenant(
        tenant_aws, template, ["app.example.com", "old.example.com"], managed=True
    )
    endpoint = tenant_aws.cloudfront.list_connection_groups()["ConnectionGroups"][0]["RoutingEndpoint"]
    put_record(r53, zone, "old.example.com", "CNAME", endpoint)
    # The check reads the certificate once; then the wait sees the new one pending twice, with the new
    # name's DNS not right yet, before CloudFront issues it.
    proxied.rewrite(
        "GetManagedCertificateDetails",
        ISSUED,
        b"<CertificateStatus>pending-validation</CertificateStatus>",
        3,
    )
    proxied.rewrite(
        "VerifyDnsConfiguration",
        VALID,
        b"<Status>invalid-configuration</Status><Reason>no CNAME yet</Reason>",
        1,
    )
    job_conf = conf(
        tenant_aws,
        tenant_id,
        ["app.example.com", "new.example.com"],
        aws_conn_id=PROXIED_CONN_ID,
        route53_aliases=True,
    )

    with TenantWatcher(tenant_aws, tenant_id, kept={"app.example.com"}) as watcher:
        result = run_dag(dag, job_conf)

    assert result.state == "success", result.task_states
    assert result.task_states["request_certificates"] == ["success"] and tenant_aws.aws.certificates() == []
    calls = [operation for _, operation in proxied.calls]
    updates = [i for i, operation in enumerate(calls) if operation == "UpdateDistributionTenant"]
    assert len(updates) == 2
    polls = [i for i, operation in enumerate(calls) if operation == "GetManagedCertificateDetails"]
    # The old names were dropped only after the wait saw the new certificate issued (its last poll).
    waited = [i for i in polls if updates[0] < i < updates[1]]
    assert len(waited) >= 3
    assert calls.count("VerifyDnsConfiguration") >= 1
    domains, arn, _ = tenant_state(tenant_aws, tenant_id)
    assert domains == ["app.example.com", "new.example.com"] and arn is None
    assert list(dict.fromkeys(state[0] for state in watcher.states)) == [
        ("app.example.com", "old.example.com"),
        ("app.example.com", "new.example.com", "old.example.com"),
        ("app.example.com", "new.example.com"),
    ]
    assert watcher.uncovered == []
    summary = result.xcom("summary")
    assert summary["managed"] is True
    assert summary["certificate_before"] == old_certificate
    assert summary["certificate_arn"] and summary["certificate_arn"] != old_certificate
    held = {r["name"]: r for r in records(r53, zone) if r["type"] == "CNAME"}
    assert held["new.example.com"]["values"] == [endpoint]
    assert "old.example.com" not in held  # it pointed at this tenant's endpoint
    assert {(r["name"], r["action"]) for r in summary["dns_records_removed"]} == {
        ("old.example.com", "deleted")
    }


def test_refused_before_anything_changes(dag, tenant_aws, monkeypatch):
    template = tenant_aws.template()
    tenant_id, certificate = make_tenant(tenant_aws, template, ["mine.example.com"])
    tenant_aws.tenant_of_someone(template, "held.example.com", ["held.example.com"])
    tenant_aws.regular_distribution(["alias.example.com"])
    before = (tenant_state(tenant_aws, tenant_id), certificate_arns(tenant_aws))

    taken = run_dag(
        dag, conf(tenant_aws, tenant_id, ["mine.example.com", "held.example.com", "alias.example.com"])
    )
    both = run_dag(
        dag,
        conf(tenant_aws, tenant_id, ["mine.example.com"], distribution_id=tenant_aws.regular_distribution()),
    )
    missing = run_dag(dag, conf(tenant_aws, "dt_doesnotexist000000000000000", ["mine.example.com"]))
    monkeypatch.setenv("AIRFLOW__SSL_CERTIFICATES__DOMAINS_PER_TENANT", "2")
    over = run_dag(
        dag, conf(tenant_aws, tenant_id, ["mine.example.com", "a.mine.example.com", "b.mine.example.com"])
    )

    for result in (taken, both, missing, over):
        assert result.state == "failed"
        assert result.task_states["check"] == ["failed"]
        assert result.task_states["update_tenant"] == ["upstream_failed"]
    assert (tenant_state(tenant_aws, tenant_id), certificate_arns(tenant_aws)) == before
    told = [m["message"] for m in tenant_aws.aws.messages()]
    assert any("held.example.com is already a domain of tenant" in m for m in told)
    assert any("alias.example.com is already an alias of distribution" in m for m in told)
    assert any(
        "give distribution_id (a distribution) or tenant_id (a distribution tenant)" in m for m in told
    )
    assert any("tenant_id: tenant dt_doesnotexist000000000000000 does not exist" in m for m in told)
    assert any("3 names, but a tenant takes at most 2 domains" in m for m in told)


def test_a_tenant_another_running_job_is_changing_is_refused(dag, tenant_aws):
    from tests.e2e.test_claims import claim_variables, finish_stray_runs, set_running

    finish_stray_runs()
    template = tenant_aws.template()
    tenant_id, _ = make_tenant(tenant_aws, template, ["claimed.example.com"])
    wide = issued_certificate(tenant_aws.aws, ["claimed.example.com", "*.claimed.example.com"])
    first = run_dag(
        dag,
        conf(tenant_aws, tenant_id, ["claimed.example.com", "a.claimed.example.com"], certificate_arn=wide),
    )
    assert first.state == "success", first.task_states
    (claim,) = [c for c in claim_variables().values() if c["run_id"] == first.run_id]
    assert f"site:{tenant_id.lower()}" in claim["names"] and claim["held"]
    set_running(DAG_ID, first.run_id, running=True)
    try:
        before = tenant_state(tenant_aws, tenant_id)
        second = run_dag(dag, conf(tenant_aws, tenant_id, ["claimed.example.com"], certificate_arn=wide))
        assert second.task_states["check"] == ["failed"]
        assert tenant_state(tenant_aws, tenant_id) == before
        failure = tenant_aws.aws.messages()[-1]["message"]
        assert f"tenant {tenant_id} is being changed by job {first.run_id}" in failure
    finally:
        set_running(DAG_ID, first.run_id, running=False)


def test_route53_cnames_for_added_names_removed_only_where_they_point_at_the_tenant(dag, tenant_aws):
    r53 = route53_client(tenant_aws.aws.url)
    zone = create_zone(r53, "example.org")
    template = tenant_aws.template()
    tenant_id, _ = make_tenant(
        tenant_aws, template, ["shop.example.org", "old.example.org", "moved.example.org"]
    )
    endpoint = tenant_aws.cloudfront.list_connection_groups()["ConnectionGroups"][0]["RoutingEndpoint"]
    put_record(r53, zone, "old.example.org", "CNAME", endpoint)
    put_record(r53, zone, "moved.example.org", "CNAME", "elsewhere.example.net")  # not the job's to delete

    result = run_dag(
        dag,
        conf(
            tenant_aws,
            tenant_id,
            ["shop.example.org", "new.example.org", "example.org"],
            route53_validation=True,
            route53_aliases=True,
        ),
    )

    assert result.state == "success", result.task_states
    held = {
        r["name"]: r["values"]
        for r in records(r53, zone)
        if r["type"] == "CNAME" and not r["name"].startswith("_")
    }
    assert held == {"new.example.org": [endpoint], "moved.example.org": ["elsewhere.example.net"]}
    summary = result.xcom("summary")
    assert {"zone_id": zone, "name": "new.example.org", "type": "CNAME", "value": endpoint} in summary[
        "dns_records"
    ]
    assert any(
        r["type"] == "CNAME" and r["name"].startswith("_") for r in summary["dns_records"]
    )  # validation
    removed = {r["name"]: r["action"] for r in summary["dns_records_removed"]}
    assert removed == {
        "old.example.org": "deleted",
        "moved.example.org": "kept: it does not point at this tenant's routing endpoint",
    }
    told = tenant_aws.aws.messages()[-1]["message"]
    assert f"example.org  CNAME  {endpoint}   (a zone apex cannot hold a CNAME record)" in told


def test_cleanup_removes_one_tenant_after_a_dry_run(cleanup_dag, tenant_aws, proxied):
    r53 = route53_client(tenant_aws.aws.url)
    zone = create_zone(r53, "example.net")
    template = tenant_aws.template()
    tenant_id, certificate = make_tenant(tenant_aws, template, ["gone.example.net", "www.gone.example.net"])
    shared_id, shared = make_tenant(tenant_aws, template, ["stay.example.net"])
    someone = tenant_aws.tenant_of_someone(template, "foreign.example.net", ["foreign.example.net"])
    endpoint = tenant_aws.cloudfront.list_connection_groups()["ConnectionGroups"][0]["RoutingEndpoint"]
    put_record(r53, zone, "gone.example.net", "CNAME", endpoint)
    put_record(r53, zone, "www.gone.example.net", "CNAME", "elsewhere.example.com")
    removal = {"tenant_id": tenant_id, "aws_conn_id": PROXIED_CONN_ID}

    dry = run_dag(cleanup_dag, removal)

    assert dry.state == "success", dry.task_states
    listed = dry.xcom("remove_job_resources")
    assert listed["tenants"] == [
        {
            "id": tenant_id,
            "name": "gone.example.net",
            "domains": ["gone.example.net", "www.gone.example.net"],
            "action": "would delete",
        }
    ]
    assert [(c["arn"], c["action"]) for c in listed["certificates"]] == [
        (certificate, "would delete (if nothing else uses it)")
    ]
    assert {(r["name"], r["action"]) for r in listed["dns_records"]} >= {("gone.example.net", "would delete")}
    assert tenant_state(tenant_aws, tenant_id)[0] == ["gone.example.net", "www.gone.example.net"]
    assert certificate in certificate_arns(tenant_aws)

    # CloudFront deploys the disabling for a few polls: the wait is deferred, the tenant deleted after.
    proxied.rewrite(
        "GetDistributionTenant",
        b"<Enabled>false</Enabled>",
        b"<Enabled>false</Enabled><Status>InProgress</Status>",
        3,
    )
    removed = run_dag(cleanup_dag, {**removal, "dry_run": False})

    assert removed.state == "success", removed.task_states
    result = removed.xcom("remove_job_resources")
    assert [(t["id"], t["action"]) for t in result["tenants"]] == [(tenant_id, "deleted")]
    assert [(c["arn"], c["action"]) for c in result["certificates"]] == [(certificate, "deleted")]
    left = {t["Id"] for t in tenant_aws.tenants()}
    assert left == {shared_id, someone}
    assert certificate not in certificate_arns(tenant_aws) and shared in certificate_arns(tenant_aws)
    cnames = {r["name"]: r["values"] for r in records(r53, zone) if r["type"] == "CNAME"}
    assert cnames == {"www.gone.example.net": ["elsewhere.example.com"]}
    assert proxied.count("DeleteDistributionTenant") == 1
    assert proxied.count("GetDistributionTenant") >= 4  # polled while it deployed

    refused = run_dag(cleanup_dag, {"tenant_id": someone, "aws_conn_id": TENANT_CONN_ID, "dry_run": False})
    assert refused.state == "failed"
    assert someone in {t["Id"] for t in tenant_aws.tenants()}
    forced = run_dag(
        cleanup_dag, {"tenant_id": someone, "aws_conn_id": TENANT_CONN_ID, "dry_run": False, "force": True}
    )
    assert forced.state == "success", forced.task_states
    assert {t["Id"] for t in tenant_aws.tenants()} == {shared_id}
    again = run_dag(cleanup_dag, {"tenant_id": someone, "aws_conn_id": TENANT_CONN_ID, "dry_run": False})
    assert again.state == "success" and again.xcom("remove_job_resources")["tenants"] == []


def test_the_watcher_sees_a_domain_its_certificate_does_not_cover(tenant_aws):
    """The watch above can fail: a tenant serving a name its certificate does not cover is seen."""
    template = tenant_aws.template()
    tenant_id, certificate = make_tenant(tenant_aws, template, ["watched.example.com"])
    with TenantWatcher(tenant_aws, tenant_id) as watcher:
        time.sleep(0.3)
        response = tenant_aws.cloudfront.get_distribution_tenant(Identifier=tenant_id)
        tenant_aws.cloudfront.update_distribution_tenant(
            Id=tenant_id,
            IfMatch=response["ETag"],
            DistributionId=template,
            Domains=[{"Domain": "watched.example.com"}, {"Domain": "uncovered.example.com"}],
            Customizations={"Certificate": {"Arn": certificate}},
        )
        time.sleep(0.3)
    assert any(entry.startswith("uncovered.example.com served with") for entry in watcher.uncovered)


def test_managed_certificate_waits_share_one_client_and_poll_only_what_is_needed(tenant_aws, proxied):
    """Two waits (two jobs) in one triggerer loop, four tenants: one client, and per poll one
    GetManagedCertificateDetails per tenant still waiting; CloudFront is asked to verify a tenant's DNS
    only while its certificate is pending and its names were not yet found right."""
    import asyncio

    from cloudfront_ssl.steps import tenant_wait

    template = tenant_aws.template()
    ids = [make_tenant(tenant_aws, template, [f"w{i}.example.com"], managed=True)[0] for i in range(4)]
    proxied.clear()
    # Two polls of every tenant see its certificate pending; the third sees it issued.
    proxied.rewrite(
        "GetManagedCertificateDetails",
        ISSUED,
        b"<CertificateStatus>pending-validation</CertificateStatus>",
        8,
    )

    async def two_waits():
        deadline = time.time() + 60
        triggers = [
            tenant_wait.ManagedCertificatesTrigger(ids[:2], PROXIED_CONN_ID, 0.5, deadline),
            tenant_wait.ManagedCertificatesTrigger(ids[2:], PROXIED_CONN_ID, 0.5, deadline),
        ]
        events = await asyncio.gather(*(anext(trigger.run()) for trigger in triggers))
        return events, tenant_wait.shared_client(PROXIED_CONN_ID)

    events, shared = asyncio.run(two_waits())

    assert [event.payload["status"] for event in events] == ["issued", "issued"]
    assert set(events[0].payload["certificates"]) | set(events[1].payload["certificates"]) == set(ids)
    assert shared.opened == 1 and shared.users == 0
    assert proxied.count("GetManagedCertificateDetails") == 12  # 4 tenants x 3 polls
    assert proxied.count("VerifyDnsConfiguration") == 4  # once each: found right at the first pending poll


def test_the_plan_api_says_what_a_tenant_update_changes_and_changes_nothing(tenant_aws, airflow_db):
    """``POST /ssl-certificates/api/plan`` with ``tenant_id``: the update's own check as a dry run."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    from tests.plugin_support import reset_catalog_cache, signed_in_airflow, token

    template = tenant_aws.template()
    tenant_id, certificate = make_tenant(tenant_aws, template, ["plan.example.com", "old.example.com"])
    tenant_aws.tenant_of_someone(template, "taken.example.com", ["taken.example.com"])
    before = (tenant_state(tenant_aws, tenant_id), certificate_arns(tenant_aws))
    with signed_in_airflow(airflow_db), TestClient(create_app()) as client:
        reset_catalog_cache()
        auth = {"Authorization": f"Bearer {token(client)}"}
        planned = client.post(
            "/ssl-certificates/api/plan",
            json={
                "tenant_id": tenant_id,
                "names": ["plan.example.com", "www.plan.example.com"],
                "aws_conn_id": TENANT_CONN_ID,
            },
            headers=auth,
        )
        refused = client.post(
            "/ssl-certificates/api/plan",
            json={
                "tenant_id": tenant_id,
                "names": ["plan.example.com", "taken.example.com"],
                "aws_conn_id": TENANT_CONN_ID,
            },
            headers=auth,
        )
    assert planned.status_code == 200, planned.text
    site = planned.json()["site"]
    assert site["tenant_id"] == tenant_id and site["distribution_id"] is None
    assert site["names_before"] == ["plan.example.com", "old.example.com"]
    assert site["names_added"] == ["www.plan.example.com"] and site["names_removed"] == ["old.example.com"]
    assert site["certificate_before"] == certificate and site["managed"] is False
    assert planned.json()["certificates"][0]["names"] == ["plan.example.com", "www.plan.example.com"]
    assert refused.status_code == 422
    (error,) = refused.json()["errors"]
    assert error["field"] == "names" and "taken.example.com is already a domain of tenant" in error["message"]
    assert (tenant_state(tenant_aws, tenant_id), certificate_arns(tenant_aws)) == before
