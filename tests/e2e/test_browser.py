"""The SSL Certificates page in a real headless Chromium, signed in to a real Airflow API server.

Needs Debian's ``chromium`` and ``chromium-driver`` (``scripts/install-browser.sh``) and Selenium;
skipped when they are missing. The screenshots go to ``test-output/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(condition)
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
