"""What the tests need of the emulator: the development stack's :class:`devstack.emulator.Emulator`,
plus what only an in-process emulator can do (make ACM fail a certificate)."""

from __future__ import annotations

from typing import Any

from devstack import emulator
from devstack.emulator import ACCOUNT_ID, TOPIC_NAME, source_distribution_config

__all__ = ["ACCOUNT_ID", "TOPIC_NAME", "Emulator", "source_distribution_config"]


class Emulator(emulator.Emulator):
    """The moto server the tests run against (in the test process), with boto3 clients on it."""

    def fail_certificate(self, arn: str, reason: str = "CAA_ERROR") -> None:
        """Make ACM report a certificate as FAILED with a reason (moto never fails one by itself)."""
        from moto.acm.models import acm_backends

        bundle = acm_backends[ACCOUNT_ID]["us-east-1"].get_certificate(arn)
        bundle.status = "FAILED"
        describe = bundle.describe

        def describe_failed() -> dict[str, Any]:
            result = describe()
            result["Certificate"]["FailureReason"] = reason
            return result

        bundle.describe = describe_failed
