"""The demo path of ``make demo``, run as a user runs it: moto, ``airflow standalone``, the REST API.

The reduced job (``--quick``: one certificate, short waits) keeps this at about a minute; it still
goes through every step a user sees: the emulator, Airflow's start, the token, the triggers, the
deferred wait, the distributions, the SNS messages, and the stop of every process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from devstack.environment import ROOT
from devstack.processes import free_port, listening


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], int]:
    """One quick demo run, its output and the API port it used."""
    port = free_port()
    home = tmp_path_factory.mktemp("demo-airflow-home")
    # The demo builds its own Airflow and AWS environment; the test session's (conftest) must not leak in,
    # and it must not be able to, since the demo drops every AIRFLOW_* and AWS_* variable it inherits.
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "demo.py"),
            "--quick",
            "--port",
            str(port),
            "--home",
            str(home),
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=900,  # the demo waits up to 300 s for Airflow and 420 s for the jobs on a busy machine
    )
    return result, port


def test_demo_exits_0_with_both_jobs_done(demo_run):
    result, _ = demo_run
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert re.search(
        r"^DEMO OK: create job success \(1 certificate, 1 distribution\), "
        r"import job success \(1 certificate, 1 distribution\), "
        r"update job success \(1 certificate, 1 distribution\), "
        r"tenant job success \(1 certificate, 1 tenant\), \d+ SNS messages$",
        result.stdout,
        re.MULTILINE,
    ), output[-6000:]


def test_demo_ends_with_a_fleet_run_over_a_small_file(demo_run):
    result, _ = demo_run
    out = result.stdout
    assert re.search(r"^FLEET OK: 2 sites planned, 2 applied \(run \S+\)$", out, re.MULTILINE), out[-6000:]
    plan = out[out.index("The fleet run's plan:") : out.index("What each site ended as:")]
    assert "store" in plan and "blog" in plan, plan
    ended = out[out.index("What each site ended as:") :]
    assert re.search(r"store: create -> applied \(ssl_create_certificates run fleet__store__", ended), ended
    assert re.search(r"blog: create -> applied \(ssl_create_certificates run fleet__blog__", ended), ended


def test_demo_prints_what_the_owner_needs(demo_run):
    result, _ = demo_run
    out = result.stdout
    # Step-by-step progress, through the REST API.
    assert "POST /auth/token" in out
    for step in (
        "check",
        "request_certificates",
        "write_validation_records",
        "wait_for_dns",
        "wait_for_issuance",
        "create_distributions",
        "point_aliases",
        "summary",
    ):
        assert re.search(rf"create\s+{re.escape(step)}\s+success", out), step
    # Certificates with their DNS validation records, distributions with their CNAME targets.
    assert "names: demo.example.com, www.demo.example.com" in out
    assert re.search(
        r"DNS validation record: _\w+\.demo\.example\.com\.\s+CNAME\s+\S+acm-validations\.aws\.", out
    )
    assert re.search(r"^\s+www\.demo\.example\.com  CNAME  \w+\.cloudfront\.net$", out, re.MULTILINE)
    # With Route 53 on, the create job wrote the records and pointed the names itself.
    assert re.search(
        r"^\s+www\.demo\.example\.com  AAAA  alias \w+\.cloudfront\.net  \(hosted zone \w+\)$", out, re.M
    )
    assert (
        "No step was left to a person: 2 validation records written in Route 53, 1 distribution created, "
        "2 names pointed at CloudFront"
    ) in out
    # The owners' SNS messages say so: nothing left to do, first for validation, then for the names.
    assert "DNS validation done in Route 53 for 1 certificate" in out
    assert "Names pointed at CloudFront: 1 distribution" in out
    assert re.search(r"^\s+shop\.demo\.example\.com  CNAME  \w+\.cloudfront\.net$", out, re.MULTILINE)
    # The update of the create job's site: www. dropped, m. added, the certificate swapped.
    assert "names before: demo.example.com, www.demo.example.com" in out
    assert "names after:  demo.example.com, m.demo.example.com" in out
    assert "replaced certificate deleted" in out
    # The tenant job after the distribution jobs: one tenant on ministack, its names pointed by CNAME.
    assert re.search(r"^\s+tenant\.demo\.example\.com  CNAME  \S+\.cloudfront\.net$", out, re.MULTILINE)
    assert "PRIVATE KEY" not in out


def test_demo_stops_everything_it_started(demo_run):
    result, port = demo_run
    assert "Stopping every process the demo started" in result.stdout
    assert not listening(port), f"the API server still listens on {port}"
