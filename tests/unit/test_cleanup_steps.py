"""The order of CloudFront calls when a job's distribution is removed (moto does not enforce it)."""

from __future__ import annotations

import pytest

from cloudfront_ssl.steps import cleanup


class FakeCloudFront:
    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.calls = []
        self.enabled = True

    def get_distribution_config(self, Id):
        self.calls.append(("get_distribution_config", Id))
        return {"ETag": "E-1", "DistributionConfig": {"Enabled": self.enabled, "Comment": "x"}}

    def update_distribution(self, Id, IfMatch, DistributionConfig):
        self.calls.append(("update_distribution", IfMatch, DistributionConfig["Enabled"]))
        self.enabled = DistributionConfig["Enabled"]
        return {"ETag": "E-2"}

    def get_distribution(self, Id):
        status = self.statuses.pop(0)
        self.calls.append(("get_distribution", status))
        return {"ETag": "E-2", "Distribution": {"Status": status}}


def test_disable_uses_the_etag_and_skips_a_disabled_one():
    client = FakeCloudFront([])
    assert cleanup.disable_distribution(client, "E1") is True
    assert client.calls[-1] == ("update_distribution", "E-1", False)
    assert cleanup.disable_distribution(client, "E1") is False


def test_waits_for_deployed_and_returns_the_current_etag():
    client = FakeCloudFront(["InProgress", "InProgress", "Deployed"])
    sleeps = []
    etag = cleanup.wait_until_deployed(client, "E1", poll_seconds=7, timeout_seconds=60, sleep=sleeps.append)
    assert etag == "E-2" and sleeps == [7, 7]


def test_gives_up_after_the_timeout():
    client = FakeCloudFront(["InProgress"] * 5)
    with pytest.raises(cleanup.CleanupError, match="not deployed"):
        cleanup.wait_until_deployed(client, "E1", poll_seconds=0, timeout_seconds=-1, sleep=lambda s: None)


def test_conf_defaults_to_a_dry_run():
    config = cleanup.parse_config(cleanup.CleanupConfig, {"job_run_id": "manual__1"})
    assert config.dry_run is True and config.job_dag_id == "ssl_create_certificates"
    with pytest.raises(cleanup.ConfigError, match="job_run_id"):
        cleanup.parse_config(cleanup.CleanupConfig, {})
