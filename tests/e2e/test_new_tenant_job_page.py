"""The New job page with tenant hosting, in a real headless Chromium signed in to a real API server.

A SaaS operator picks *Tenants*, the account whose CloudFront holds the multi-tenant distribution
(``aws_tenants``: CloudFront on ministack, the rest on moto), the template from that account's
multi-tenant distributions, sees the plan refuse a name another tenant holds and a required template
parameter left out (each by its line or field), fixes both, starts the job and lands on its view. The
started run then runs to its end in this process, as a scheduler would run it, and the job view
shows its tenants and where their names point.
"""

from __future__ import annotations

import pytest
import requests

from tests.e2e import test_browser
from tests.e2e.test_browser import OUTPUT, _sign_in, _wait
from tests.plugin_support import api_server, serialize_dags, signed_in_airflow, token
from tests.tenants import TENANT_CONN_ID

browser = test_browser.browser
"""The headless Chromium of ``test_browser.py`` (skipped, with this module, when it is missing)."""

CREATE = "ssl_create_certificates"


@pytest.fixture
def server(airflow_db, tenant_aws):
    accounts = {"AIRFLOW__SSL_CERTIFICATES__AWS_CONN_IDS": f"aws_default,{TENANT_CONN_ID}"}
    with signed_in_airflow(airflow_db):
        assert CREATE in serialize_dags()
        with api_server(airflow_db, env=accounts) as url:
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


def _replace(element, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.BACKSPACE)
    if text:
        element.send_keys(text)


def test_start_a_tenant_job_from_the_page_and_follow_it_to_its_tenants(server, tenant_aws, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.dag_runs import clear_and_resume, load_dag

    url, auth = server
    template = tenant_aws.template({"origin_domain": True})
    other = tenant_aws.template()
    holder = tenant_aws.tenant_of_someone(other, "someone-else", ["taken.saas.example"])
    regular = tenant_aws.regular_distribution(["regular.saas.example"])
    driver = browser
    driver.set_window_size(1400, 1600)
    _sign_in(driver, url)
    driver.get(f"{url}/ssl-certificates/new")

    # Tenants: the tenant fields show, the distributions' do not.
    tenant_fields = driver.find_element(By.ID, "tenant-fields")
    assert not tenant_fields.is_displayed()
    driver.find_element(By.ID, "hosting-tenant").click()
    _wait(driver, lambda d: tenant_fields.is_displayed())
    assert not driver.find_element(By.ID, "distributions-fields").is_displayed()

    # The account is one of the configured ones; its multi-tenant distributions are listed.
    connection = driver.find_element(By.ID, "opt-aws_conn_id")
    offered = {
        option.get_attribute("value")
        for option in driver.find_elements(By.CSS_SELECTOR, "#connections option")
    }
    assert offered == {"aws_default", TENANT_CONN_ID}
    _replace(connection, TENANT_CONN_ID)
    _wait(
        driver,
        lambda d: (
            {o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#template option")}
            == {template, other}
        ),
    )
    assert "multi-tenant" in driver.find_element(By.ID, "template-status").text
    # The source distributions (hidden with tenant hosting) are that account's too, templates left out.
    _wait(
        driver,
        lambda d: (
            {o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#source option")}
            == {regular}
        ),
    )
    driver.find_element(By.ID, "template-filter").send_keys(template)
    _wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#template option")) == 1)
    driver.find_element(By.CSS_SELECTOR, f"#template option[value='{template}']").click()
    driver.find_element(By.ID, "certificate-managed").click()
    _replace(driver.find_element(By.ID, "opt-notification_topic_arn"), tenant_aws.aws.topic_arn)
    _replace(driver.find_element(By.ID, "opt-poll_interval_seconds"), "1")

    # Line 2 is another tenant's domain, and the template's required parameter is missing.
    certificates = driver.find_element(By.ID, "certificates")
    certificates.send_keys("app.saas.example, www.app.saas.example", Keys.ENTER, "taken.saas.example")
    plan = _wait_for_plan(driver, "problems to fix")
    assert f"Line 2: taken.saas.example is already a domain of tenant {holder} (someone-else)" in plan
    assert "Tenant parameters: origin_domain is required by the multi-tenant distribution" in plan
    assert not driver.find_element(By.ID, "start").is_enabled()
    OUTPUT.mkdir(exist_ok=True)
    driver.save_screenshot(str(OUTPUT / "new-tenant-job-refused.png"))

    # Fixed: another name on line 2, and the parameter as a key/value row.
    _replace(certificates, "")
    certificates.send_keys("app.saas.example, www.app.saas.example", Keys.ENTER, "shop.saas.example")
    driver.find_element(By.ID, "add-parameter").click()
    driver.find_element(By.CSS_SELECTOR, "#parameters .parameter-key").send_keys("origin_domain")
    driver.find_element(By.CSS_SELECTOR, "#parameters .parameter-value").send_keys("app.example.net")
    _wait_for_plan(driver, "Ready to start")
    tenants = driver.find_element(By.ID, "plan-tenants").text
    assert "Line 1: app.saas.example, www.app.saas.example — with a certificate CloudFront manages" in tenants
    assert "Line 2: shop.saas.example — with a certificate CloudFront manages" in tenants
    assert not driver.find_elements(By.ID, "plan-distributions")
    start = driver.find_element(By.ID, "start")
    _wait(driver, lambda d: start.is_enabled())
    driver.save_screenshot(str(OUTPUT / "new-tenant-job-ready.png"))

    before = set(_runs(url, auth))
    start.click()
    _wait(driver, lambda d: "/ssl-certificates/jobs/ssl_create_certificates/" in d.current_url)
    run_id = _wait(driver, lambda d: d.find_element(By.ID, "run-id")).text
    runs = _runs(url, auth)
    assert set(runs) - before == {run_id}
    conf = runs[run_id]["conf"]
    assert conf["hosting"] == "tenant" and conf["multi_tenant_distribution_id"] == template
    assert conf["certificate_source"] == "managed" and conf["connection_group_id"] is None
    assert conf["tenant_parameters"] == {"origin_domain": "app.example.net"}
    assert conf["aws_conn_id"] == TENANT_CONN_ID
    assert "source_distribution_id" not in conf and "create_distributions" not in conf
    assert runs[run_id]["triggering_user_name"] == "admin"

    # The run the page started, run to its end as a scheduler would: its tenants exist.
    result = clear_and_resume(load_dag(CREATE), run_id, "check")
    assert result.state == "success", result.task_states
    made = {t["Name"]: t for t in tenant_aws.tenants() if t["Tags"].get("airflow:run_id") == run_id}
    assert set(made) == {"app.saas.example", "shop.saas.example"}
    assert made["app.saas.example"]["DistributionId"] == template
    assert made["app.saas.example"]["Parameters"] == [{"Name": "origin_domain", "Value": "app.example.net"}]

    # The job view names them and where their names point.
    driver.refresh()
    rows = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#tenants tbody tr") or None)
    text = driver.find_element(By.ID, "tenants").text
    assert len(rows) == 3 and "www.app.saas.example" in text and "managed by CloudFront" in text
    assert {row.get_attribute("data-tenant") for row in rows} == {t["Id"] for t in made.values()}
    assert ".cloudfront.net" in text  # the routing endpoint
    driver.save_screenshot(str(OUTPUT / "new-tenant-job-done.png"))
    # The jobs list counts them.
    listed = requests.get(
        f"{url}/ssl-certificates/api/jobs", params={"name": "shop.saas.example"}, headers=auth
    )
    (job,) = [j for j in listed.json()["jobs"] if j["run_id"] == run_id]
    assert job["tenants"] == 2 and job["distributions"] == 0 and job["certificates"] == 0
