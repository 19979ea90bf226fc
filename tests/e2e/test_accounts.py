"""Several AWS accounts on one certificates page: ``[ssl_certificates] aws_conn_ids``.

The second account is real to the emulator: moto keeps one backend per account, and credentials from
STS AssumeRole on a role of account 210987654321 act in that account (GetCallerIdentity says so).
A connection with bad credentials meets a small local endpoint that answers as AWS does to them
(HTTP 403, ``InvalidClientTokenId``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.aws import ACCOUNT_ID
from tests.dag_runs import load_dag, run_dag
from tests.plugin_support import reset_catalog_cache, signed_in_airflow, token, without_retries

API = "/ssl-certificates/api"
TENANTS_ACCOUNT = "210987654321"
TENANTS = "aws_tenants"
BROKEN = "aws_broken"
CREATE = "ssl_create_certificates"

_INVALID_TOKEN = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    b"<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid."
    b"</Message></Error><RequestId>c0ffee00-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)


class _RefusesEveryToken(BaseHTTPRequestHandler):
    """What AWS answers to a request signed with credentials it does not know."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(_INVALID_TOKEN)))
        self.end_headers()
        self.wfile.write(_INVALID_TOKEN)

    do_GET = do_POST


@pytest.fixture(scope="module")
def refusing_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusesEveryToken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def client(airflow_db):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    with signed_in_airflow(airflow_db), TestClient(create_app()) as test_client:
        yield test_client


def _connection(endpoint: str, access_key: str, secret_key: str, session_token: str | None = None) -> str:
    extra = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    if session_token:
        extra["aws_session_token"] = session_token
    return json.dumps({"conn_type": "aws", "login": access_key, "password": secret_key, "extra": extra})


@pytest.fixture
def accounts(aws, refusing_endpoint, monkeypatch):
    """``aws_default`` (account 123456789012), ``aws_tenants`` (account 210987654321) and ``aws_broken``
    (bad credentials), listed in that order; returns ACM clients of the first two accounts."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    role = f"arn:aws:iam::{TENANTS_ACCOUNT}:role/certificates"
    keys = session.client("sts", endpoint_url=aws.url).assume_role(RoleArn=role, RoleSessionName="page")
    keys = keys["Credentials"]
    tenants = session.client(
        "acm",
        endpoint_url=aws.url,
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{TENANTS.upper()}",
        _connection(aws.url, keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"]),
    )
    monkeypatch.setenv(f"AIRFLOW_CONN_{BROKEN.upper()}", _connection(refusing_endpoint, "AKIAOLD", "revoked"))
    monkeypatch.setenv("AIRFLOW__SSL_CERTIFICATES__AWS_CONN_IDS", f"aws_default, {TENANTS},{BROKEN}")
    reset_catalog_cache()
    return {"aws_default": aws.acm, TENANTS: tenants}


@pytest.fixture
def auth(client):
    return {"Authorization": f"Bearer {token(client)}"}


def _request(acm, name: str, tags: dict[str, str] | None = None) -> str:
    items = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    kwargs = {"Tags": items} if items else {}
    return acm.request_certificate(DomainName=name, ValidationMethod="DNS", **kwargs)["CertificateArn"]


def test_every_listed_account_shows_with_its_account_and_a_failing_one_is_named(client, auth, accounts):
    home = _request(accounts["aws_default"], "www.example.com")
    tenant = _request(
        accounts[TENANTS], "shop.tenant.example", {"airflow:dag_id": CREATE, "airflow:run_id": "r9"}
    )
    tenant_wildcard = _request(accounts[TENANTS], "*.example.com")

    response = client.get(f"{API}/certificates", headers=auth)

    assert response.status_code == 200, response.text
    body = response.json()
    found = {item["arn"]: item["account"] for item in body["certificates"]}
    assert found == {
        home: {"conn_id": "aws_default", "id": ACCOUNT_ID},
        tenant: {"conn_id": TENANTS, "id": TENANTS_ACCOUNT},
        tenant_wildcard: {"conn_id": TENANTS, "id": TENANTS_ACCOUNT},
    }
    assert [(a["conn_id"], a["id"]) for a in body["accounts"]] == [
        ("aws_default", ACCOUNT_ID),
        (TENANTS, TENANTS_ACCOUNT),
        (BROKEN, None),
    ]
    assert [a["error"] for a in body["accounts"][:2]] == [None, None]
    assert "InvalidClientTokenId" in body["accounts"][2]["error"]

    # The search by name, the status filter and the job link work across accounts.
    by_cname = client.get(f"{API}/certificates", params={"cname": "www.example.com"}, headers=auth).json()
    assert {item["arn"] for item in by_cname["certificates"]} == {home, tenant_wildcard}
    issued = client.get(f"{API}/certificates", params={"status": "ISSUED"}, headers=auth).json()
    assert {item["arn"] for item in issued["certificates"]} <= {home, tenant, tenant_wildcard}
    (made_by_job,) = [item for item in body["certificates"] if item["job"]]
    assert made_by_job["arn"] == tenant and made_by_job["job"] == {"dag_id": CREATE, "run_id": "r9"}

    # The page shows the certificates it could read and names the account it could not.
    page = client.get("/ssl-certificates/", headers=auth)
    assert page.status_code == 200
    assert "shop.tenant.example" in page.text and "www.example.com" in page.text
    assert (
        "Could not read the certificates of 1 of 3 accounts (connection aws_broken: ClientError" in page.text
    )


def test_in_use_by_is_read_in_the_certificate_s_own_account(client, auth, accounts, aws):
    home = _request(accounts["aws_default"], "served.example.com")
    _request(accounts[TENANTS], "served.tenant.example")
    serving = aws.create_distribution(aliases=[])
    config = aws.cloudfront.get_distribution_config(Id=serving)
    distribution_config = config["DistributionConfig"]
    distribution_config["ViewerCertificate"] = {
        "ACMCertificateArn": home,
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "CloudFrontDefaultCertificate": False,
    }
    aws.cloudfront.update_distribution(
        Id=serving, IfMatch=config["ETag"], DistributionConfig=distribution_config
    )

    body = client.get(f"{API}/certificates", headers=auth).json()

    in_use = {item["names"][0]: item["in_use_by"] for item in body["certificates"]}
    assert in_use == {"served.example.com": [serving], "served.tenant.example": []}


def test_only_unreadable_accounts_is_a_bad_gateway(client, auth, accounts, monkeypatch):
    monkeypatch.setenv("AIRFLOW__SSL_CERTIFICATES__AWS_CONN_IDS", BROKEN)

    response = client.get(f"{API}/certificates", headers=auth)

    assert response.status_code == 502
    assert "aws_broken: ClientError" in response.json()["detail"]


def test_a_job_view_reads_the_job_s_certificates_through_the_job_s_connection(client, auth, accounts, aws):
    dag = load_dag(CREATE)
    with without_retries(dag):
        run = run_dag(
            dag,
            {
                "certificates": ["app.tenant.example, www.app.tenant.example"],
                "create_distributions": False,
                "aws_conn_id": TENANTS,
            },
        )
    assert run.state == "success", run.task_states
    (made,) = accounts[TENANTS].list_certificates()["CertificateSummaryList"]
    assert accounts["aws_default"].list_certificates()["CertificateSummaryList"] == []

    response = client.get(f"{API}/jobs/{CREATE}/{run.run_id}", headers=auth)

    assert response.status_code == 200, response.text
    job = response.json()
    assert job["aws_conn_id"] == TENANTS
    assert [(c["arn"], c["status"]) for c in job["summary"]["certificates"]] == [
        (made["CertificateArn"], "ISSUED")
    ]
    # Deleted in its account, it shows as deleted: the status is read there, not assumed.
    accounts[TENANTS].delete_certificate(CertificateArn=made["CertificateArn"])
    job = client.get(f"{API}/jobs/{CREATE}/{run.run_id}", headers=auth).json()
    assert [c["status"] for c in job["summary"]["certificates"]] == ["DELETED"]
