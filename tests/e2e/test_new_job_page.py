"""The New job page in a real headless Chromium, signed in to a real Airflow API server.

A user types names, sees the plan (and the mistake it points at), fixes it, picks the source
distribution, adds a tag, starts the job and lands on its job view. No scheduler runs: the started
run stays queued, which is all the job view needs to show. Screenshots go to ``test-output/``.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.e2e import test_browser
from tests.e2e.test_browser import OUTPUT, _sign_in, _wait
from tests.plugin_support import api_server, serialize_dags, signed_in_airflow, token

browser = test_browser.browser
"""The headless Chromium of ``test_browser.py`` (skipped, with this module, when it is missing)."""

CREATE = "ssl_create_certificates"


@pytest.fixture
def server(airflow_db, aws):
    with signed_in_airflow(airflow_db):
        assert CREATE in serialize_dags()
        with api_server(airflow_db) as url:
            auth = {"Authorization": f"Bearer {token(requests, url)}"}
            before = set(_runs(url, auth))
            yield url, auth
            for run_id in set(_runs(url, auth)) - before:
                requests.delete(f"{url}/api/v2/dags/{CREATE}/dagRuns/{run_id}", headers=auth, timeout=30)


def _runs(url: str, auth: dict[str, str]) -> dict[str, dict]:
    response = requests.get(
        f"{url}/api/v2/dags/{CREATE}/dagRuns", params={"limit": 100}, headers=auth, timeout=30
    )
    assert response.status_code == 200, response.text
    return {run["dag_run_id"]: run for run in response.json()["dag_runs"]}


def _plan_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, "plan-body").text


def _wait_for_plan(driver, text: str) -> str:
    _wait(
        driver,
        lambda d: text in _plan_text(d) and not d.find_elements("css selector", "#plan-body[aria-busy]"),
    )
    return _plan_text(driver)


def test_type_names_see_the_plan_fix_a_mistake_start_and_land_on_the_job_view(server, aws, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, auth = server
    other = aws.create_distribution(aliases=["legacy.example.net"])
    driver = browser
    driver.set_window_size(1400, 1400)
    _sign_in(driver, url)

    # From the certificates page, New job.
    driver.get(f"{url}/ssl-certificates/")
    _wait(driver, lambda d: d.find_element(By.ID, "new-job")).click()
    _wait(driver, lambda d: d.current_url.endswith("/ssl-certificates/new"))

    # The source distribution is picked from the account's distributions (id, domain, aliases).
    options = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#source option") or None)
    labels = {option.get_attribute("value"): option.text for option in options}
    assert set(labels) == {aws.source_distribution_id, other}
    assert "legacy.example.net" in labels[other] and ".cloudfront.net" in labels[other]
    filter_box = driver.find_element(By.ID, "source-filter")
    filter_box.send_keys("legacy")
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#source option")) == 1)
    filter_box.send_keys(Keys.CONTROL, "a")
    filter_box.send_keys(Keys.BACKSPACE)
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#source option")) == 2)

    # Typed names, with a mistake on line 3, a pasted newline at the end, and aggregation on.
    certificates = driver.find_element(By.ID, "certificates")
    certificates.send_keys(
        "*.shop.example.com, shop.example.com",
        Keys.ENTER,
        "www.shop.example.com",
        Keys.ENTER,
        "bad_name!.example.com",
        Keys.ENTER,
    )
    driver.find_element(By.ID, "aggregate").click()
    plan = _wait_for_plan(driver, "problem")
    assert "Line 3:" in plan and "bad_name!.example.com" in plan
    # Distributions are created, but no source is picked yet: said in the form's words, once.
    assert "Source distribution is required" in plan and "source_distribution_id:" not in plan
    assert "certificates[" not in plan  # lines, counted from 1, not the conf's 0-based items
    assert not driver.find_element(By.ID, "start").is_enabled()
    OUTPUT.mkdir(exist_ok=True)
    driver.save_screenshot(str(OUTPUT / "new-job-plan-errors.png"))

    # Fix the mistake and pick the source: the plan is ready, and shows what the wildcard covers.
    certificates.send_keys(Keys.CONTROL, "a")
    certificates.send_keys(
        "*.shop.example.com, shop.example.com",
        Keys.ENTER,
        "www.shop.example.com",
        Keys.ENTER,
        "blog.example.org",
        Keys.ENTER,
    )
    driver.find_element(By.CSS_SELECTOR, f"#source option[value='{aws.source_distribution_id}']").click()
    plan = _wait_for_plan(driver, "Ready to start")
    covered = driver.find_element(By.ID, "plan-covered").text
    assert "Line 2: www.shop.example.com is covered by *.shop.example.com" in covered
    requested = driver.find_element(By.ID, "plan-certificates").text
    assert (
        "Line 1: *.shop.example.com, shop.example.com" in requested
        and "Line 3: blog.example.org" in requested
    )
    assert "Line 2" not in requested
    distributions = driver.find_element(By.ID, "plan-distributions").text
    assert "Line 2: www.shop.example.com — with the certificate of line 1" in distributions

    # A tag, as a key/value row.
    driver.find_element(By.ID, "add-tag").click()
    driver.find_element(By.CSS_SELECTOR, "#tags .tag-key").send_keys("team")
    driver.find_element(By.CSS_SELECTOR, "#tags .tag-value").send_keys("web")
    _wait_for_plan(driver, "Ready to start")
    start = driver.find_element(By.ID, "start")
    _wait(driver, lambda d: start.is_enabled())
    driver.save_screenshot(str(OUTPUT / "new-job-plan-ready.png"))

    before = set(_runs(url, auth))
    start.click()
    _wait(driver, lambda d: "/ssl-certificates/jobs/ssl_create_certificates/" in d.current_url)
    run_id = _wait(driver, lambda d: d.find_element(By.ID, "run-id")).text
    driver.save_screenshot(str(OUTPUT / "new-job-started.png"))

    runs = _runs(url, auth)
    assert set(runs) - before == {run_id}
    run = runs[run_id]
    assert run["triggering_user_name"] == "admin"
    assert run["conf"]["certificates"] == [
        "*.shop.example.com, shop.example.com",
        "www.shop.example.com",
        "blog.example.org",
    ]
    assert run["conf"]["aggregate"] is True and run["conf"]["tags"] == {"team": "web"}
    assert run["conf"]["source_distribution_id"] == aws.source_distribution_id
    assert run["conf"]["poll_interval_seconds"] == 300
    # Planning and starting created nothing in AWS: the job itself does that.
    assert aws.certificates() == []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not driver.find_elements(By.ID, "steps"):
        time.sleep(0.2)
    assert driver.find_element(By.ID, "steps")
