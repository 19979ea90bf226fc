"""Errors shared by the jobs.

A :class:`FinalError` is one that a retry cannot mend (a refused input, a name already taken, a
certificate ACM failed): Airflow fails the task at once instead of retrying it.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException


class FinalError(AirflowFailException):
    """A failure that retrying will not mend; the task fails without further tries."""


class JobInputError(FinalError, ValueError):
    """The job's input is refused before anything is created in AWS; the message names field and item."""
