"""docker-compose.yaml and the Dockerfile: parsed and checked here, since Docker does not run in CI.

A typo in a service name, a mount or a connection setting would only show when someone runs the
stack; these checks make it fail here instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, Any]:
    return compose["services"]


def _default_profile(services: dict[str, Any]) -> set[str]:
    return {name for name, service in services.items() if not service.get("profiles")}


def _interpolate_defaults(text: str) -> str:
    """What compose makes of ``${VAR:-default}`` when VAR is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def test_the_official_shape_runs_by_default(services):
    assert {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES} <= _default_profile(services)
    for name, command in AIRFLOW_SERVICES.items():
        assert services[name]["command"] == command, name


def test_every_airflow_service_uses_the_image_built_from_the_dockerfile(services):
    for name in [*AIRFLOW_SERVICES, "airflow-init", "emulator-setup"]:
        service = services[name]
        assert service["build"] == ".", name
        assert service["image"].startswith("${AIRFLOW_IMAGE_NAME:-"), name


def test_dockerfile_builds_on_airflow_3_3_2_with_the_pinned_requirements_and_the_package():
    text = (ROOT / "Dockerfile").read_text()
    instructions = [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines() if line.strip()]
    instructions = [line for line in instructions if not line.startswith("#")]
    assert instructions[0] == "FROM apache/airflow:3.3.2"
    runs = " ".join(line for line in instructions if line.startswith("RUN"))
    assert re.search(r"pip install .*-r \S*requirements\.txt .*-c \S*constraints\.txt", runs)
    assert re.search(r"pip install .*--no-deps /opt/airflow/cloudfront-ssl\b", runs)
    copies = " ".join(line for line in instructions if line.startswith("COPY"))
    for source in ("requirements.txt", "constraints.txt", "pyproject.toml", "include/", "dags/", "plugins/"):
        assert source in copies, source
    assert "USER root" not in instructions, "pip must run as the airflow user in the official image"
    # Everything the Dockerfile copies must exist, and must not be excluded from the build context.
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for source in ("requirements.txt", "constraints.txt", "pyproject.toml", "include", "dags", "plugins"):
        assert (ROOT / source).exists(), source
        assert f"{source}/" not in ignored and source not in ignored, source
    assert ".venv/" in ignored


def test_dags_plugins_and_include_are_mounted_and_include_is_importable(services):
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        service = services[name]
        mounts = {
            _interpolate_defaults(volume).split(":")[1]: _interpolate_defaults(volume).split(":")[0]
            for volume in service["volumes"]
        }
        assert mounts["/opt/airflow/dags"] == "./dags", name
        assert mounts["/opt/airflow/plugins"] == "./plugins", name
        assert mounts["/opt/airflow/include"] == "./include", name
        assert "/opt/airflow/include" in service["environment"]["PYTHONPATH"].split(":"), name
    # The mounted folders exist in the repository (compose would create them empty, owned by root).
    for folder in ("dags", "plugins", "include/cloudfront_ssl"):
        assert (ROOT / folder).is_dir(), folder


def test_executor_database_and_broker(services):
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
        "postgresql+psycopg2://airflow:airflow@postgres/"
    )
    assert (
        env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        and "@redis:6379" in env["AIRFLOW__CELERY__BROKER_URL"]
    )
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    # Task processes (worker) and the triggerer reach the execution API by the API server's service name.
    url = env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    assert url == "http://airflow-apiserver:8080/execution/"
    assert "8080:8080" in services["airflow-apiserver"]["ports"]


def test_services_wait_for_what_they_need(services):
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        assert "healthcheck" in services[name], name
    init_env = services["airflow-init"]["environment"]
    assert init_env["_AIRFLOW_DB_MIGRATE"] == "true"
    assert init_env["_AIRFLOW_WWW_USER_CREATE"] == "true"


def test_depends_on_names_existing_services(services):
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown service {needed}"


def test_the_aws_connection_comes_from_the_environment_or_the_database(services):
    env = services["airflow-worker"]["environment"]
    # Empty when unset, which Airflow treats as no connection in the environment.
    assert env["AIRFLOW_CONN_AWS_DEFAULT"] == "${AIRFLOW_CONN_AWS_DEFAULT:-}"
    # No Variable default through the environment: an empty one would hide the database's.
    assert not any(key.startswith("AIRFLOW_VAR_") for key in env)
    # Nothing points a default-profile service at an emulator.
    for name in _default_profile(services):
        text = json.dumps(services[name])
        assert "moto" not in text and "endpoint_url" not in text, name


def test_emulator_profile_adds_moto_and_points_aws_default_at_it(services):
    moto = services["moto"]
    assert moto["profiles"] == ["emulator"]
    assert moto["image"].startswith("motoserver/moto:5.2.5")
    assert int(moto["environment"]["MOTO_ACM_VALIDATION_WAIT"]) <= 120
    assert all(port.startswith("127.0.0.1:") for port in moto["ports"]), (
        "the emulator listens on localhost only"
    )

    setup = services["emulator-setup"]
    assert setup["profiles"] == ["emulator"]
    assert setup["depends_on"]["moto"]["condition"] == "service_healthy"
    assert setup["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    script = "\n".join(setup["command"])
    conn_json = re.search(r"airflow connections add aws_default --conn-json '([^']+)'", script)
    assert conn_json, script
    connection = json.loads(conn_json.group(1))
    assert connection["conn_type"] == "aws"
    assert connection["extra"]["endpoint_url"] == "http://moto:5000"
    assert "seed_emulator.py --endpoint-url http://moto:5000" in script
    assert 'airflow variables set ssl_notification_topic_arn "$$TOPIC_ARN"' in script
    # The seeding script is in the image.
    assert "scripts/seed_emulator.py" in (ROOT / "Dockerfile").read_text()
    assert (ROOT / "scripts" / "seed_emulator.py").exists()
