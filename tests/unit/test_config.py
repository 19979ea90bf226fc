"""The create job's config model: the source of the trigger form and of the check step."""

from __future__ import annotations

import copy

import pytest

from cloudfront_ssl.aws.acm import idempotency_token
from cloudfront_ssl.rules.config import (
    AWS_TAG_PATTERN,
    MAX_LINES,
    ConfigError,
    CreateJobConfig,
    ImportJobConfig,
    InventoryConfig,
    dag_params,
    parse_config,
)
from cloudfront_ssl.rules.tags import job_tags

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
        ({"certificates": ["a.com"] * 101}, "certificates: at most 100 certificates"),
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
    # Blank lines are ignored, so the form may send more lines than certificates (at most 100 of those).
    assert certificates["minItems"] == 1 and certificates["maxItems"] == MAX_LINES
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


def _validate_params(conf: dict) -> None:
    """Validate a conf as the REST API does at trigger time (the DAG's params, JSON Schema)."""
    from airflow.sdk.definitions.param import ParamsDict

    params = ParamsDict(dag_params(CreateJobConfig, CreateJobConfig.field_order()))
    params.update(conf)
    params.validate()


def test_blank_lines_are_ignored_at_trigger_time_and_by_the_model() -> None:
    conf = {
        "certificates": ["", "a.example.com", "  ", "b.example.com, c.example.com", ""],
        "source_distribution_id": SOURCE,
    }
    _validate_params(conf)
    assert parse_config(CreateJobConfig, conf).certificates[1] == "a.example.com"
    with pytest.raises(ConfigError, match="every line is blank"):
        parse_config(CreateJobConfig, {"certificates": ["", " "], "source_distribution_id": SOURCE})


@pytest.mark.parametrize(
    "line",
    [
        "https://shop.example.com/",
        "owner@example.com",
        "localhost",
        "shop.example.com; www.example.com",
        "shop_example.com",
        "x" * 3001,
    ],
)
def test_a_line_that_holds_no_domain_names_is_refused_at_trigger_time(line: str) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        _validate_params({"certificates": ["a.example.com", line], "source_distribution_id": SOURCE})


@pytest.mark.parametrize(
    "line",
    [
        "shop.example.com",
        "  shop.example.com,www.shop.example.com  ",
        "*.example.org example.org",
        "bücher.example.de",
        "例え。テスト",
        "xn--bcher-kva.example.de.",
        "a-b.c-d.example.com, e.example.com,",
    ],
)
def test_every_name_the_rules_accept_passes_the_trigger_time_pattern(line: str) -> None:
    _validate_params({"certificates": [line], "source_distribution_id": SOURCE})


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({"team!": "web"}, "team!"),
        ({"team": "a#b"}, "tag .team.: the value holds .#."),
        ({"aws:x": "y"}, "reserved"),
        ({"cloudfront-ssl:site": "acme"}, "reserved"),
        ({"Airflow:run_id": "x"}, "reserved"),
        ({f"k{n}": "v" for n in range(49)}, "at most 48 tags"),
    ],
)
def test_tags_that_aws_refuses_are_refused_before_anything_is_created(tags: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(
            CreateJobConfig, {"certificates": ["a.com"], "create_distributions": False, "tags": tags}
        )


def test_the_tag_rule_is_the_one_in_the_aws_api_models() -> None:
    import botocore.session

    session = botocore.session.get_session()
    for service in ("acm", "cloudfront"):
        model = session.get_service_model(service)
        for shape in ("TagKey", "TagValue"):
            assert model.shape_for(shape).metadata["pattern"] == AWS_TAG_PATTERN, (service, shape)
    parse_config(
        CreateJobConfig,
        {
            "certificates": ["a.com"],
            "create_distributions": False,
            "tags": {"Équipe web": "a_b.c:d/e=f+g-h@i 1"},
        },
    )


def test_the_import_job_keeps_room_for_its_name_tag() -> None:
    base = {"certificate_name": "shop", "certificate_body": "x", "private_key": "k"}
    parse_config(ImportJobConfig, {**base, "tags": {f"k{n}": "v" for n in range(47)}})
    with pytest.raises(ConfigError, match="at most 47 tags"):
        parse_config(ImportJobConfig, {**base, "tags": {f"k{n}": "v" for n in range(48)}})
    with pytest.raises(ConfigError, match="'Name' is set from certificate_name"):
        parse_config(ImportJobConfig, {**base, "tags": {"Name": "other"}})
    with pytest.raises(ConfigError, match="certificate_name"):
        parse_config(ImportJobConfig, {**base, "certificate_name": "shop#2026"})


@pytest.mark.parametrize(
    ("model", "conf", "field"),
    [
        (CreateJobConfig, {"poll_interval_seconds": 10**12}, "poll_interval_seconds"),
        (CreateJobConfig, {"validation_timeout_hours": 1e300}, "validation_timeout_hours"),
        (CreateJobConfig, {"validation_timeout_hours": float("nan")}, "validation_timeout_hours"),
        (CreateJobConfig, {"validation_timeout_hours": float("inf")}, "validation_timeout_hours"),
        (InventoryConfig, {"expiry_warning_days": 10_000_000}, "expiry_warning_days"),
        (InventoryConfig, {"stuck_validation_hours": float("nan")}, "stuck_validation_hours"),
    ],
)
def test_numbers_out_of_range_are_refused(model: type, conf: dict, field: str) -> None:
    base = {"certificates": ["a.com"], "create_distributions": False} if model is CreateJobConfig else {}
    with pytest.raises(ConfigError, match=field):
        parse_config(model, {**base, **conf})
