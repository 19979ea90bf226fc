"""docker-compose.yaml and the Dockerfile: what would break a user's ``docker compose up``.

Docker does not run here. The engine test (``tests/e2e/test_engine.py``) runs the compose file's
commands and settings as processes; these checks cover what it cannot: the image, the mounts, the
services' wiring and the Dockerfile's build.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = {"api-server", "scheduler", "dag-processor", "triggerer", "celery worker"}
"""The long-running Airflow components that the CeleryExecutor needs (the triggerer runs the wait)."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_services(compose, services) -> dict[str, Any]:
    """Every service built on the shared Airflow block (``<<: *airflow-common``)."""
    common_image = compose["x-airflow-common"]["image"]
    return {name: service for name, service in services.items() if service.get("image") == common_image}


def _interpolate_defaults(text: str) -> str:
    """What compose makes of ``${VAR:-default}`` when VAR is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def _command(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return command if isinstance(command, str) else " ".join(command)


def _airflow_pin() -> str:
    pins = re.findall(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert len(pins) == 1, "requirements.txt pins apache-airflow exactly once"
    return pins[0]


def _dockerfile_instructions() -> list[str]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_every_component_runs_once_by_default(airflow_services):
    default = {name: s for name, s in airflow_services.items() if not s.get("profiles")}
    commands = [_command(service) for service in default.values() if service.get("entrypoint") is None]
    assert sorted(commands) == sorted(COMPONENTS), commands


def test_the_shared_environment_reaches_every_airflow_service(compose, airflow_services):
    shared = compose["x-airflow-common"]["environment"]
    assert shared["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for name, service in airflow_services.items():
        env = service["environment"]
        missing = {key: value for key, value in shared.items() if env.get(key) != value}
        assert not missing, f"{name} lacks or overrides shared settings {sorted(missing)}"


def test_services_reach_each_other_by_service_name(services, airflow_services):
    env = next(iter(airflow_services.values()))["environment"]
    database = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert database.hostname in services and services[database.hostname]["image"].startswith("postgres:")
    result_backend = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+"))
    assert result_backend.hostname == database.hostname
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.hostname in services and services[broker.hostname]["image"].startswith("redis:")
    # Task processes and triggerers call the execution API at the API server's service name and port.
    execution_api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    (api_server,) = [name for name, s in airflow_services.items() if _command(s) == "api-server"]
    assert execution_api.hostname == api_server
    assert any(port.endswith(f":{execution_api.port}") for port in services[api_server]["ports"])


def test_every_airflow_service_builds_the_image_from_the_dockerfile_on_the_pinned_airflow(
    compose, airflow_services
):
    pin = _airflow_pin()
    assert _dockerfile_instructions()[0] == f"FROM apache/airflow:{pin}"
    assert _interpolate_defaults(compose["x-airflow-common"]["image"]).endswith(f":{pin}")
    for name, service in airflow_services.items():
        assert (ROOT / service["build"] / "Dockerfile").is_file(), name


def test_dockerfile_installs_the_pinned_requirements_and_the_package():
    instructions = _dockerfile_instructions()
    runs = " ".join(line for line in instructions if line.startswith("RUN"))
    assert re.search(r"pip install .*-r \S*requirements\.txt .*-c \S*constraints\.txt", runs)
    assert re.search(r"pip install .*--no-deps /opt/airflow/cloudfront-ssl\b", runs)
    assert "USER root" not in instructions, "pip must run as the airflow user in the official image"
    # Everything the Dockerfile copies exists and is not excluded from the build context.
    ignored = {line.rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for line in instructions:
        if line.startswith("COPY"):
            for source in line.split()[1:-1]:
                if not source.startswith("--"):
                    assert (ROOT / source).exists(), source
                    assert source.rstrip("/") not in ignored, source


def test_dags_plugins_and_include_are_mounted_and_include_is_importable(airflow_services):
    for name, service in airflow_services.items():
        mounts = dict(
            reversed(_interpolate_defaults(volume).split(":")[:2]) for volume in service.get("volumes", [])
        )
        for folder in ("dags", "plugins", "include"):
            assert mounts.get(f"/opt/airflow/{folder}") == f"./{folder}", (name, folder)
            assert (ROOT / folder).is_dir(), folder
        assert "/opt/airflow/include" in service["environment"]["PYTHONPATH"].split(":"), name


def test_services_wait_for_what_they_need(services, airflow_services):
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in services, f"{name} depends on unknown service {needed}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], (
                    f"{name} waits for {needed}'s health, which has none"
                )
    for name, service in airflow_services.items():
        if _command(service) in COMPONENTS:
            assert {"postgres", "redis", "airflow-init"} <= set(service["depends_on"]), name
    init_env = services["airflow-init"]["environment"]
    assert init_env["_AIRFLOW_DB_MIGRATE"] == "true"
    assert init_env["_AIRFLOW_WWW_USER_CREATE"] == "true"


def test_the_aws_connection_comes_from_the_environment_or_the_database(services, airflow_services):
    for name, service in airflow_services.items():
        env = service["environment"]
        # Empty when unset, which Airflow treats as no connection in the environment.
        assert env["AIRFLOW_CONN_AWS_DEFAULT"] == "${AIRFLOW_CONN_AWS_DEFAULT:-}", name
        # No Variable default through the environment: an empty one would hide the database's.
        assert not any(key.startswith("AIRFLOW_VAR_") for key in env), name
    # Nothing of the default profile points at an emulator.
    for name, service in services.items():
        if not service.get("profiles"):
            text = yaml.safe_dump(service)
            assert "moto" not in text and "endpoint_url" not in text, name


def test_emulator_profile_adds_moto_and_points_aws_default_at_it(services):
    moto = services["moto"]
    assert moto["profiles"] == ["emulator"]
    moto_pin = re.search(
        r"^moto\[server\]==(\S+)$", (ROOT / "requirements-dev.txt").read_text(), re.MULTILINE
    )
    assert moto["image"] == f"motoserver/moto:{moto_pin.group(1)}", "the emulator the tests run"
    assert all(port.startswith("127.0.0.1:") for port in moto["ports"]), (
        "the emulator listens on localhost only"
    )

    setup = services["emulator-setup"]
    assert setup["profiles"] == ["emulator"]
    script = "\n".join(setup["command"])
    endpoint = re.search(r'"endpoint_url": "([^"]+)"', script).group(1)
    assert urlsplit(endpoint).hostname == "moto"
    assert f"seed_emulator.py --endpoint-url {endpoint}" in script
    # The seeding script is in the image, where the command looks for it.
    (copied,) = [
        line for line in _dockerfile_instructions() if "seed_emulator.py" in line and line.startswith("COPY")
    ]
    assert copied.split()[-1] in script


def test_what_the_engine_needs_is_pinned_in_the_requirements_the_image_installs(compose):
    env = compose["x-airflow-common"]["environment"]
    pins = {
        re.sub(r"\[.*\]", "", line.split("==")[0]).lower()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    needed = (
        {"apache-airflow-providers-celery"} if env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor" else set()
    )
    # The metadata database's driver, and asyncpg for Airflow's asynchronous engine on PostgreSQL.
    driver = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).scheme
    needed |= {"psycopg2": {"psycopg2-binary", "asyncpg"}, "psycopg": {"psycopg", "asyncpg"}}.get(
        driver.partition("+")[2] or "psycopg2", set()
    )
    if urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).scheme.startswith("redis"):
        needed.add("redis")
    assert needed <= pins, sorted(needed - pins)
