"""End-to-end runs of ssl_import_certificate with dag.test() against moto in server mode.

moto accepts a mismatched key and a garbage chain: these runs prove that the job does not, and that
the private key never leaks into a log line, an XCom, a rendered field or a message.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests import pki
from tests.dag_runs import load_dag, run_dag, run_dag_cli

DAG_ID = "ssl_import_certificate"


@pytest.fixture
def dag(airflow_db):
    return load_dag(DAG_ID)


@pytest.fixture(scope="module")
def ca():
    root = pki.make_root()
    intermediate = pki.make_intermediate(root)
    return root, intermediate


def bundle(ca, names=("shop.example.com", "www.shop.example.com"), **leaf_options):
    root, intermediate = ca
    leaf = pki.make_leaf(intermediate, names, **leaf_options)
    return leaf, {
        "certificate_body": leaf.cert_pem(),
        "private_key": leaf.key_pem(),
        "certificate_chain": intermediate.cert_pem(),
    }


def conf(aws, fields, **extra):
    return {
        "certificate_name": "shop",
        "notification_topic_arn": aws.topic_arn,
        "tags": {"team": "web"},
        **fields,
        **extra,
    }


def key_fragments(key_pem: str) -> list[str]:
    """Pieces of the key's text that must never appear anywhere."""
    lines = [line for line in key_pem.splitlines() if line and not line.startswith("-----")]
    return [lines[0], lines[len(lines) // 2], lines[-2]]


def assert_aws_holds_nothing(aws):
    assert aws.certificates() == []
    assert aws.distributions() == []


def test_a_good_bundle_is_imported_with_a_distribution(airflow_db, aws, ca):
    leaf, fields = bundle(ca)
    # Run through the CLI, so that the scan below reads every line the tasks logged.
    result, output = run_dag_cli(
        DAG_ID,
        conf(aws, fields, create_distributions=True, source_distribution_id=aws.source_distribution_id),
    )
    assert result.state == "success", result.task_states

    (certificate,) = aws.certificates()
    assert certificate["Type"] == "IMPORTED"
    assert certificate["DomainName"] == "shop.example.com"
    assert certificate["Tags"] == {
        "Name": "shop",
        "team": "web",
        "airflow:dag_id": DAG_ID,
        "airflow:run_id": result.run_id,
    }
    assert aws.certificate_count("eu-west-1") == 0

    (distribution,) = aws.distributions()
    config = distribution["DistributionConfig"]
    assert config["Aliases"]["Items"] == ["shop.example.com", "www.shop.example.com"]
    assert config["ViewerCertificate"]["ACMCertificateArn"] == certificate["CertificateArn"]
    assert distribution["Tags"]["airflow:run_id"] == result.run_id

    (message,) = aws.messages()
    assert "Certificate imported" in message["subject"]
    assert certificate["CertificateArn"] in message["message"]
    assert f"www.shop.example.com  CNAME  {distribution['DomainName']}" in message["message"]

    summary = result.xcom("summary")
    assert summary["certificates"][0]["arn"] == certificate["CertificateArn"]
    assert summary["distributions"][0]["aliases"] == ["shop.example.com", "www.shop.example.com"]

    # The key is nowhere: logs, XComs, rendered fields, messages.
    assert_no_leak(leaf.key_pem(), output, result, aws)


def assert_no_leak(key_pem, output, result, aws):
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        rendered = session.query(RenderedTaskInstanceFields).filter_by(run_id=result.run_id).all()
        rendered_text = json.dumps([row.rendered_fields for row in rendered], default=str)
    published = json.dumps(aws.messages())
    xcoms = result.all_xcom_text()
    assert rendered, "the run rendered no fields: the scan would prove nothing"
    assert "Imported as arn:aws:acm" in output or "check 'key_mismatch'" in output, "task logs not captured"
    for fragment in key_fragments(key_pem):
        for where, text in (
            ("logs", output),
            ("xcom", xcoms),
            ("rendered", rendered_text),
            ("sns", published),
        ):
            assert fragment not in text, f"a piece of the private key is in the {where}"


def test_the_key_can_come_from_secrets_manager(airflow_db, aws, ca):
    leaf, fields = bundle(ca, ("api.example.net",), key=pki.ec_key("P-256", "import-sm"))
    key_pem = fields.pop("private_key")
    fields.pop("certificate_chain")
    fields["certificate_chain"] = ca[1].cert_pem()
    secret_arn = aws.secretsmanager.create_secret(Name="ssl/api-key", SecretString=key_pem)["ARN"]
    result, output = run_dag_cli(DAG_ID, conf(aws, fields, private_key_secret_id=secret_arn))
    assert result.state == "success", result.task_states
    (certificate,) = aws.certificates()
    assert certificate["DomainName"] == "api.example.net"
    assert certificate["KeyAlgorithm"] == "EC_prime256v1"
    assert aws.distributions() == []
    assert_no_leak(key_pem, output, result, aws)


def test_a_refused_key_leaks_nowhere(airflow_db, aws, ca):
    """A failing run logs an exception and sends a failure message: neither carries the key."""
    leaf, fields = bundle(ca)
    other = pki.make_leaf(ca[1], ["shop.example.com"], key=pki.rsa_key(2048, "other"))
    fields["private_key"] = other.key_pem()
    result, output = run_dag_cli(DAG_ID, conf(aws, fields))
    assert result.state == "failed"
    assert "check 'key_mismatch'" in aws.messages()[0]["message"]
    assert_no_leak(other.key_pem(), output, result, aws)


def test_a_retried_import_reuses_the_arn(dag, aws, ca, monkeypatch):
    from cloudfront_ssl.aws import acm

    leaf, fields = bundle(ca, ("retry.example.com",))
    certificate_result = acm.certificate_result
    calls = {"count": 0}

    def fail_once(certificate):
        calls["count"] += 1
        if calls["count"] == 1:
            raise RuntimeError("the connection dropped after the import")
        return certificate_result(certificate)

    monkeypatch.setattr(acm, "certificate_result", fail_once)
    monkeypatch.setattr(dag.get_task("import_certificate"), "retry_delay", timedelta(seconds=0))
    result = run_dag(dag, conf(aws, fields))
    assert result.state == "success", result.task_states
    assert calls["count"] == 2
    (certificate,) = aws.certificates()
    assert result.xcom("summary")["certificates"][0]["arn"] == certificate["CertificateArn"]


def refusal_cases(ca):
    """(name, fields, extra conf, expected text in the refusal) for each check of the bundle."""
    root, intermediate = ca
    good_leaf, good = bundle(ca)
    other_leaf = pki.make_leaf(intermediate, ["shop.example.com"], key=pki.rsa_key(2048, "other"))
    p384_leaf = pki.make_leaf(intermediate, ["shop.example.com"], key=pki.ec_key("P-384", "import"))
    expired = pki.make_leaf(intermediate, ["shop.example.com"], validity=pki.window(-30, -1))
    future = pki.make_leaf(intermediate, ["shop.example.com"], validity=pki.window(5, 300))
    second_intermediate = pki.make_intermediate(intermediate, "Second CA", key=pki.rsa_key(2048, "second"))
    leaf_of_second = pki.make_leaf(second_intermediate, ["shop.example.com"])
    nameless = pki.make_leaf(intermediate, [], common_name="Example Corp", key=pki.rsa_key(2048, "other"))
    localhost = pki.make_leaf(intermediate, ["localhost"], key=pki.rsa_key(2048, "other"))
    source = {"create_distributions": True}
    return [
        ("not PEM", {**good, "certificate_body": "hello"}, {}, "certificate_body: check 'pem'"),
        ("key not PEM", {**good, "private_key": "not a key"}, {}, "private_key: check 'pem'"),
        (
            "encrypted key",
            {**good, "private_key": good_leaf.key_pem(password=b"secret")},
            {},
            "check 'encrypted_key'",
        ),
        ("mismatched key", {**good, "private_key": other_leaf.key_pem()}, {}, "check 'key_mismatch'"),
        (
            "P-384 for CloudFront",
            {**good, "certificate_body": p384_leaf.cert_pem(), "private_key": p384_leaf.key_pem()},
            source,
            "check 'key_type'",
        ),
        (
            "expired",
            {**good, "certificate_body": expired.cert_pem(), "private_key": expired.key_pem()},
            {},
            "check 'validity'",
        ),
        (
            "not yet valid",
            {**good, "certificate_body": future.cert_pem(), "private_key": future.key_pem()},
            {},
            "check 'validity'",
        ),
        (
            "chain out of order",
            {
                "certificate_body": leaf_of_second.cert_pem(),
                "private_key": leaf_of_second.key_pem(),
                "certificate_chain": pki.chain_pem(intermediate, second_intermediate),
            },
            {},
            "check 'chain_order'",
        ),
        (
            "chain not signing the leaf",
            {**good, "certificate_chain": second_intermediate.cert_pem()},
            {},
            "check 'chain_order'",
        ),
        (
            "chain with a root",
            {**good, "certificate_chain": pki.chain_pem(intermediate, root)},
            {},
            "check 'chain_root'",
        ),
        (
            "garbage chain",
            {**good, "certificate_chain": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
            {},
            "certificate_chain: check 'pem'",
        ),
        ("oversized key", {**good, "private_key": good.get("private_key") + "\n" * 6000}, {}, "check 'size'"),
        (
            "aliases not covered",
            good,
            {**source, "aliases": ["shop.example.com", "a.b.example.com"]},
            "check 'aliases'",
        ),
        ("both key fields", {**good, "private_key_secret_id": "ssl/key"}, {}, "exactly one of private_key"),
        ("no key", {k: v for k, v in good.items() if k != "private_key"}, {}, "exactly one of private_key"),
        ("bad alias", good, {**source, "aliases": ["bad_alias.example.com"]}, "aliases[0]"),
        (
            "no DNS name, with a distribution",
            {**good, "certificate_body": nameless.cert_pem(), "private_key": nameless.key_pem()},
            source,
            "certificate_body: the certificate names no DNS name",
        ),
        (
            "a name that is no public domain name, with a distribution",
            {**good, "certificate_body": localhost.cert_pem(), "private_key": localhost.key_pem()},
            source,
            "certificate_body: the certificate's name 'localhost' has one label only",
        ),
    ]


@pytest.mark.parametrize("case", range(18), ids=lambda i: f"case{i}")
def test_a_bad_bundle_is_refused_before_anything_reaches_aws(dag, aws, ca, case):
    name, fields, extra, expected = refusal_cases(ca)[case]
    if extra.get("create_distributions"):
        extra = {**extra, "source_distribution_id": aws.source_distribution_id}
    result = run_dag(dag, conf(aws, fields, **extra))
    assert result.state == "failed", name
    assert result.task_states["check"] == ["failed"], name
    assert_aws_holds_nothing(aws)
    (failure,) = aws.messages()
    assert "check" in failure["subject"]
    assert expected in failure["message"], (name, failure["message"])
    key = fields.get("private_key") or ""
    if "BEGIN" in key:
        for fragment in key_fragments(key):
            assert fragment not in failure["message"]


def test_a_p384_key_without_distribution_is_imported_with_a_warning(dag, aws, ca):
    leaf = pki.make_leaf(ca[1], ["p384.example.com"], key=pki.ec_key("P-384", "import"))
    fields = {
        "certificate_body": leaf.cert_pem(),
        "private_key": leaf.key_pem(),
        "certificate_chain": ca[1].cert_pem(),
    }
    result = run_dag(dag, conf(aws, fields))
    assert result.state == "success", result.task_states
    assert len(aws.certificates()) == 1
    assert any("CloudFront" in warning for warning in result.xcom("check")["warnings"])
    assert "Warning:" in aws.messages()[0]["message"]


def test_an_alias_already_on_another_distribution_is_refused(dag, aws, ca):
    neighbour = aws.create_distribution(aliases=["www.shop.example.com"])
    _, fields = bundle(ca)
    result = run_dag(
        dag, conf(aws, fields, create_distributions=True, source_distribution_id=aws.source_distribution_id)
    )
    assert result.state == "failed"
    assert aws.certificates() == []
    (failure,) = aws.messages()
    assert f"www.shop.example.com is already an alias of distribution {neighbour}" in failure["message"]


def test_a_topic_that_does_not_exist_is_refused_before_anything_is_created(dag, aws, ca):
    _, fields = bundle(ca)
    missing = aws.topic_arn.rsplit(":", 1)[0] + ":no-such-topic"
    result = run_dag(dag, conf(aws, fields, notification_topic_arn=missing))
    assert result.task_states["check"] == ["failed"]
    assert_aws_holds_nothing(aws)
    assert result.task_states["notify_failure"] == ["success"]  # it tried; the topic cannot take it


def test_a_connection_that_does_not_exist_is_refused(dag, aws, ca):
    _, fields = bundle(ca)
    result = run_dag(dag, conf(aws, fields, aws_conn_id="aws_defualt"))
    assert result.task_states["check"] == ["failed"]
    assert_aws_holds_nothing(aws)
    assert aws.messages() == []  # no connection to send with: the failure stays in Airflow


PROXIED = "aws_import_proxied"


@pytest.fixture
def proxy(aws, monkeypatch):
    """A fault proxy in front of moto, and an Airflow connection through it (botocore's retries as
    the connection's defaults: the one layer that sends a call again)."""
    from devstack.fault_proxy import FaultProxy

    running = FaultProxy(aws.url).start()
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{PROXIED.upper()}",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": running.url, "region_name": "eu-west-1"},
            }
        ),
    )
    yield running
    running.stop()


def botocore_attempts(conn_id: str) -> int:
    """How many times botocore sends one ACM call on this connection (its first send included)."""
    from cloudfront_ssl.aws.acm import acm_hook

    retries = acm_hook(conn_id).conn.meta.config.retries or {}
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"])
    mode = retries.get("mode", "legacy")
    return int(retries.get("max_attempts", 4 if mode == "legacy" else 2)) + 1


def test_a_throttled_import_is_sent_again_by_botocore_alone(dag, aws, ca, proxy):
    """ACM takes one ImportCertificate a second: throttling is waited out by one layer of retries."""
    _, fields = bundle(ca, ("throttled.example.com",))
    proxy.inject("throttle", "throttle", operation="ImportCertificate")
    result = run_dag(dag, conf(aws, fields, aws_conn_id=PROXIED))
    assert result.state == "success", result.task_states
    assert proxy.count("ImportCertificate") == 3  # two throttled, the third imported
    assert len(aws.certificates()) == 1


def test_an_import_throttled_throughout_is_sent_at_most_botocores_attempts(dag, aws, ca, proxy):
    """The step's own loop used to send again on top of botocore's retries (7 x 5 sends per try):
    now one try of the step sends ImportCertificate at most botocore's attempts."""
    from tests.plugin_support import without_retries

    _, fields = bundle(ca, ("always-throttled.example.com",))
    proxy.fail_always("throttle", operation="ImportCertificate")
    with without_retries(dag):
        result = run_dag(dag, conf(aws, fields, aws_conn_id=PROXIED))
    sends = proxy.count("ImportCertificate")
    print(f"\nImportCertificate sends in one try of the step under throttling: {sends}")
    assert result.task_states["import_certificate"] == ["failed"]
    assert 1 < sends <= botocore_attempts(PROXIED)
    assert aws.certificates() == []
