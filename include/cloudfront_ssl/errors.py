"""Errors shared by the jobs, and the one place that reads AWS's error answers.

The errors the jobs raise::

    AirflowFailException (Airflow: fail the task, no retry)
    └── FinalError               a failure that retrying will not mend
        ├── JobInputError        the input is refused before anything is created
        └── AwsRefusedError      AWS refused a call for good (access denied, an unknown key, a malformed
                                 request): names the AWS action and what the policy must allow

What an AWS error means, decided here and nowhere else (modules elsewhere ask these functions and
never compare error codes themselves):

- :func:`is_final` -- trying again cannot mend it: the call is refused (permissions, credentials
  that AWS does not know, a malformed request, a quota). Fail the step at once.
- :func:`is_worth_sending_again` -- the same request may succeed if sent again *now* (after a
  short backoff): throttling, a 5xx, a dropped connection. One layer sends again: botocore's
  retries, or the caller's own loop on a client without them, never both.
- :func:`is_worth_checking_again` -- a wait that polls may meet it and check again *at its next
  poll*: everything that is not final (the above, credentials being refreshed, a timeout, any
  network trouble). Such an error never fails the wait on its own.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException


class FinalError(AirflowFailException):
    """A failure that retrying will not mend; the task fails without further tries."""


class JobInputError(FinalError, ValueError):
    """The job's input is refused before anything is created in AWS; the message names field and item."""


class AwsRefusedError(FinalError):
    """AWS refused a call in a way that trying again cannot mend; the message names the action."""


FINAL_CODES = frozenset(
    {
        # permissions: the connection's IAM policy does not allow the action
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthorizationError",
        "NotAuthorized",
        # credentials AWS does not know or cannot verify
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "AuthFailure",
        "OptInRequired",
        # a malformed request
        "ValidationException",
        "ValidationError",
        "InvalidParameterException",
        "InvalidParameterValue",
        "InvalidParameterCombination",
        "InvalidArgsException",
        "InvalidArgument",
        "InvalidInput",
        "MalformedQueryString",
        "InvalidAction",
        "SerializationException",
        # a quota: botocore retries it as throttling, but it does not go away
        "LimitExceededException",
    }
)
"""AWS error codes that say "this request will not succeed": sending it again cannot mend them."""

PERMISSION_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "NotAuthorized"}
)
"""The final codes that mean the policy lacks the action."""

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
"""AWS error codes that say "too fast: send it again a little later"."""

SERVER_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
"""AWS error codes of AWS's own passing trouble."""


def aws_error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``ThrottlingException``...), or ``""``."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def aws_error_message(error: BaseException) -> str:
    """AWS's own message of a ``ClientError``, or the exception's text for anything else."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Message"):
        return str(response["Error"]["Message"])
    return str(error)


def _http_status(error: BaseException) -> int:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_final(error: BaseException) -> bool:
    """Whether trying the call again cannot mend ``error`` (permissions, unknown credentials, a malformed
    request, a quota): the step fails at once."""
    return aws_error_code(error) in FINAL_CODES


def is_permission_denied(error: BaseException) -> bool:
    """Whether ``error`` says the connection's IAM policy does not allow the action."""
    return aws_error_code(error) in PERMISSION_CODES


def is_worth_sending_again(error: BaseException) -> bool:
    """Whether the same request may succeed if sent again now, after a short backoff: throttling, a 5xx,
    a dropped or timed-out connection. Sending again is safe only where the request is idempotent."""
    from botocore.exceptions import ConnectionError as BotocoreConnectionError
    from botocore.exceptions import HTTPClientError

    if isinstance(error, BotocoreConnectionError | HTTPClientError):
        # EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectTimeoutError...
        return True
    code = aws_error_code(error)
    if not code:
        return False
    return (
        code in THROTTLING_CODES
        or code in SERVER_CODES
        or (_http_status(error) >= 500 and code not in FINAL_CODES)
    )


def is_worth_checking_again(error: BaseException) -> bool:
    """Whether a polling wait that met ``error`` checks again at its next poll instead of failing:
    any AWS answer or network, credential or timeout trouble that is not :func:`is_final`."""
    import asyncio

    from botocore.exceptions import BotoCoreError, ClientError

    if is_final(error):
        return False
    kinds: list[type[BaseException]] = [BotoCoreError, ClientError, OSError, asyncio.TimeoutError]
    try:
        import aiohttp

        kinds.append(aiohttp.ClientError)
    except ImportError:  # pragma: no cover - aiobotocore brings aiohttp
        pass
    return isinstance(error, tuple(kinds))


NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",  # ACM, Secrets Manager
        "NoSuchDistribution",  # CloudFront
        "NoSuchHostedZone",  # Route 53
        "NotFound",  # SNS
        "NotFoundException",
        "EntityNotFound",  # CloudFront distribution tenants, connection groups
        "NoSuchResource",
        "NoSuchKey",  # S3
        "NoSuchBucket",  # S3
    }
)
"""AWS error codes that say the resource named in the request does not exist."""

CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
"""AWS error codes that say AWS does not accept the connection's credentials."""

REFUSED_REQUEST_CODES = frozenset(
    {
        "InvalidParameter",
        "InvalidParameterException",
        "InvalidParameterValue",
        "InvalidInput",
        "InvalidArgument",
        "ValidationException",
        "InvalidChangeBatch",
        "InvalidDomainValidationOptionsException",
        "InvalidTagException",
        "TooManyTagsException",
        "TagPolicyException",
        "InvalidViewerCertificate",
        "InvalidRequestException",
    }
)
"""AWS error codes that say the request itself is refused (a value, a tag, a change batch AWS will not take)."""


def is_not_found(error: BaseException) -> bool:
    """Whether AWS answered that the resource named in the request does not exist."""
    return aws_error_code(error) in NOT_FOUND_CODES


def is_access_refused(error: BaseException) -> bool:
    """Whether the connection may not make the call: its policy lacks the action, or AWS does not
    accept its credentials."""
    code = aws_error_code(error)
    return code in PERMISSION_CODES or code in CREDENTIAL_CODES or code == "AuthorizationErrorException"


def is_quota_reached(error: BaseException) -> bool:
    """Whether AWS refused the call because an account quota is used up (botocore retries it as
    throttling, but it will not go away)."""
    return aws_error_code(error) == "LimitExceededException"


def is_request_refused(error: BaseException) -> bool:
    """Whether AWS refused the request itself: a value, a tag or a change it will not take."""
    return aws_error_code(error) in REFUSED_REQUEST_CODES


def is_in_use(error: BaseException) -> bool:
    """Whether the resource cannot go because something still uses it (``ResourceInUseException``)."""
    return aws_error_code(error) == "ResourceInUseException"


def is_alias_taken(error: BaseException) -> bool:
    """Whether CloudFront refused an alias that another distribution or tenant already serves."""
    return aws_error_code(error) == "CNAMEAlreadyExists"


def is_stale_version(error: BaseException) -> bool:
    """Whether CloudFront refused a change made on a config that someone changed since it was read
    (``PreconditionFailed``: read again and retry)."""
    return aws_error_code(error) in ("PreconditionFailed", "InvalidIfMatchVersion")


CLOUDFRONT_REFUSAL_CODES = frozenset(
    {
        "CNAMEAlreadyExists",
        "InvalidViewerCertificate",
        "TooManyDistributions",
        "TooManyDistributionCNAMEs",
        "InvalidArgument",
        "InvalidTagging",
        "InvalidAssociation",  # a tenant on a distribution that is not multi-tenant
        "EntityLimitExceeded",  # a quota (tenants, domains)
    }
)
"""CloudFront's answers to creating or changing a distribution or tenant that no retry will change."""


def is_refused_by_cloudfront(error: BaseException) -> bool:
    """Whether CloudFront refused a distribution's creation or change for good (an alias taken, a
    certificate that does not fit, a quota, a malformed config)."""
    return aws_error_code(error) in CLOUDFRONT_REFUSAL_CODES


def is_operation_not_served(error: BaseException) -> bool:
    """Whether the endpoint answered a bare HTTP 404: it does not serve this operation at all (an
    emulator without CloudFront's tenant operations), as opposed to a resource that is not found."""
    return aws_error_code(error) == "404"


def is_already_made(error: BaseException) -> bool:
    """Whether CloudFront refused a creation because one with the same caller reference exists."""
    return aws_error_code(error) in ("DistributionAlreadyExists", "EntityAlreadyExists")


def describe_error(error: BaseException) -> str:
    """A short line that says what failed: the AWS operation, its error code (and HTTP status) and message."""
    code = aws_error_code(error)
    if code:
        operation = getattr(error, "operation_name", "") or "AWS"
        status = _http_status(error)
        http = f" (HTTP {status})" if status else ""
        return f"{operation}: {code}{http}: {aws_error_message(error)}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


def error_kind(error: BaseException) -> str:
    """The error's AWS code, or its class name: what a wait counts to say what kept failing."""
    return aws_error_code(error) or type(error).__name__


def aws_action(error: BaseException, service: str) -> str:
    """The IAM action of the call that failed, e.g. ``acm:ListCertificates``."""
    operation = getattr(error, "operation_name", "") or "the call"
    return f"{service}:{operation}"


def refusal_message(error: BaseException, service: str) -> str:
    """One line for a final AWS error: the action, AWS's code and message, and what to change."""
    action = aws_action(error, service)
    code = aws_error_code(error) or type(error).__name__
    said = f"{action} was refused ({code}: {aws_error_message(error)})"
    if is_permission_denied(error):
        return (
            f"{said}; the IAM policy of the job's AWS connection must allow {action}. "
            "Trying again will not help until it does."
        )
    if code == "LimitExceededException":
        return f"{said}; an AWS quota is reached: raise it or free some. Trying again will not help."
    return f"{said}; trying again will not help: fix the connection's credentials or the request."


def refused(error: BaseException, service: str) -> AwsRefusedError:
    """The :class:`AwsRefusedError` to raise for a final AWS error (``raise refused(error, "acm") from None``)."""
    return AwsRefusedError(refusal_message(error, service))
