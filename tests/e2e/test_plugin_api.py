"""The SSL Certificates JSON API, through Airflow's own API server app and auth."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest

from tests import pki
from tests.dag_runs import load_dag, run_dag
from tests.plugin_support import reset_catalog_cache, signed_in_airflow, token, without_retries

API = "/ssl-certificates/api"


@pytest.fixture(scope="module")
def client(airflow_db):
    """A TestClient on the Airflow API server app, with the plugin mounted and SimpleAuthManager."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with signed_in_airflow(airflow_db), TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def auth(client, aws):
    reset_catalog_cache()
    return {"Authorization": f"Bearer {token(client)}"}


def _request(aws, names: list[str], tags: dict[str, str] | None = None) -> str:
    kwargs = {"SubjectAlternativeNames": names} if len(names) > 1 else {}
    items = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    if items:
        kwargs["Tags"] = items
    return aws.acm.request_certificate(DomainName=names[0], ValidationMethod="DNS", **kwargs)[
        "CertificateArn"
    ]


def test_every_endpoint_refuses_without_a_signed_in_user(client, aws):
    for path in (
        f"{API}/certificates",
        f"{API}/jobs",
        f"{API}/jobs/ssl_create_certificates/x",
        "/ssl-certificates/",
    ):
        assert client.get(path).status_code == 401, path
    assert client.get(f"{API}/certificates", headers={"Authorization": "Bearer not-a-token"}).status_code in (
        401,
        403,
    )


def test_search_by_exact_name_wildcard_text_and_status(client, auth, aws):
    wildcard = _request(aws, ["*.shop.example.com"])
    exact = _request(aws, ["www.example.com", "example.com"], {"airflow:dag_id": "d", "airflow:run_id": "r1"})
    _request(aws, ["other.example.org"])

    def arns(**query):
        response = client.get(f"{API}/certificates", params=query, headers=auth)
        assert response.status_code == 200, response.text
        return {item["arn"] for item in response.json()["certificates"]}

    assert arns(cname="WWW.Example.com") == {exact}
    assert arns(cname="a.shop.example.com") == {wildcard}
    assert arns(cname="a.b.shop.example.com") == set()  # a wildcard covers one label only
    assert arns(cname="shop.example.com") == set()
    assert arns(q="example.com") == {wildcard, exact}
    assert arns(q="SHOP") == {wildcard}
    assert arns(status="REVOKED") == set()

    everything = client.get(f"{API}/certificates", headers=auth).json()
    assert everything["total_entries"] == 3
    item = next(c for c in everything["certificates"] if c["arn"] == exact)
    assert item["names"] == ["www.example.com", "example.com"]
    assert item["type"] == "requested"
    assert item["job"] == {"dag_id": "d", "run_id": "r1"}
    assert item["in_use_by"] == []
    assert {"arn", "names", "status", "type", "not_after", "in_use_by", "job"} <= set(item)
    assert next(c for c in everything["certificates"] if c["arn"] == wildcard)["job"] is None


def test_status_filter(client, auth, aws):
    from moto import settings

    pending = _request(aws, ["pending.example.com"])
    failed = _request(aws, ["failed.example.com"])
    aws.fail_certificate(failed)
    old_wait = settings.ACM_VALIDATION_WAIT
    settings.ACM_VALIDATION_WAIT = 3600  # keep the first one pending
    try:
        listed = client.get(
            f"{API}/certificates", params={"status": "pending_validation"}, headers=auth
        ).json()
        assert [c["arn"] for c in listed["certificates"]] == [pending]
        listed = client.get(f"{API}/certificates", params={"status": "FAILED"}, headers=auth).json()
        assert [c["arn"] for c in listed["certificates"]] == [failed]
    finally:
        settings.ACM_VALIDATION_WAIT = old_wait


def _key_fragments(key_pem: str) -> list[str]:
    """Lines of the key's body: none may appear in any answer."""
    lines = [line for line in key_pem.splitlines() if line and not line.startswith("-----")]
    return [lines[0], lines[len(lines) // 2], lines[-2]]


def test_no_private_key_in_any_response(client, auth, aws):
    """Real import jobs with the key inline in their conf, one that succeeds and one that fails on
    the key (a key that does not match the certificate): no page or answer shows any part of it."""
    root = pki.make_root()
    good = pki.make_leaf(root, ["imported.example.com"])
    other = pki.make_leaf(root, ["other.example.com"], key=pki.rsa_key(2048, "another key"))
    dag = load_dag("ssl_import_certificate")
    common = {"notification_topic_arn": aws.topic_arn}
    imported = run_dag(
        dag,
        {
            **common,
            "certificate_name": "imported",
            "certificate_body": good.cert_pem(),
            "private_key": good.key_pem(),
        },
    )
    assert imported.state == "success", imported.task_states
    dag = load_dag("ssl_import_certificate")  # a fresh copy: a run leaves its conf in the DAG's params
    with without_retries(dag):
        refused = run_dag(
            dag,
            {
                **common,
                "certificate_name": "mismatch",
                "certificate_body": good.cert_pem(),
                "private_key": other.key_pem(),  # the wrong key: the job fails and says so
            },
        )
    assert refused.state == "failed", refused.task_states

    paths = [f"{API}/certificates", "/ssl-certificates/", f"{API}/jobs", "/ssl-certificates/jobs"]
    for run in (imported, refused):
        paths += [
            f"{API}/jobs/ssl_import_certificate/{run.run_id}",
            f"/ssl-certificates/jobs/ssl_import_certificate/{run.run_id}",
        ]
    fragments = _key_fragments(good.key_pem()) + _key_fragments(other.key_pem())
    for path in paths:
        response = client.get(path, headers=auth)
        assert response.status_code == 200, (path, response.text)
        # A PEM key block (a BEGIN line followed by key material) never appears. Refusals of other
        # jobs may name the label itself ("no -----BEGIN ... PRIVATE KEY----- block"): that is no key.
        assert not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----\s*[A-Za-z0-9+/=]{16}", response.text), path
        for fragment in fragments:
            assert fragment not in response.text, path

    # The answers did show the jobs (the scan read real content, not an empty page).
    job = client.get(f"{API}/jobs/ssl_import_certificate/{imported.run_id}", headers=auth).json()
    (certificate,) = job["summary"]["certificates"]
    assert certificate["names"] == ["imported.example.com"]
    failed = client.get(f"{API}/jobs/ssl_import_certificate/{refused.run_id}", headers=auth).json()
    assert failed["state"] == "failed" and failed["error"]
    item = client.get(f"{API}/certificates", params={"cname": "imported.example.com"}, headers=auth).json()
    assert item["certificates"][0]["type"] == "imported"
    assert item["certificates"][0]["arn"] == certificate["arn"]


def test_job_status_through_a_failed_and_a_successful_run(client, auth, aws, monkeypatch):
    from cloudfront_ssl.steps import create_job

    dag = load_dag("ssl_create_certificates")
    conf = {
        "certificates": ["shop.example.com, www.shop.example.com"],
        "source_distribution_id": aws.source_distribution_id,
        "notification_topic_arn": aws.topic_arn,
        "poll_interval_seconds": 1,
    }
    good = run_dag(dag, conf)
    assert good.state == "success"

    # A failed run: ACM refuses the certificate right after it was requested (CAA record).
    real_request = create_job.request_certificates

    def request_then_fail(*args, **kwargs):
        results = real_request(*args, **kwargs)
        for certificate in results:
            aws.fail_certificate(certificate["arn"])
        return results

    monkeypatch.setattr(create_job, "request_certificates", request_then_fail)
    with without_retries(dag):
        bad = run_dag(
            dag,
            {
                **conf,
                "certificates": ["caa.example.net"],
                "source_distribution_id": None,
                "create_distributions": False,
            },
        )
    assert bad.state == "failed"

    jobs = client.get(f"{API}/jobs", headers=auth).json()["jobs"]
    run_ids = [job["run_id"] for job in jobs]
    assert run_ids.index(bad.run_id) < run_ids.index(good.run_id)  # newest first
    listed = {job["run_id"]: job for job in jobs}
    assert listed[good.run_id]["names"] == ["shop.example.com", "www.shop.example.com"]
    assert (listed[good.run_id]["certificates"], listed[good.run_id]["distributions"]) == (1, 1)
    assert listed[good.run_id]["error"] is None
    assert (listed[bad.run_id]["certificates"], listed[bad.run_id]["distributions"]) == (1, 0)
    assert "wait_for_issuance" in listed[bad.run_id]["error"]
    by_name = client.get(f"{API}/jobs", params={"name": "CAA.example"}, headers=auth).json()["jobs"]
    assert [job["run_id"] for job in by_name] == [bad.run_id]
    failed_only = client.get(f"{API}/jobs", params={"state": "failed"}, headers=auth).json()["jobs"]
    assert bad.run_id in [j["run_id"] for j in failed_only] and good.run_id not in [
        j["run_id"] for j in failed_only
    ]
    imports = client.get(f"{API}/jobs", params={"dag_id": "ssl_import_certificate"}, headers=auth).json()[
        "jobs"
    ]
    assert all(j["dag_id"] == "ssl_import_certificate" for j in imports)
    assert not {good.run_id, bad.run_id} & {j["run_id"] for j in imports}

    job = client.get(f"{API}/jobs/ssl_create_certificates/{good.run_id}", headers=auth).json()
    assert job["state"] == "success" and job["error"] is None
    steps = {step["name"]: step["state"] for step in job["steps"]}
    assert steps["summary"] == "success" and steps["wait_for_issuance"] == "success"
    assert all({"name", "state", "start", "end"} <= set(step) for step in job["steps"])
    (certificate,) = job["summary"]["certificates"]
    assert certificate["names"] == ["shop.example.com", "www.shop.example.com"]
    assert certificate["validation_records"] and certificate["status"] == "ISSUED"
    (distribution,) = job["summary"]["distributions"]
    assert distribution["aliases"] == ["shop.example.com", "www.shop.example.com"]
    assert distribution["domain_name"].endswith(".cloudfront.net")

    # The DNS administrator's export: the validation record and the CNAME targets, CSV and zone lines.
    exported = client.get(f"{API}/jobs/ssl_create_certificates/{good.run_id}/records", headers=auth)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    validation_names = list(dict.fromkeys(r["name"] for r in certificate["validation_records"]))
    assert [(row["kind"], row["name"]) for row in rows] == [
        *(("validation", name) for name in validation_names),
        ("cname", "shop.example.com"),
        ("cname", "www.shop.example.com"),
    ]
    assert rows[-1]["value"] == distribution["domain_name"]
    zone = client.get(
        f"{API}/jobs/ssl_create_certificates/{good.run_id}/records", params={"format": "zone"}, headers=auth
    ).text
    assert f"www.shop.example.com.\t300\tIN\tCNAME\t{distribution['domain_name']}." in zone

    # The certificate list links each certificate to its job.
    listed = client.get(f"{API}/certificates", params={"cname": "www.shop.example.com"}, headers=auth).json()
    assert listed["certificates"][0]["job"] == {"dag_id": "ssl_create_certificates", "run_id": good.run_id}
    assert listed["certificates"][0]["in_use_by"] == [distribution["id"]]
    # "Used by" names the distribution by its CNAME target.
    assert listed["certificates"][0]["used_by"] == [
        {"kind": "distribution", "id": distribution["id"], "domain_name": distribution["domain_name"]}
    ]

    job = client.get(f"{API}/jobs/ssl_create_certificates/{bad.run_id}", headers=auth).json()
    assert job["state"] == "failed"
    assert "wait_for_issuance" in job["error"]
    steps = {step["name"]: step["state"] for step in job["steps"]}
    assert steps["wait_for_issuance"] == "failed" and steps["summary"] == "upstream_failed"
    (certificate,) = job["summary"]["certificates"]  # from the request step: the job had no summary
    assert certificate["names"] == ["caa.example.net"] and certificate["status"] == "FAILED"
    assert job["summary"]["distributions"] == []

    page = client.get(f"/ssl-certificates/jobs/ssl_create_certificates/{bad.run_id}", headers=auth)
    assert page.status_code == 200 and "wait_for_issuance" in page.text and "caa.example.net" in page.text
    assert client.get(f"{API}/jobs/ssl_create_certificates/no-such-run", headers=auth).status_code == 404
    assert client.get(f"{API}/jobs/some_other_dag/{good.run_id}", headers=auth).status_code == 404


def test_a_job_view_reads_its_own_certificates_not_the_account(client, auth, aws, monkeypatch):
    """Opening one job costs one ListCertificates sweep, whatever else the account holds.

    The view once loaded the certificates page's whole catalog (one ListTagsForCertificate per
    certificate of the account): on an API server paced at ACM's rate, a job of an account with a
    hundred certificates took 50 s to open.
    """
    import json

    from devstack.fault_proxy import FaultProxy

    proxy = FaultProxy(aws.url).start()
    try:
        # The job runs with its own connection, through the proxy: its view reads through the same.
        extra = {"endpoint_url": proxy.url, "region_name": "us-east-1"}
        monkeypatch.setenv(
            "AIRFLOW_CONN_AWS_COUNTED",
            json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}),
        )
        dag = load_dag("ssl_create_certificates")
        conf = {
            "certificates": ["own.example.com", "other.example.com"],
            "create_distributions": False,
            "notification_topic_arn": aws.topic_arn,
            "poll_interval_seconds": 1,
            "aws_conn_id": "aws_counted",
        }
        run = run_dag(dag, conf)
        assert run.state == "success"
        for number in range(40):  # the rest of the account, which the job's view has no reason to read
            _request(
                aws,
                [f"unrelated{number}.example.org"],
                {"airflow:dag_id": "d", "airflow:run_id": f"r{number}"},
            )
        proxy.clear()
        job = client.get(f"{API}/jobs/ssl_create_certificates/{run.run_id}", headers=auth).json()
        assert [c["status"] for c in job["summary"]["certificates"]] == ["ISSUED", "ISSUED"]
        assert proxy.operations() == {"ListCertificates": 1}, proxy.operations()

        # A certificate deleted since (by hand, or by the clean-up) shows so, from one describe.
        proxy.clear()
        aws.acm.delete_certificate(CertificateArn=job["summary"]["certificates"][0]["arn"])
        job = client.get(f"{API}/jobs/ssl_create_certificates/{run.run_id}", headers=auth).json()
        assert [c["status"] for c in job["summary"]["certificates"]] == ["DELETED", "ISSUED"]
        assert proxy.operations() == {"ListCertificates": 1, "DescribeCertificate": 1}, proxy.operations()
    finally:
        proxy.stop()


def test_a_job_refused_by_its_check_is_findable_with_its_error(client, auth, aws):
    """A failed job that created nothing shows, in the jobs list, the check step's own message."""
    dag = load_dag("ssl_create_certificates")
    # Names of this test's own: other test files on this worker share the Airflow database.
    taken = f"taken-{uuid.uuid4().hex[:8]}.example.com"
    holder = aws.create_distribution(aliases=[taken])
    with without_retries(dag):
        refused = run_dag(
            dag,
            {
                "certificates": ["fresh.example.com", taken],
                "source_distribution_id": aws.source_distribution_id,
                "notification_topic_arn": aws.topic_arn,
            },
        )
    assert refused.state == "failed" and refused.task_states["check"] == ["failed"]
    assert aws.certificates() == []

    (job,) = client.get(
        f"{API}/jobs", params={"state": "failed", "name": taken.upper()}, headers=auth
    ).json()["jobs"]
    assert job["run_id"] == refused.run_id
    assert job["names"] == ["fresh.example.com", taken]
    assert (job["certificates"], job["distributions"]) == (0, 0)
    assert "step 'check' failed" in job["error"]
    assert taken in job["error"] and holder in job["error"]  # the reason, not only the step

    page = client.get("/ssl-certificates/jobs", params={"state": "failed", "name": taken}, headers=auth)
    assert page.status_code == 200
    assert refused.run_id in page.text and holder in page.text


def test_one_distribution_refused_shows_in_the_job_and_a_retry_makes_only_it(client, auth, aws, monkeypatch):
    """An alias taken after the check (CloudFront answers CNAMEAlreadyExists): the job's other
    distributions are made, the job view names the refused item and why; once the alias is free, a
    retry of the step (a clear) makes only the missing distribution."""
    from moto.cloudfront.exceptions import CloudFrontException
    from moto.cloudfront.models import CloudFrontBackend

    from cloudfront_ssl.steps import create_job
    from tests.dag_runs import clear_and_resume

    def aliases_of(config) -> set[str]:
        items = (
            config.get("Aliases") if isinstance(config, dict) else getattr(config, "Aliases", None)
        ) or {}
        items = items.get("Items") or []
        items = items.get("CNAME") or [] if isinstance(items, dict) else items
        return {alias.lower() for alias in ([items] if isinstance(items, str) else items)}

    sent: list[str] = []
    store = CloudFrontBackend.create_distribution_with_tags

    def refuse_taken_aliases(self, distribution_config, tags):
        # As CloudFront does (moto does not): an alias sits on one distribution only.
        wanted = aliases_of(distribution_config)
        sent.append(min(wanted))
        if any(wanted & aliases_of(d.distribution_config) for d in self.distributions.values()):
            raise CloudFrontException(
                "CNAMEAlreadyExists", "One or more of the CNAMEs you provided are already associated"
            )
        return store(self, distribution_config, tags)

    request = create_job.request_certificates
    neighbour: list[str] = []

    def request_then_alias_taken(*args, **kwargs):
        results = request(*args, **kwargs)
        neighbour.append(aws.create_distribution(aliases=["www.n1.example.com"]))
        return results

    monkeypatch.setattr(CloudFrontBackend, "create_distribution_with_tags", refuse_taken_aliases)
    monkeypatch.setattr(create_job, "request_certificates", request_then_alias_taken)
    dag = load_dag("ssl_create_certificates")
    items = ["n0.example.com", "n1.example.com, www.n1.example.com", "n2.example.com"]
    result = run_dag(
        dag,
        {
            "certificates": items,
            "source_distribution_id": aws.source_distribution_id,
            "notification_topic_arn": aws.topic_arn,
            "poll_interval_seconds": 1,
        },
    )
    assert result.state == "failed"
    assert result.task_states["create_distributions"] == ["failed"]  # refused: not tried again
    made = {d["DistributionConfig"]["Aliases"]["Items"][0]: d["Id"] for d in aws.distributions()}
    assert set(made) == {"n0.example.com", "www.n1.example.com", "n2.example.com"}  # n1's is the neighbour's

    job = client.get(f"{API}/jobs/ssl_create_certificates/{result.run_id}", headers=auth).json()
    assert job["state"] == "failed"
    assert "step 'create_distributions' failed" in job["error"]
    assert (
        "certificates[1] (n1.example.com, www.n1.example.com): CloudFront refused the distribution: "
        in job["error"]
    )
    assert "CNAMEAlreadyExists" in job["error"]
    assert "n0.example.com" not in job["error"] and "n2.example.com" not in job["error"]
    steps = {step["name"]: step["state"] for step in job["steps"]}
    assert steps["create_distributions"] == "failed"
    assert steps["create_distributions[n0.example.com]"] == "success"
    assert steps["create_distributions[n1.example.com]"] == "failed"
    assert steps["create_distributions[n2.example.com]"] == "success"
    assert sorted(d["id"] for d in job["summary"]["distributions"]) == sorted(
        [made["n0.example.com"], made["n2.example.com"]]
    )
    listed = {j["run_id"]: j for j in client.get(f"{API}/jobs", headers=auth).json()["jobs"]}
    assert listed[result.run_id]["distributions"] == 2 and "n1.example.com" in listed[result.run_id]["error"]

    # The neighbour gives the alias up; the user clears the failed step: only n1's distribution is made.
    aws.cloudfront.delete_distribution(
        Id=neighbour[0], IfMatch=aws.cloudfront.get_distribution(Id=neighbour[0])["ETag"]
    )
    sent.clear()
    retried = clear_and_resume(dag, result.run_id, "create_distributions")
    assert retried.state == "success", retried.task_states
    assert sent == ["n1.example.com"]
    by_alias = {d["DistributionConfig"]["Aliases"]["Items"][0]: d["Id"] for d in aws.distributions()}
    assert set(by_alias) == {"n0.example.com", "n1.example.com", "n2.example.com"}
    assert by_alias["n0.example.com"] == made["n0.example.com"]
    assert by_alias["n2.example.com"] == made["n2.example.com"]
    job = client.get(f"{API}/jobs/ssl_create_certificates/{result.run_id}", headers=auth).json()
    assert job["state"] == "success" and job["error"] is None
    steps = {step["name"]: step["state"] for step in job["steps"]}
    assert steps["create_distributions[n1.example.com]"] == "success" and steps["summary"] == "success"
    assert sorted(d["id"] for d in job["summary"]["distributions"]) == sorted(by_alias.values())
