"""The CloudFront SaaS Manager emulator: ministack in its own process on 127.0.0.1, for tenant mode.

moto implements none of CloudFront SaaS Manager (multi-tenant distributions, distribution tenants,
connection groups, managed certificates); ministack does. It runs from its own virtualenv
(``.venv/ministack``, made by ``make venv`` from ``devstack/ministack-requirements.txt``, or here on
first use) because it pins a botocore and a graphql-core other than the project's.

A stack reaches it through the AWS connection's ``service_config``: CloudFront at ministack, every
other service at moto (:func:`tenant_connection_extra`). What ministack does not check is listed in
``docs/tenant-mode.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from devstack.processes import StackFailure, free_port

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "devstack" / "ministack-requirements.txt"
VENV = Path(os.environ.get("CLOUDFRONT_SSL_MINISTACK_VENV") or ROOT / ".venv" / "ministack")
ACCOUNT_ID = "123456789012"
"""moto's account: ministack's resources then carry the same account number as moto's."""
TEMPLATE_COMMENT = "cloudfront-ssl multi-tenant template"


def ministack_python() -> Path:
    """The ministack virtualenv's Python, made (from the pinned requirements) when it is missing."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-r", str(REQUIREMENTS)],
            check=True,
        )
    return python


class MiniStack:
    """ministack serving CloudFront on 127.0.0.1; started with :meth:`start`, stopped with :meth:`stop`."""

    def __init__(self, url: str, process: subprocess.Popen[bytes] | None = None) -> None:
        self.url = url
        self._process = process

    @classmethod
    def start(cls, port: int | None = None, log: Path | None = None) -> MiniStack:
        """Start ministack (CloudFront only) on a free port unless given; wait until it answers."""
        port = port or free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "AIRFLOW"))}
        env.update(
            {
                "GATEWAY_PORT": str(port),
                "BIND_HOST": "127.0.0.1",
                "SERVICES": "cloudfront",
                "MINISTACK_ACCOUNT_ID": ACCOUNT_ID,
                "LOG_LEVEL": "WARNING",
            }
        )
        output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(
            [str(ministack_python()), "-m", "ministack"], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        stack = cls(f"http://127.0.0.1:{port}", process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackFailure("ministack", f"exited with {process.returncode} (log: {log})")
            try:
                if requests.get(f"{stack.url}/_ministack/health", timeout=2).ok:
                    return stack
            except requests.RequestException:
                pass
            time.sleep(0.3)
        stack.stop()
        raise StackFailure("ministack", f"did not answer on {stack.url} within 60 s")

    def stop(self) -> None:
        """Stop the process this object started."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None

    def reset(self) -> None:
        """Clear every CloudFront resource ministack holds."""
        requests.post(f"{self.url}/_ministack/reset", timeout=30).raise_for_status()

    def client(self) -> Any:
        """A boto3 CloudFront client on ministack."""
        import boto3

        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ).client("cloudfront", endpoint_url=self.url)


def tenant_connection_extra(moto_url: str, ministack_url: str, region: str) -> dict[str, Any]:
    """An AWS connection's extra that reaches CloudFront at ministack and every other service at moto."""
    return {
        "endpoint_url": moto_url,
        "region_name": region,
        "service_config": {"cloudfront": {"endpoint_url": ministack_url}},
    }


def multi_tenant_config(
    caller_reference: str | None = None,
    parameters: dict[str, bool] | None = None,
) -> dict[str, Any]:
    """A multi-tenant distribution's config (``ConnectionMode: tenant-only``): the tenants' template.

    :param parameters: the template's parameters, name -> whether it is required.
    """
    from devstack.seed import source_distribution_config

    config = source_distribution_config(caller_reference or f"template-{uuid.uuid4().hex}")
    config["Comment"] = TEMPLATE_COMMENT
    config["ConnectionMode"] = "tenant-only"
    config.pop("PriceClass", None)  # a multi-tenant distribution has none
    config["ViewerCertificate"] = {"CloudFrontDefaultCertificate": True}
    if parameters:
        config["TenantConfig"] = {
            "ParameterDefinitions": [
                {"Name": name, "Definition": {"StringSchema": {"Required": required, "Comment": name}}}
                for name, required in parameters.items()
            ]
        }
    return config


def seed_template(client: Any, parameters: dict[str, bool] | None = None) -> str:
    """Create a multi-tenant distribution on ministack; return its id."""
    config = multi_tenant_config(parameters=parameters)
    return str(client.create_distribution(DistributionConfig=config)["Distribution"]["Id"])
