"""The pages' HTML: everything escaped, every link relative, the job's parts shown."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

from cloudfront_ssl.page import certificates_page, job_href, job_page, jobs_page, message_page, relative_root

JOB = {"dag_id": "ssl_create_certificates", "run_id": "manual__2026-01-01T00:00:00+00:00"}


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def _links(html: str) -> list[str]:
    return [attrs["href"] for tag, attrs in _parse(html).elements if tag == "a" and attrs.get("href")] + [
        attrs["action"] for tag, attrs in _parse(html).elements if tag == "form" and attrs.get("action")
    ]


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
                "job": JOB,
            }
        ],
        cname='"><b>',
    )
    page = _parse(html)
    assert "<script>alert" not in html and "<script>alert(1)</script>.example.com" in "".join(page.text)
    (search,) = [attrs for tag, attrs in page.elements if tag == "input" and attrs.get("name") == "cname"]
    assert search["value"] == '"><b>'
    assert not [tag for tag, _ in page.elements if tag == "b"]
    assert "./jobs/ssl_create_certificates/manual__2026-01-01T00%3A00%3A00%2B00%3A00" in _links(html)
    assert job_href("d", "a/b") == "jobs/d/a%2Fb"


def test_job_view_shows_steps_records_distributions_and_error():
    html = job_page(
        {
            **JOB,
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


def test_the_root_of_a_page_is_relative_to_its_own_path():
    assert relative_root("/") == "./"
    assert relative_root("/jobs") == "./"
    assert relative_root("/jobs/ssl_create_certificates/run") == "../../"
    # A "/" inside a run id arrives percent-encoded and stays one segment.
    assert relative_root("/jobs/ssl_create_certificates/a%2Fb") == "../../"


def test_every_link_stays_under_the_base_url_it_was_served_from():
    """Resolved against the page's own URL under a base_url with a path, no link leaves that path."""
    base = "http://example.org/airflow/"
    pages = {
        "ssl-certificates/": certificates_page([{"arn": "a", "names": ["x.example.com"], "job": JOB}]),
        "ssl-certificates/jobs": jobs_page([{**JOB, "state": "success"}]),
        "ssl-certificates/jobs/ssl_create_certificates/r": job_page({**JOB, "steps": []}),
        "ssl-certificates/nothing/here": message_page("Sign in required", "sign in", 401, root="../"),
    }
    for path, html in pages.items():
        links = _links(html)
        assert links, path
        for link in links:
            assert not link.startswith(("/", "http:", "https:")), (path, link)
            assert urljoin(base + path, link).startswith(base), (path, link)
    job_links = {
        urljoin(base + "ssl-certificates/jobs/ssl_create_certificates/r", link)
        for link in _links(pages["ssl-certificates/jobs/ssl_create_certificates/r"])
    }
    assert base + "dags/ssl_create_certificates/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00" in job_links
    assert base + "ssl-certificates/" in job_links
    assert base in {
        urljoin(base + "ssl-certificates/nothing/here", link)
        for link in _links(pages["ssl-certificates/nothing/here"])
    }
