"""The SSL Certificates page in a real headless Chromium, signed in to a real Airflow API server.

Needs Debian's ``chromium`` and ``chromium-driver`` (``scripts/install-browser.sh``) and Selenium;
skipped when they are missing. The browser reaches nothing but 127.0.0.1. The screenshots go to
``test-output/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.dag_runs import ROOT, load_dag, run_dag
from tests.plugin_support import PASSWORD, USERNAME, api_server, signed_in_airflow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
OUTPUT = ROOT / "test-output"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
    # No network but 127.0.0.1, as on a deployment without internet access: every page, the API docs
    # included, must come from the API server itself.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

selenium = pytest.importorskip("selenium", reason="selenium is not installed")
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    if os.environ.get("CI"):
        # CI installs the browser (make test runs scripts/install-browser.sh): missing there is a failure.
        pytest.fail(
            "chromium/chromedriver missing: scripts/install-browser.sh did not install them", pytrace=False
        )
    pytest.skip("chromium/chromedriver missing: run scripts/install-browser.sh", allow_module_level=True)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout: float = 30):
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    # A live page (the job view) may redraw an element between finding and using it: look again.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    try:
        return WebDriverWait(driver, timeout, ignored_exceptions=ignored).until(condition)
    except TimeoutException:
        # What the browser showed when it gave up, for whoever reads the failure.
        OUTPUT.mkdir(exist_ok=True)
        driver.save_screenshot(str(OUTPUT / "ssl-certificates-failure.png"))
        (OUTPUT / "ssl-certificates-failure.html").write_text(driver.page_source)
        raise


def _sign_in(driver, url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(f"{url}/auth/login/?next={url}/")
    username = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "input[name=username]"))
    username.send_keys(USERNAME)
    password = driver.find_element(By.CSS_SELECTOR, "input[type=password]")
    password.send_keys(PASSWORD)
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "button[type=submit]").is_enabled())
    password.send_keys(Keys.ENTER)
    _wait(driver, lambda d: d.get_cookie("_token") is not None)


def test_sign_in_open_the_page_search_by_cname_and_open_the_job(airflow_db, aws, browser):
    from selenium.webdriver.common.by import By

    job = run_dag(
        load_dag("ssl_create_certificates"),
        {
            "certificates": ["*.shop.example.com, shop.example.com", "blog.example.org"],
            "source_distribution_id": aws.source_distribution_id,
            "notification_topic_arn": aws.topic_arn,
            "poll_interval_seconds": 1,
        },
    )
    assert job.state == "success"
    aws.acm.request_certificate(DomainName="unrelated.example.net", ValidationMethod="DNS")
    OUTPUT.mkdir(exist_ok=True)

    driver = browser
    with signed_in_airflow(airflow_db), api_server(airflow_db) as url:
        # Without signing in, the page is refused.
        driver.get(f"{url}/ssl-certificates/")
        assert "Sign in" in driver.find_element(By.TAG_NAME, "body").text

        _sign_in(driver, url)

        # The navigation entry (Browse → SSL Certificates) shows the page in Airflow's frame.
        driver.get(f"{url}/")
        browse = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "button[aria-label=Browse]"))
        browse.click()
        entry = _wait(
            driver,
            lambda d: d.find_element(By.XPATH, "//*[@role='menuitem'][contains(., 'SSL Certificates')]"),
        )
        entry.click()
        _wait(driver, lambda d: d.current_url.rstrip("/").endswith("/plugin/ssl-certificates"))
        frame = _wait(driver, lambda d: d.find_element(By.TAG_NAME, "iframe"), timeout=60)
        driver.switch_to.frame(frame)
        _wait(driver, lambda d: d.find_element(By.ID, "certificates"))
        assert "SSL Certificates" in driver.find_element(By.TAG_NAME, "h1").text
        driver.switch_to.default_content()
        driver.save_screenshot(str(OUTPUT / "ssl-certificates-in-airflow.png"))

        # Search by a CNAME that the job's wildcard certificate covers.
        driver.get(f"{url}/ssl-certificates/")
        rows = driver.find_elements(By.CSS_SELECTOR, "#certificates tbody tr[data-arn]")
        assert len(rows) == 3
        search = driver.find_element(By.ID, "cname")
        search.send_keys("www.shop.example.com")
        driver.find_element(By.ID, "search").click()
        _wait(driver, lambda d: "cname=" in d.current_url)
        rows = driver.find_elements(By.CSS_SELECTOR, "#certificates tbody tr[data-arn]")
        assert len(rows) == 1
        text = rows[0].text
        assert "*.shop.example.com" in text and "ISSUED" in text and job.run_id in text
        assert "requested" in text
        driver.save_screenshot(str(OUTPUT / "ssl-certificates-search.png"))

        # The row links to its job: steps, validation records, distributions with CNAME targets.
        rows[0].find_element(By.LINK_TEXT, job.run_id).click()
        _wait(driver, lambda d: d.find_element(By.ID, "steps"))
        assert driver.find_element(By.ID, "run-id").text == job.run_id
        steps = driver.find_element(By.ID, "steps").text
        assert "wait_for_issuance" in steps and "success" in steps
        records = driver.find_element(By.ID, "validation").text
        assert "_d930b28be6c5927595552b219965053e.shop.example.com." in records
        distributions = driver.find_element(By.ID, "distributions").text
        for distribution in job.xcom("summary")["distributions"]:
            assert distribution["domain_name"] in distributions
        assert "blog.example.org" in distributions
        assert "PRIVATE KEY" not in driver.page_source
        driver.save_screenshot(str(OUTPUT / "ssl-certificates-job.png"))

        # The DNS administrator copies a record's value with its button.
        first_value = driver.find_element(By.CSS_SELECTOR, "#records tbody tr td:nth-child(4) button.copy")
        expected = first_value.get_attribute("data-copy")
        assert expected.endswith(".acm-validations.aws.")
        first_value.click()
        _wait(driver, lambda d: first_value.get_attribute("data-copied") == expected)
        cnames = [
            row.text for row in driver.find_elements(By.CSS_SELECTOR, "#records tbody tr[data-kind=cname]")
        ]
        assert any("blog.example.org" in text and ".cloudfront.net" in text for text in cnames)
        assert driver.find_element(By.ID, "export-csv").get_attribute("href").endswith("/records?format=csv")
        assert (
            driver.find_element(By.ID, "export-zone").get_attribute("href").endswith("/records?format=zone")
        )

        # "Used by" names the distribution by its CNAME target; columns sort; nothing wraps mid-identifier.
        driver.get(f"{url}/ssl-certificates/")
        row = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#certificates tbody tr[data-arn]"))
        used = {cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#certificates td.used-by")}
        targets = {d["domain_name"] for d in job.xcom("summary")["distributions"]}
        assert all(any(target in text for text in used) for target in targets), used
        header = driver.find_element(By.XPATH, "//table[@id='certificates']//th[normalize-space()='Names']")

        def first_names():
            return [
                r.find_element(By.CSS_SELECTOR, "td.names div").text
                for r in driver.find_elements(By.CSS_SELECTOR, "#certificates tbody tr[data-arn]")
            ]

        header.click()
        ascending = first_names()
        assert header.get_attribute("aria-sort") == "ascending"
        header.click()
        assert (
            first_names() == list(reversed(ascending)) and header.get_attribute("aria-sort") == "descending"
        )
        driver.set_window_size(700, 1000)  # narrow: the table scrolls rather than breaking identifiers
        for element in driver.find_elements(By.CSS_SELECTOR, "#certificates td a.id, #certificates code"):
            lines = driver.execute_script("return arguments[0].getClientRects().length", element)
            assert lines == 1, element.text
        driver.set_window_size(1400, 1000)
        del row

        # Dark mode follows Airflow's (its UI keeps the choice in localStorage "theme").
        def background(selector="body"):
            return driver.execute_script(
                "return getComputedStyle(document.querySelector(arguments[0])).backgroundColor", selector
            )

        light = background()
        driver.execute_script("localStorage.setItem('theme', 'dark')")
        driver.get(f"{url}/ssl-certificates/")
        _wait(driver, lambda d: d.find_element(By.ID, "certificates"))
        dark = background()
        assert dark != light and dark == "rgb(26, 32, 44)", (light, dark)
        driver.get(f"{url}/plugin/ssl-certificates")
        frame = _wait(driver, lambda d: d.find_element(By.TAG_NAME, "iframe"), timeout=60)
        assert "dark" in driver.execute_script("return document.documentElement.className")
        driver.switch_to.frame(frame)
        _wait(driver, lambda d: d.find_element(By.ID, "certificates"))
        assert background() == dark
        driver.switch_to.default_content()
        driver.save_screenshot(str(OUTPUT / "ssl-certificates-dark.png"))
        driver.execute_script("localStorage.setItem('theme', 'light')")


def _token(url: str) -> dict[str, str]:
    import requests

    from tests.plugin_support import token

    return {"Authorization": f"Bearer {token(requests, url)}"}


def _job_ids(url: str, auth: dict[str, str]) -> set[str]:
    import requests

    answer = requests.get(f"{url}/ssl-certificates/api/jobs", headers=auth, timeout=30)
    assert answer.status_code == 200, answer.text
    return {job["run_id"] for job in answer.json()["jobs"]}


def _overflow(driver) -> dict[str, int]:
    """How far the page, and each table's scroll box, is wider than the window (0: it fits)."""
    return driver.execute_script(
        """var found = {page: document.documentElement.scrollWidth - window.innerWidth};
        document.querySelectorAll('.scroll').forEach(function (box, index) {
          var table = box.querySelector('table');
          found[table ? table.id : index] = box.scrollWidth - box.clientWidth; });
        return found;"""
    )


def _in_view(driver, element) -> bool:
    return driver.execute_script(
        """var r = arguments[0].getBoundingClientRect();
        return r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= window.innerWidth
               && r.bottom <= window.innerHeight;""",
        element,
    )


def test_a_newcomer_follows_a_job_to_its_end_reads_its_records_and_every_page_fits(airflow_db, aws, browser):
    import threading
    import time
    from urllib.parse import quote

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.dag_runs import run_dag_cli
    from tests.route53_support import create_zone, route53_client

    create_zone(route53_client(aws.url), "example.com")  # blog.example.org stays with its owner
    conf = {
        "certificates": ["shop.example.com, www.shop.example.com", "blog.example.org"],
        "source_distribution_id": aws.source_distribution_id,
        "notification_topic_arn": aws.topic_arn,
        "poll_interval_seconds": 4,
        "route53_validation": True,
        "route53_aliases": True,
    }
    OUTPUT.mkdir(exist_ok=True)
    driver = browser
    driver.set_window_size(1440, 900)
    with signed_in_airflow(airflow_db), api_server(airflow_db) as url:
        _sign_in(driver, url)
        auth = _token(url)
        before = _job_ids(url, auth)
        outcome: dict[str, Any] = {}
        job_thread = threading.Thread(
            target=lambda: outcome.update(job=run_dag_cli("ssl_create_certificates", conf)[0]), daemon=True
        )
        job_thread.start()
        deadline = time.monotonic() + 120
        while not (_job_ids(url, auth) - before):
            assert time.monotonic() < deadline and job_thread.is_alive(), "the job never started"
            time.sleep(0.3)
        (run_id,) = _job_ids(url, auth) - before
        job_path = f"jobs/ssl_create_certificates/{quote(run_id, safe='')}"

        # 1. The job view follows the job, from whatever state it is in, to its end: no reload.
        driver.get(f"{url}/ssl-certificates/{job_path}")
        driver.execute_script("window.openedOnce = true")
        states, orders, records_seen = [], [], []
        deadline = time.monotonic() + 240
        while True:
            try:
                state = driver.find_element(By.CSS_SELECTOR, "#job-state .badge").text
                steps = [
                    r.get_attribute("data-step")
                    for r in driver.find_elements(By.CSS_SELECTOR, "#steps tr[data-step]")
                ]
                records_seen.append(
                    len(driver.find_elements(By.CSS_SELECTOR, "#validation tbody tr:not(.empty)"))
                )
            except Exception:  # the live region was being redrawn
                time.sleep(0.2)
                continue
            states.append(state)
            if steps:
                orders.append(steps)
            if state in ("success", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.4)
        job_thread.join(timeout=120)
        assert outcome["job"].state == "success"
        assert states[-1] == "success", states
        assert states[0] != "success", "the view opened after the job ended: it followed nothing"
        assert driver.execute_script("return window.openedOnce === true"), "the page was reloaded"
        assert "The job has ended" in driver.find_element(By.ID, "following").text
        # The validation records showed while the job was still running, not only at its end.
        assert any(count and state != "success" for count, state in zip(records_seen, states, strict=False))
        # The steps are in the DAG's order (each after its upstream steps), not alphabetical.
        dag = load_dag("ssl_create_certificates")
        final = orders[-1]
        position = {name.split("[")[0]: index for index, name in reversed(list(enumerate(final)))}
        for task in dag.tasks:
            for upstream in task.upstream_task_ids:
                assert position[upstream] < position[task.task_id], (upstream, task.task_id, final)
        assert final[0] == "check" and final[-1] == "cleanup_on_failure" and final != sorted(final)
        # Skipped closing steps after a success are neutral, not alarming.
        closing = driver.find_element(By.CSS_SELECTOR, "#steps tr[data-step=notify_failure] .badge")
        assert "state-expected" in closing.get_attribute("class")

        # Once ended, the view stops asking the API.
        def api_calls():
            return driver.execute_script(
                "return performance.getEntriesByType('resource')"
                ".filter(function (e) { return e.name.indexOf('/api/jobs/') >= 0; }).length"
            )

        time.sleep(2)  # a request sent just before the job's end was seen may still be on its way
        calls = api_calls()
        time.sleep(7)
        assert api_calls() == calls

        # 3. The records Route 53 holds read differently at a glance, in the window, apart from those to add.
        held = driver.find_elements(By.CSS_SELECTOR, "#records tr[data-route53=held]")
        to_add = driver.find_elements(By.CSS_SELECTOR, "#records tr[data-route53=to-add]")
        assert held and to_add
        assert all("blog.example.org" in row.text or "_" in row.text for row in to_add)
        assert not any("blog.example.org" in row.text for row in held)
        for row in held:
            mark = row.find_element(By.CSS_SELECTOR, "td:first-child .badge")
            # In the row's first column: in the window without scrolling sideways.
            assert mark.text == "✓ in Route 53"
            assert 0 <= mark.rect["x"] and mark.rect["x"] + mark.rect["width"] <= 1440
        assert driver.find_element(By.ID, "records-count").text.startswith(f"{len(to_add)} to add")
        alias_row = next(
            r
            for r in held
            if r.find_element(By.CSS_SELECTOR, "td[data-label=Record] code").text == "shop.example.com"
        )
        assert "alias" in alias_row.find_element(By.CSS_SELECTOR, "td[data-label=Type]").text
        driver.execute_script("document.getElementById('records').scrollIntoView()")
        driver.save_screenshot(str(OUTPUT / "job-records-1440.png"))

        # 5. Every page fits 1440 px: no sideways scrolling, the page's nor a table's.
        for path in ("", "jobs", job_path, "new"):
            driver.get(f"{url}/ssl-certificates/{path}")
            _wait(driver, lambda d: d.find_element(By.TAG_NAME, "h1"))
            overflow = _overflow(driver)
            assert all(width <= 1 for width in overflow.values()), (path, overflow)

        # 8. The API docs render with no network but 127.0.0.1 (Swagger UI comes from the package).
        driver.get(f"{url}/ssl-certificates/docs")
        _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock") or None)
        assert any(
            "/api/jobs" in e.text for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
        )
        driver.save_screenshot(str(OUTPUT / "api-docs-offline.png"))

        # 4. "open in Airflow" works inside Airflow's frame (sandboxed, no top navigation).
        driver.get(f"{url}/plugin/ssl-certificates")
        frame = _wait(driver, lambda d: d.find_element(By.TAG_NAME, "iframe"), timeout=60)
        driver.switch_to.frame(frame)
        _wait(driver, lambda d: d.find_element(By.ID, "certificates"))
        driver.find_element(By.ID, "all-jobs").click()
        _wait(
            driver, lambda d: d.find_element(By.CSS_SELECTOR, f"#jobs tr[data-run-id='{run_id}'] a").click() or True
        )
        _wait(driver, lambda d: d.find_element(By.ID, "open-in-airflow").click() or True)
        driver.switch_to.default_content()
        _wait(driver, lambda d: "/dags/ssl_create_certificates/runs/" in d.current_url)
        _wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "iframe[title='SSL Certificates']"))
        _wait(driver, lambda d: run_id in d.find_element(By.TAG_NAME, "body").text, timeout=60)
        driver.save_screenshot(str(OUTPUT / "open-in-airflow.png"))

        # 5. On a phone, rows stack: every certificate's status shows without scrolling sideways.
        driver.set_window_size(390, 844)
        driver.get(f"{url}/ssl-certificates/")
        badges = _wait(
            driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#certificates tr[data-arn] .badge") or None
        )
        assert _overflow(driver)["page"] <= 1
        for badge in badges:
            assert badge.rect["x"] + badge.rect["width"] <= driver.execute_script("return window.innerWidth")
        driver.save_screenshot(str(OUTPUT / "certificates-390.png"))
        # A failed job with more names than the list shows and a long refusal: the tallest row there is.
        failed, _ = run_dag_cli(
            "ssl_create_certificates",
            {
                "certificates": [f"customer-{n}.a-rather-long-domain-name.example.com" for n in range(5)],
                "source_distribution_id": "EDOESNOTEXIST1",
            },
        )
        assert failed.state == "failed"
        driver.get(f"{url}/ssl-certificates/jobs")
        failed_rows = driver.find_elements(By.CSS_SELECTOR, "#jobs tr[data-state=failed]")
        assert failed_rows
        assert all(row.rect["height"] < 300 for row in failed_rows), [row.rect["height"] for row in failed_rows]
        driver.save_screenshot(str(OUTPUT / "jobs-390.png"))

        # 6. On a phone, the plan's verdict and its problems stay next to Start while typing.
        driver.get(f"{url}/ssl-certificates/new")
        certificates = _wait(driver, lambda d: d.find_element(By.ID, "certificates"))
        certificates.send_keys("shop.example.com", Keys.ENTER, "bad_name!.example.com")
        _wait(driver, lambda d: "problem" in d.find_element(By.ID, "start-verdict").text)
        verdict = driver.find_element(By.ID, "start-verdict")
        assert _in_view(driver, driver.find_element(By.ID, "start")) and _in_view(driver, verdict)
        assert "Line 2:" in verdict.text and "certificates[" not in verdict.text
        driver.save_screenshot(str(OUTPUT / "new-job-390.png"))


def test_the_fleet_page_fits_1440_px_and_a_phone(airflow_db, aws, browser, tmp_path):
    from selenium.webdriver.common.by import By

    from tests.e2e.test_fleet_plan import create_site, fleet_text
    from tests.plugin_support import environment

    long_names = [f"{label}.a-rather-long-subdomain-of-the-shop.example.com" for label in ("www", "m", "api")]
    create_site(aws, "browser-alpha", ["alpha.example.com", *long_names])
    create_site(aws, "browser-beta-a-long-site-id-that-takes-nearly-all-sixty-three", ["beta.example.com"])
    fleet_file = tmp_path / "fleet.yaml"
    with environment({"AIRFLOW__SSL_CERTIFICATES__FLEET_FILE": str(fleet_file)}):
        # One run plans (alpha kept, beta left out: reported), the next finds an error in the file.
        fleet_file.write_text(fleet_text(aws, {"browser-alpha": ["alpha.example.com", *long_names]}))
        assert run_dag(load_dag("ssl_fleet"), {}).state == "success"
        fleet_file.write_text(fleet_file.read_text() + "  - site: Not_A_Site\n")
        assert run_dag(load_dag("ssl_fleet"), {}).state == "failed"
        OUTPUT.mkdir(exist_ok=True)
        driver = browser
        with signed_in_airflow(airflow_db), api_server(airflow_db) as url:
            _sign_in(driver, url)
            for width, height in ((1440, 900), (390, 844)):
                driver.set_window_size(width, height)
                driver.get(f"{url}/ssl-certificates/fleet")
                badges = _wait(
                    driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#sites tr[data-site] .badge") or None
                )
                assert driver.find_element(By.ID, "problems").is_displayed()
                states = {
                    row.get_attribute("data-site"): row.get_attribute("data-state")
                    for row in driver.find_elements(By.CSS_SELECTOR, "#sites tr[data-site]")
                }
                assert states["browser-alpha"] == "in_step" and "to_change" in states.values(), states
                overflow = _overflow(driver)
                if width == 1440:
                    assert all(value <= 1 for value in overflow.values()), overflow
                else:  # on a phone the rows stack: the page never scrolls sideways, every state shows
                    assert overflow["page"] <= 1, overflow
                    inner = driver.execute_script("return window.innerWidth")
                    assert all(badge.rect["x"] + badge.rect["width"] <= inner for badge in badges)
                driver.save_screenshot(str(OUTPUT / f"fleet-{width}.png"))
