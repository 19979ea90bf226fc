"""The fleet run's own decisions, without a run: its settings, the jobs it starts, what it reports."""

from __future__ import annotations

import pytest

from cloudfront_ssl.steps import fleet_job
from tests.plugin_support import environment

PLAN = {
    "items": [
        {
            "site": "kept",
            "action": "keep",
            "apply": False,
            "drift": False,
            "reasons": [],
            "line": 3,
            "job": None,
        },
        {
            "site": "new",
            "action": "create",
            "apply": True,
            "drift": False,
            "reasons": ["not in the account"],
            "line": 5,
            "job": {
                "dag_id": "ssl_create_certificates",
                "conf": {"certificates": ["a.example.com"], "site": "new"},
            },
        },
        {
            "site": "moved",
            "action": "change",
            "apply": True,
            "drift": True,
            "reasons": ["names changed outside the file"],
            "line": 7,
            "job": {
                "dag_id": "ssl_update_site",
                "conf": {"distribution_id": "E123", "names": ["b.example.com"]},
            },
        },
        {
            "site": "gone",
            "action": "remove",
            "apply": False,
            "drift": False,
            "reasons": ["fleet_remove is false"],
            "line": None,
            "job": {"dag_id": "ssl_cleanup_job", "conf": {"distribution_id": "E456"}},
        },
    ],
    "needs_approval": True,
    "approval": True,
}


@pytest.mark.parametrize(
    ("value", "schedule"),
    [
        (None, "@hourly"),
        ("none", None),
        ("None", None),
        ("", None),
        ("@daily", "@daily"),
        (" */30 * * * * ", "*/30 * * * *"),
    ],
)
def test_the_schedule_setting(value, schedule):
    assert fleet_job.parse_schedule(value) == schedule


def test_the_settings_and_their_defaults(monkeypatch):
    for name in ("FILE", "SCHEDULE", "REMOVE", "APPROVAL", "MAX_JOBS"):
        monkeypatch.delenv(f"AIRFLOW__SSL_CERTIFICATES__FLEET_{name}", raising=False)
    defaults = fleet_job.fleet_settings()
    assert (defaults.file, defaults.schedule, defaults.remove, defaults.approval, defaults.max_jobs) == (
        "",
        "@hourly",
        False,
        False,
        20,
    )
    settings = {
        "AIRFLOW__SSL_CERTIFICATES__FLEET_FILE": "s3://bucket/fleet.yaml",
        "AIRFLOW__SSL_CERTIFICATES__FLEET_SCHEDULE": "none",
        "AIRFLOW__SSL_CERTIFICATES__FLEET_REMOVE": "true",
        "AIRFLOW__SSL_CERTIFICATES__FLEET_APPROVAL": "True",
        "AIRFLOW__SSL_CERTIFICATES__FLEET_MAX_JOBS": "3",
    }
    with environment(settings):
        read = fleet_job.fleet_settings()
    assert (read.file, read.schedule, read.remove, read.approval, read.max_jobs) == (
        "s3://bucket/fleet.yaml",
        None,
        True,
        True,
        3,
    )
    with environment({"AIRFLOW__SSL_CERTIFICATES__FLEET_MAX_JOBS": "many"}):
        with pytest.raises(ValueError, match="fleet_max_jobs"):
            fleet_job.fleet_settings()


def test_one_job_per_applied_site_its_run_id_naming_the_site():
    triggers = fleet_job.job_triggers(PLAN, "scheduled__2026-01-01T00:00:00+00:00")
    assert triggers == [
        {
            "trigger_dag_id": "ssl_create_certificates",
            "trigger_run_id": "fleet__new__scheduled__2026-01-01T00:00:00+00:00",
            "conf": {"certificates": ["a.example.com"], "site": "new"},
            "after": [],
        },
        {
            "trigger_dag_id": "ssl_update_site",
            "trigger_run_id": "fleet__moved__scheduled__2026-01-01T00:00:00+00:00",
            "conf": {"distribution_id": "E123", "names": ["b.example.com"]},
            "after": [],
        },
    ]
    again = fleet_job.job_triggers(PLAN, "manual__x", try_number=2)
    assert [t["trigger_run_id"] for t in again] == [
        "fleet__new__manual__x__try2",
        "fleet__moved__manual__x__try2",
    ]


def test_approval_only_when_asked_for_and_the_plan_changes_anything():
    assert fleet_job.approval_branch(PLAN) == "approve"
    assert fleet_job.approval_branch({**PLAN, "approval": False}) == "jobs"
    assert fleet_job.approval_branch({**PLAN, "needs_approval": False}) == "jobs"
    assert fleet_job.approval_branch(PLAN, plan_only=True) == "jobs"


def test_the_report_says_what_each_site_ended_as():
    triggers = fleet_job.job_triggers(PLAN, "run")
    states = {"fleet__new__run": "success", "fleet__moved__run": "failed"}
    report = fleet_job.fleet_report(
        PLAN, triggers, None, lambda _dag, run_id: states.get(run_id), fleet_run="run"
    )
    assert {e["site"]: e["ended_as"] for e in report["sites"]} == {
        "kept": "in_step",
        "new": "applied",
        "moved": "failed",
        "gone": "reported",
    }
    assert report["failed"] == ["moved"]
    assert report["sites"][2]["job"] == {
        "dag_id": "ssl_update_site",
        "run_id": "fleet__moved__run",
        "state": "failed",
    }
    assert "moved: change -> failed (ssl_update_site run fleet__moved__run: failed)" in report["text"]

    not_started = fleet_job.fleet_report(PLAN, triggers, None, lambda _d, _r: None, fleet_run="run")
    assert not_started["failed"] == ["new", "moved"]

    rejected = {
        "chosen_options": ["Reject"],
        "responded_by_user": {"id": "7", "name": "ops"},
        "responded_at": None,
    }
    decision = fleet_job.approval_decision(rejected)
    assert decision == {"approved": False, "by": "ops", "at": None}
    report = fleet_job.fleet_report(PLAN, None, decision, lambda _d, _r: None, fleet_run="run")
    assert {e["site"]: e["ended_as"] for e in report["sites"]}["new"] == "rejected"
    assert report["failed"] == [] and "rejected: nothing was applied (by ops)" in report["text"]

    planned = fleet_job.fleet_report(PLAN, [], None, lambda _d, _r: None, fleet_run="run", plan_only=True)
    assert [e["ended_as"] for e in planned["sites"]] == ["in_step", "planned", "planned", "reported"]

    nothing = fleet_job.fleet_report(None, None, None, lambda _d, _r: None, fleet_run="run")
    assert nothing["sites"] == [] and "Nothing was planned" in nothing["text"]


def test_xcom_values_are_plain_json():
    assert fleet_job.plain({"a": ("x", {"b": ("y",)}), "c": 1}) == {"a": ["x", {"b": ["y"]}], "c": 1}


def test_the_decision_kept_from_airflow_s_response_event():
    from datetime import UTC, datetime

    event = {
        "chosen_options": ["Approve"],
        "params_input": {},
        "responded_by_user": {"id": "admin", "name": "admin"},
        "responded_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    decision = fleet_job.approval_decision(event)
    assert decision == {"approved": True, "by": "admin", "at": "2026-01-01T00:00:00+00:00"}
    assert fleet_job.approval_decision(decision) == decision  # as the report reads it back
    assert fleet_job.approval_decision(None) is None


def test_a_site_that_takes_a_freed_name_goes_after_the_site_that_frees_it():
    plan = {
        "items": [
            {
                "site": "taker",
                "action": "change",
                "apply": True,
                "after": ["giver"],
                "job": {"dag_id": "ssl_update_site", "conf": {}},
            },
            {
                "site": "giver",
                "action": "change",
                "apply": True,
                "after": [],
                "job": {"dag_id": "ssl_update_site", "conf": {}},
            },
            {
                "site": "other",
                "action": "create",
                "apply": True,
                "job": {"dag_id": "ssl_create_certificates", "conf": {}},
            },
        ]
    }
    triggers = fleet_job.job_triggers(plan, "run")
    assert [t["trigger_run_id"] for t in triggers] == [
        "fleet__giver__run",
        "fleet__taker__run",
        "fleet__other__run",
    ]
    assert triggers[1]["after"] == [
        {"site": "giver", "dag_id": "ssl_update_site", "run_id": "fleet__giver__run", "map_index": 0}
    ]
    after = triggers[1]["after"]
    assert fleet_job.after_verdict(after, lambda _d, _r: "success", lambda _i: "success") == ("go", [])
    assert fleet_job.after_verdict(after, lambda _d, _r: "running", lambda _i: "deferred") == (
        "wait",
        ["giver"],
    )
    assert fleet_job.after_verdict(after, lambda _d, _r: None, lambda _i: "scheduled") == ("wait", ["giver"])
    assert fleet_job.after_verdict(after, lambda _d, _r: "failed", lambda _i: "failed") == ("stop", ["giver"])
    assert fleet_job.after_verdict(after, lambda _d, _r: None, lambda _i: "failed") == ("stop", ["giver"])


def test_a_site_of_another_account_is_refused_with_its_line(tmp_path):
    """The fleet reads one account: a site whose jobs would run in another is a file error, so the
    plan never compares the file with the wrong account."""
    import dataclasses

    from cloudfront_ssl.rules.fleet import FleetFileError

    path = tmp_path / "fleet.yaml"
    path.write_text(
        "defaults:\n"
        "  source_distribution_id: E2QWRUHEXAMPLE\n"
        "sites:\n"
        "  - site: same\n"
        "    names: [same.example.com]\n"
        "  - site: other\n"
        "    names: [other.example.com]\n"
        "    aws_conn_id: aws_second_account\n"
    )
    settings = dataclasses.replace(fleet_job.fleet_settings(), file=str(path), aws_conn_id="aws_default")
    kept: list = []
    with pytest.raises(FleetFileError) as refused:
        fleet_job.read_fleet(settings, kept.extend)
    assert [(problem["line"], problem["message"].split(":")[0]) for problem in kept] == [(6, "site other")]
    assert "aws_second_account is not the account the fleet reads" in str(refused.value)

    path.write_text(path.read_text().replace("aws_second_account", "aws_default"))
    read = fleet_job.read_fleet(settings, kept.extend)
    assert [site["site"] for site in read["sites"]] == ["same", "other"]
