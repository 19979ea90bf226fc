"""End-to-end: sites made by real create jobs with ``site``, found again in the account by their tag,
and planned against a fleet file; then changed outside the package (a name dropped in CloudFront, a
certificate replaced) and reported as drift; an update job with ``site`` puts a site back.

Runs against moto in server mode (dag.test()); every AWS change outside the package is a plain boto3
call, as a person in the console would make it.
"""

from __future__ import annotations

import time

import pytest

from tests.dag_runs import load_dag, run_dag

SITE_TAG = "cloudfront-ssl:site"


def fleet_text(aws, sites: dict[str, list[str]]) -> str:
    lines = [
        "defaults:",
        f"  source_distribution_id: {aws.source_distribution_id}",
        f"  notification_topic_arn: {aws.topic_arn}",
        "  poll_interval_seconds: 1",
        "sites:",
    ]
    for site, names in sites.items():
        lines += [f"  - site: {site}", f"    names: [{', '.join(names)}]"]
    return "\n".join(lines) + "\n"


def create_site(aws, site: str, names: list[str]):
    """Run the create job for one site, as ssl_fleet would start it."""
    from cloudfront_ssl.rules.fleet import read_fleet_text

    (wanted,) = read_fleet_text(fleet_text(aws, {site: names}))
    result = run_dag(load_dag("ssl_create_certificates"), wanted.conf)
    assert result.state == "success", result.task_states
    return result


def tags_of_distribution(aws, arn):
    items = aws.cloudfront.list_tags_for_resource(Resource=arn)["Tags"].get("Items") or []
    return {tag["Key"]: tag["Value"] for tag in items}


def tags_of_certificate(aws, arn):
    return {
        tag["Key"]: tag.get("Value") for tag in aws.acm.list_tags_for_certificate(CertificateArn=arn)["Tags"]
    }


def issued(aws, names, timeout=30.0):
    arn = aws.acm.request_certificate(
        DomainName=names[0], SubjectAlternativeNames=list(names), ValidationMethod="DNS"
    )["CertificateArn"]
    deadline = time.monotonic() + timeout
    while aws.acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] != "ISSUED":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    return arn


def edit_distribution(aws, distribution_id, *, aliases=None, certificate_arn=None):
    """Change a distribution outside the package, as a person in the console does."""
    current = aws.cloudfront.get_distribution_config(Id=distribution_id)
    config = current["DistributionConfig"]
    if aliases is not None:
        config["Aliases"] = {"Quantity": len(aliases), "Items": aliases}
    if certificate_arn is not None:
        config["ViewerCertificate"]["ACMCertificateArn"] = certificate_arn
    aws.cloudfront.update_distribution(Id=distribution_id, IfMatch=current["ETag"], DistributionConfig=config)


@pytest.fixture
def fleet(aws, airflow_db):
    """Two sites made by create jobs with ``site``: fleet-a and fleet-b."""
    create_site(aws, "fleet-a", ["a.fleet.example", "www.a.fleet.example"])
    create_site(aws, "fleet-b", ["b.fleet.example"])
    return aws


def test_create_jobs_with_site_tag_what_they_make_and_the_plan_finds_them(fleet):
    from cloudfront_ssl.aws.fleet_sites import read_account_sites
    from cloudfront_ssl.rules.fleet import plan_fleet, plan_text, read_fleet_text

    aws = fleet
    account = read_account_sites("aws_default")
    assert set(account) == {"fleet-a", "fleet-b"}
    site = account["fleet-a"]
    assert site.hosting == "distribution"
    assert sorted(site.names) == ["a.fleet.example", "www.a.fleet.example"]
    assert site.site_certificate and not site.names_changed
    assert site.job is not None and site.job["dag_id"] == "ssl_create_certificates"
    # What the create job made carries the site's tag: the distribution and its certificate.
    assert tags_of_distribution(aws, site.resource_arn)[SITE_TAG] == "fleet-a"
    assert tags_of_certificate(aws, site.certificate_arn)[SITE_TAG] == "fleet-a"
    # The source distribution, untagged, is no site.
    assert aws.source_distribution_id not in {entry.resource_id for entry in account.values()}

    # The same file plans nothing.
    same = read_fleet_text(
        fleet_text(
            aws, {"fleet-a": ["www.a.fleet.example", "a.fleet.example"], "fleet-b": ["b.fleet.example"]}
        )
    )
    plan = plan_fleet(same, account, remove=False)
    assert [entry.action for entry in plan] == ["keep", "keep"]
    assert "Plan: 0 to create, 0 to change, 0 to remove, 2 unchanged." in plan_text(plan)

    # A new file: fleet-a gains a name, fleet-c is new, fleet-b is gone.
    changed = read_fleet_text(
        fleet_text(
            aws,
            {
                "fleet-a": ["a.fleet.example", "www.a.fleet.example", "new.a.fleet.example"],
                "fleet-c": ["c.fleet.example"],
            },
        )
    )
    plan = {entry.site: entry for entry in plan_fleet(changed, account, remove=False)}
    assert plan["fleet-a"].action == "change" and plan["fleet-a"].apply and not plan["fleet-a"].drift
    assert plan["fleet-a"].job == {
        "dag_id": "ssl_update_site",
        "conf": {
            "distribution_id": site.resource_id,
            "names": ["a.fleet.example", "www.a.fleet.example", "new.a.fleet.example"],
            "site": "fleet-a",
            "notification_topic_arn": aws.topic_arn,
            "poll_interval_seconds": 1,
        },
    }
    assert plan["fleet-c"].action == "create" and plan["fleet-c"].job["dag_id"] == "ssl_create_certificates"
    assert plan["fleet-b"].action == "remove" and not plan["fleet-b"].apply
    assert "fleet_remove" in " ".join(plan["fleet-b"].reasons)


def test_the_account_is_read_in_bulk_never_one_call_per_site(fleet, monkeypatch):
    """Whatever the number of sites: one page of GetResources, ListDistributions, ListDistributionTenants;
    no tags read site by site while no site drifted."""
    import collections

    from botocore.endpoint import Endpoint

    from cloudfront_ssl.aws.fleet_sites import read_account_sites
    from cloudfront_ssl.rules.fleet import read_fleet_text

    for index in range(3):
        fleet.create_distribution([f"other{index}.fleet.example"])  # no site
    calls: collections.Counter[str] = collections.Counter()
    original = Endpoint.make_request

    def counted(endpoint, operation_model, request_dict):
        calls[operation_model.name] += 1
        return original(endpoint, operation_model, request_dict)

    monkeypatch.setattr(Endpoint, "make_request", counted)
    wanted = read_fleet_text(
        fleet_text(fleet, {"fleet-a": ["a.fleet.example"], "fleet-c": ["c.fleet.example"]})
    )
    assert set(read_account_sites("aws_default", wanted)) == {"fleet-a", "fleet-b"}
    assert dict(calls) == {"GetResources": 1, "ListDistributions": 1, "ListDistributionTenants": 1}


def test_a_site_deleted_outside_is_simply_absent(fleet):
    from cloudfront_ssl.aws.fleet_sites import read_account_sites

    aws = fleet
    site = read_account_sites("aws_default")["fleet-b"]
    current = aws.cloudfront.get_distribution_config(Id=site.resource_id)
    config = current["DistributionConfig"]
    config["Enabled"] = False
    etag = aws.cloudfront.update_distribution(
        Id=site.resource_id, IfMatch=current["ETag"], DistributionConfig=config
    )["ETag"]
    aws.cloudfront.delete_distribution(Id=site.resource_id, IfMatch=etag)
    assert set(read_account_sites("aws_default")) == {"fleet-a"}


def test_names_and_certificates_changed_outside_are_drift_and_an_update_job_puts_them_back(fleet):
    from cloudfront_ssl.aws.fleet_sites import read_account_sites
    from cloudfront_ssl.rules.fleet import plan_fleet, plan_text, read_fleet_text

    aws = fleet
    sites = {"fleet-a": ["a.fleet.example", "www.a.fleet.example"], "fleet-b": ["b.fleet.example"]}
    wanted = read_fleet_text(fleet_text(aws, sites))
    account = read_account_sites("aws_default")
    # Outside the package: fleet-a loses a name in CloudFront; fleet-b is given another certificate.
    edit_distribution(aws, account["fleet-a"].resource_id, aliases=["a.fleet.example"])
    foreign = issued(aws, ["b.fleet.example"])
    edit_distribution(aws, account["fleet-b"].resource_id, certificate_arn=foreign)

    account = read_account_sites("aws_default")
    assert account["fleet-a"].names_changed and account["fleet-a"].site_certificate
    assert not account["fleet-b"].site_certificate and account["fleet-b"].certificate_arn == foreign
    plan = {entry.site: entry for entry in plan_fleet(wanted, account, remove=False)}
    assert plan["fleet-a"].action == "change" and plan["fleet-a"].drift
    assert plan["fleet-a"].names_before == ("a.fleet.example",)
    assert "names changed outside the file" in plan["fleet-a"].reasons[0]
    assert plan["fleet-b"].action == "change" and plan["fleet-b"].drift
    assert "certificate changed outside the file" in plan["fleet-b"].reasons[0]
    text = plan_text(plan_fleet(wanted, account, remove=False))
    assert "~ change fleet-a (line 6) [drift]" in text and "+ www.a.fleet.example" in text
    assert "Plan: 0 to create, 2 to change, 0 to remove, 0 unchanged (2 changed outside the file)." in text

    # Applying the plan's jobs (as ssl_fleet does) puts both back; the next plan is empty. fleet-a's
    # old certificate is kept here, to see the site's tag move off it.
    old_a = account["fleet-a"].certificate_arn
    plan["fleet-a"].job["conf"]["delete_replaced_certificate"] = False
    for entry in plan.values():
        result = run_dag(load_dag(entry.job["dag_id"]), entry.job["conf"])
        assert result.state == "success", result.task_states
    account = read_account_sites("aws_default")
    assert sorted(account["fleet-a"].names) == sorted(sites["fleet-a"])
    assert account["fleet-b"].certificate_arn != foreign and account["fleet-b"].site_certificate
    assert SITE_TAG not in tags_of_certificate(aws, foreign)  # the person's certificate is left as it was
    # The update jobs moved the site's tag onto the certificates they requested.
    for name in ("fleet-a", "fleet-b"):
        assert tags_of_certificate(aws, account[name].certificate_arn)[SITE_TAG] == name
    assert account["fleet-a"].certificate_arn != old_a
    assert SITE_TAG not in tags_of_certificate(aws, old_a)
    assert not account["fleet-a"].names_changed
    assert [entry.action for entry in plan_fleet(wanted, account, remove=False)] == ["keep", "keep"]


def test_tenant_sites_are_found_through_the_tenant_listing(tenant_aws, airflow_db):
    """Tenants made by create jobs with ``site``: found by the tenant listing and their tags (the
    emulator's Tagging API does not know tenants), with an ACM certificate of the site's own or a
    managed one, and planned as kept."""
    from cloudfront_ssl.aws.fleet_sites import read_account_sites
    from cloudfront_ssl.rules.fleet import plan_fleet, read_fleet_text
    from tests.tenants import TENANT_CONN_ID

    template = tenant_aws.template()
    text = (
        "defaults:\n"
        "  hosting: tenant\n"
        f"  multi_tenant_distribution_id: {template}\n"
        f"  notification_topic_arn: {tenant_aws.aws.topic_arn}\n"
        "  poll_interval_seconds: 1\n"
        f"  aws_conn_id: {TENANT_CONN_ID}\n"
        "sites:\n"
        "  - site: tenant-acm\n"
        "    names: [t1.fleet.example, www.t1.fleet.example]\n"
        "  - site: tenant-managed\n"
        "    names: t2.fleet.example\n"
        "    certificate_source: managed\n"
    )
    wanted = read_fleet_text(text)
    dag = load_dag("ssl_create_certificates")
    for entry in wanted:
        result = run_dag(dag, entry.conf)
        assert result.state == "success", result.task_states
    tenant_aws.tenant_of_someone(template, "not-a-site.example", ["other.fleet.example"])

    account = read_account_sites(TENANT_CONN_ID, wanted)
    assert set(account) == {"tenant-acm", "tenant-managed"}
    acm_site, managed = account["tenant-acm"], account["tenant-managed"]
    assert acm_site.hosting == "tenant" and acm_site.resource_arn.endswith(acm_site.resource_id)
    assert sorted(acm_site.names) == ["t1.fleet.example", "www.t1.fleet.example"]
    assert acm_site.site_certificate and not acm_site.managed_certificate and not acm_site.names_changed
    assert managed.managed_certificate and managed.names == ("t2.fleet.example",)
    assert [entry.action for entry in plan_fleet(wanted, account, remove=False)] == ["keep", "keep"]
    # A file that moves tenant-acm to a distribution: reported, never applied.
    moved = read_fleet_text(
        text.replace(
            "  - site: tenant-acm\n",
            "  - site: tenant-acm\n    hosting: distribution\n    source_distribution_id: E2QWRUHEXAMPLE\n",
        )
    )
    entry = plan_fleet(moved, account, remove=False)[0]
    assert entry.action == "change" and not entry.apply and "left to a person" in entry.reasons[0]

    # Both tenants' names changed in the file: the planned update jobs (tenant_id) change them, and
    # mark the tenants anew, so the next plan keeps both (no drift from stale marks).
    renamed = read_fleet_text(
        text.replace("[t1.fleet.example, www.t1.fleet.example]", "[t1.fleet.example, shop.t1.fleet.example]")
        .replace("names: t2.fleet.example\n", "names: t2.fleet.example, www.t2.fleet.example\n")
    )
    plan = plan_fleet(renamed, account, remove=False)
    assert [(entry.action, entry.apply, entry.drift) for entry in plan] == [("change", True, False)] * 2
    update = load_dag("ssl_update_site")
    for entry in plan:
        assert entry.job["conf"]["tenant_id"] == account[entry.site].resource_id
        result = run_dag(update, {"distribution_id": None, **entry.job["conf"]})
        assert result.state == "success", result.task_states
    account = read_account_sites(TENANT_CONN_ID, renamed)
    assert sorted(account["tenant-acm"].names) == ["shop.t1.fleet.example", "t1.fleet.example"]
    assert sorted(account["tenant-managed"].names) == ["t2.fleet.example", "www.t2.fleet.example"]
    assert not account["tenant-acm"].names_changed and account["tenant-acm"].site_certificate
    assert not account["tenant-managed"].names_changed
    assert [entry.action for entry in plan_fleet(renamed, account, remove=False)] == ["keep", "keep"]


def test_the_fleet_file_is_read_from_a_path_or_s3(aws, tmp_path):
    import boto3

    from cloudfront_ssl.aws.fleet_sites import read_fleet_file
    from cloudfront_ssl.errors import JobInputError
    from cloudfront_ssl.rules.fleet import FleetFileError

    text = "sites:\n  - site: a\n    names: a.com\n"
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    assert read_fleet_file(str(path), None) == text
    with pytest.raises(JobInputError, match=f"fleet file {tmp_path}/missing.yaml: no such file"):
        read_fleet_file(str(tmp_path / "missing.yaml"), None)
    with pytest.raises(JobInputError, match="is a directory, not a file"):
        read_fleet_file(str(tmp_path), None)
    (tmp_path / "latin1.yaml").write_bytes("sites:\n  - site: caf\xe9\n".encode("latin-1"))
    with pytest.raises(FleetFileError, match=r"line 2: .*latin1.yaml is not UTF-8 text \(byte 0xe9\)"):
        read_fleet_file(str(tmp_path / "latin1.yaml"), None)

    s3 = boto3.client("s3", endpoint_url=aws.url, region_name="us-east-1")
    s3.create_bucket(Bucket="fleet-files")
    s3.put_object(Bucket="fleet-files", Key="prod/fleet.yaml", Body=text.encode())
    assert read_fleet_file("s3://fleet-files/prod/fleet.yaml", "aws_default") == text
    with pytest.raises(JobInputError, match="bucket fleet-files has no object prod/other.yaml"):
        read_fleet_file("s3://fleet-files/prod/other.yaml", "aws_default")
    with pytest.raises(JobInputError, match="there is no bucket no-such-bucket"):
        read_fleet_file("s3://no-such-bucket/fleet.yaml", "aws_default")
    with pytest.raises(JobInputError, match="an S3 location is s3://BUCKET/KEY"):
        read_fleet_file("s3://fleet-files", "aws_default")
