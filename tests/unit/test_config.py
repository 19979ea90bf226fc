"""The create job's config model: the source of the trigger form and of the check step."""

from __future__ import annotations

import copy

import pytest

from cloudfront_ssl.acm import idempotency_token, job_tags
from cloudfront_ssl.config import ConfigError, CreateJobConfig, dag_params, parse_config

SOURCE = "E2ABCDEF123"


def test_defaults_follow_the_spec() -> None:
    config = parse_config(
        CreateJobConfig, {"certificates": ["a.example.com"], "source_distribution_id": SOURCE}
    )
    assert config.aggregate is False
    assert config.create_distributions is True
    assert config.tags == {}
    assert config.notification_topic_arn is None
    assert config.poll_interval_seconds == 300
    assert config.validation_timeout_hours == 72
    assert config.aws_conn_id == "aws_default"
    assert config.cleanup_on_failure is False


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"certificates": []}, "certificates: List should have at least 1 item"),
        ({"certificates": ["a.com"] * 101}, "certificates: List should have at most 100 items"),
        ({"certificates": ["a.example.com", 5]}, r"certificates\[1\]"),
        ({"certificates": ["a.example.com"]}, "source_distribution_id is required when create_distributions"),
        (
            {"certificates": ["a.com"], "source_distribution_id": "not an id"},
            "source_distribution_id: .* not a CloudFront",
        ),
        (
            {"certificates": ["a.com"], "create_distributions": False, "poll_interval_seconds": 0},
            "poll_interval_seconds",
        ),
        (
            {"certificates": ["a.com"], "create_distributions": False, "validation_timeout_hours": 0},
            "validation_timeout_hours",
        ),
        (
            {"certificates": ["a.com"], "create_distributions": False, "notification_topic_arn": "topic"},
            "notification_topic_arn",
        ),
        (
            {"certificates": ["a.com"], "create_distributions": False, "tags": {"airflow:run_id": "x"}},
            "tags: .*reserved",
        ),
        (
            {"certificates": ["a.com"], "create_distributions": False, "tags": {"aws:x": "x"}},
            "tags: .*reserved",
        ),
        ({"certificates": ["a.com"], "create_distributions": False, "tags": {"k": 1}}, r"tags\.k"),
        (
            {"certificates": ["a.com"], "create_distributions": False, "certificate": ["x"]},
            "certificate: is not a setting",
        ),
        ({"certificates": ["a.com"], "create_distributions": "yes please"}, "create_distributions"),
    ],
)
def test_a_bad_conf_is_refused_naming_the_field(conf: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(CreateJobConfig, conf)


def test_params_render_a_usable_form() -> None:
    params = dag_params(CreateJobConfig, CreateJobConfig.field_order())
    assert list(params) == CreateJobConfig.field_order()
    assert set(params) == set(CreateJobConfig.model_fields)
    certificates = params["certificates"].schema
    # The trigger form renders an array whose items have no single type as a textarea, one item per line.
    assert certificates["type"] == "array" and "type" not in certificates["items"]
    assert certificates["minItems"] == 1 and certificates["maxItems"] == 100
    for name, param in params.items():
        assert param.description, name
        assert param.schema.get("section"), name
        assert param.schema.get("title"), name
    assert params["source_distribution_id"].schema["type"] == ["string", "null"]
    assert params["poll_interval_seconds"].value == 300


def test_params_validate_a_conf_as_the_rest_api_does() -> None:
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    params = ParamsDict(dag_params(CreateJobConfig, CreateJobConfig.field_order()))
    good = copy.deepcopy(params)
    good.update(
        {
            "certificates": ["a.example.com", ["b.example.com", "c.example.com"]],
            "source_distribution_id": SOURCE,
        }
    )
    good.validate()
    for bad in (
        {"certificates": "a.example.com"},
        {"certificates": []},
        {"certificates": ["a.example.com"], "poll_interval_seconds": 0},
        {"certificates": ["a.example.com"], "aggregate": "true"},
        {"certificates": ["a.example.com"], "tags": {"team": 5}},
    ):
        attempt = copy.deepcopy(params)
        with pytest.raises(ParamValidationError):
            attempt.update(bad)
            attempt.validate()
    missing = copy.deepcopy(params)
    with pytest.raises(ParamValidationError, match="certificates"):
        missing.validate()


def test_idempotency_token_follows_acm_rules() -> None:
    token = idempotency_token(
        "ssl_create_certificates", "manual__2026-01-01T00:00:00+00:00", ["a.example.com"]
    )
    assert len(token) <= 32 and token.isalnum()
    assert token == idempotency_token(
        "ssl_create_certificates", "manual__2026-01-01T00:00:00+00:00", ["a.example.com"]
    )
    assert token != idempotency_token(
        "ssl_create_certificates", "manual__2026-01-01T00:00:00+00:00", ["b.example.com"]
    )


def test_job_tags_carry_dag_and_run() -> None:
    assert job_tags("d", "r", {"team": "web"}) == [
        {"Key": "team", "Value": "web"},
        {"Key": "airflow:dag_id", "Value": "d"},
        {"Key": "airflow:run_id", "Value": "r"},
    ]
