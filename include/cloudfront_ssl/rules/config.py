"""The jobs' configuration models: the single source of the DAGs' ``params`` and of the *check* step.

Each model field carries its description and its trigger-form section; :func:`dag_params` turns a model
into Airflow ``Param`` objects (so the UI form and the REST API's trigger-time validation come from the
same place), and :func:`parse_config` validates a run's params with the same model, turning errors into
messages that name the field and the item.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, TypeVar

from airflow.sdk.exceptions import ParamValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cloudfront_ssl.rules.messages import quote_input
from cloudfront_ssl.rules.names import (
    InvalidNameError,
    duplicate_name_errors,
    is_blank_item,
    item_where,
    normalize_item,
)
from cloudfront_ssl.rules.tags import (
    JOB_DAG_IDS,
    JOB_TAG_COUNT,
    MAX_TAGS,
    RESERVED_PREFIXES,
    SITE_TAG_COUNT,
    is_reserved_key,
)

_TOPIC_ARN_PATTERN = r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?"
_DISTRIBUTION_ID_PATTERN = r"[A-Z0-9]{8,20}"
_TOPIC_ARN = re.compile(f"^{_TOPIC_ARN_PATTERN}$")
_HOSTED_ZONE_ID = re.compile(r"^(/hostedzone/)?[A-Z0-9]{1,32}$")
_CONNECTION_GROUP_ID_PATTERN = r"cg_[A-Za-z0-9]{1,64}"
_CONNECTION_GROUP_ID = re.compile(f"^{_CONNECTION_GROUP_ID_PATTERN}$")
_PARAMETER_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_DISTRIBUTION_ID = re.compile(f"^{_DISTRIBUTION_ID_PATTERN}$")
_TENANT_ID_PATTERN = r"dt_[A-Za-z0-9]{1,64}"
_TENANT_ID = re.compile(f"^{_TENANT_ID_PATTERN}$")
SITE_ID_PATTERN = r"[a-z0-9-]{1,63}"
"""A fleet site's id (the ``site`` key of the jobs and of the fleet file)."""
_SITE_ID = re.compile(f"^{SITE_ID_PATTERN}$")

SECTION_NAMES = "Certificates"
SECTION_CERTIFICATE = "Certificate"
SECTION_DISTRIBUTIONS = "Distributions"
SECTION_NOTIFY = "Notifications and tags"
SECTION_DNS = "DNS (Route 53)"
SECTION_TENANTS = "Tenants (CloudFront SaaS Manager)"
SECTION_ADVANCED = "Advanced"


ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(ValueError):
    """A job's conf is refused; the message names the field (and the item) that is wrong."""


def _form(section: str, title: str, **extra: Any) -> dict[str, Any]:
    """JSON-schema extras that Airflow's trigger form reads: the section and the field's title."""
    return {"section": section, "title": title, **extra}


# --- what JSON Schema can check at trigger time --------------------------------------------------------

# One line of the certificates textarea: domain names separated by commas and/or whitespace, or a blank
# line. It is written for both Python's `re` (Airflow's trigger-time validation) and the browser's
# RegExp, so it stays loose (any non-ASCII letter, no length rules): the check step applies the full
# name rules of cloudfront_ssl.rules.names. It catches what a form user most often gets wrong: a URL, an
# e-mail address, a stray character, a name with one label.
_LABEL_CHAR = r"[^\s!-,./:-@\[-`{-~\u3002\uff0e\uff61]"
_DOT = r"[.\u3002\uff0e\uff61]"
_LABEL = f"{_LABEL_CHAR}(?:-*{_LABEL_CHAR})*"
_NAME = rf"(?:\*{_DOT})?(?:{_LABEL}{_DOT})+{_LABEL}{_DOT}?"
CERTIFICATE_LINE_PATTERN = rf"^[\s,]*(?:{_NAME}(?:[\s,]+{_NAME})*[\s,]*)?$"
_FILLED = r"[^\s,]"
"""A line that holds anything but separators: it counts as a certificate."""
# Airflow validates a run's params with jsonschema, and its HTTP 400 answer is jsonschema's error as
# text: for a failed `pattern`, the regular expression itself, which tells a person nothing. So the
# name rules and the finite-number rule are also jsonschema *formats*: the API server learns them when
# it loads the plugin (register_trigger_checks), and a refusal then raises with the line and the rule
# in words, which Airflow answers as "Invalid input for param FIELD: <our words>". Where no plugin
# taught them (a worker, a bare API server), a format is ignored: the pattern and the check step refuse.
CERTIFICATE_LINES_FORMAT = "cloudfront-ssl-certificate-lines"
FINITE_NUMBER_FORMAT = "cloudfront-ssl-finite-number"


class TriggerRefusal(ParamValidationError):
    """A conf refused at trigger time, in words: Airflow's HTTP 400 answer shows this text.

    Airflow's own params error, so that wherever Airflow validates params (the API server, ``dag.test``,
    a worker) it is handled as a refused param.
    """


def certificate_lines_problems(items: Any) -> list[str]:
    """Every refusal of the name rules among a ``certificates`` list, each naming its item and line:
    invalid names and names given twice. Values of the wrong type are left to the schema's types."""
    if not isinstance(items, list):
        return []
    problems: list[str] = []
    normalized: dict[int, list[str]] = {}
    for index, item in enumerate(items):
        if is_blank_item(item) or not isinstance(item, str | list):
            continue
        try:
            normalized[index] = normalize_item(item, item_where(index))
        except InvalidNameError as refusal:
            problems.append(str(refusal))
    problems += [message for _, message in duplicate_name_errors(normalized)]
    return problems


def _check_certificate_lines(items: Any) -> bool:
    problems = certificate_lines_problems(items)
    if problems:
        raise TriggerRefusal("; ".join(problems))
    return True


def non_finite_problem(value: Any) -> str | None:
    """Why a number is refused although JSON Schema's comparisons let it pass (NaN, Infinity), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a number this job can use: give a finite number"
    return None


def _check_finite(value: Any) -> bool:
    problem = non_finite_problem(value)
    if problem:
        raise TriggerRefusal(problem)
    return True


def register_trigger_checks() -> None:
    """Teach jsonschema, which Airflow's trigger-time validation uses, this package's two formats.

    Called by the plugin when the API server loads it. Airflow makes a new ``FormatChecker()`` for
    every validation, which takes the class's registry: so the checks are registered there. They raise
    :class:`TriggerRefusal` rather than answer False, so that Airflow's answer is the refusal's words
    and not jsonschema's dump of the schema.
    """
    from jsonschema import FormatChecker

    FormatChecker.checkers[CERTIFICATE_LINES_FORMAT] = (_check_certificate_lines, ())
    FormatChecker.checkers[FINITE_NUMBER_FORMAT] = (_check_finite, ())
    for pattern, words in _param_patterns().items():
        FormatChecker.checkers[pattern_format(pattern)] = (_PatternCheck(pattern, words), ())


# A param with a `pattern` (an id, an ARN) gets a format of its own too, named after its pattern
# (dag_params adds it), whose check refuses what the pattern refuses with what the value must be in words.
PATTERN_FORMAT_PREFIX = "cloudfront-ssl-pattern-"


def pattern_format(pattern: str) -> str:
    """The jsonschema format that checks ``pattern`` and refuses in words (a name jsonschema can key on)."""
    import hashlib

    return PATTERN_FORMAT_PREFIX + hashlib.sha256(pattern.encode()).hexdigest()[:16]


def _pattern_words() -> list[tuple[str, str]]:
    """What a value of each kind must be, in words, by the part of a pattern that says it."""
    return [
        (
            _DISTRIBUTION_ID_PATTERN,
            "a CloudFront distribution id: 8 to 20 capital letters and digits, such as E2QWRUHEXAMPLE",
        ),
        (_TOPIC_ARN_PATTERN, "an SNS topic ARN, such as arn:aws:sns:us-east-1:123456789012:ssl-owners"),
        (_CONNECTION_GROUP_ID_PATTERN, "a CloudFront connection group id: cg_ and letters and digits"),
        (
            _ARN_PATTERN,
            "an ACM certificate ARN in us-east-1, such as arn:aws:acm:us-east-1:123456789012:certificate/1234abcd-...",
        ),
    ]


def pattern_refusal(pattern: str, value: str, title: str = "this field") -> str:
    """Why ``value`` is refused by ``pattern``, in words (the field is named by Airflow's answer)."""
    words = next((text for part, text in _pattern_words() if part in pattern), f"in the form {title} takes")
    if re.search(pattern, "") is not None:
        words += "; leave it empty for none"
    return f"{quote_input(value)} is not {words}"


class _PatternCheck:
    """A format check: refuse what ``pattern`` refuses, with :func:`pattern_refusal`'s words."""

    def __init__(self, pattern: str, title: str) -> None:
        self.pattern = pattern
        self.title = title

    def __call__(self, value: Any) -> bool:
        if isinstance(value, str) and re.search(self.pattern, value) is None:
            raise TriggerRefusal(pattern_refusal(self.pattern, value, self.title))
        return True


def _param_patterns() -> dict[str, str]:
    """``{pattern: the title of a field that has it}`` over every config model's fields."""
    found: dict[str, str] = {}
    for model in [value for value in globals().values() if isinstance(value, type)]:
        if not issubclass(model, BaseModel) or model.__module__ != __name__ or model is BaseModel:
            continue
        try:
            properties = model.model_json_schema().get("properties", {})
        except Exception:  # a model that has no JSON schema is no DAG's params
            continue
        for name, schema in properties.items():
            pattern = _simplify(dict(schema)).get("pattern")
            if isinstance(pattern, str):
                found.setdefault(pattern, str(schema.get("title") or name))
    return found


MAX_LINE_LENGTH = 3000
"""Ten names of at most 253 characters with their separators fit; a longer line is refused at once."""
MAX_CERTIFICATES = 100
MAX_LINES = 2 * MAX_CERTIFICATES
"""Blank lines are ignored, so the list may hold more lines than certificates; not unboundedly more."""

# AWS's tag rule, from the ACM and CloudFront API models that botocore ships (TagKey and TagValue:
# `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`). Python's `re` has no \p{..}, so the categories are checked with
# unicodedata; tests/unit/test_config.py holds this against the models.
AWS_TAG_PATTERN = r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)"
_TAG_CATEGORIES = ("L", "Z", "N")
_TAG_SYMBOLS = set("_.:/=+-@")


def aws_tag_text_problem(text: str) -> str | None:
    """Why AWS would refuse ``text`` as a tag key or value (the characters it holds), or None."""
    import unicodedata

    bad = sorted(
        {ch for ch in text if ch not in _TAG_SYMBOLS and unicodedata.category(ch)[0] not in _TAG_CATEGORIES}
    )
    if bad:
        shown = " ".join(repr(ch) for ch in bad[:5])
        return f"holds {shown}: AWS tags take letters, digits, spaces and _ . : / = + - @ only"
    return None


def check_tags(tags: dict[str, str], *, budget: int) -> None:
    """Refuse tags that AWS would refuse after the job has created something: count, length, characters."""
    if len(tags) > budget:
        raise ValueError(f"at most {budget} tags (AWS takes {MAX_TAGS} per resource; the job sets the rest)")
    for key, value in tags.items():
        shown = quote_input(key)
        if not 1 <= len(key) <= 128:
            raise ValueError(f"tag key {shown} must be 1..128 characters")
        if len(value) > 256:
            raise ValueError(f"tag {shown}: the value must be at most 256 characters")
        if is_reserved_key(key):
            raise ValueError(f"tag key {shown}: the prefixes {', '.join(RESERVED_PREFIXES)} are reserved")
        problem = aws_tag_text_problem(key)
        if problem:
            raise ValueError(f"tag key {shown} {problem}")
        problem = aws_tag_text_problem(value)
        if problem:
            raise ValueError(f"tag {shown}: the value {problem}")


def site_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a site id (1..63 lower-case letters, digits and hyphens), or None."""
    if _SITE_ID.match(value):
        return None
    return f"{quote_input(value)} is not a site id: 1 to 63 lower-case letters, digits and hyphens"


def _site_field() -> Any:
    return Field(
        None,
        max_length=63,
        description="The fleet site this job makes or changes: everything it creates is tagged "
        "cloudfront-ssl:site with it, which is how the ssl_fleet DAG finds its sites. 1 to 63 "
        "lower-case letters, digits and hyphens. Empty: no site.",
        json_schema_extra=_form(SECTION_ADVANCED, "Fleet site id", pattern=f"^\\s*({SITE_ID_PATTERN})?\\s*$"),
    )


def _site_value(value: Any) -> Any:
    """A blank site is none; anything else must be a site id."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    if not value:
        return None
    problem = site_id_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _site_tag_budget(tags: dict[str, str], site: str | None) -> None:
    """The site's tags take two of the 50 tags AWS allows beside the job's two."""
    budget = MAX_TAGS - JOB_TAG_COUNT - SITE_TAG_COUNT
    if site and len(tags) > budget:
        raise ValueError(
            f"tags: at most {budget} tags with a site (AWS takes {MAX_TAGS} per resource; the job sets the rest)"
        )


# --- the models -----------------------------------------------------------------------------------------


class ConnectionOptions(BaseModel):
    """The AWS connection: a setting of every DAG of the package."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    aws_conn_id: str = Field(
        "aws_default",
        min_length=1,
        max_length=250,
        description="The Airflow AWS connection. ACM calls always go to us-east-1 (CloudFront's region).",
        json_schema_extra=_form(SECTION_ADVANCED, "AWS connection id"),
    )


class AwsOptions(ConnectionOptions):
    """The AWS connection and the SNS topic: settings of the jobs and of the inventory."""

    notification_topic_arn: str | None = Field(
        None,
        description="SNS topic for the domain owners' messages. Empty: the Airflow Variable "
        "ssl_notification_topic_arn; if that is unset too, no message is sent.",
        json_schema_extra=_form(
            SECTION_NOTIFY, "SNS topic ARN", pattern=f"^\\s*({_TOPIC_ARN_PATTERN})?\\s*$"
        ),
    )

    @field_validator("notification_topic_arn")
    @classmethod
    def _topic_arn(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _TOPIC_ARN.match(value):
            raise ValueError(
                f"{quote_input(value)} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"
            )
        return value


class JobOptions(AwsOptions):
    """Fields shared by the create and the import job."""

    source_distribution_id: str | None = Field(
        None,
        description="The distribution whose current config is copied for every new distribution "
        "(required when distributions are created).",
        json_schema_extra=_form(
            SECTION_DISTRIBUTIONS, "Source distribution id", pattern=f"^({_DISTRIBUTION_ID_PATTERN})?$"
        ),
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Tags added to every certificate and distribution the job creates, "
        'as a JSON object, e.g. {"team": "web"}. Keys and values: letters, digits, spaces and _ . : / = + - @.',
        json_schema_extra=_form(SECTION_NOTIFY, "Tags"),
    )
    cleanup_on_failure: bool = Field(
        False,
        description="When the job fails, remove what it created (as the ssl_cleanup_job DAG does).",
        json_schema_extra=_form(SECTION_ADVANCED, "Clean up on failure"),
    )

    @field_validator("source_distribution_id")
    @classmethod
    def _distribution_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _DISTRIBUTION_ID.match(value):
            raise ValueError(f"{quote_input(value)} is not a CloudFront distribution id (like E2ABCDEF123)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: dict[str, str]) -> dict[str, str]:
        check_tags(tags, budget=MAX_TAGS - JOB_TAG_COUNT)
        return tags


CertificateItem = str | list[str]
MULTI_TENANT_NEEDED = "multi_tenant_distribution_id is required when hosting is tenant"


class CreateJobConfig(JobOptions):
    """Conf of ``ssl_create_certificates``."""

    certificates: Annotated[
        list[CertificateItem],
        Field(
            min_length=1,
            max_length=MAX_LINES,
            description="One certificate per line: its domain names separated by commas or spaces "
            "(the first becomes the certificate's subject). Up to 10 names per certificate, "
            f"up to {MAX_CERTIFICATES} certificates; blank lines are ignored. "
            "Wildcards like *.example.com cover one label.",
            json_schema_extra=_form(
                SECTION_NAMES,
                "Certificates (one per line)",
                # At least one and at most 100 items that hold a name (blank lines do not count).
                contains={
                    "anyOf": [
                        {"type": "string", "pattern": _FILLED},
                        {"type": "array", "contains": {"type": "string", "pattern": _FILLED}},
                    ]
                },
                minContains=1,
                maxContains=MAX_CERTIFICATES,
                format=CERTIFICATE_LINES_FORMAT,
                items={
                    "anyOf": [
                        {"type": "string", "maxLength": MAX_LINE_LENGTH, "pattern": CERTIFICATE_LINE_PATTERN},
                        {
                            "type": "array",
                            "maxItems": 50,
                            "items": {"type": "string", "maxLength": MAX_LINE_LENGTH},
                        },
                    ]
                },
            ),
        ),
    ]
    aggregate: bool = Field(
        False,
        description="Do not request again a name that a wildcard name of this job already covers.",
        json_schema_extra=_form(SECTION_NAMES, "Aggregate under wildcards"),
    )
    create_distributions: bool = Field(
        True,
        description="Once the certificates are issued, create one CloudFront distribution per line, "
        "copied from the source distribution, with the line's names as aliases.",
        json_schema_extra=_form(SECTION_DISTRIBUTIONS, "Create distributions"),
    )
    poll_interval_seconds: int = Field(
        300,
        ge=1,
        le=86400,
        description="How often ACM is checked while waiting for issuance (no worker is held meanwhile); "
        "1 second to 1 day.",
        json_schema_extra=_form(SECTION_ADVANCED, "Poll interval (seconds)"),
    )
    validation_timeout_hours: float = Field(
        72,
        gt=0,
        le=72,
        description="Give up waiting for issuance after this many hours, counted from the request "
        "(at most 72: ACM itself gives up then).",
        json_schema_extra=_form(SECTION_ADVANCED, "Validation timeout (hours)"),
    )

    route53_validation: bool = Field(
        False,
        description="Add the DNS validation records to the Route 53 public hosted zones that hold the "
        "names, and wait until Route 53 has applied them. Names in no zone stay with their owners.",
        json_schema_extra=_form(SECTION_DNS, "Write validation records in Route 53"),
    )
    route53_aliases: bool = Field(
        False,
        description="Once each distribution exists, point its names at it with Route 53 alias records "
        "(A, and AAAA when the distribution has IPv6 on). Names in no zone stay with their owners.",
        json_schema_extra=_form(SECTION_DNS, "Point the names at their distributions"),
    )
    route53_overwrite: bool = Field(
        False,
        description="With alias records: replace a name's existing A, AAAA or CNAME record that points "
        "elsewhere. Without it, such a name refuses the job before anything is created.",
        json_schema_extra=_form(SECTION_DNS, "Replace records that point elsewhere"),
    )
    route53_zone_ids: list[str] | None = Field(
        None,
        max_length=100,
        description="Only these hosted zones (ids, one per line) may be changed; a name whose zone is "
        "another one stays with its owner. Empty: every public zone the connection sees.",
        json_schema_extra=_form(SECTION_DNS, "Hosted zone ids (one per line)"),
    )
    dns_aws_conn_id: str | None = Field(
        None,
        max_length=250,
        description="The Airflow AWS connection for Route 53, e.g. a role in the account that owns DNS. "
        "Empty: the AWS connection id.",
        json_schema_extra=_form(SECTION_DNS, "Route 53 connection id"),
    )

    hosting: Literal["distribution", "tenant"] = Field(
        "distribution",
        description="What each line becomes: a CloudFront distribution copied from the source "
        "distribution, or a distribution tenant of a multi-tenant distribution (CloudFront SaaS Manager).",
        json_schema_extra=_form(SECTION_TENANTS, "Hosting"),
    )
    multi_tenant_distribution_id: str | None = Field(
        None,
        description="With tenant hosting: the multi-tenant distribution (the template) the tenants use.",
        json_schema_extra=_form(
            SECTION_TENANTS, "Multi-tenant distribution id", pattern=f"^({_DISTRIBUTION_ID_PATTERN})?$"
        ),
    )
    connection_group_id: str | None = Field(
        None,
        description="With tenant hosting: the connection group whose routing endpoint the names point "
        "at. Empty: the account's default connection group.",
        json_schema_extra=_form(
            SECTION_TENANTS, "Connection group id", pattern=f"^({_CONNECTION_GROUP_ID_PATTERN})?$"
        ),
    )
    certificate_source: Literal["acm", "managed"] = Field(
        "acm",
        description="With tenant hosting: acm, the job requests and validates an ACM certificate per "
        "line (DNS validation, as for distributions); managed, CloudFront requests and renews the "
        "certificate itself once the names point at the routing endpoint (HTTP validation).",
        json_schema_extra=_form(SECTION_TENANTS, "Certificate source"),
    )
    tenant_parameters: dict[str, str] = Field(
        default_factory=dict,
        description="With tenant hosting: values of the multi-tenant distribution's parameters, as a "
        'JSON object, e.g. {"origin_domain": "app.example.net"}.',
        json_schema_extra=_form(SECTION_TENANTS, "Tenant parameters"),
    )
    site: str | None = _site_field()

    @field_validator("site", mode="before")
    @classmethod
    def _site(cls, value: Any) -> Any:
        return _site_value(value)

    @field_validator("multi_tenant_distribution_id")
    @classmethod
    def _multi_tenant_id(cls, value: str | None) -> str | None:
        return cls._distribution_id(value)

    @field_validator("connection_group_id")
    @classmethod
    def _connection_group(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _CONNECTION_GROUP_ID.match(value):
            raise ValueError(f"{quote_input(value)} is not a connection group id (like cg_2wjDWTBKTlRB87cAaUQFaakABC)")
        return value

    @field_validator("tenant_parameters")
    @classmethod
    def _parameters(cls, values: dict[str, str]) -> dict[str, str]:
        for name, value in values.items():
            if not _PARAMETER_NAME.match(name):
                raise ValueError(f"{quote_input(name)} is not a parameter name (1..128 letters, digits, _ and -)")
            if not 1 <= len(value) <= 256:
                raise ValueError(f"{quote_input(name)}: a value is 1..256 characters")
        return values

    @field_validator("dns_aws_conn_id")
    @classmethod
    def _dns_connection(cls, value: str | None) -> str | None:
        return value.strip() if value is not None and value.strip() else None

    @field_validator("route53_zone_ids")
    @classmethod
    def _zone_ids(cls, values: list[str] | None) -> list[str] | None:
        ids = [value.strip() for value in values or [] if value.strip()]
        for value in ids:
            if not _HOSTED_ZONE_ID.match(value):
                raise ValueError(f"{value!r} is not a Route 53 hosted zone id (like Z0123456789ABCDEFGHIJ)")
        return ids or None

    @field_validator("certificates")
    @classmethod
    def _not_only_blank(cls, items: list[CertificateItem]) -> list[CertificateItem]:
        filled = [item for item in items if not is_blank_item(item)]
        if not filled:
            raise ValueError("give at least one certificate (every line is blank)")
        if len(filled) > MAX_CERTIFICATES:
            raise ValueError(f"at most {MAX_CERTIFICATES} certificates, got {len(filled)}")
        return items

    @model_validator(mode="after")
    def _source_needed(self) -> CreateJobConfig:
        _site_tag_budget(self.tags, self.site)
        if self.site and sum(not is_blank_item(item) for item in self.certificates) != 1:
            raise ValueError(
                "site: a site is one distribution or tenant: give exactly one certificate line with it"
            )
        if self.hosting == "tenant":
            if not self.multi_tenant_distribution_id:
                raise ValueError(MULTI_TENANT_NEEDED)
            return self
        if self.create_distributions and not self.source_distribution_id:
            raise ValueError("source_distribution_id is required when create_distributions is true")
        return self

    @classmethod
    def field_order(cls) -> list[str]:
        """The order of the trigger form's fields."""
        return [
            "certificates",
            "aggregate",
            "create_distributions",
            "source_distribution_id",
            "tags",
            "notification_topic_arn",
            "route53_validation",
            "route53_aliases",
            "route53_overwrite",
            "route53_zone_ids",
            "dns_aws_conn_id",
            "hosting",
            "multi_tenant_distribution_id",
            "connection_group_id",
            "certificate_source",
            "tenant_parameters",
            "poll_interval_seconds",
            "validation_timeout_hours",
            "aws_conn_id",
            "cleanup_on_failure",
            "site",
        ]


IMPORT_TAG_NAME = "Name"
"""The tag that carries an imported certificate's ``certificate_name``."""


class ImportJobConfig(JobOptions):
    """Conf of ``ssl_import_certificate``."""

    certificate_name: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="A name for the certificate: its Name tag in ACM "
        "(letters, digits, spaces and _ . : / = + - @). Not needed when rotating (certificate_arn).",
        json_schema_extra=_form(SECTION_CERTIFICATE, "Certificate name"),
    )
    certificate_body: str | None = Field(
        None,
        min_length=1,
        description="The leaf certificate, PEM (-----BEGIN CERTIFICATE----- ...). Not needed with "
        "bundle_secret_id.",
        json_schema_extra=_form(SECTION_CERTIFICATE, "Certificate body (PEM)", format="multiline"),
    )
    private_key: str | None = Field(
        None,
        description="The unencrypted private key, PEM. It is stored in this run's conf in Airflow's "
        "database: prefer private_key_secret_id.",
        json_schema_extra=_form(SECTION_CERTIFICATE, "Private key (PEM)", format="multiline"),
    )
    private_key_secret_id: str | None = Field(
        None,
        max_length=2048,
        description="Instead of private_key: the id or ARN of an AWS Secrets Manager secret whose value "
        "is the PEM key (the safer choice: the key never enters Airflow's database).",
        json_schema_extra=_form(SECTION_CERTIFICATE, "Private key secret id"),
    )
    certificate_chain: str | None = Field(
        None,
        description="The intermediate certificates, PEM, the leaf's issuer first, without the root.",
        json_schema_extra=_form(SECTION_CERTIFICATE, "Certificate chain (PEM)", format="multiline"),
    )
    bundle_secret_id: str | None = Field(
        None,
        max_length=2048,
        description="Instead of the certificate body, key and chain: the id or ARN of a Secrets Manager "
        'secret whose value is JSON {"certificate": PEM, "private_key": PEM, "certificate_chain": PEM or '
        "null}. The certificate is tagged with the secret, and ssl_rotate_imported re-imports it daily "
        "when the secret holds a new certificate.",
        json_schema_extra=_form(SECTION_CERTIFICATE, "Bundle secret id"),
    )
    certificate_arn: str | None = Field(
        None,
        description="Rotate: import the bundle into this imported certificate (us-east-1), so every "
        "distribution that uses it serves the new one, unchanged. The bundle must cover every alias of "
        "those distributions and not expire earlier than the certificate it replaces.",
        json_schema_extra=_form(SECTION_CERTIFICATE, "Certificate ARN to rotate"),
    )
    allow_earlier_expiry: bool = Field(
        False,
        description="When rotating: accept a bundle that expires before the certificate in ACM.",
        json_schema_extra=_form(SECTION_CERTIFICATE, "Allow an earlier expiry"),
    )
    create_distributions: bool = Field(
        False,
        description="Create a CloudFront distribution for this certificate, copied from the source "
        "distribution.",
        json_schema_extra=_form(SECTION_DISTRIBUTIONS, "Create a distribution"),
    )
    source_distribution_id: str | None = Field(
        None,
        description="The distribution whose current config is copied for the certificate's distribution "
        "(required when a distribution is created).",
        json_schema_extra=_form(
            SECTION_DISTRIBUTIONS, "Source distribution id", pattern=f"^({_DISTRIBUTION_ID_PATTERN})?$"
        ),
    )
    aliases: list[str] | None = Field(
        None,
        max_length=2 * 100,
        description="The distribution's aliases, one per line. Empty: the certificate's DNS names.",
        json_schema_extra=_form(SECTION_DISTRIBUTIONS, "Aliases (one per line)"),
    )

    @field_validator("certificate_name")
    @classmethod
    def _name_tag(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = aws_tag_text_problem(value)
        if problem:
            raise ValueError(f"{quote_input(value)} is the certificate's Name tag and {problem}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: dict[str, str]) -> dict[str, str]:
        if IMPORT_TAG_NAME in tags:
            raise ValueError(f"tag key {IMPORT_TAG_NAME!r} is set from certificate_name; remove it from tags")
        # The import job sets Name beside its two job tags.
        check_tags(tags, budget=MAX_TAGS - JOB_TAG_COUNT - 1)
        return tags

    @field_validator("certificate_arn")
    @classmethod
    def _rotated_arn(cls, value: str | None) -> str | None:
        return _certificate_arn(value)

    @field_validator("private_key", "private_key_secret_id", "certificate_chain", "bundle_secret_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value if value is not None and value.strip() else None

    @field_validator("aliases")
    @classmethod
    def _no_empty_aliases(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        aliases = [alias for alias in value if alias.strip()]
        return aliases or None

    @model_validator(mode="after")
    def _one_key_and_source(self) -> ImportJobConfig:
        if self.bundle_secret_id is not None:
            given = [
                name
                for name in ("certificate_body", "private_key", "private_key_secret_id", "certificate_chain")
                if getattr(self, name) is not None
            ]
            if given:
                raise ValueError(f"bundle_secret_id holds the whole bundle: leave out {', '.join(given)}")
        else:
            if self.certificate_body is None:
                raise ValueError("give certificate_body (or bundle_secret_id)")
            if (self.private_key is None) == (self.private_key_secret_id is None):
                raise ValueError("give exactly one of private_key and private_key_secret_id")
        if self.certificate_arn is None and self.certificate_name is None:
            raise ValueError(
                "give certificate_name (only a rotation, with certificate_arn, may leave it out)"
            )
        if self.certificate_arn is not None and self.create_distributions:
            raise ValueError(
                "create_distributions does not apply when rotating: the distributions that use "
                "certificate_arn serve the new certificate unchanged"
            )
        if self.create_distributions and not self.source_distribution_id:
            raise ValueError("source_distribution_id is required when create_distributions is true")
        return self

    def __repr__(self) -> str:
        # Never show the private key, whatever prints the config.
        return f"ImportJobConfig(certificate_name={self.certificate_name!r}, ...)"

    __str__ = __repr__

    @classmethod
    def field_order(cls) -> list[str]:
        """The order of the trigger form's fields."""
        return [
            "certificate_name",
            "certificate_body",
            "private_key",
            "private_key_secret_id",
            "certificate_chain",
            "bundle_secret_id",
            "certificate_arn",
            "allow_earlier_expiry",
            "create_distributions",
            "source_distribution_id",
            "aliases",
            "tags",
            "notification_topic_arn",
            "aws_conn_id",
            "cleanup_on_failure",
        ]


SECTION_JOB = "Job"
SECTION_SITE = "Site"


class CleanupConfig(ConnectionOptions):
    """Conf of ``ssl_cleanup_job``: which job's resources to remove."""

    job_run_id: str | None = Field(
        None,
        min_length=1,
        max_length=250,
        description="The run_id of the job whose certificates and distributions are removed "
        "(the job id, as the SSL Certificates page and the DAG runs list show it). "
        "Leave it empty to remove one site instead (distribution_id).",
        json_schema_extra=_form(SECTION_JOB, "Job run id"),
    )
    job_dag_id: str = Field(
        JOB_DAG_IDS[0],
        min_length=1,
        description="The DAG of that job.",
        json_schema_extra=_form(SECTION_JOB, "Job DAG id", enum=list(JOB_DAG_IDS)),
    )
    dry_run: bool = Field(
        True,
        description="Only list what would be removed; remove nothing. Untick to remove.",
        json_schema_extra=_form(SECTION_JOB, "Dry run"),
    )
    distribution_id: str | None = Field(
        None,
        max_length=64,
        description="Instead of job_run_id: remove this site. The distribution is disabled and deleted, "
        "then its certificate (if a job of this package made it and nothing else uses it), the Route 53 "
        "alias records that point at it, and the validation records no remaining certificate uses.",
        json_schema_extra=_form(
            SECTION_SITE, "Distribution id", pattern=f"^\\s*({_DISTRIBUTION_ID_PATTERN})?\\s*$"
        ),
    )
    tenant_id: str | None = Field(
        None,
        max_length=70,
        description="Instead of job_run_id: remove this distribution tenant (CloudFront SaaS Manager). It is "
        "disabled and deleted, then its ACM certificate (if a job of this package made it and nothing else "
        "uses it), the Route 53 CNAME records of its names that point at its routing endpoint, and the "
        "validation records no remaining certificate uses.",
        json_schema_extra=_form(SECTION_SITE, "Tenant id", pattern=f"^\\s*({_TENANT_ID_PATTERN})?\\s*$"),
    )
    force: bool = Field(
        False,
        description="With distribution_id or tenant_id: remove a site that no job of this package made.",
        json_schema_extra=_form(SECTION_SITE, "Remove a site the package did not make"),
    )
    dns_aws_conn_id: str | None = Field(
        None,
        max_length=250,
        description="With distribution_id or tenant_id: the Airflow AWS connection for Route 53. Empty: the "
        "AWS connection id.",
        json_schema_extra=_form(SECTION_SITE, "Route 53 connection id"),
    )

    @field_validator("distribution_id", "tenant_id", "dns_aws_conn_id", "job_run_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("distribution_id")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        if value is not None and not _DISTRIBUTION_ID.match(value):
            raise ValueError(f"{quote_input(value)} is not a CloudFront distribution id (like E2ABCDEF123)")
        return value

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        return _tenant_id(value)

    @model_validator(mode="after")
    def _one_target(self) -> CleanupConfig:
        given = [name for name in ("job_run_id", "distribution_id", "tenant_id") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of job_run_id (one job's resources), distribution_id (one distribution) "
                "and tenant_id (one distribution tenant)"
                + (f"; got {' and '.join(given)}" if given else "")
            )
        return self

    @property
    def route53_zone_ids(self) -> None:
        """Every public zone the Route 53 connection sees may hold a site's records."""
        return None

    @field_validator("job_dag_id")
    @classmethod
    def _job_dag(cls, value: str) -> str:
        if value not in JOB_DAG_IDS:
            raise ValueError(f"{quote_input(value)} is not a job DAG ({', '.join(JOB_DAG_IDS)})")
        return value

    @classmethod
    def field_order(cls) -> list[str]:
        """The order of the trigger form's fields."""
        return [
            "job_run_id",
            "job_dag_id",
            "distribution_id",
            "tenant_id",
            "force",
            "dry_run",
            "dns_aws_conn_id",
            "aws_conn_id",
        ]


def _as_in_create_job(name: str) -> Any:
    """A field of the create job that the update job takes with the same meaning, form and default."""
    import copy

    return copy.deepcopy(CreateJobConfig.model_fields[name])


_ARN_PATTERN = r"arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[A-Za-z0-9-]{1,128}"
_CERTIFICATE_ARN = re.compile(f"^{_ARN_PATTERN}$")


def _certificate_arn(value: str | None) -> str | None:
    """A blank ARN is none; anything else must be an ACM certificate ARN in us-east-1."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _CERTIFICATE_ARN.match(value):
        raise ValueError(
            f"{quote_input(value)} is not an ACM certificate ARN in us-east-1 "
            "(arn:aws:acm:us-east-1:ACCOUNT:certificate/ID; CloudFront takes no other region's)"
        )
    return value


def _tenant_id(value: str | None) -> str | None:
    """A blank tenant id is none; anything else must look like a CloudFront distribution tenant id."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _TENANT_ID.match(value):
        raise ValueError(f"{quote_input(value)} is not a CloudFront distribution tenant id (like dt_2abc...)")
    return value


ONE_SITE = "give distribution_id (a distribution) or tenant_id (a distribution tenant): exactly one of the two"


class UpdateSiteConfig(AwsOptions):
    """Conf of ``ssl_update_site``: the names one distribution serves after the job, and its certificate."""

    distribution_id: str | None = Field(
        None,
        max_length=64,
        description="The distribution to change (made by this package or not). Leave it empty to change a "
        "distribution tenant instead (tenant_id).",
        json_schema_extra=_form(
            SECTION_SITE, "Distribution id", pattern=f"^\\s*({_DISTRIBUTION_ID_PATTERN})?\\s*$"
        ),
    )
    tenant_id: str | None = Field(
        None,
        max_length=70,
        description="Instead of distribution_id: the distribution tenant (CloudFront SaaS Manager) to change. "
        "It keeps its kind of certificate: an ACM certificate is requested (or given) for the new names; a "
        "certificate CloudFront manages is issued for them before the old names go.",
        json_schema_extra=_form(SECTION_SITE, "Tenant id", pattern=f"^\\s*({_TENANT_ID_PATTERN})?\\s*$"),
    )
    names: list[str] | str = Field(
        description="Every name the distribution serves after the job, one per line (or separated by "
        "commas): names it keeps, names it gains; a name it serves today and that is not listed is "
        "removed. Up to 100 names; a certificate the job requests holds at most 10, after the wildcards "
        "among them cover what they can (with Aggregate): for more, give an issued certificate that covers "
        "them. Wildcards like *.example.com cover one label.",
        # One JSON-schema type list beside pydantic's anyOf: the trigger form then shows a text box of
        # one name per line, and the REST API still takes one string of names.
        json_schema_extra=_form(
            SECTION_SITE, "Names (one per line)", type=["array", "string"], items={"type": "string"}
        ),
    )
    aggregate: bool = Field(
        False,
        description="Do not put on the certificate a name that a wildcard name of the list covers "
        "(the distribution still serves it).",
        json_schema_extra=_form(SECTION_SITE, "Aggregate under wildcards"),
    )
    certificate_arn: str | None = Field(
        None,
        description="Use this issued ACM certificate (us-east-1), which must cover every name. Empty: "
        "request one for the names, validated by DNS as the create job does.",
        json_schema_extra=_form(
            SECTION_CERTIFICATE, "Certificate ARN", pattern=f"^\\s*({_ARN_PATTERN})?\\s*$"
        ),
    )
    delete_replaced_certificate: bool = Field(
        True,
        description="Once no distribution uses it, delete the certificate the distribution had, if a job "
        "of this package made it.",
        json_schema_extra=_form(SECTION_CERTIFICATE, "Delete the replaced certificate"),
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Tags added to the certificate the job requests, as a JSON object, e.g. "
        '{"team": "web"}. Keys and values: letters, digits, spaces and _ . : / = + - @.',
        json_schema_extra=_form(SECTION_NOTIFY, "Tags"),
    )
    route53_validation: bool = _as_in_create_job("route53_validation")
    route53_aliases: bool = Field(
        False,
        description="Point the names the site gains at it with Route 53 (a distribution: alias records, A "
        "and AAAA with IPv6; a tenant: CNAME records to its routing endpoint), and delete the records of the "
        "names it loses that point at it.",
        json_schema_extra=_form(SECTION_DNS, "Point the names at the distribution"),
    )
    route53_overwrite: bool = _as_in_create_job("route53_overwrite")
    route53_zone_ids: list[str] | None = _as_in_create_job("route53_zone_ids")
    dns_aws_conn_id: str | None = _as_in_create_job("dns_aws_conn_id")
    poll_interval_seconds: int = _as_in_create_job("poll_interval_seconds")
    validation_timeout_hours: float = _as_in_create_job("validation_timeout_hours")
    cleanup_on_failure: bool = Field(
        False,
        description="When the job fails, remove the certificate it requested (as the ssl_cleanup_job DAG "
        "does), unless the distribution already uses it.",
        json_schema_extra=_form(SECTION_ADVANCED, "Clean up on failure"),
    )
    site: str | None = _site_field()

    @field_validator("site", mode="before")
    @classmethod
    def _site(cls, value: Any) -> Any:
        return _site_value(value)

    @model_validator(mode="after")
    def _site_tags(self) -> UpdateSiteConfig:
        _site_tag_budget(self.tags, self.site)
        return self

    @field_validator("distribution_id")
    @classmethod
    def _distribution_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _DISTRIBUTION_ID.match(value):
            raise ValueError(f"{quote_input(value)} is not a CloudFront distribution id (like E2ABCDEF123)")
        return value

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        return _tenant_id(value)

    @field_validator("certificate_arn")
    @classmethod
    def _arn(cls, value: str | None) -> str | None:
        return _certificate_arn(value)

    @model_validator(mode="after")
    def _one_site(self) -> UpdateSiteConfig:
        if (self.distribution_id is None) == (self.tenant_id is None):
            raise ValueError(
                ONE_SITE + ("; both were given" if self.distribution_id else "; neither was given")
            )
        return self

    @property
    def site_id(self) -> str:
        """The distribution or tenant the job changes."""
        return self.distribution_id or self.tenant_id or ""

    @field_validator("names")
    @classmethod
    def _some_name(cls, value: list[str] | str) -> list[str] | str:
        if is_blank_item(value if isinstance(value, str) else [v for v in value if v.strip()]):
            raise ValueError("give at least one name: the distribution must serve something")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: dict[str, str]) -> dict[str, str]:
        check_tags(tags, budget=MAX_TAGS - JOB_TAG_COUNT)
        return tags

    @field_validator("dns_aws_conn_id")
    @classmethod
    def _dns_connection(cls, value: str | None) -> str | None:
        return value.strip() if value is not None and value.strip() else None

    @field_validator("route53_zone_ids")
    @classmethod
    def _zone_ids(cls, values: list[str] | None) -> list[str] | None:
        return CreateJobConfig._zone_ids(values)  # one rule for both jobs

    def name_list(self) -> list[str]:
        """The names as one list of raw entries (the conf may give one string)."""
        return [self.names] if isinstance(self.names, str) else list(self.names)

    @classmethod
    def field_order(cls) -> list[str]:
        """The order of the trigger form's fields."""
        return [
            "distribution_id",
            "tenant_id",
            "names",
            "aggregate",
            "certificate_arn",
            "delete_replaced_certificate",
            "tags",
            "notification_topic_arn",
            "route53_validation",
            "route53_aliases",
            "route53_overwrite",
            "route53_zone_ids",
            "dns_aws_conn_id",
            "poll_interval_seconds",
            "validation_timeout_hours",
            "aws_conn_id",
            "cleanup_on_failure",
            "site",
        ]


class RotateImportedConfig(AwsOptions):
    """Conf of ``ssl_rotate_imported``: re-import every certificate whose bundle secret changed."""

    dry_run: bool = Field(
        False,
        description="Only say which certificates would be rotated, and which secrets fail the checks.",
        json_schema_extra=_form(SECTION_JOB, "Dry run"),
    )

    @classmethod
    def field_order(cls) -> list[str]:
        """The order of the trigger form's fields."""
        return ["dry_run", "notification_topic_arn", "aws_conn_id"]


SECTION_ALERTS = "Alerts"


class InventoryConfig(AwsOptions):
    """Conf of ``ssl_certificate_inventory``; the topic and connection as the jobs'."""

    expiry_warning_days: int = Field(
        30,
        ge=0,
        le=3650,
        description="Alert on certificates that expire within this many days (0 to 3650).",
        json_schema_extra=_form(SECTION_ALERTS, "Expiry warning (days)"),
    )
    stuck_validation_hours: float = Field(
        48,
        gt=0,
        le=8760,
        description="Alert on certificates still pending DNS validation after this many hours (up to a year).",
        json_schema_extra=_form(SECTION_ALERTS, "Stuck validation (hours)"),
    )

    @classmethod
    def field_order(cls) -> list[str]:
        """The order of the trigger form's fields."""
        return ["expiry_warning_days", "stuck_validation_hours", "notification_topic_arn", "aws_conn_id"]


def _simplify(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite pydantic's ``anyOf: [X, null]`` as ``type: [X, "null"]``, which the trigger form renders."""
    any_of = schema.get("anyOf")
    if any_of and len(any_of) == 2 and {"type": "null"} in any_of:
        other = next(option for option in any_of if option != {"type": "null"})
        if isinstance(other.get("type"), str):
            schema = {k: v for k, v in schema.items() if k != "anyOf"}
            schema.update(other)
            schema["type"] = [other["type"], "null"]
    return schema


def dag_params(model: type[BaseModel], order: list[str]) -> dict[str, Any]:
    """Build a DAG's ``params`` from a config model: one ``Param`` per field, in ``order``.

    The JSON schema, description, section and default come from the model, so the trigger form, the
    REST API's trigger-time validation and :func:`parse_config` agree.
    """
    from airflow.sdk import Param

    schema = model.model_json_schema()
    params: dict[str, Any] = {}
    for name in order:
        info = model.model_fields[name]
        field_schema = _simplify(dict(schema["properties"][name]))
        # The title and section come from the field's form extras; the description and default are
        # Param arguments of their own rather than schema keys.
        for key in ("title", "section", "description", "default"):
            field_schema.pop(key, None)
        types = field_schema.get("type") or []
        if {"number", "integer"} & ({types} if isinstance(types, str) else set(types)):
            field_schema["format"] = FINITE_NUMBER_FORMAT  # JSON Schema's comparisons let NaN pass
        if isinstance(field_schema.get("pattern"), str) and "format" not in field_schema:
            field_schema["format"] = pattern_format(field_schema["pattern"])  # refused in words
        extras = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        form = {
            "description": info.description,
            "title": extras.get("title", name),
            "section": extras.get("section"),
        }
        if info.is_required():
            params[name] = Param(**form, **field_schema)  # type: ignore[arg-type]  # JSON-schema keywords
        else:
            default = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
            params[name] = Param(default, **form, **field_schema)  # type: ignore[arg-type]
    return params


def describe_error(error: ValidationError) -> str:
    """One line per problem, each naming the field and the item, e.g. ``certificates[2]: ...``."""
    lines = []
    for problem in error.errors():
        where = ""
        for part in problem["loc"]:
            if isinstance(part, int):
                where += f"[{part}]"
            elif part in ("str", "list[str]") or str(part).startswith("function-"):
                continue
            else:
                where += ("." if where else "") + str(part)
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "is not a setting of this job (check the spelling)"
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(dict.fromkeys(lines))


def parse_config(model: type[ModelT], params: dict[str, Any]) -> ModelT:
    """Validate a run's params with ``model``; raise :class:`ConfigError` naming field and item."""
    try:
        return model.model_validate(dict(params))
    except ValidationError as error:
        raise ConfigError(describe_error(error)) from None
