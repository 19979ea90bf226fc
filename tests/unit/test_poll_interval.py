"""The wait's poll interval: the job's own, unless the deployment caps it (the emulator stack does)."""

from __future__ import annotations

from cloudfront_ssl.steps.operators import poll_interval


def test_the_jobs_interval_stands_when_the_deployment_sets_no_cap(monkeypatch):
    monkeypatch.delenv("AIRFLOW__SSL_CERTIFICATES__MAX_POLL_INTERVAL_SECONDS", raising=False)
    assert poll_interval(300) == 300


def test_a_deployment_cap_shortens_a_longer_interval_only(monkeypatch):
    monkeypatch.setenv("AIRFLOW__SSL_CERTIFICATES__MAX_POLL_INTERVAL_SECONDS", "5")
    assert poll_interval(300) == 5
    assert poll_interval(2) == 2
