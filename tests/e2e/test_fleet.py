"""ssl_fleet end to end: ``airflow standalone`` (the stack of ``make up``) on the session's moto.

The fleet run triggers the job DAGs and waits for them deferred, which only a real scheduler and
triggerer do, so these runs go through a real stack driven by the REST API, as a user's scripts do.
The tests of this module follow one fleet file through its life, in order: its sites created in one
run (never more than two jobs at once with ``fleet_max_jobs`` 2), a second run that plans nothing, two
changed sites with a name moved from one to the other, a site left out of the file (reported) while
drift is put back, a file with errors, a site whose job failed tried again; then the stack is
started again with ``fleet_remove`` and ``fleet_approval`` on: a rejected plan applies nothing, and
an approval given through Airflow's REST API removes the site.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devstack.api import run_path
from devstack.processes import wait_for
from devstack.stack import AirflowStack, standalone

FLEET = "ssl_fleet"
CREATE = "ssl_create_certificates"
UPDATE = "ssl_update_site"
CLEANUP = "ssl_cleanup_job"
JOB_DAGS = (CREATE, UPDATE, CLEANUP)
SITE_TAG = "cloudfront-ssl:site"
STANDALONE = "airflow-standalone"
SITES = {
    "fleet-alpha": ["alpha.fleet-test.example.com", "www.alpha.fleet-test.example.com"],
    "fleet-beta": ["beta.fleet-test.example.com", "shop.beta.fleet-test.example.com"],
    "fleet-gamma": ["gamma.fleet-test.example.com"],
}


def fleet_text(emulator: Any, sites: dict[str, list[str]], extra: str = "") -> str:
    """A fleet file: the emulator's source distribution and topic as defaults, then the sites."""
    lines = [
        "defaults:",
        f"  source_distribution_id: {emulator.source_distribution_id}",
        f"  notification_topic_arn: {emulator.topic_arn}",
        "  poll_interval_seconds: 2",
        "sites:",
    ]
    for site, names in sites.items():
        lines += [f"  - site: {site}", f"    names: [{', '.join(names)}]"]
    return "\n".join(lines) + "\n" + extra


@dataclass
class Fleet:
    """The stack, the emulator and the fleet file the stack reads."""

    stack: AirflowStack
    emulator: Any
    file: Path
    settings: dict[str, str]
    runs: list[str] = field(default_factory=list)

    @property
    def api(self) -> Any:
        return self.stack.api

    def write(self, text: str) -> None:
        self.file.write_text(text)

    def trigger(self) -> str:
        run_id = self.api.trigger(FLEET, {})
        self.runs.append(run_id)
        return run_id

    def wait(self, run_id: str, timeout: float = 600) -> str:
        """Wait until the fleet run has ended; its state."""

        def ended() -> str | None:
            self.stack.processes.check_alive()
            state = self.api.run_state(FLEET, run_id)
            return state if state in ("success", "failed") else None

        return wait_for(f"fleet run {run_id}", ended, timeout, 2)

    def run(self) -> tuple[str, str]:
        """One fleet run from trigger to end: its run id and state."""
        run_id = self.trigger()
        return run_id, self.wait(run_id)

    def xcom(self, run_id: str, task_id: str, key: str = "return_value") -> Any:
        if key == "return_value":
            return self.api.xcom(FLEET, run_id, task_id)
        response = self.api.request(
            "GET", f"{run_path(FLEET, run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
        )
        return response.json().get("value") if response.ok else None

    def task_states(self, run_id: str) -> dict[str, list[str | None]]:
        states: dict[str, list[str | None]] = {}
        for ti in self.api.task_instances(FLEET, run_id):
            states.setdefault(ti["task_id"], []).append(ti["state"])
        return states

    def fleet_jobs(self, dag_id: str) -> list[dict[str, Any]]:
        """The runs of a job DAG that the fleet started."""
        runs = self.api.get(f"/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]
        return [run for run in runs if run["dag_run_id"].startswith("fleet__")]

    def sites(self) -> dict[str, dict[str, Any]]:
        """The account's distributions that carry a site tag, by site."""
        found = {}
        for distribution in self.emulator.distributions():
            site = distribution["Tags"].get(SITE_TAG)
            if site:
                found[site] = distribution
        return found

    def plugin(self, path: str) -> Any:
        return self.api.request("GET", path, prefix="/ssl-certificates")


def aliases(distribution: dict[str, Any]) -> set[str]:
    return set(distribution["DistributionConfig"]["Aliases"].get("Items") or [])


def set_aliases(emulator: Any, distribution_id: str, names: list[str]) -> None:
    """Change a distribution's aliases outside any job, as a person in the console would."""
    config = emulator.cloudfront.get_distribution_config(Id=distribution_id)
    changed = config["DistributionConfig"]
    changed["Aliases"] = {"Quantity": len(names), "Items": names} if names else {"Quantity": 0}
    emulator.cloudfront.update_distribution(
        Id=distribution_id, IfMatch=config["ETag"], DistributionConfig=changed
    )


def start(stack: AirflowStack, name: str, settings: dict[str, str]) -> None:
    stack.start(name, "standalone", env=settings)
    stack.wait_healthy(timeout=300)
    stack.sign_in()
    stack.wait_for_dags([FLEET, *JOB_DAGS], timeout=300)
    for dag_id in (FLEET, *JOB_DAGS):
        stack.api.unpause(dag_id)


@pytest.fixture(scope="module")
def fleet(moto_server, tmp_path_factory) -> Iterator[Fleet]:
    """A standalone stack reading a fleet file, manual runs only, two jobs at a time, on a fresh moto."""
    from tests.aws import Emulator

    emulator = Emulator(moto_server)
    emulator.reset()
    emulator.seed()
    home = tmp_path_factory.mktemp("fleet-home")
    file = home / "fleet.yaml"
    settings = {
        "AIRFLOW__SSL_CERTIFICATES__FLEET_FILE": str(file),
        "AIRFLOW__SSL_CERTIFICATES__FLEET_SCHEDULE": "none",
        "AIRFLOW__SSL_CERTIFICATES__FLEET_MAX_JOBS": "2",
        # The fleet notices a job's end within 2 s (the emulator stack's cap is 5).
        "AIRFLOW__SSL_CERTIFICATES__MAX_POLL_INTERVAL_SECONDS": "2",
        "AIRFLOW__SSL_CERTIFICATES__FLEET_REMOVE": "False",
        "AIRFLOW__SSL_CERTIFICATES__FLEET_APPROVAL": "False",
    }
    stack = standalone(home, moto_server)
    try:
        start(stack, STANDALONE, settings)
        yield Fleet(stack, emulator, file, settings)
    finally:
        stack.stop()


def restart(fleet: Fleet, **settings: str) -> None:
    """Start the stack again (same database) with other fleet settings: they are read at start."""
    running = [started for started in fleet.stack.processes.started if started.name.startswith(STANDALONE)]
    fleet.stack.processes.stop(running)  # and forgets them
    fleet.settings.update({f"AIRFLOW__SSL_CERTIFICATES__{k.upper()}": v for k, v in settings.items()})
    start(fleet.stack, f"{STANDALONE}-{len(fleet.runs)}", fleet.settings)


def planned(fleet: Fleet, run_id: str) -> dict[str, dict[str, Any]]:
    plan = fleet.xcom(run_id, "plan")
    assert plan and "items" in plan, plan
    return {item["site"]: item for item in plan["items"]}


def ended_as(fleet: Fleet, run_id: str) -> dict[str, str]:
    report = fleet.xcom(run_id, "report")
    assert report and "sites" in report, report
    return {entry["site"]: entry["ended_as"] for entry in report["sites"]}


# --- one fleet file through its life --------------------------------------------------------------


def test_sites_are_created_in_one_run_never_more_jobs_at_once_than_allowed(fleet):
    fleet.write(fleet_text(fleet.emulator, SITES))
    run_id, state = fleet.run()
    assert state == "success", fleet.task_states(run_id)

    assert {site: item["action"] for site, item in planned(fleet, run_id).items()} == dict.fromkeys(
        SITES, "create"
    )
    assert ended_as(fleet, run_id) == dict.fromkeys(SITES, "applied")
    sites = fleet.sites()
    assert {site: aliases(d) for site, d in sites.items()} == {s: set(n) for s, n in SITES.items()}

    jobs = fleet.fleet_jobs(CREATE)
    assert sorted(job["dag_run_id"] for job in jobs) == sorted(f"fleet__{s}__{run_id}" for s in SITES)
    assert {job["state"] for job in jobs} == {"success"}
    # fleet_max_jobs = 2: when any job started, at most one other was still running.
    spans = sorted((job["start_date"], job["end_date"]) for job in jobs)
    for started, _ in spans:
        running = [span for span in spans if span[0] <= started < span[1]]
        assert len(running) <= 2, spans
    # The log holds the plan.
    apply_states = fleet.task_states(run_id)["apply"]
    assert apply_states == ["success"] * 3


def test_the_next_run_plans_nothing(fleet):
    before = {dag_id: len(fleet.fleet_jobs(dag_id)) for dag_id in JOB_DAGS}
    run_id, state = fleet.run()
    assert state == "success", fleet.task_states(run_id)
    items = planned(fleet, run_id)
    assert {site: item["action"] for site, item in items.items()} == dict.fromkeys(SITES, "keep")
    assert not any(item["apply"] for item in items.values())
    assert fleet.xcom(run_id, "plan")["needs_approval"] is False
    assert ended_as(fleet, run_id) == dict.fromkeys(SITES, "in_step")
    assert {dag_id: len(fleet.fleet_jobs(dag_id)) for dag_id in JOB_DAGS} == before
    states = fleet.task_states(run_id)
    assert states["apply"] == ["skipped"] and states["approve"] == ["skipped"], states


def test_changed_sites_are_updated_and_a_name_moved_between_them_is_freed_before_it_is_taken(fleet):
    moved = {
        **SITES,
        "fleet-alpha": [*SITES["fleet-alpha"], "shop.beta.fleet-test.example.com"],
        "fleet-beta": ["beta.fleet-test.example.com", "www.beta.fleet-test.example.com"],
    }
    fleet.write(fleet_text(fleet.emulator, moved))
    run_id, state = fleet.run()
    assert state == "success", fleet.task_states(run_id)
    items = planned(fleet, run_id)
    assert items["fleet-alpha"]["action"] == items["fleet-beta"]["action"] == "change"
    assert items["fleet-gamma"]["action"] == "keep"
    assert items["fleet-alpha"]["after"] == ["fleet-beta"], items["fleet-alpha"]
    assert ended_as(fleet, run_id)["fleet-alpha"] == ended_as(fleet, run_id)["fleet-beta"] == "applied"
    jobs = {job["dag_run_id"]: job for job in fleet.fleet_jobs(UPDATE)}
    assert set(jobs) == {f"fleet__{site}__{run_id}" for site in ("fleet-alpha", "fleet-beta")}
    assert {job["state"] for job in jobs.values()} == {"success"}
    freed, taken = jobs[f"fleet__fleet-beta__{run_id}"], jobs[f"fleet__fleet-alpha__{run_id}"]
    assert taken["start_date"] >= freed["end_date"], (freed, taken)
    sites = fleet.sites()
    assert aliases(sites["fleet-alpha"]) == set(moved["fleet-alpha"])
    assert aliases(sites["fleet-beta"]) == set(moved["fleet-beta"])
    SITES.update(moved)


def test_a_site_left_out_of_the_file_is_reported_not_removed_and_drift_is_put_back(fleet):
    kept = {site: names for site, names in SITES.items() if site != "fleet-gamma"}
    fleet.write(fleet_text(fleet.emulator, kept))
    set_aliases(fleet.emulator, fleet.sites()["fleet-alpha"]["Id"], [SITES["fleet-alpha"][0]])
    run_id, state = fleet.run()
    assert state == "success", fleet.task_states(run_id)
    items = planned(fleet, run_id)
    gamma, alpha = items["fleet-gamma"], items["fleet-alpha"]
    assert gamma["action"] == "remove" and gamma["apply"] is False, gamma
    assert ended_as(fleet, run_id)["fleet-gamma"] == "reported"
    assert "fleet-gamma" in fleet.sites()
    assert fleet.fleet_jobs(CLEANUP) == []

    assert alpha["drift"] is True and alpha["apply"] is True, alpha
    assert alpha["reasons"] and all(isinstance(reason, str) for reason in alpha["reasons"]), alpha
    assert ended_as(fleet, run_id)["fleet-alpha"] == "applied"
    assert aliases(fleet.sites()["fleet-alpha"]) == set(SITES["fleet-alpha"])

    api = fleet.plugin("/api/fleet").json()
    assert api["last_run"]["run_id"] == run_id
    states = {site["site"]: site for site in api["sites"]}
    assert states["fleet-alpha"]["state"] == "in_step"
    assert states["fleet-gamma"]["state"] == "to_change"  # reported, left to a person


def test_a_file_with_errors_changes_nothing_and_names_its_lines(fleet):
    before = {dag_id: len(fleet.fleet_jobs(dag_id)) for dag_id in JOB_DAGS}
    distributions = {d["Id"]: aliases(d) for d in fleet.emulator.distributions()}
    text = fleet_text(fleet.emulator, {**SITES, "fleet-delta": ["delta.fleet-test.example.com"]})
    text += "  - site: Bad_Site!\n    names: [ok.fleet-test.example.com]\n"
    text += "  - site: fleet-epsilon\n    names: [not a name]\n"
    fleet.write(text)
    bad_lines = [
        n for n, line in enumerate(text.splitlines(), 1) if "Bad_Site" in line or "not a name" in line
    ]
    run_id, state = fleet.run()
    assert state == "failed"
    states = fleet.task_states(run_id)
    assert states["read_fleet"] == ["failed"] and states["plan"] == ["upstream_failed"], states
    problems = fleet.xcom(run_id, "read_fleet", key="problems")
    assert problems and len(problems) >= 2, problems
    lines = {problem["line"] for problem in problems}
    assert set(bad_lines) <= lines | {line - 1 for line in lines}, (bad_lines, problems)
    assert {dag_id: len(fleet.fleet_jobs(dag_id)) for dag_id in JOB_DAGS} == before
    assert {d["Id"]: aliases(d) for d in fleet.emulator.distributions()} == distributions

    api = fleet.plugin("/api/fleet").json()
    assert api["last_run"]["run_id"] == run_id and api["last_run"]["problems"], api["last_run"]
    page = fleet.plugin("/fleet")
    assert page.status_code == 200, page.text
    assert all(f"line {problem['line']}" in page.text for problem in problems), page.text
    fleet.write(fleet_text(fleet.emulator, {s: n for s, n in SITES.items() if s != "fleet-gamma"}))


def test_a_site_whose_job_failed_is_reported_and_tried_again_at_the_next_run(fleet):
    blocker = fleet.emulator.create_distribution(["delta.fleet-test.example.com"])  # not the fleet's
    SITES["fleet-delta"] = ["delta.fleet-test.example.com"]
    fleet.write(fleet_text(fleet.emulator, {s: n for s, n in SITES.items() if s != "fleet-gamma"}))
    run_id, state = fleet.run()
    assert state == "failed", fleet.task_states(run_id)  # the run says a site failed
    assert planned(fleet, run_id)["fleet-delta"]["action"] == "create"
    report = fleet.xcom(run_id, "report")
    assert report["failed"] == ["fleet-delta"], report
    assert ended_as(fleet, run_id)["fleet-delta"] == "failed"
    failed_job = f"fleet__fleet-delta__{run_id}"
    site = {s["site"]: s for s in fleet.plugin("/api/fleet").json()["sites"]}["fleet-delta"]
    assert site["state"] == "failed" and site["jobs"][0]["run_id"] == failed_job, site
    assert {job["dag_run_id"]: job["state"] for job in fleet.fleet_jobs(CREATE)}[failed_job] == "failed"
    assert "fleet-delta" not in fleet.sites()

    set_aliases(fleet.emulator, blocker, [])  # the name is free now: the next run creates the site
    run_id, state = fleet.run()
    assert state == "success", fleet.task_states(run_id)
    assert ended_as(fleet, run_id)["fleet-delta"] == "applied"
    assert aliases(fleet.sites()["fleet-delta"]) == {"delta.fleet-test.example.com"}
    site = {s["site"]: s for s in fleet.plugin("/api/fleet").json()["sites"]}["fleet-delta"]
    assert site["state"] == "in_step" and [job["state"] for job in site["jobs"]] == ["success", "failed"], site


# --- fleet_remove and fleet_approval on -------------------------------------------------------------


def approval_waiting(fleet: Fleet, run_id: str) -> bool | None:
    fleet.stack.processes.check_alive()
    states = fleet.task_states(run_id)
    if fleet.api.run_state(FLEET, run_id) in ("success", "failed"):
        raise AssertionError(f"the run ended without waiting for approval: {states}")
    return True if states.get("approve") in (["awaiting_input"], ["deferred"]) else None


def answer(fleet: Fleet, run_id: str, option: str) -> Any:
    """Answer the run's approval through Airflow's REST API (its human-in-the-loop endpoint).

    A few seconds after the step started waiting, as a person would: an answer within a second of
    the wait, before the executor has reported the parked task's process as ended, makes Airflow
    3.3's scheduler take that late report for a state changed outside it and fail the step.
    """
    time.sleep(5)
    path = f"{run_path(FLEET, run_id)}/taskInstances/approve/-1/hitlDetails"
    detail = fleet.api.request("GET", path)
    assert detail.ok, detail.text
    assert "fleet-gamma" in (detail.json().get("body") or ""), detail.json()  # the plan, to read first
    response = fleet.api.request("PATCH", path, json={"chosen_options": [option]})
    assert response.ok, response.text
    return response.json()


def test_with_fleet_remove_and_approval_a_rejection_applies_nothing(fleet):
    restart(fleet, fleet_remove="True", fleet_approval="True", fleet_max_jobs="2")
    # delta takes gamma's name, which gamma's removal frees: delta's job waits (deferred) for gamma's.
    SITES["fleet-delta"] = [*SITES["fleet-delta"], "gamma.fleet-test.example.com"]
    fleet.write(fleet_text(fleet.emulator, {s: n for s, n in SITES.items() if s != "fleet-gamma"}))
    # beta drifts too: one of its names dropped in CloudFront.
    set_aliases(fleet.emulator, fleet.sites()["fleet-beta"]["Id"], [SITES["fleet-beta"][0]])
    run_id = fleet.trigger()
    wait_for("the approval step waits", lambda: approval_waiting(fleet, run_id), 300, 2)
    items = planned(fleet, run_id)
    assert items["fleet-gamma"]["action"] == "remove" and items["fleet-gamma"]["apply"] is True, items
    assert items["fleet-beta"]["drift"] is True and items["fleet-beta"]["apply"] is True, items
    assert items["fleet-delta"]["after"] == ["fleet-gamma"], items["fleet-delta"]
    api = fleet.plugin("/api/fleet").json()
    assert api["last_run"]["run_id"] == run_id and api["last_run"]["waiting_for_approval"] is True
    states = {site["site"]: site["state"] for site in api["sites"]}
    assert states["fleet-beta"] == "drift" and states["fleet-gamma"] == "to_change", states
    assert 'id="waiting"' in fleet.plugin("/fleet").text
    answer(fleet, run_id, "Reject")
    state = fleet.wait(run_id)
    assert state == "success", fleet.task_states(run_id)
    report = fleet.xcom(run_id, "report")
    assert report["approval"]["approved"] is False and report["approval"]["by"] == "admin"
    assert ended_as(fleet, run_id)["fleet-gamma"] == ended_as(fleet, run_id)["fleet-beta"] == "rejected"
    assert fleet.fleet_jobs(CLEANUP) == [] and "fleet-gamma" in fleet.sites()
    assert aliases(fleet.sites()["fleet-beta"]) == {SITES["fleet-beta"][0]}  # still drifted
    assert {site["site"]: site["state"] for site in fleet.plugin("/api/fleet").json()["sites"]}[
        "fleet-beta"
    ] == "drift"


def test_an_approval_through_the_rest_api_removes_the_site_and_two_runs_never_apply_at_once(fleet):
    run_id = fleet.trigger()
    wait_for("the approval step waits", lambda: approval_waiting(fleet, run_id), 300, 2)
    # A second fleet run waits for the first to end (max_active_runs 1): it neither plans nor applies.
    second = fleet.trigger()
    time.sleep(10)
    assert fleet.api.run_state(FLEET, second) == "queued"
    assert fleet.task_states(second).get("plan") in (None, [None])

    answered = answer(fleet, run_id, "Approve")
    assert answered["chosen_options"] == ["Approve"]
    state = fleet.wait(run_id)
    assert state == "success", fleet.task_states(run_id)
    assert ended_as(fleet, run_id)["fleet-gamma"] == ended_as(fleet, run_id)["fleet-beta"] == "applied"
    assert aliases(fleet.sites()["fleet-beta"]) == set(SITES["fleet-beta"])  # drift put back
    (job,) = fleet.fleet_jobs(CLEANUP)
    assert job["dag_run_id"] == f"fleet__fleet-gamma__{run_id}" and job["state"] == "success"
    assert ended_as(fleet, run_id)["fleet-delta"] == "applied"
    delta = {j["dag_run_id"]: j for j in fleet.fleet_jobs(UPDATE)}[f"fleet__fleet-delta__{run_id}"]
    assert delta["start_date"] >= job["end_date"], (job, delta)  # it waited for gamma's removal
    assert aliases(fleet.sites()["fleet-delta"]) == set(SITES["fleet-delta"])
    assert "fleet-gamma" not in fleet.sites()
    assert set(fleet.sites()) == {"fleet-alpha", "fleet-beta", "fleet-delta"}

    # The second run, right after one that applied everything, plans nothing: no approval, no job.
    state = fleet.wait(second)
    assert state == "success", fleet.task_states(second)
    assert fleet.task_states(second)["approve"] == ["skipped"]
    assert set(ended_as(fleet, second).values()) == {"in_step"}
    assert (
        fleet.api.get(run_path(FLEET, second))["start_date"]
        >= fleet.api.get(run_path(FLEET, run_id))["end_date"]
    )
    sites = fleet.plugin("/api/fleet").json()["sites"]
    assert {site["site"]: site["state"] for site in sites} == dict.fromkeys(
        ("fleet-alpha", "fleet-beta", "fleet-delta"), "in_step"
    )
