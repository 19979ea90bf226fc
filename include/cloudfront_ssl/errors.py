"""Errors shared by the jobs, and reading AWS's error answers.

A :class:`FinalError` is one that a retry cannot mend (a refused input, a name already taken, a
certificate ACM failed): Airflow fails the task at once instead of retrying it.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException


class FinalError(AirflowFailException):
    """A failure that retrying will not mend; the task fails without further tries."""


class JobInputError(FinalError, ValueError):
    """The job's input is refused before anything is created in AWS; the message names field and item."""


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
