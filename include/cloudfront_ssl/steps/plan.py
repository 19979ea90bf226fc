"""The create job's plan: what it would request and create, and every reason to refuse it.

One implementation for the job's *check* step and for the certificates page's plan endpoint (the dry
run a user sees while typing). It validates the conf with the config model and the names rules,
plans the certificates and distributions (with aggregation), and, when asked to read AWS, confirms
the connection, the SNS topic and the source distribution exist, and that no alias sits on another
distribution or is claimed by another running job. It changes nothing anywhere, except that the
check step publishes its own claim on its names (see :mod:`cloudfront_ssl.steps.claims`).

Every error is reported, not only the first: each names its field and, for a ``certificates`` item,
the item's index and its line (the index plus one, as the form's textarea counts lines).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from cloudfront_ssl.rules.config import MULTI_TENANT_NEEDED, CreateJobConfig, non_finite_problem
from cloudfront_ssl.rules.names import (
    InvalidNameError,
    duplicate_name_errors,
    is_blank_item,
    item_where,
    normalize_item,
    plan_certificates,
)
from cloudfront_ssl.rules.tags import CREATE_DAG_ID
from cloudfront_ssl.steps.claims import ClaimReader

log = logging.getLogger(__name__)

Error = dict[str, Any]
SOURCE_NEEDED = "source_distribution_id is required when create_distributions is true"


def error(field: str, message: str, item: int | None = None) -> Error:
    """One refusal: the field, the ``certificates`` item (and its line) when there is one, the message.

    A message about an item names it as ``certificates[2] (line 3):``, the line as people count them.
    """
    if item is not None:
        where = item_where(item, field)
        if message.startswith(f"{field}[{item}]:"):
            message = where + message[len(f"{field}[{item}]") :]
        elif not message.startswith(where):
            message = f"{where}: {message}"
    elif not message.startswith(field):
        message = f"{field}: {message}"
    return {"field": field, "item": item, "line": None if item is None else item + 1, "message": message}


def config_errors(problem: ValidationError) -> list[Error]:
    """The config model's refusals, one per problem, each with its field and item."""
    errors = []
    for detail in problem.errors():
        location = [part for part in detail["loc"] if not str(part).startswith(("function-", "list[", "str"))]
        field = str(location[0]) if location else ""
        item = location[1] if len(location) > 1 and isinstance(location[1], int) else None
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "is not a setting of this job (check the spelling)"
        elif detail["type"] == "finite_number":
            message = non_finite_problem(detail["input"]) or message
        path = field + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location[1:])
        entry = error(field or "conf", f"{path}: {message}" if path else message, item)
        if entry not in errors:
            errors.append(entry)
    return errors


def _name_errors(items: list[Any]) -> tuple[dict[int, list[str]], list[Error]]:
    """Normalise every non-blank item; the refusals of every item, and the duplicates across items."""
    normalized: dict[int, list[str]] = {}
    errors: list[Error] = []
    for index, item in enumerate(items):
        if is_blank_item(item):
            continue
        try:
            normalized[index] = normalize_item(item, f"certificates[{index}]")
        except InvalidNameError as refusal:
            errors.append(error("certificates", str(refusal), index))
    errors += [error("certificates", message, index) for index, message in duplicate_name_errors(normalized)]
    return normalized, errors


def plan_create_job(
    params: dict[str, Any],
    *,
    dag_id: str = CREATE_DAG_ID,
    run_id: str | None = None,
    read_aws: bool = True,
    claims: ClaimReader | None = None,
    require_connection: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The dry run of a create job: its plan and every error, changing nothing.

    :param params: the job's conf (or the run's params).
    :param dag_id: the job's DAG (a distribution of this job is not a conflict on a re-run).
    :param run_id: the job's run id, when there is a run.
    :param read_aws: also check what only AWS can tell (source distribution, aliases taken, topic).
    :param claims: where other running jobs' claims are read; None reads none.
    :param require_connection: raises when an Airflow connection id does not exist (the check step
        passes :func:`cloudfront_ssl.aws.connections.require_connection`); None skips that check.

    Returns ``{"valid", "errors", "certificates", "covered", "distributions", "tenants", "conflicts",
    "dns", "notes"}``: the certificates to request (``item``, ``line``, ``names``), the names a wildcard
    of the job covers (with ``aggregate``), the distributions (``item``, ``line``, ``aliases``,
    ``certificate_item``), with ``hosting: tenant`` the tenants instead (``item``, ``line``, ``names``,
    ``certificate_item``, null with a managed certificate), the conflicts with existing distributions and running jobs, and every
    error (``field``, ``item``, ``line``, ``message``).
    """
    result: dict[str, Any] = {
        "valid": False,
        "errors": [],
        "certificates": [],
        "covered": [],
        "distributions": [],
        "tenants": [],
        "conflicts": [],
        "dns": [],
        "notes": [],
    }
    errors: list[Error] = result["errors"]
    config: CreateJobConfig | None = None
    try:
        config = CreateJobConfig.model_validate(dict(params))
    except ValidationError as problem:
        errors += [
            entry
            for entry in config_errors(problem)
            if (entry["item"] is None or entry["field"] != "certificates")
            and SOURCE_NEEDED not in entry["message"]
            and MULTI_TENANT_NEEDED not in entry["message"]
        ]
    # The model says these only when every field is valid: say them beside the other refusals.
    tenant_mode = params.get("hosting") == "tenant"
    source = params.get("source_distribution_id")
    template = params.get("multi_tenant_distribution_id")
    if tenant_mode and not (isinstance(template, str) and template.strip()):
        if not any(entry["field"] == "multi_tenant_distribution_id" for entry in errors):
            errors.append(
                error("multi_tenant_distribution_id", f"{MULTI_TENANT_NEEDED} (the tenants' template)")
            )
    if (
        not tenant_mode
        and params.get("create_distributions", True) is not False
        and not (isinstance(source, str) and source.strip())
    ):
        if not any(entry["field"] == "source_distribution_id" for entry in errors):
            errors.append(
                error("source_distribution_id", f"{SOURCE_NEEDED} (the distribution whose config is copied)")
            )

    items = params.get("certificates")
    if not isinstance(items, list):
        if not any(entry["field"] == "certificates" for entry in errors):
            errors.append(error("certificates", "give a list: one certificate per line"))
        return result
    normalized, name_errors = _name_errors(items)
    errors += name_errors
    if not normalized and not any(entry["field"] == "certificates" for entry in errors):
        errors.append(error("certificates", "give at least one certificate (every line is blank)"))
    # The items that are valid so far: what AWS and the other jobs are asked about, so that one answer
    # holds every refusal (a typo on line 2 does not hide that line 4's name is taken elsewhere).
    refused_items = {entry["item"] for entry in name_errors}
    valid = {index: names for index, names in normalized.items() if index not in refused_items}
    checked = config if config is not None and not errors else _config_of_valid_items(params, valid, errors)
    if checked is None or not valid:
        return result

    tenants = checked.hosting == "tenant"
    plan = plan_certificates(
        [item if index in valid else "" for index, item in enumerate(items)],
        aggregate=checked.aggregate,
        # A tenant, like a distribution, takes one certificate that covers all its names.
        create_distributions=checked.create_distributions or tenants,
    )
    if tenants:
        from cloudfront_ssl.steps.tenant_job import domain_limit_errors

        errors += [error("certificates", message, item) for item, message in domain_limit_errors(valid)]
    if not errors and tenants:
        managed = checked.certificate_source == "managed"
        result["notes"] = [] if managed else list(plan.notes)
        result["certificates"] = (
            []
            if managed
            else [
                {"item": request.item, "line": request.item + 1, "names": list(request.names)}
                for request in plan.certificates
            ]
        )
        result["covered"] = (
            [] if managed else [{**entry, "line": entry["item"] + 1} for entry in plan.covered]
        )
        result["tenants"] = [
            {
                "item": group.item,
                "line": group.item + 1,
                "names": list(group.aliases),
                "certificate_item": None if managed else group.certificate_item,
            }
            for group in plan.groups
        ]
    elif not errors:
        result["notes"] = list(plan.notes)
        result["certificates"] = [
            {"item": request.item, "line": request.item + 1, "names": list(request.names)}
            for request in plan.certificates
        ]
        result["covered"] = [{**entry, "line": entry["item"] + 1} for entry in plan.covered]
        result["distributions"] = [
            {
                "item": group.item,
                "line": group.item + 1,
                "aliases": list(group.aliases),
                "certificate_item": group.certificate_item,
            }
            for group in plan.groups
        ]
    item_of_alias = {alias: group.item for group in plan.groups for alias in group.aliases}
    claimed_names = item_of_alias or {name: index for index, names in valid.items() for name in names}

    if claims is not None:
        for name, holder in sorted(claims.held(claimed_names).items()):
            index = claimed_names[name]
            message = f"{name} is claimed by {holder}, which is still running; wait until it ends"
            result["conflicts"].append(
                {"item": index, "line": index + 1, "name": name, "held_by": holder, "message": message}
            )
            errors.append(error("certificates", message, index))

    refused_fields = {entry["field"] for entry in errors}
    if read_aws and "aws_conn_id" not in refused_fields:
        _check_aws(checked, item_of_alias, dag_id, run_id, result, require_connection, refused_fields)
        own_targets: list[str] | None = None
        if tenants and "aws_conn_id" not in {entry["field"] for entry in errors}:
            from cloudfront_ssl.steps.tenant_job import check_tenants

            own_targets = check_tenants(checked, item_of_alias, dag_id, run_id, result, error, refused_fields)
        _check_route53(checked, valid, item_of_alias, dag_id, run_id, result, require_connection, own_targets)
    errors.sort(key=lambda entry: (entry["item"] is not None, entry["item"] or 0))
    result["valid"] = not errors
    return result


_ROUTE53_FIELDS = (
    "route53_validation",
    "route53_aliases",
    "route53_overwrite",
    "route53_zone_ids",
    "dns_aws_conn_id",
)


def _config_of_valid_items(
    params: dict[str, Any], valid: dict[int, list[str]], errors: list[Error]
) -> CreateJobConfig | None:
    """The conf as far as it is valid, to check the account for the valid items when others are refused.

    The refused items become blank lines (the others keep their index); a refused setting takes its
    default, except that a refused Route 53 setting turns the Route 53 checks off and a refused or
    missing ``create_distributions`` or ``source_distribution_id`` leaves the source unchecked. None
    when even that is not a valid conf.
    """
    refused = {entry["field"] for entry in errors}
    fields = {
        key: value
        for key, value in params.items()
        if key in CreateJobConfig.model_fields and key not in refused and key != "certificates"
    }
    items = params.get("certificates") or []
    fields["certificates"] = [item if index in valid else "" for index, item in enumerate(items)]
    if refused & set(_ROUTE53_FIELDS):
        for key in _ROUTE53_FIELDS:
            fields.pop(key, None)
    distributions = fields.get("create_distributions", "create_distributions" not in refused)
    hosting = fields.get("hosting", "distribution")
    try:
        # Without distributions (or tenants) the model needs neither the source nor the template;
        # they are put back below.
        config = CreateJobConfig.model_validate(
            {**fields, "create_distributions": False, "hosting": "distribution"}
        )
    except ValidationError:
        return None
    return config.model_copy(update={"create_distributions": distributions is True, "hosting": hosting})


def _check_route53(
    config: CreateJobConfig,
    normalized: dict[int, list[str]],
    item_of_alias: dict[str, int],
    dag_id: str,
    run_id: str | None,
    result: dict[str, Any],
    require_connection: Callable[..., None] | None,
    tenant_targets: list[str] | None = None,
) -> None:
    """With Route 53 keys: the zone of every name into ``result["dns"]``, DNS conflicts and refusals.

    ``tenant_targets`` (tenant hosting): the routing endpoint the names will point at, when it is
    known already; a record that points there is no conflict.
    """
    from cloudfront_ssl.steps import dns_job

    if not dns_job.uses_route53(config):
        return
    if not config.dns_aws_conn_id and any(entry["field"] == "aws_conn_id" for entry in result["errors"]):
        return  # Route 53 goes through aws_conn_id, already refused
    names = list(
        dict.fromkeys([name for names in normalized.values() for name in names] + list(item_of_alias))
    )
    if tenant_targets is not None:
        own_targets = list(tenant_targets)
    else:
        own_targets = (
            dns_job.own_distribution_domains(config, list(item_of_alias), dag_id, run_id)
            if run_id and config.route53_aliases and item_of_alias
            else []
        )
    dns_job.check_dns(
        config,
        result,
        names=names,
        item_of_alias=item_of_alias,
        own_targets=own_targets,
        error=error,
        require_connection=require_connection,
    )
    result["errors"].sort(key=lambda entry: (entry["item"] is not None, entry["item"] or 0))


def _check_aws(
    config: CreateJobConfig,
    item_of_alias: dict[str, int],
    dag_id: str,
    run_id: str | None,
    result: dict[str, Any],
    require_connection: Callable[[str], None] | None,
    refused_fields: set[str] = frozenset(),  # type: ignore[assignment]
) -> None:
    """The checks only AWS can answer; their refusals go into ``result["errors"]``.

    A setting in ``refused_fields`` is already refused: it is not checked again in AWS.
    """
    from cloudfront_ssl.aws import cloudfront, notify
    from cloudfront_ssl.errors import FinalError

    errors: list[Error] = result["errors"]
    if require_connection is not None:
        try:
            require_connection(config.aws_conn_id)
        except FinalError as refusal:
            errors.append(error("aws_conn_id", str(refusal)))
            return
    try:
        problem = notify.topic_problem(
            config.aws_conn_id, notify.resolve_topic(config.notification_topic_arn)
        )
    except Exception as failure:  # the Variable store or SNS unreachable: say so, do not guess
        problem = f"could not be checked: {type(failure).__name__}: {failure}"
    if problem and "notification_topic_arn" not in refused_fields:
        errors.append(error("notification_topic_arn", problem))

    if not config.create_distributions or config.hosting == "tenant":
        return
    client = cloudfront.cloudfront_hook(config.aws_conn_id).conn
    if config.source_distribution_id and "source_distribution_id" not in refused_fields:
        try:
            cloudfront.get_source_config(client, config.source_distribution_id)
        except cloudfront.DistributionError as refusal:
            errors.append(
                error("source_distribution_id", str(refusal).removeprefix("source_distribution_id: "))
            )
    for alias, holder in cloudfront.name_holders(client, set(item_of_alias), dag_id, run_id):
        item = item_of_alias[alias]
        message = cloudfront.name_taken_message(alias, holder)
        result["conflicts"].append(
            {"item": item, "line": item + 1, "name": alias, "held_by": holder, "message": message}
        )
        errors.append(error("certificates", message, item))
