"""Amazon Route 53 through the package's paced client: the hosted zones, and sending a zone's changes.

Zones are listed once per step, all pages; which zone holds a name is decided without AWS by
:mod:`cloudfront_ssl.rules.hosted_zones`, records are read by :mod:`cloudfront_ssl.aws.route53_records`,
and what a job writes and removes is planned in :mod:`cloudfront_ssl.aws.route53_changes`.

Clients come from :class:`~cloudfront_ssl.aws.pacing.Route53Hook` (the provider's ``AwsBaseHook`` for
Route 53), paced to ``[ssl_certificates] route53_calls_per_second`` (Route 53 takes 5 requests a
second per account); throttling and ``PriorRequestNotComplete`` are retried by botocore.
"""

from __future__ import annotations

import logging
from typing import Any

from cloudfront_ssl.errors import (
    aws_error_code,
    aws_error_message,
    is_access_refused,
    is_not_found,
    is_request_refused,
)
from cloudfront_ssl.rules.dns_records import Route53AccessError, Route53Error, change_batches, check_changes
from cloudfront_ssl.rules.hosted_zones import HostedZone, zone_id

log = logging.getLogger(__name__)

"""The codes of a connection that may not read or change Route 53."""


def route53_client(aws_conn_id: str | None) -> Any:
    """A Route 53 client on the given Airflow connection, paced to Route 53's rate."""
    from cloudfront_ssl.aws.pacing import Route53Hook

    return Route53Hook(aws_conn_id=aws_conn_id).conn


def list_hosted_zones(client: Any) -> list[HostedZone]:
    """Every hosted zone the connection sees, public and private, following pagination."""
    return [
        HostedZone.from_api(zone)
        for page in client.get_paginator("list_hosted_zones").paginate()
        for zone in page.get("HostedZones", [])
    ]


def read_zones(client: Any, field: str = "dns_aws_conn_id") -> list[HostedZone]:
    """List the zones once for a step; a connection that may not do so is a :class:`Route53AccessError`.

    ``field`` names the conf key to blame in the message.
    """
    from botocore.exceptions import ClientError, NoCredentialsError

    try:
        return list_hosted_zones(client)
    except ClientError as error:
        if is_access_refused(error):
            raise Route53AccessError(
                f"{field}: this connection may not list Route 53 hosted zones "
                f"({aws_error_code(error)}); it needs route53:ListHostedZones (see the IAM policy in iam/)"
            ) from None
        raise
    except NoCredentialsError:
        raise Route53AccessError(f"{field}: this connection has no AWS credentials for Route 53") from None


def check_zone_ids(client: Any, ids: list[str], field: str = "route53_zone_ids") -> list[str]:
    """Errors for listed hosted zone ids that do not exist, or are private; one per bad id."""
    from botocore.exceptions import ClientError

    errors = []
    for index, value in enumerate(ids):
        try:
            zone = HostedZone.from_api(client.get_hosted_zone(Id=zone_id(value))["HostedZone"])
        except ClientError as error:
            if is_not_found(error) or is_request_refused(error):
                errors.append(f"{field}[{index}]: hosted zone {value} does not exist")
                continue
            if is_access_refused(error):
                errors.append(f"{field}[{index}]: this connection may not read hosted zone {value}")
                continue
            raise
        if zone.private:
            errors.append(
                f"{field}[{index}]: hosted zone {value} ({zone.name}) is private; "
                "the job writes to public zones only"
            )
    return errors


def submit_changes(client: Any, zone: HostedZone, changes: list[dict[str, Any]], comment: str) -> list[str]:
    """Check and send a zone's changes; return the change ids (one per batch) to wait for."""
    from botocore.exceptions import ClientError

    check_changes(zone, changes)
    change_ids = []
    for batch in change_batches(changes):
        try:
            response = client.change_resource_record_sets(
                HostedZoneId=zone.id, ChangeBatch={"Comment": comment[:256], "Changes": batch}
            )
        except ClientError as error:
            code = aws_error_code(error)
            message = aws_error_message(error)
            if is_access_refused(error):
                raise Route53AccessError(
                    f"the connection may not change hosted zone {zone.id} ({zone.name}): {code}"
                ) from None
            if is_request_refused(error) or is_not_found(error):
                raise Route53Error(
                    f"Route 53 refused the change to hosted zone {zone.id}: {message}"
                ) from None
            raise
        change_id = response["ChangeInfo"]["Id"].rsplit("/", 1)[-1]
        log.info(
            "Sent %d change(s) to hosted zone %s (%s): change %s", len(batch), zone.id, zone.name, change_id
        )
        change_ids.append(change_id)
    return change_ids


def change_status(client: Any, change_id: str) -> str:
    """A change's status: ``PENDING`` or ``INSYNC``."""
    return client.get_change(Id=change_id)["ChangeInfo"]["Status"]
