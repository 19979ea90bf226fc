"""The pages' HTML: everything escaped, every link relative, the job's parts shown."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

from cloudfront_ssl.views.page import (
    certificates_page,
    job_href,
    job_page,
    jobs_page,
    message_page,
    relative_root,
)

JOB = {"dag_id": "ssl_create_certificates", "run_id": "manual__2026-01-01T00:00:00+00:00", "state": "running"}


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
        "ssl-certificates/": certificates_page([{"arn": "a", "names": ["x.example.com"], "status": "ISSUED", "job": JOB}]),
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


def test_the_new_job_page_offers_every_option_of_the_create_job_conf():
    from cloudfront_ssl.rules.config import CreateJobConfig
    from cloudfront_ssl.views.page import FORM_FIELDS, job_options, new_job_page

    options = {option["name"]: option for option in job_options()}
    # Every conf key is on the page: laid out by the page itself or as an option (new keys included).
    assert set(options) | set(FORM_FIELDS) == set(CreateJobConfig.field_order())
    assert options["poll_interval_seconds"]["kind"] == "integer"
    assert options["poll_interval_seconds"]["default"] == 300
    assert options["cleanup_on_failure"]["kind"] == "boolean"
    assert options["notification_topic_arn"]["nullable"] is True

    html = new_job_page(may_start=True)
    page = _parse(html)
    inputs = {attrs.get("data-option"): attrs for tag, attrs in page.elements if tag == "input"}
    for name in options:
        assert name in inputs, name
    assert inputs["poll_interval_seconds"]["value"] == "300"
    assert inputs["aws_conn_id"]["value"] == "aws_default"
    assert [attrs for tag, attrs in page.elements if attrs.get("id") == "certificates"][0]
    (start,) = [attrs for tag, attrs in page.elements if attrs.get("id") == "start"]
    assert start["data-may-start"] == "true"
    assert 'id="no-start"' not in html
    assert 'id="no-start"' in new_job_page(may_start=False)
    for link in _links(html):
        assert not link.startswith("/"), link


def test_the_jobs_list_shows_names_counts_and_the_error_of_a_failed_job():
    html = jobs_page(
        [
            {
                **JOB,
                "state": "failed",
                "start": "2026-01-01T00:00:00+00:00",
                "names": ["a.example.com", "<b>.example.com", "c.example.com"],
                "names_total": 5,
                "certificates": 0,
                "distributions": 0,
                "error": "step 'check' failed: certificates[1]: '<b>.example.com' is not a valid name",
            }
        ],
        state="failed",
        states=["queued", "failed"],
        dag_ids=["ssl_create_certificates"],
    )
    text = "".join(_parse(html).text)
    assert "a.example.com" in text and "and 2 more" in text
    assert "step 'check' failed" in text and "<b>" not in html.replace("&lt;b&gt;", "")
    selected = [
        attrs["value"] for tag, attrs in _parse(html).elements if tag == "option" and "selected" in attrs
    ]
    assert "failed" in selected


def test_the_job_view_offers_the_records_to_copy_and_export():
    html = job_page(
        {
            **JOB,
            "state": "success",
            "steps": [],
            "summary": {
                "certificates": [
                    {
                        "arn": "arn:aws:acm:us-east-1:123456789012:certificate/1",
                        "names": ["*.example.com", "example.com"],
                        "status": "ISSUED",
                        "validation_records": [
                            {"name": "_a.example.com.", "type": "CNAME", "value": "_b.acm-validations.aws."},
                            {"name": "_a.example.com.", "type": "CNAME", "value": "_b.acm-validations.aws."},
                        ],
                    }
                ],
                "distributions": [
                    {
                        "id": "E1",
                        "aliases": ["example.com", "www.example.com"],
                        "domain_name": "d1.cloudfront.net",
                    }
                ],
            },
        }
    )
    page = _parse(html)
    copied = [attrs["data-copy"] for tag, attrs in page.elements if tag == "button" and "data-copy" in attrs]
    assert (
        "_a.example.com." in copied and "_b.acm-validations.aws." in copied and "d1.cloudfront.net" in copied
    )
    links = _links(html)
    assert (
        "../../api/jobs/ssl_create_certificates/manual__2026-01-01T00%3A00%3A00%2B00%3A00/records?format=csv"
        in links
    )
    assert any(link.endswith("records?format=zone") for link in links)
    assert "_a.example.com.\t300\tIN\tCNAME\t_b.acm-validations.aws." in html
    assert "www.example.com.\t300\tIN\tCNAME\td1.cloudfront.net." in html


def test_the_job_view_marks_the_records_route53_holds_and_leaves_the_rest_to_add():
    html = job_page(
        {
            **JOB,
            "state": "success",
            "steps": [],
            "route53_zones": {"_a.example.com": "ZONE1", "example.com": "ZONE1"},
            "summary": {
                "certificates": [
                    {
                        "arn": "arn:1",
                        "names": ["example.com", "www.other.org"],
                        "status": "ISSUED",
                        "validation_records": [
                            {"name": "_a.example.com.", "type": "CNAME", "value": "_b.acm-validations.aws."},
                            {
                                "name": "_c.www.other.org.",
                                "type": "CNAME",
                                "value": "_d.acm-validations.aws.",
                            },
                        ],
                    }
                ],
                "distributions": [
                    {
                        "id": "E1",
                        "aliases": ["example.com", "www.other.org"],
                        "domain_name": "d1.cloudfront.net",
                    }
                ],
                "dns_records": [
                    {"zone_id": "ZONE1", "name": "example.com", "type": t, "alias_target": {"dns_name": "d1"}}
                    for t in ("A", "AAAA")
                ],
            },
        }
    )
    table = html.split('<table id="records"')[1].split("</table>")[0]
    rows = table.split("<tr data-kind=")[1:]

    def name(row: str) -> str:
        return row.split('<code class="dns">')[1].split("</code>")[0]

    marks = {name(row): row.split('data-route53="')[1].split('"')[0] for row in rows}
    assert marks == {
        "_a.example.com.": "held",
        "_c.www.other.org.": "to-add",
        "example.com": "held",
        "www.other.org": "to-add",
    }
    # The rows to add come first; those Route 53 holds follow apart, marked at the row's start.
    assert [name(row) for row in rows] == ["_c.www.other.org.", "www.other.org", "_a.example.com.", "example.com"]
    assert all("✓ in Route 53" in row.split("</td>")[0] for row in rows if 'data-route53="held"' in row)
    assert "<strong>2 to add</strong>, 2 already in Route 53" in html
    # A name the job pointed with alias records is held as A/AAAA aliases, not as a CNAME.
    held_alias = next(row for row in rows if name(row) == "example.com")
    assert "<td data-label=\"Type\">A and AAAA alias</td>" in held_alias
    assert "served by distribution E1" in held_alias and "CNAME target" not in held_alias
    to_add = next(row for row in rows if name(row) == "www.other.org")
    assert "<td data-label=\"Type\">CNAME</td>" in to_add
    assert "; in Route 53 (hosted zone ZONE1), nothing to add: _a.example.com." in html
    assert "\n_c.www.other.org.\t300\tIN\tCNAME\t_d.acm-validations.aws." in html


def test_errors_read_as_the_page_words_them_lines_from_one_and_no_class_names():
    from cloudfront_ssl.views.page import readable_error

    assert (
        readable_error("step 'check' failed: JobInputError: certificates[0]: bad_name! is not a name")
        == "step 'check' failed: line 1: bad_name! is not a name"
    )
    assert readable_error("certificates[4] (line 5): taken") == "line 5: taken"
    assert readable_error(None) == ""


def test_closing_steps_skipped_after_a_success_look_expected_not_alarming():
    from cloudfront_ssl.views.page import step_state_class

    assert step_state_class("notify_failure", "skipped", "success") == "expected"
    assert step_state_class("cleanup_on_failure", "skipped", "running") == "expected"
    assert step_state_class("cleanup_on_failure", "skipped", "failed") == "skipped"
    # A step the job does not need (a tenant step of a distribution job, ...) is skipped by design.
    assert step_state_class("create_tenants", "skipped", "success") == "expected"
    assert step_state_class("create_distributions[a.example.com]", "skipped", "failed") == "expected"
    assert step_state_class("check", "failed", "failed") == "failed"
    assert step_state_class("check", None, "queued") == "none"
    html = job_page(
        {
            **JOB,
            "state": "success",
            "steps": [
                {"name": "notify_failure", "state": "skipped"},
                {"name": "create_tenants", "state": "skipped"},
            ],
            "summary": {},
        }
    )
    assert 'class="badge state-expected" title="Runs only when a step failed"' in html
    assert 'class="badge state-expected" title="Not needed by this job"' in html


def test_steps_follow_the_dag_order_defined_first_goes_first_among_ready_steps():
    from cloudfront_ssl.views.progress import topological_order

    upstream = {
        "check": set(),
        "summary": {"wait", "create"},
        "request": {"check"},
        "arns": {"request"},
        "find": {"request"},
        "wait": {"arns", "find"},
        "create": {"wait"},
        "cleanup": {"summary"},
    }
    assert topological_order(upstream) == ["check", "request", "arns", "find", "wait", "create", "summary", "cleanup"]


def test_a_waiting_job_says_how_often_acm_is_checked_and_when_it_gives_up():
    html = job_page(
        {
            **JOB,
            "state": "running",
            "steps": [{"name": "wait_for_issuance", "state": "deferred"}],
            "summary": {},
            "waiting": {
                "step": "wait_for_issuance",
                "since": "2026-01-01T00:00:05+00:00",
                "poll_interval_seconds": 300.0,
                "gives_up_at": "2026-01-04T00:00:00+00:00",
                "certificates": 2,
            },
        }
    )
    assert "for ACM to issue 2 certificate(s)" in html
    assert 'Checked every 300 s: <span id="next-check" data-interval="300.0">next check within 300 s</span>' in html
    assert "Gives up at 2026-01-04 00:00:00 UTC" in html
    assert 'data-final="false"' in html and "Following the job" in html
    ended = job_page({**JOB, "state": "success", "steps": [], "summary": {}})
    assert 'data-final="true"' in ended and "The job has ended" in ended
