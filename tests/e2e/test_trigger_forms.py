"""The DAGs' trigger forms and the REST API's trigger-time validation, as a user meets them.

One real ``airflow api-server`` serves the whole module (SimpleAuthManager, the test admin); the
DAGs are written to its metadata DB as the DAG processor would write them. No scheduler runs: a
triggered run stays queued, which is all these tests look at. The browser tests drive Debian's
Chromium (skipped when it is missing, as in ``test_browser.py``); screenshots go to ``test-output/``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from tests import pki
from tests.e2e import test_browser
from tests.e2e.test_browser import OUTPUT, _sign_in, _wait
from tests.plugin_support import api_server, serialize_dags, signed_in_airflow, token

browser = test_browser.browser
"""The headless Chromium of ``test_browser.py`` (skipped, with this module, when it is missing)."""

CREATE = "ssl_create_certificates"
IMPORT = "ssl_import_certificate"
SOURCE_DISTRIBUTION = "E2ABCDEF123"
FORM_WINDOW = (1400, 1800)
"""Tall enough for the trigger dialog with its biggest section open, so one screenshot shows it."""

CREATE_SECTIONS = {
    "Certificates": ["Certificates (one per line)", "Aggregate under wildcards"],
    "Distributions": ["Create distributions", "Source distribution id"],
    "Notifications and tags": ["Tags", "SNS topic ARN"],
    "DNS (Route 53)": [
        "Write validation records in Route 53",
        "Point the names at their distributions",
        "Replace records that point elsewhere",
        "Hosted zone ids (one per line)",
        "Route 53 connection id",
    ],
    "Tenants (CloudFront SaaS Manager)": [
        "Hosting",
        "Multi-tenant distribution id",
        "Connection group id",
        "Certificate source",
        "Tenant parameters",
    ],
    "Advanced": [
        "Poll interval (seconds)",
        "Validation timeout (hours)",
        "AWS connection id",
        "Clean up on failure",
        "Fleet site id",
    ],
}
IMPORT_SECTIONS = {
    "Certificate": [
        "Certificate name",
        "Certificate body (PEM)",
        "Private key (PEM)",
        "Private key secret id",
        "Certificate chain (PEM)",
        "Bundle secret id",
        "Certificate ARN to rotate",
        "Allow an earlier expiry",
    ],
    "Distributions": ["Create a distribution", "Source distribution id", "Aliases (one per line)"],
    "Notifications and tags": ["Tags", "SNS topic ARN"],
    "Advanced": ["AWS connection id", "Clean up on failure"],
}


@pytest.fixture(scope="module")
def server(airflow_db):
    """A real API server that knows the project's DAGs; yields ``(url, auth headers)``.

    Afterwards the runs these tests queued are deleted and the DAGs paused as they were (the form
    unpauses on trigger), so that later tests find the session's Airflow as they expect it.
    """
    with signed_in_airflow(airflow_db):
        assert {CREATE, IMPORT} <= set(serialize_dags())
        with api_server(airflow_db) as url:
            served = (url, {"Authorization": f"Bearer {token(requests, url)}"})
            before = {
                dag_id: (_runs(served, dag_id), _dag(served, dag_id)["is_paused"])
                for dag_id in (CREATE, IMPORT)
            }
            yield served
            for dag_id, (runs, paused) in before.items():
                for run_id in set(_runs(served, dag_id)) - set(runs):
                    response = requests.delete(
                        f"{url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers=served[1], timeout=30
                    )
                    assert response.status_code == 204, response.text
                response = requests.patch(
                    f"{url}/api/v2/dags/{dag_id}", json={"is_paused": paused}, headers=served[1], timeout=30
                )
                assert response.status_code == 200, response.text


def _dag(server, dag_id: str) -> dict[str, Any]:
    url, auth = server
    response = requests.get(f"{url}/api/v2/dags/{dag_id}", headers=auth, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _runs(server, dag_id: str) -> dict[str, dict[str, Any]]:
    """The DAG's runs by run id, through ``GET /api/v2/dags/{dag_id}/dagRuns``."""
    url, auth = server
    response = requests.get(
        f"{url}/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}, headers=auth, timeout=120
    )
    assert response.status_code == 200, response.text
    return {run["dag_run_id"]: run for run in response.json()["dag_runs"]}


def _trigger(server, dag_id: str, conf: dict[str, Any]) -> requests.Response:
    url, auth = server
    return requests.post(
        f"{url}/api/v2/dags/{dag_id}/dagRuns",
        json={"logical_date": None, "conf": conf},
        headers=auth,
        timeout=30,
    )


# --- The REST API refuses a conf that breaks the params schema, before any run exists ---------------

_VALID_CREATE = {
    "certificates": ["a.example.com, www.a.example.com"],
    "source_distribution_id": SOURCE_DISTRIBUTION,
}


def _valid_import() -> dict[str, Any]:
    leaf = pki.make_leaf(pki.make_root(), ["shop.example.com"])
    return {"certificate_name": "shop", "certificate_body": leaf.cert_pem(), "private_key": leaf.key_pem()}


@pytest.mark.parametrize(
    ("dag_id", "conf", "named"),
    [
        (CREATE, {**_VALID_CREATE, "certificates": "a.example.com"}, "certificates"),
        (CREATE, {**_VALID_CREATE, "certificates": []}, "certificates"),
        (
            CREATE,
            {**_VALID_CREATE, "certificates": [f"n{i}.example.com" for i in range(201)]},
            "certificates",
        ),
        (CREATE, {"source_distribution_id": SOURCE_DISTRIBUTION}, "certificates"),
        (CREATE, {**_VALID_CREATE, "poll_interval_seconds": 0}, "poll_interval_seconds"),
        (CREATE, {**_VALID_CREATE, "validation_timeout_hours": 0}, "validation_timeout_hours"),
        (CREATE, {**_VALID_CREATE, "tags": {"team": 1}}, "tags"),
        (CREATE, {**_VALID_CREATE, "aggregate": "yes"}, "aggregate"),
        (
            CREATE,
            {**_VALID_CREATE, "certificates": ["a.example.com", "bad_name!.example.com"]},
            "certificates",
        ),
        (CREATE, {**_VALID_CREATE, "certificates": ["https://shop.example.com/"]}, "certificates"),
        (CREATE, {**_VALID_CREATE, "certificates": ["localhost"]}, "certificates"),
        (CREATE, {**_VALID_CREATE, "source_distribution_id": "not an id"}, "source_distribution_id"),
        (CREATE, {**_VALID_CREATE, "notification_topic_arn": "my-topic"}, "notification_topic_arn"),
        # A rotation needs no certificate_name and a bundle secret no certificate_body: the check step
        # says when one is missing; the schema refuses what is never right.
        (IMPORT, {"bundle_secret_id": 5}, "bundle_secret_id"),
        (IMPORT, {"certificate_name": ""}, "certificate_name"),
        (IMPORT, {"certificate_body": ""}, "certificate_body"),
        (IMPORT, {"aliases": "shop.example.com"}, "aliases"),
        (IMPORT, {"create_distributions": "no"}, "create_distributions"),
    ],
    ids=[
        "create-certificates-not-an-array",
        "create-certificates-empty",
        "create-201-lines",
        "create-certificates-missing",
        "create-poll-interval-0",
        "create-validation-timeout-0",
        "create-tag-value-not-a-string",
        "create-aggregate-not-a-boolean",
        "create-bad-name-on-line-2",
        "create-url-instead-of-a-name",
        "create-name-of-one-label",
        "create-source-not-a-distribution-id",
        "create-topic-not-an-arn",
        "import-bundle-secret-not-a-string",
        "import-certificate-name-empty",
        "import-certificate-body-empty",
        "import-aliases-not-an-array",
        "import-create-distributions-not-a-boolean",
    ],
)
def test_the_rest_api_refuses_a_conf_that_breaks_the_schema(server, dag_id, conf, named):
    if isinstance(conf, str):  # "missing KEY": a valid conf without KEY
        conf = {k: v for k, v in _valid_import().items() if k != conf.removeprefix("missing ")}
    elif dag_id == IMPORT:
        conf = {**_valid_import(), **conf}
    before = _runs(server, dag_id)

    response = _trigger(server, dag_id, conf)

    assert response.status_code == 400, response.text
    assert named in response.json()["detail"]
    assert _runs(server, dag_id) == before


BAD_NAMES = {
    # kind: (the name on line 2, words the refusal must hold)
    "underscore": ("under_score.shop.example", "a label takes letters, digits and hyphens"),
    "url": ("https://a.example.com/x", "is a URL: give the domain name alone (a.example.com)"),
    "port": ("a.example.com:443", "has a port (:443): give the domain name alone (a.example.com)"),
    "wildcard-on-a-top-level-domain": ("*.com", "a wildcard needs a name of at least two labels"),
    "localhost": ("localhost", "has one label only: a name is labels joined by dots, at least two"),
    "empty-label": ("a..example.com", "has an empty label (two dots in a row)"),
    "label-too-long": ("a" * 64 + ".example.com", "has a label of 64 characters"),
    "leading-hyphen": (
        "-shop.example.com",
        "starts with a hyphen: a label takes letters, digits and hyphens",
    ),
    "one-label": ("example", "has one label only"),
    "double-wildcard": ("*.*.example.com", "a wildcard is allowed only once, as the whole first label"),
    "space-inside": ("www. example.com", "has a space inside a name"),
}
REGULAR_EXPRESSION_MARKS = ("(?:", "[^", "\\s", "\\u3002", "Failed validating", "does not match")


@pytest.mark.parametrize(("name", "words"), BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_a_refused_name_is_explained_with_its_line_and_the_rule_in_words(server, name, words):
    before = _runs(server, CREATE)

    response = _trigger(server, CREATE, {**_VALID_CREATE, "certificates": ["good.example.com", name]})

    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith("Invalid input for param certificates: certificates[1] (line 2): "), detail
    assert words in detail, detail
    assert "line 1" not in detail
    assert not [mark for mark in REGULAR_EXPRESSION_MARKS if mark in detail], detail
    assert _runs(server, CREATE) == before


def test_every_refused_line_is_in_one_answer(server):
    response = _trigger(
        server,
        CREATE,
        {
            **_VALID_CREATE,
            "certificates": ["a.example.com", "a_b.example.com", "", "x.example.com, a.example.com"],
        },
    )

    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert "certificates[1] (line 2): 'a_b.example.com'" in detail
    assert "certificates[3] (line 4): a.example.com is already in certificates[0] (line 1)" in detail


PATTERN_REFUSALS = {
    # (DAG, field, value, words the refusal must hold)
    "create-source-distribution-id": (
        CREATE,
        "source_distribution_id",
        "not an id",
        "'not an id' is not a CloudFront distribution id: 8 to 20 capital letters and digits",
    ),
    "create-notification-topic-arn": (
        CREATE,
        "notification_topic_arn",
        "my-topic",
        "'my-topic' is not an SNS topic ARN, such as arn:aws:sns:us-east-1:123456789012:ssl-owners",
    ),
    "import-source-distribution-id": (
        IMPORT,
        "source_distribution_id",
        "e2abcdef123",
        "'e2abcdef123' is not a CloudFront distribution id",
    ),
    "import-notification-topic-arn": (
        IMPORT,
        "notification_topic_arn",
        "arn:aws:sqs:us-east-1:123456789012:queue",
        "is not an SNS topic ARN",
    ),
}


@pytest.mark.parametrize(
    ("dag_id", "field", "value", "words"), PATTERN_REFUSALS.values(), ids=PATTERN_REFUSALS.keys()
)
def test_a_value_that_breaks_a_pattern_is_refused_in_words(server, dag_id, field, value, words):
    """Airflow's trigger endpoint answers 400 saying what the field takes, not the regular expression."""
    conf = {**(_VALID_CREATE if dag_id == CREATE else _valid_import()), field: value}
    before = _runs(server, dag_id)

    response = _trigger(server, dag_id, conf)

    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"Invalid input for param {field}: "), detail
    assert words in detail and "leave it empty for none" in detail, detail
    assert not [mark for mark in (*REGULAR_EXPRESSION_MARKS, "[A-Z0-9]", "\\d") if mark in detail], detail
    assert _runs(server, dag_id) == before


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("field", ["validation_timeout_hours", "poll_interval_seconds"])
def test_a_number_that_is_not_finite_is_refused_at_trigger_time(server, field, number):
    url, auth = server
    before = _runs(server, CREATE)
    # Raw JSON, as a script may send it: Python's json writes NaN and Infinity as these bare words.
    body = json.dumps({"logical_date": None, "conf": {**_VALID_CREATE, field: float(number)}})
    assert number in body

    response = requests.post(
        f"{url}/api/v2/dags/{CREATE}/dagRuns",
        data=body,
        headers={**auth, "Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"Invalid input for param {field}: "), detail
    assert "Failed validating" not in detail
    assert _runs(server, CREATE) == before


def test_the_rest_api_accepts_blank_lines_in_the_certificates(server):
    conf = {
        **_VALID_CREATE,
        "certificates": ["a.example.com, www.a.example.com", "", "  ", "b.example.com", ""],
    }
    before = _runs(server, CREATE)

    response = _trigger(server, CREATE, conf)

    assert response.status_code == 200, response.text
    assert set(_runs(server, CREATE)) == set(before) | {response.json()["dag_run_id"]}


@pytest.mark.parametrize("dag_id", [CREATE, IMPORT])
def test_the_rest_api_accepts_a_valid_conf(server, dag_id):
    conf = _VALID_CREATE if dag_id == CREATE else _valid_import()
    before = _runs(server, dag_id)

    response = _trigger(server, dag_id, conf)

    assert response.status_code == 200, response.text
    run = response.json()
    assert run["state"] == "queued" and run["logical_date"] is None
    assert run["conf"].items() >= conf.items()
    assert set(_runs(server, dag_id)) == set(before) | {run["dag_run_id"]}


# --- The trigger forms in the browser -----------------------------------------------------------------


def _open_trigger_form(driver, url: str, dag_id: str):
    """The DAG page's Trigger button opens the trigger dialog; returns the dialog element."""
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/dags/{dag_id}")
    _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "button[aria-label='Trigger Dag']")).click()
    dialog = _wait(
        driver,
        lambda d: d.find_element(By.CSS_SELECTOR, "[role=dialog][data-part=content][data-state=open]"),
    )
    assert dag_id in dialog.find_element(By.TAG_NAME, "h2").text
    _wait(driver, lambda d: dialog.find_element(By.CSS_SELECTOR, "[data-testid=config-form]"))
    return dialog


def _section_titles(dialog) -> list[str]:
    """The titles of the form's sections (accordion items), in order."""
    from selenium.webdriver.common.by import By

    form = dialog.find_element(By.CSS_SELECTOR, "[data-testid=config-form]")
    return [
        trigger.text.strip()
        for trigger in form.find_elements(By.CSS_SELECTOR, "[data-part=item] > [data-part=item-trigger]")
    ]


def _open_section(dialog, title: str):
    """Open one section of the form (opening one closes the others) and return it."""
    from selenium.webdriver.common.by import By

    form = dialog.find_element(By.CSS_SELECTOR, "[data-testid=config-form]")
    (item,) = [
        item
        for item in form.find_elements(By.CSS_SELECTOR, "[data-part=item]")
        if item.find_element(By.CSS_SELECTOR, "[data-part=item-trigger]").text.strip() == title
    ]
    trigger = item.find_element(By.CSS_SELECTOR, "[data-part=item-trigger]")
    if trigger.get_attribute("aria-expanded") != "true":
        _wait(dialog.parent, lambda d: _click(d, trigger))
    content = item.find_element(By.CSS_SELECTOR, "[data-part=item-content]")
    _wait(
        dialog.parent, lambda d: trigger.get_attribute("aria-expanded") == "true" and content.is_displayed()
    )
    return item


def _click(driver, element) -> bool:
    """Click ``element`` once it is visible and nothing (an opening section) lies over it."""
    from selenium.common.exceptions import ElementClickInterceptedException

    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    try:
        element.click()
    except ElementClickInterceptedException:
        return False
    return True


def _labels(section) -> list[str]:
    """The field labels of a form section, without the required marker."""
    from selenium.webdriver.common.by import By

    return [
        label.text.replace("*", "").strip()
        for label in section.find_elements(By.CSS_SELECTOR, "label[data-part=label]")
    ]


def _check_sections(dialog, expected: dict[str, list[str]]) -> None:
    """The form has the DAG's sections in order, each with its fields' titles in order."""
    # After the DAG's sections comes Airflow's own "Advanced Options" (run id, note, raw conf).
    assert _section_titles(dialog) == [*expected, "Advanced Options"]
    for title, labels in expected.items():
        assert _labels(_open_section(dialog, title)) == labels, title


def _field(dialog, name: str):
    from selenium.webdriver.common.by import By

    # Airflow names every param's control ``element_<param>`` (some also carry it as their id).
    return dialog.find_element(By.CSS_SELECTOR, f"[name='element_{name}']")


def _help(dialog, name: str) -> str:
    """The description shown under a field."""
    from selenium.webdriver.common.by import By

    field = _field(dialog, name)
    root = field.find_element(By.XPATH, "ancestor::*[@data-part='root' and @data-scope='field'][1]")
    return root.find_element(By.CSS_SELECTOR, "[data-part=helper-text]").text


def _paste(driver, element, text: str) -> None:
    """Put ``text`` into a field at once, as a paste does (typing a whole PEM key by key is not
    what a user does, and the form's re-render per key can drop characters typed that fast)."""
    element.click()
    driver.execute_cdp_cmd("Input.insertText", {"text": text})


def _screenshot(driver, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    driver.save_screenshot(str(OUTPUT / name))


def test_the_create_form_shows_the_params_and_triggers_a_run_with_one_certificate_per_line(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, _ = server
    driver = browser
    driver.set_window_size(*FORM_WINDOW)
    _sign_in(driver, url)
    dialog = _open_trigger_form(driver, url, CREATE)
    _check_sections(dialog, CREATE_SECTIONS)
    assert _field(dialog, "poll_interval_seconds").get_attribute("value") == "300"
    assert _field(dialog, "aws_conn_id").get_attribute("value") == "aws_default"

    _open_section(dialog, "Certificates")
    certificates = _field(dialog, "certificates")
    assert certificates.tag_name == "textarea"
    assert "One certificate per line" in _help(dialog, "certificates")
    certificates.send_keys("a.example.com, www.a.example.com", Keys.ENTER, "b.example.com")
    assert certificates.get_attribute("value") == "a.example.com, www.a.example.com\nb.example.com"
    _screenshot(driver, "trigger-form-create.png")

    _open_section(dialog, "Distributions")
    assert "copied for every new distribution" in _help(dialog, "source_distribution_id")
    _field(dialog, "source_distribution_id").send_keys(SOURCE_DISTRIBUTION)
    submit = dialog.find_element(By.XPATH, ".//button[normalize-space()='Trigger']")
    _wait(driver, lambda d: submit.is_enabled())
    _screenshot(driver, "trigger-form-create-distributions.png")

    before = _runs(server, CREATE)
    _click(driver, submit)
    deadline = time.monotonic() + 30
    while not (new := set(_runs(server, CREATE)) - set(before)):
        assert time.monotonic() < deadline, "the form created no run"
        time.sleep(0.5)
    (run_id,) = new
    conf = _runs(server, CREATE)[run_id]["conf"]
    assert conf["certificates"] == ["a.example.com, www.a.example.com", "b.example.com"]
    assert conf["source_distribution_id"] == SOURCE_DISTRIBUTION
    assert conf["poll_interval_seconds"] == 300 and conf["create_distributions"] is True


def test_the_import_form_shows_the_pem_fields_as_multiline_text_boxes(server, browser):
    url, _ = server
    driver = browser
    driver.set_window_size(*FORM_WINDOW)
    _sign_in(driver, url)
    dialog = _open_trigger_form(driver, url, IMPORT)
    _check_sections(dialog, IMPORT_SECTIONS)

    _open_section(dialog, "Distributions")
    assert _field(dialog, "aliases").tag_name == "textarea"
    assert _field(dialog, "source_distribution_id").tag_name == "input"

    _open_section(dialog, "Certificate")
    for name in ("certificate_body", "private_key", "certificate_chain"):
        assert _field(dialog, name).tag_name == "textarea", name
    for name in ("certificate_name", "private_key_secret_id"):
        assert _field(dialog, name).tag_name == "input", name
    assert "prefer private_key_secret_id" in _help(dialog, "private_key")
    assert "without the root" in _help(dialog, "certificate_chain")
    # A PEM keeps its lines in the text box (only the public certificate: no key on a screenshot).
    body = pki.make_leaf(pki.make_root(), ["shop.example.com"]).cert_pem()
    _field(dialog, "certificate_name").send_keys("shop")
    _paste(driver, _field(dialog, "certificate_body"), body)
    assert _field(dialog, "certificate_body").get_attribute("value").strip() == body.strip()
    _screenshot(driver, "trigger-form-import.png")


def _trigger_from_form(driver, url: str, server, lines: list[str]):
    """Fill the create form's certificates with ``lines`` (typed, Enter between them) and the source
    distribution, press Trigger; return ``(new run ids, dialog)``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    dialog = _open_trigger_form(driver, url, CREATE)
    _open_section(dialog, "Certificates")
    certificates = _field(dialog, "certificates")
    keys: list[str] = []
    for line in lines:
        keys += [line, Keys.ENTER]
    certificates.send_keys(*keys)
    _open_section(dialog, "Distributions")
    _field(dialog, "source_distribution_id").send_keys(SOURCE_DISTRIBUTION)
    submit = dialog.find_element(By.XPATH, ".//button[normalize-space()='Trigger']")
    _wait(driver, lambda d: submit.is_enabled())
    before = set(_runs(server, CREATE))
    _click(driver, submit)
    return before, dialog


def test_the_create_form_ignores_blank_lines_and_a_trailing_newline(server, browser):
    url, _ = server
    driver = browser
    driver.set_window_size(*FORM_WINDOW)
    _sign_in(driver, url)
    before, _ = _trigger_from_form(
        driver, url, server, ["a.example.com, www.a.example.com", "", "b.example.com", ""]
    )
    deadline = time.monotonic() + 30
    while not (new := set(_runs(server, CREATE)) - before):
        assert time.monotonic() < deadline, "a pasted list with blank lines was refused"
        time.sleep(0.5)
    (run_id,) = new
    certificates = _runs(server, CREATE)[run_id]["conf"]["certificates"]
    assert [line for line in certificates if line.strip()] == [
        "a.example.com, www.a.example.com",
        "b.example.com",
    ]
    _screenshot(driver, "trigger-form-blank-lines.png")


def test_the_create_form_refuses_a_bad_name_before_a_run_exists(server, browser):
    from selenium.webdriver.common.by import By

    url, _ = server
    driver = browser
    driver.set_window_size(*FORM_WINDOW)
    _sign_in(driver, url)
    before, dialog = _trigger_from_form(driver, url, server, ["good.example.com", "bad_name!.example.com"])
    # The form shows the refusal naming the field; no run is created.
    _wait(driver, lambda d: "certificates[1] (line 2): 'bad_name!.example.com'" in dialog.text)
    assert "a label takes letters, digits and hyphens" in dialog.text
    assert not [mark for mark in REGULAR_EXPRESSION_MARKS if mark in dialog.text]
    _screenshot(driver, "trigger-form-bad-name.png")
    time.sleep(2)
    assert set(_runs(server, CREATE)) == before
    assert dialog.find_elements(By.CSS_SELECTOR, "[data-testid=config-form]")


UPDATE_SECTIONS = {
    "Site": ["Distribution id", "Tenant id", "Names (one per line)", "Aggregate under wildcards"],
    "Certificate": ["Certificate ARN", "Delete the replaced certificate"],
}


def test_the_update_form_takes_the_names_one_per_line(server, browser):
    """ssl_update_site's form: the site first, its names as a text box of one name per line."""
    url, _ = server
    driver = browser
    driver.set_window_size(*FORM_WINDOW)
    _sign_in(driver, url)
    dialog = _open_trigger_form(driver, url, "ssl_update_site")
    assert _section_titles(dialog)[:2] == list(UPDATE_SECTIONS)
    for title, labels in UPDATE_SECTIONS.items():
        assert _labels(_open_section(dialog, title)) == labels, title
    _open_section(dialog, "Site")
    assert _field(dialog, "distribution_id").tag_name == "input"
    assert _field(dialog, "names").tag_name == "textarea"
    assert "a name it serves today and that is not listed is removed" in _help(dialog, "names")
    _screenshot(driver, "trigger-form-update.png")
