"""ssl_certificate_inventory (spec section 4b) against the emulator: the report and the one alert."""

from __future__ import annotations

import datetime
import uuid

import pytest

from tests import pki
from tests.aws import ACCOUNT_ID, source_distribution_config
from tests.dag_runs import load_dag, run_dag


def _bundle(arn: str):
    from moto.acm.models import acm_backends

    return acm_backends[ACCOUNT_ID]["us-east-1"].get_certificate(arn)


def _request(aws, name: str) -> str:
    return aws.acm.request_certificate(DomainName=name, ValidationMethod="DNS")["CertificateArn"]


def _serve(aws, certificate_arn: str, alias: str) -> str:
    """A distribution (outside any job) serving a certificate."""
    config = source_distribution_config(f"inv-{uuid.uuid4().hex}", [alias])
    config["ViewerCertificate"] = {
        "CloudFrontDefaultCertificate": False,
        "ACMCertificateArn": certificate_arn,
        "SSLSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    return aws.cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def _import(aws, name: str, days_left: float) -> str:
    leaf = pki.make_leaf(pki.make_root(), [name], validity=pki.window(-300, days_left))
    return aws.acm.import_certificate(
        Certificate=leaf.cert_pem().encode(), PrivateKey=leaf.key_pem().encode()
    )["CertificateArn"]


def _issued(aws, arn: str) -> None:
    _bundle(arn).status = "ISSUED"


def _inventory(aws, **conf):
    result = run_dag(load_dag("ssl_certificate_inventory"), {"notification_topic_arn": aws.topic_arn, **conf})
    assert result.state == "success", result.task_states
    return result.xcom("inventory")


@pytest.fixture
def slow_acm():
    """ACM (moto) keeps requested certificates pending until a test says otherwise."""
    from moto import settings

    saved = settings.ACM_VALIDATION_WAIT
    settings.ACM_VALIDATION_WAIT = 10**9
    yield
    settings.ACM_VALIDATION_WAIT = saved


def test_silence_when_all_is_well(airflow_db, aws, slow_acm):
    requested = _request(aws, "fine.example.com")
    _issued(aws, requested)
    distribution = _serve(aws, requested, "fine.example.com")
    imported = _import(aws, "imported-fine.example.com", days_left=200)
    _serve(aws, imported, "imported-fine.example.com")

    result = _inventory(aws)
    assert result["alerts"] == [] and result["message_id"] is None
    assert aws.messages() == []
    by_arn = {entry["arn"]: entry for entry in result["certificates"]}
    assert set(by_arn) == {requested, imported}
    assert by_arn[requested]["in_use_by"] == [distribution]
    assert by_arn[requested]["type"] == "requested" and by_arn[imported]["type"] == "imported"
    assert by_arn[requested]["status"] == "ISSUED" and by_arn[requested]["not_after"]
    assert "renewal_eligibility" in by_arn[requested] and by_arn[requested]["job"] is None


def test_one_alert_lists_every_kind(airflow_db, aws, slow_acm):
    expiring = _import(aws, "old.example.com", days_left=10)
    _serve(aws, expiring, "old.example.com")

    not_renewed = _request(aws, "renewal.example.com")
    _issued(aws, not_renewed)
    _serve(aws, not_renewed, "renewal.example.com")
    bundle = _bundle(not_renewed)
    describe = bundle.describe

    def with_failed_renewal():
        result = describe()
        result["Certificate"]["RenewalSummary"] = {
            "RenewalStatus": "FAILED",
            "RenewalStatusReason": "CAA_ERROR",
            "DomainValidationOptions": [],
            "UpdatedAt": 0,
        }
        return result

    bundle.describe = with_failed_renewal

    stuck = _request(aws, "stuck.example.com")
    _bundle(stuck).created_at -= datetime.timedelta(hours=72)
    _request(aws, "fresh.example.com")  # pending, but not for long: no alert

    failed = _request(aws, "caa.example.com")
    aws.fail_certificate(failed, "CAA_ERROR")

    unused = _request(aws, "unused.example.com")
    _issued(aws, unused)
    tagged = aws.acm.request_certificate(
        DomainName="job.example.com",
        ValidationMethod="DNS",
        Tags=[
            {"Key": "airflow:dag_id", "Value": "ssl_create_certificates"},
            {"Key": "airflow:run_id", "Value": "j1"},
        ],
    )["CertificateArn"]

    result = _inventory(aws, expiry_warning_days=30, stuck_validation_hours=48)
    kinds = {(alert["kind"], alert["arn"]) for alert in result["alerts"]}
    assert kinds == {
        ("imported_expiring", expiring),
        ("renewal_failed", not_renewed),
        ("stuck_validation", stuck),
        ("request_failed", failed),
        ("unused", unused),
    }
    job = next(entry for entry in result["certificates"] if entry["arn"] == tagged)["job"]
    assert job == {"dag_id": "ssl_create_certificates", "run_id": "j1"}

    (message,) = aws.messages()
    assert len(message["subject"]) < 100 and "\n" not in message["subject"]
    for name in (
        "old.example.com",
        "renewal.example.com",
        "stuck.example.com",
        "caa.example.com",
        "unused.example.com",
    ):
        assert name in message["message"]
    assert "fresh.example.com" not in message["message"]
    assert "CAA_ERROR" in message["message"]


def test_the_dag_runs_daily_and_refuses_a_bad_conf(airflow_db):
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    dag = load_dag("ssl_certificate_inventory")
    assert dag.schedule == "@daily"
    params = ParamsDict(dag.params)
    with pytest.raises(ParamValidationError, match="expiry_warning_days"):
        params["expiry_warning_days"] = "soon"
