"""CloudFront SaaS Manager: multi-tenant distributions, their tenants, connection groups, managed certificates.

A *distribution tenant* serves a customer's names on one multi-tenant distribution (the template,
``ConnectionMode: tenant-only``); its certificate is an ACM certificate of the account
(``Customizations.Certificate``) or one CloudFront requests and renews itself (a *managed*
certificate, HTTP-validated once the names point at the connection group's routing endpoint).

Tenants are found through CloudFront's own tenant listing (``ListDistributionTenants``), never only
through the Resource Groups Tagging API, which is eventually consistent. Every call goes through the
paced CloudFront hook (:func:`cloudfront_ssl.aws.cloudfront.cloudfront_hook`), so through the
connection's CloudFront endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cloudfront_ssl.errors import (
    FinalError,
    aws_error_code,
    aws_error_message,
    is_access_refused,
    is_not_found,
    is_operation_not_served,
    is_refused_by_cloudfront,
    is_stale_version,
)
from cloudfront_ssl.rules.tags import is_job_resource, job_tags, tag_dict

CONFIG_SECTION = "ssl_certificates"
TENANT_MODE = "tenant-only"
"""A multi-tenant distribution's ``ConnectionMode``."""
MANAGED_ISSUED = "issued"
MANAGED_FAILED = frozenset({"failed", "validation-timed-out", "revoked", "expired", "inactive"})
"""Managed-certificate statuses from which it is never issued."""
DNS_VALID = "valid-configuration"
_TENANT_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9.-]{1,126}[a-zA-Z0-9]$")


class TenantError(FinalError):
    """A tenant cannot be made as asked (a regular distribution, a name taken, a quota); retrying will not help."""


@dataclass(frozen=True)
class TenantQuotas:
    """The SaaS Manager quotas a job is checked against, from ``[ssl_certificates]`` (AWS's defaults).

    :param tenants_per_account: distribution tenants per account (``tenants_per_account``).
    :param domains_per_tenant: domains per tenant (``domains_per_tenant``).
    :param tenants_per_connection_group: tenants on one connection group (``tenants_per_connection_group``).
    """

    tenants_per_account: int = 10_000
    domains_per_tenant: int = 5
    tenants_per_connection_group: int = 10_000

    @classmethod
    def configured(cls) -> TenantQuotas:
        """The quotas of ``[ssl_certificates]``, each defaulting to AWS's published default."""
        from airflow.configuration import conf

        defaults = cls()
        return cls(
            tenants_per_account=conf.getint(
                CONFIG_SECTION, "tenants_per_account", fallback=defaults.tenants_per_account
            ),
            domains_per_tenant=conf.getint(
                CONFIG_SECTION, "domains_per_tenant", fallback=defaults.domains_per_tenant
            ),
            tenants_per_connection_group=conf.getint(
                CONFIG_SECTION,
                "tenants_per_connection_group",
                fallback=defaults.tenants_per_connection_group,
            ),
        )


def tenant_name(names: list[str]) -> str:
    """A tenant's name, from its item's first name without a wildcard's ``*.``.

    CloudFront's rule: 3..128 letters, digits, dots and hyphens, starting and ending with a letter or
    digit; a normalised domain name fits it.
    """
    name = names[0].removeprefix("*.")
    if not _TENANT_NAME.match(name):
        raise TenantError(f"{name} cannot name a tenant (3..128 letters, digits, dots and hyphens)")
    return name


# --- reading -------------------------------------------------------------------------------------


def list_tenants(client: Any, distribution_id: str | None = None) -> Iterator[dict[str, Any]]:
    """Every tenant summary of the account (or of one multi-tenant distribution), page by page."""
    kwargs: dict[str, Any] = {}
    if distribution_id:
        kwargs["AssociationFilter"] = {"DistributionId": distribution_id}
    for page in client.get_paginator("list_distribution_tenants").paginate(**kwargs):
        yield from page.get("DistributionTenantList") or []


def tenants_if_served(client: Any) -> list[dict[str, Any]]:
    """Every tenant of the account; none where the CloudFront endpoint knows no SaaS Manager at all.

    AWS always answers ``ListDistributionTenants``; an endpoint without it (an emulator such as moto,
    a partition without SaaS Manager) answers a bare HTTP 404, which means the account has no tenant.
    """
    from botocore.exceptions import ClientError

    try:
        return list(list_tenants(client))
    except ClientError as error:
        if is_operation_not_served(error):
            return []
        raise


def tenant_domains(tenant: dict[str, Any]) -> list[str]:
    """A tenant's domains, lower-cased."""
    return [entry["Domain"].lower() for entry in tenant.get("Domains") or []]


def tenant_certificate(tenant: dict[str, Any]) -> str | None:
    """The ACM certificate a tenant serves through its customizations, if any."""
    return ((tenant.get("Customizations") or {}).get("Certificate") or {}).get("Arn")


def tenant_tags(client: Any, arn: str) -> dict[str, str]:
    """A tenant's tags."""
    return tag_dict(client.list_tags_for_resource(Resource=arn).get("Tags", {}).get("Items"))


def multi_tenant_template(client: Any, distribution_id: str) -> dict[str, Any]:
    """The config of a multi-tenant distribution; :class:`TenantError` when it is missing or regular."""
    from botocore.exceptions import ClientError

    try:
        config = client.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    except ClientError as error:
        if is_not_found(error) or is_access_refused(error):
            raise TenantError(
                f"distribution {distribution_id} does not exist (or this connection may not read it)"
            ) from None
        raise
    if config.get("ConnectionMode") != TENANT_MODE:
        raise TenantError(
            f"distribution {distribution_id} is a regular distribution, not a multi-tenant one "
            f"(ConnectionMode {config.get('ConnectionMode') or 'direct'}); tenants need a multi-tenant "
            "distribution as their template"
        )
    return config


def template_parameters(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The parameters a multi-tenant distribution declares: name -> ``{"required", "default"}``."""
    declared = {}
    for definition in (config.get("TenantConfig") or {}).get("ParameterDefinitions") or []:
        schema = (definition.get("Definition") or {}).get("StringSchema") or {}
        declared[definition["Name"]] = {
            "required": bool(schema.get("Required")),
            "default": schema.get("DefaultValue"),
        }
    return declared


def parameter_problems(declared: dict[str, dict[str, Any]], given: dict[str, str]) -> list[str]:
    """Why ``given`` does not fit the template: undeclared parameters, required ones left out."""
    problems = [
        f"{name} is not a parameter of the multi-tenant distribution"
        + (f" (it declares {', '.join(sorted(declared))})" if declared else " (it declares none)")
        for name in given
        if name not in declared
    ]
    problems += [
        f"{name} is required by the multi-tenant distribution and has no default: give its value"
        for name, definition in declared.items()
        if definition["required"] and not definition["default"] and name not in given
    ]
    return problems


def connection_group(client: Any, identifier: str | None) -> dict[str, Any] | None:
    """A connection group by id (or the account's default one when ``identifier`` is None), or None."""
    from botocore.exceptions import ClientError

    if identifier:
        try:
            return dict(client.get_connection_group(Identifier=identifier)["ConnectionGroup"])
        except ClientError as error:
            if is_not_found(error) or is_access_refused(error):
                return None
            raise
    for page in client.get_paginator("list_connection_groups").paginate():
        for group in page.get("ConnectionGroups") or []:
            if group.get("IsDefault"):
                return dict(group)
    return None


def domain_holders(client: Any, names: set[str], dag_id: str, run_id: str | None) -> list[tuple[str, str]]:
    """``(name, "tenant ID")`` for every name that is a domain of a tenant this job did not create."""
    held = []
    for tenant in list_tenants(client):
        taken = names.intersection(tenant_domains(tenant))
        if not taken:
            continue
        if run_id and is_job_resource(tenant_tags(client, tenant["Arn"]), dag_id, run_id):
            continue
        held += [(name, f"tenant {tenant['Id']} ({tenant['Name']})") for name in taken]
    return sorted(held)


def read_tenant(client: Any, tenant_id: str, field: str = "tenant_id") -> dict[str, Any]:
    """GetDistributionTenant's tenant with its ``ETag``; :class:`TenantError` naming ``field`` when it
    does not exist (or the connection may not read it)."""
    from botocore.exceptions import ClientError

    try:
        response = client.get_distribution_tenant(Identifier=tenant_id)
    except ClientError as error:
        if is_not_found(error) or is_access_refused(error) or is_operation_not_served(error):
            raise TenantError(
                f"{field}: tenant {tenant_id} does not exist (or this connection may not read it)"
            ) from None
        raise
    return {**response["DistributionTenant"], "ETag": response["ETag"]}


def routing_endpoint(client: Any, tenant: dict[str, Any]) -> str:
    """The routing endpoint of a tenant's connection group (what its names point at), or ``""``."""
    group = connection_group(client, tenant.get("ConnectionGroupId") or None)
    return str((group or {}).get("RoutingEndpoint") or "")


def managed_certificate(client: Any, tenant_id: str) -> dict[str, Any]:
    """A tenant's managed certificate: ``{"arn", "status", "domains"}`` (all empty when it has none).

    ``domains`` are the names of ``ValidationTokenDetails``: the names CloudFront validates (and so the
    certificate covers) once issued.
    """
    details = client.get_managed_certificate_details(Identifier=tenant_id).get("ManagedCertificateDetails") or {}
    return managed_details(details)


def managed_details(details: dict[str, Any]) -> dict[str, Any]:
    """``ManagedCertificateDetails`` as ``{"arn", "status", "domains"}``."""
    return {
        "arn": details.get("CertificateArn"),
        "status": details.get("CertificateStatus") or "",
        "domains": [
            str(entry["Domain"]).lower()
            for entry in details.get("ValidationTokenDetails") or []
            if entry.get("Domain")
        ],
    }


def is_deployed(tenant: dict[str, Any]) -> bool:
    """Whether CloudFront has deployed a tenant's last change (a tenant without a status counts as deployed)."""
    return tenant.get("Status", "Deployed") == "Deployed"


UPDATE_ATTEMPTS = 5
"""How often a tenant's change is read again and sent again when someone else changed it in between."""


def set_tenant_domains(
    client: Any,
    tenant_id: str,
    *,
    domains: list[str],
    certificate_arn: str | None = None,
    managed_primary: str | None = None,
) -> dict[str, Any]:
    """Give a live tenant its domains (and, with ``certificate_arn``, its ACM certificate) in one
    ``UpdateDistributionTenant``, on the tenant just read (its ``ETag`` as ``IfMatch``).

    Every other setting of the tenant (parameters, web ACL, geo restrictions, connection group,
    enabled), including one changed by someone a moment ago, is sent back as read. A
    ``PreconditionFailed`` (someone changed the tenant between the read and the write) reads it again
    and sends the change again. With ``managed_primary`` CloudFront is asked for a managed certificate
    covering ``domains`` (HTTP validation, primary name ``managed_primary``). Idempotent: a tenant that
    already has these domains (and certificate) is not changed.

    Returns the tenant as read back, with ``ETag`` and ``changed``.
    """
    from botocore.exceptions import ClientError

    wanted = [name.lower() for name in domains]
    for attempt in range(1, UPDATE_ATTEMPTS + 1):
        tenant = read_tenant(client, tenant_id)
        same_domains = tenant_domains(tenant) == wanted
        same_certificate = certificate_arn is None or tenant_certificate(tenant) == certificate_arn
        if same_domains and same_certificate:
            return {**tenant, "changed": False}
        request: dict[str, Any] = {
            "Id": tenant_id,
            "IfMatch": tenant["ETag"],
            "DistributionId": tenant["DistributionId"],
            "Domains": [{"Domain": name} for name in wanted],
            "Enabled": tenant.get("Enabled", True),
        }
        if tenant.get("ConnectionGroupId"):
            request["ConnectionGroupId"] = tenant["ConnectionGroupId"]
        if tenant.get("Parameters"):
            request["Parameters"] = tenant["Parameters"]
        customizations = dict(tenant.get("Customizations") or {})
        if certificate_arn is not None:
            customizations["Certificate"] = {"Arn": certificate_arn}
        if customizations:
            request["Customizations"] = customizations
        if managed_primary is not None:
            request["ManagedCertificateRequest"] = {
                "ValidationTokenHost": "cloudfront",
                "PrimaryDomainName": managed_primary,
            }
        try:
            response = client.update_distribution_tenant(**request)
        except ClientError as error:
            if is_stale_version(error) and attempt < UPDATE_ATTEMPTS:
                continue  # changed since it was read: read it again, keep that change
            if is_refused_by_cloudfront(error) or is_stale_version(error) or is_not_found(error):
                raise TenantError(
                    f"tenant {tenant_id}: CloudFront refused the change: {aws_error_code(error)}: "
                    f"{aws_error_message(error)}"
                ) from None
            raise
        return {**response["DistributionTenant"], "ETag": response["ETag"], "changed": True}
    raise AssertionError("unreachable")


# --- creating ------------------------------------------------------------------------------------


def find_job_tenant(client: Any, name: str, dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The tenant named ``name`` that this job created on an earlier try, or None.

    A tenant of that name that another job (or a person) made is refused: names are unique.
    """
    for tenant in list_tenants(client):
        if tenant["Name"] != name:
            continue
        if is_job_resource(tenant_tags(client, tenant["Arn"]), dag_id, run_id):
            return dict(tenant)
        raise TenantError(
            f"a tenant named {name} exists already ({tenant['Id']}) and this job did not make it"
        )
    return None


def create_tenant(
    client: Any,
    *,
    distribution_id: str,
    names: list[str],
    certificate_arn: str | None,
    connection_group_id: str | None,
    parameters: dict[str, str],
    tags: list[dict[str, str]],
) -> dict[str, Any]:
    """Create one tenant; with ``certificate_arn`` None, CloudFront requests a managed certificate."""
    from botocore.exceptions import ClientError

    request: dict[str, Any] = {
        "DistributionId": distribution_id,
        "Name": tenant_name(names),
        "Domains": [{"Domain": name} for name in names],
        "Tags": {"Items": tags},
        "Enabled": True,
    }
    if parameters:
        request["Parameters"] = [{"Name": key, "Value": value} for key, value in parameters.items()]
    if connection_group_id:
        request["ConnectionGroupId"] = connection_group_id
    if certificate_arn:
        request["Customizations"] = {"Certificate": {"Arn": certificate_arn}}
    else:
        # CloudFront serves the HTTP validation token itself once the names point at it.
        request["ManagedCertificateRequest"] = {
            "ValidationTokenHost": "cloudfront",
            "PrimaryDomainName": names[0],
        }
    try:
        return dict(client.create_distribution_tenant(**request)["DistributionTenant"])
    except ClientError as error:
        code = aws_error_code(error)
        if is_refused_by_cloudfront(error):
            raise TenantError(
                f"CloudFront refused tenant {request['Name']}: {code}: {aws_error_message(error)}"
            ) from None
        raise


def create_tenant_for_job(
    aws_conn_id: str,
    group: dict[str, Any],
    *,
    distribution_id: str,
    connection_group_id: str | None,
    parameters: dict[str, str],
    dag_id: str,
    run_id: str,
    user_tags: dict[str, str],
    first_try: bool,
    client: Any = None,
    endpoints: dict[str, str] | None = None,
    site: str | None = None,
) -> dict[str, Any]:
    """Create the tenant of one item (or find the one an earlier try made); return the summary entry.

    :param group: ``{"item", "names", "certificate_arn"}``; ``certificate_arn`` None asks for a
        managed certificate.
    :param client: a CloudFront client to reuse across the job's tenants (made from the connection
        when None); ``endpoints`` caches routing endpoints by connection group across them too.
    :param site: the fleet site the tenant belongs to (tag ``cloudfront-ssl:site``), or None.
    """
    from cloudfront_ssl.aws.cloudfront import cloudfront_hook

    client = client or cloudfront_hook(aws_conn_id).conn
    name = tenant_name(group["names"])
    tenant = None if first_try else find_job_tenant(client, name, dag_id, run_id)
    if tenant is None:
        tenant = create_tenant(
            client,
            distribution_id=distribution_id,
            names=group["names"],
            certificate_arn=group.get("certificate_arn"),
            connection_group_id=connection_group_id,
            parameters=parameters,
            tags=job_tags(dag_id, run_id, user_tags, site, group["names"], group.get("certificate_arn")),
        )
    return tenant_result(client, tenant, managed=not group.get("certificate_arn"), endpoints=endpoints)


def tenant_result(
    client: Any, tenant: dict[str, Any], *, managed: bool, endpoints: dict[str, str] | None = None
) -> dict[str, Any]:
    """A tenant as the job's summary lists it: ``id``, ``arn``, ``name``, ``domains``,
    ``routing_endpoint``, ``certificate_arn``, ``managed``, ``connection_group_id``.

    ``endpoints`` caches routing endpoints by connection group id across calls.
    """
    endpoints = endpoints if endpoints is not None else {}
    group_id = tenant.get("ConnectionGroupId") or ""
    if group_id and group_id not in endpoints:
        group = connection_group(client, group_id)
        endpoints[group_id] = (group or {}).get("RoutingEndpoint") or ""
    return {
        "id": tenant["Id"],
        "arn": tenant["Arn"],
        "name": tenant["Name"],
        "domains": tenant_domains(tenant),
        "routing_endpoint": endpoints.get(group_id, ""),
        "certificate_arn": tenant_certificate(tenant),
        "managed": managed,
        "connection_group_id": group_id,
    }


def job_tenants(client: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    """Every tenant of one job, found through the tenant listing and each tenant's tags."""
    return [
        dict(tenant)
        for tenant in tenants_if_served(client)
        if is_job_resource(tenant_tags(client, tenant["Arn"]), dag_id, run_id)
    ]


def certificate_tenants(client: Any) -> dict[str, list[str]]:
    """``{certificate ARN: [tenant ids]}`` for every tenant that serves an ACM certificate of the account."""
    users: dict[str, list[str]] = {}
    for tenant in tenants_if_served(client):
        arn = tenant_certificate(tenant)
        if arn:
            users.setdefault(arn, []).append(tenant["Id"])
    return users


def is_multi_tenant(summary: dict[str, Any]) -> bool:
    """Whether a distribution summary or config is a multi-tenant distribution (a tenants' template)."""
    return summary.get("ConnectionMode") == TENANT_MODE


def account_tenants(client: Any, summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tenant of the account, in one paginated sweep of the tenant listing; none, without a call,
    when ``summaries`` (the account's distributions) hold no multi-tenant distribution: a tenant
    always belongs to one."""
    if not any(is_multi_tenant(summary) for summary in summaries):
        return []
    return tenants_if_served(client)


def tenant_entry(tenant: dict[str, Any]) -> dict[str, Any]:
    """A tenant as the certificates page, the API and the inventory name it: ``id``, ``name``,
    ``distribution_id`` (its multi-tenant distribution), ``domains``, ``certificate_arn`` (the ACM
    certificate of its customizations, if any) and ``enabled``."""
    return {
        "id": tenant["Id"],
        "name": tenant.get("Name") or "",
        "distribution_id": tenant.get("DistributionId") or "",
        "domains": tenant_domains(tenant),
        "certificate_arn": tenant_certificate(tenant),
        "enabled": bool(tenant.get("Enabled", True)),
    }


def tenants_by_certificate(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``{certificate ARN: [tenant entries]}`` from :func:`tenant_entry` entries, each list by name."""
    users: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry.get("certificate_arn"):
            users.setdefault(entry["certificate_arn"], []).append(entry)
    for found in users.values():
        found.sort(key=lambda entry: (entry["name"], entry["id"]))
    return users


def find_managed_certificate(client: Any, tenant_id: str) -> dict[str, Any] | None:
    """The certificate CloudFront manages for a tenant, as the inventory reports it:
    ``{"status", "certificate_arn"}``, or None when the tenant (or its managed certificate) is gone."""
    from botocore.exceptions import ClientError

    try:
        found = managed_certificate(client, tenant_id)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise
    if not (found["arn"] or found["status"]):
        return None
    return {"status": found["status"] or None, "certificate_arn": found["arn"]}


# --- removing ------------------------------------------------------------------------------------


def disable_tenant(client: Any, tenant_id: str) -> bool:
    """Disable a tenant (CloudFront deletes only disabled tenants), keeping every other setting as
    read; False when it already was disabled. A ``PreconditionFailed`` reads it again."""
    from botocore.exceptions import ClientError

    for attempt in range(1, UPDATE_ATTEMPTS + 1):
        tenant = read_tenant(client, tenant_id)
        if not tenant.get("Enabled", True):
            return False
        request: dict[str, Any] = {
            "Id": tenant_id,
            "IfMatch": tenant["ETag"],
            "DistributionId": tenant["DistributionId"],
            "Domains": [{"Domain": entry["Domain"]} for entry in tenant.get("Domains") or []],
            "Enabled": False,
        }
        for key in ("ConnectionGroupId", "Parameters", "Customizations"):
            if tenant.get(key):
                request[key] = tenant[key]
        try:
            client.update_distribution_tenant(**request)
        except ClientError as error:
            if is_stale_version(error) and attempt < UPDATE_ATTEMPTS:
                continue
            raise
        return True
    raise AssertionError("unreachable")


def delete_disabled_tenant(client: Any, tenant_id: str) -> str:
    """Delete a tenant whose disabling CloudFront has deployed: ``"deleted"``, ``"gone"`` (deleted
    already), or ``"deploying"`` (not yet deployed: run the clean-up again later)."""
    from botocore.exceptions import ClientError

    try:
        response = client.get_distribution_tenant(Identifier=tenant_id)
        if not is_deployed(response["DistributionTenant"]):
            return "deploying"
        client.delete_distribution_tenant(Id=tenant_id, IfMatch=response["ETag"])
    except ClientError as error:
        if is_not_found(error):
            return "gone"
        raise
    return "deleted"
