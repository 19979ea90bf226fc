"""The owners' messages (spec section 8)."""

from __future__ import annotations

from cloudfront_ssl.rules.messages import (
    cname_message,
    failure_message,
    scrub_secrets,
    subject,
    validation_message,
)

KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


def test_subjects_are_one_line_under_100_characters() -> None:
    assert subject("a\nb") == "a b"
    assert len(subject("x" * 300)) < 100
    job_id = "manual__2026-11-27T12:21:27.414886+00:00" * 3
    for title, _ in (
        validation_message(job_id, []),
        cname_message(job_id, []),
        failure_message("ssl_create_certificates", job_id, [("request_certificates", "boom")]),
    ):
        assert len(title) < 100 and "\n" not in title


def test_validation_message_lists_each_record() -> None:
    _, body = validation_message(
        "job-1",
        [
            {
                "names": ["*.example.org", "example.org"],
                "validation_records": [
                    {"name": "_x.example.org.", "type": "CNAME", "value": "_y.acm-validations.aws."}
                ],
            },
            {"names": ["shop.example.com"], "validation_records": []},
        ],
    )
    assert "Certificate 1: *.example.org, example.org" in body
    assert (
        "Name:  _x.example.org." in body
        and "Type:  CNAME" in body
        and "Value: _y.acm-validations.aws." in body
    )
    assert body.count("Name:") == 1
    assert "Certificate 2: shop.example.com" in body


def test_cname_message_gives_each_alias_its_target() -> None:
    _, body = cname_message(
        "job-1",
        [{"id": "E1", "aliases": ["a.example.com", "b.example.com"], "domain_name": "d1.cloudfront.net"}],
    )
    assert "a.example.com  CNAME  d1.cloudfront.net" in body
    assert "b.example.com  CNAME  d1.cloudfront.net" in body


def test_failure_message_names_the_step_and_never_a_key() -> None:
    title, body = failure_message(
        "ssl_import_certificate", "job-1", [("import_certificate", f"bad: {KEY} end")]
    )
    assert "import_certificate" in title and "import_certificate" in body
    assert "MIIEvQ" not in body and "[private key removed]" in body


def test_scrub_removes_unterminated_key_blocks_too() -> None:
    assert "MIIEvQ" not in scrub_secrets("x -----BEGIN RSA PRIVATE KEY-----\nMIIEvQ")


def test_one_failure_message_names_every_failed_step() -> None:
    steps = [(f"create_distribution[{n}]", f"refused {n}") for n in range(100)]
    title, body = failure_message("ssl_create_certificates", "job-1", steps)
    assert "create_distribution[0] and 99 more" in title and len(title) < 100
    assert all(f"Step 'create_distribution[{n}]' failed" in body for n in range(100))


def test_a_huge_reason_is_cut_to_fit_one_message() -> None:
    _, body = failure_message(
        "ssl_create_certificates", "job-1", [("check", "certificates[0]: " + "x" * 1_000_000)]
    )
    assert len(body.encode()) < 10_000 and "more characters]" in body
