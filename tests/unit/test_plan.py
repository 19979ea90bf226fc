"""The create job's plan (shared by the check step and the page's dry run), without AWS."""

from __future__ import annotations

from cloudfront_ssl.steps.claims import overlap
from cloudfront_ssl.steps.plan import plan_create_job

SOURCE = "E2ABCDEF123456"


def test_a_valid_plan_with_aggregation() -> None:
    result = plan_create_job(
        {
            "certificates": [
                "*.example.com, example.com",
                "",
                "a.example.com",
                "b.example.com, x.example.org",
            ],
            "aggregate": True,
            "source_distribution_id": SOURCE,
        },
        read_aws=False,
    )
    assert result["valid"] and result["errors"] == []
    assert [(c["item"], c["line"], c["names"]) for c in result["certificates"]] == [
        (0, 1, ["*.example.com", "example.com"]),
        (3, 4, ["b.example.com", "x.example.org"]),
    ]
    assert {(c["name"], c["covered_by"], c["certificate_item"]) for c in result["covered"]} == {
        ("a.example.com", "*.example.com", 0)
    }
    assert [(d["item"], d["line"], d["certificate_item"]) for d in result["distributions"]] == [
        (0, 1, 0),
        (2, 3, 0),
        (3, 4, 3),
    ]


def test_every_error_at_once_each_naming_field_item_and_line() -> None:
    result = plan_create_job(
        {
            "certificates": ["a.example.com", "bad name!.com", "192.0.2.1", "A.example.com", ""],
            "source_distribution_id": "not-an-id",
            "tags": {"aws:x": "y"},
            "surprise": 1,
        },
        read_aws=False,
    )
    assert not result["valid"]
    found = {(e["field"], e["item"], e["line"]) for e in result["errors"]}
    assert ("certificates", 1, 2) in found
    assert ("certificates", 2, 3) in found
    assert ("certificates", 3, 4) in found
    assert {"source_distribution_id", "tags", "surprise"} <= {e["field"] for e in result["errors"]}
    messages = " ".join(e["message"] for e in result["errors"])
    assert "certificates[3] (line 4): a.example.com is already in certificates[0] (line 1)" in messages
    assert "surprise: is not a setting" in messages


def test_only_blank_lines_is_one_clear_error() -> None:
    result = plan_create_job({"certificates": ["", " "], "create_distributions": False}, read_aws=False)
    assert [e["message"] for e in result["errors"]] == [
        "certificates: give at least one certificate (every line is blank)"
    ]


class Held:
    def __init__(self, claims: dict[str, list[str]]) -> None:
        self.claims = claims

    def held(self, names):
        return overlap(names, self.claims)


def test_names_claimed_by_a_running_job_are_conflicts() -> None:
    result = plan_create_job(
        {"certificates": ["a.example.com", "b.example.com"], "source_distribution_id": SOURCE},
        read_aws=False,
        claims=Held({"job r1 of ssl_create_certificates": ["b.example.com"]}),
    )
    assert not result["valid"]
    assert result["conflicts"][0]["name"] == "b.example.com"
    assert result["conflicts"][0]["held_by"] == "job r1 of ssl_create_certificates"
    assert result["errors"][0]["item"] == 1


def test_a_missing_source_is_said_beside_the_other_refusals() -> None:
    result = plan_create_job({"certificates": ["a.example.com"], "tags": {"a#": "b"}}, read_aws=False)
    assert {e["field"] for e in result["errors"]} == {"tags", "source_distribution_id"}


def test_a_claimed_name_is_reported_beside_a_refused_line() -> None:
    result = plan_create_job(
        {
            "certificates": ["a.example.com", "a_b.example.com", "", "held.example.com"],
            "source_distribution_id": SOURCE,
            "poll_interval_seconds": 0,
        },
        read_aws=False,
        claims=Held({"job r1 of ssl_create_certificates": ["held.example.com"]}),
    )
    assert not result["valid"]
    messages = [e["message"] for e in result["errors"]]
    assert any(m.startswith("certificates[1] (line 2): 'a_b.example.com'") for m in messages), messages
    assert any(
        m.startswith("certificates[3] (line 4): held.example.com is claimed by job r1") for m in messages
    )
    assert any(m.startswith("poll_interval_seconds") for m in messages)
    assert [(c["line"], c["name"]) for c in result["conflicts"]] == [(4, "held.example.com")]
    # An invalid plan lists no certificates or distributions to make: only what refuses it.
    assert result["certificates"] == [] and result["distributions"] == []


def test_a_number_that_is_not_finite_is_refused_in_words() -> None:
    result = plan_create_job(
        {
            "certificates": ["a.example.com"],
            "source_distribution_id": SOURCE,
            "validation_timeout_hours": float("nan"),
        },
        read_aws=False,
    )
    (refusal,) = result["errors"]
    assert refusal["field"] == "validation_timeout_hours"
    assert (
        refusal["message"]
        == "validation_timeout_hours: nan is not a number this job can use: give a finite number"
    )
