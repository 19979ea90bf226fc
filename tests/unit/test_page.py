"""The page's HTML: everything escaped, links relative, the job's parts shown."""

from __future__ import annotations

from cloudfront_ssl.page import certificates_page, job_href, job_page


def test_names_are_escaped_and_rows_link_to_their_job():
    html = certificates_page(
        [
            {
                "arn": "arn:1",
                "names": ["<script>alert(1)</script>.example.com"],
                "status": "ISSUED",
                "type": "requested",
                "not_after": "2027-01-01T00:00:00+00:00",
                "in_use_by": ["E1"],
                "job": {"dag_id": "ssl_create_certificates", "run_id": "manual__2026-01-01T00:00:00+00:00"},
            }
        ],
        cname='"><b>',
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'value="&quot;&gt;&lt;b&gt;"' in html
    assert 'href="jobs/ssl_create_certificates/manual__2026-01-01T00%3A00%3A00%2B00%3A00"' in html
    assert job_href("d", "a/b") == "jobs/d/a%2Fb"


def test_job_view_shows_steps_records_distributions_and_error():
    html = job_page(
        {
            "dag_id": "ssl_create_certificates",
            "run_id": "r1",
            "state": "failed",
            "steps": [{"name": "wait_for_issuance", "state": "failed", "start": None, "end": None}],
            "summary": {
                "certificates": [
                    {
                        "arn": "arn:1",
                        "names": ["a.example.com"],
                        "status": "FAILED",
                        "validation_records": [
                            {"name": "_x.a.example.com.", "type": "CNAME", "value": "_y.acm."}
                        ],
                    }
                ],
                "distributions": [
                    {"id": "E1", "aliases": ["a.example.com"], "domain_name": "d1.cloudfront.net"}
                ],
            },
            "error": "step 'wait_for_issuance' failed: a.example.com is FAILED (CAA_ERROR)",
        }
    )
    for text in (
        "wait_for_issuance",
        "_x.a.example.com.",
        "_y.acm.",
        "d1.cloudfront.net",
        "CAA_ERROR",
        'id="error"',
    ):
        assert text in html
