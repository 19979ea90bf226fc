"""A job's results as the page reads them from Airflow's database, whatever the XCom backend keeps there."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from cloudfront_ssl.views import jobs


def row(value, map_index=-1):
    return SimpleNamespace(value=value, map_index=map_index)


def test_json_results_are_read_as_the_task_returned_them():
    assert jobs._xcom_value(row(json.dumps({"certificates": []}))) == {"certificates": []}
    assert jobs._xcom_value(row([{"id": "E1"}])) == [{"id": "E1"}]


def test_a_reference_that_the_configured_backend_resolves_is_read_through_it(monkeypatch):
    from airflow.sdk.bases.xcom import BaseXCom

    stored = {"s3://bucket/xcom/summary.json": {"certificates": [{"arn": "a"}], "distributions": []}}

    class ObjectStoreXCom(BaseXCom):
        @staticmethod
        def deserialize_value(result):
            return stored[json.loads(result.value)]

    monkeypatch.setattr("airflow.sdk.execution_time.xcom.resolve_xcom_backend", lambda: ObjectStoreXCom)
    assert (
        jobs._xcom_value(row(json.dumps("s3://bucket/xcom/summary.json")))
        == stored["s3://bucket/xcom/summary.json"]
    )


def test_a_result_that_cannot_be_read_is_said_not_dropped():
    with pytest.raises(ValueError, match="not a result of this package"):
        jobs._xcom_value(row(json.dumps("s3://bucket/xcom/summary.json")))
