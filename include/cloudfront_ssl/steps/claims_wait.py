"""The check step of a job DAG, which waits in Airflow's triggerer for earlier jobs to claim their names.

A job's check decides which of two jobs that want one name goes on (:mod:`cloudfront_ssl.steps.claims`).
When a job triggered before it has not published its names yet (its check is still queued for a worker
slot, or an import job is still reading its certificate), the check raises
:class:`~cloudfront_ssl.steps.claims.ClaimsPending`; the step then defers to
:class:`EarlierClaimsTrigger`, which polls those jobs' claims and states in the triggerer, and the
step runs the check again when each has published its names or ended. A deferred check holds no
worker slot, so a burst of jobs on a few workers never waits on itself. This module lives in the
installed package, so the triggerer can import it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DecoratedOperator, task_decorator_factory
from airflow.providers.standard.operators.python import PythonOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from cloudfront_ssl.steps.claims import (
    POLL_SECONDS,
    Claim,
    ClaimsPending,
    claim_key,
    holder_name,
    resumed_wait,
    run_state,
)
from cloudfront_ssl.vocabulary import ACTIVE_RUN_STATES, CHECK, FINISHED_STEP_STATES, state_name

TIMEOUT_MARGIN_SECONDS = 600
"""Airflow ends a deferral this long after the wait's own deadline (the trigger fires before that)."""


class EarlierClaimsTrigger(BaseTrigger):
    """Fire once every given job has published its names, its check has ended, or the job has ended.

    Every ``poll_seconds`` it reads each job's claim Variable, and for a job with no names yet the state
    of its run and of its check step, through the triggerer's Airflow API (no database access). An
    error reading them is logged and tried again at the next poll. Fires ``{"status": "ready"}``, or
    ``{"status": "timeout", "waiting_for": [jobs]}`` once ``deadline`` (Unix time) has passed; either
    way the check runs again and decides.

    :param runs: ``[dag_id, run_id]`` of each job waited for.
    :param deadline: Unix time after which the wait ends.
    :param poll_seconds: seconds between two reads.
    """

    def __init__(self, runs: list[list[str]], deadline: float, poll_seconds: float = POLL_SECONDS) -> None:
        super().__init__()
        self.runs = [[str(dag_id), str(run_id)] for dag_id, run_id in runs]
        self.deadline = float(deadline)
        self.poll_seconds = float(poll_seconds)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain arguments only, so that the triggerer can rebuild the trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"runs": self.runs, "deadline": self.deadline, "poll_seconds": self.poll_seconds},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until no job waited for is still without names, or the deadline passes."""
        from asgiref.sync import sync_to_async

        waiting = [(dag_id, run_id) for dag_id, run_id in self.runs]
        while True:
            still: list[tuple[str, str]] = []
            for dag_id, run_id in waiting:
                try:
                    done = await sync_to_async(has_claimed_or_ended)(dag_id, run_id)
                except Exception as error:  # read again at the next poll; the deadline bounds it
                    self.log.warning(
                        "Could not read the claim of %s (%s)", holder_name(dag_id, run_id), error
                    )
                    done = False
                if not done:
                    still.append((dag_id, run_id))
            waiting = still
            if not waiting:
                yield TriggerEvent({"status": "ready"})
                return
            if time.time() >= self.deadline:
                holders = [holder_name(dag_id, run_id) for dag_id, run_id in waiting]
                yield TriggerEvent({"status": "timeout", "waiting_for": holders})
                return
            self.log.info(
                "Waiting for %s to publish the names it claims",
                ", ".join(holder_name(*run) for run in waiting),
            )
            await asyncio.sleep(max(min(self.poll_seconds, self.deadline - time.time()), 0))


def has_claimed_or_ended(dag_id: str, run_id: str) -> bool:
    """Whether a job has published its names, or can no longer claim any (its check or its run ended)."""
    from airflow.sdk import Variable
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    value = Variable.get(claim_key(dag_id, run_id), default=None)
    if value is not None:
        try:
            if Claim.from_json(str(value)).names is not None:
                return True
        except (ValueError, KeyError, TypeError):
            pass
    if run_state(dag_id, run_id) not in ACTIVE_RUN_STATES:
        return True
    states = RuntimeTaskInstance.get_task_states(dag_id=dag_id, task_ids=[CHECK], run_ids=[run_id])
    check = state_name((states.get(run_id) or {}).get(CHECK))
    return check in FINISHED_STEP_STATES


class CheckStepOperator(DecoratedOperator, PythonOperator):
    """A job DAG's ``check`` task (TaskFlow): runs the check, and defers while earlier jobs have not claimed.

    The decorated function is the job's check. When it raises
    :class:`~cloudfront_ssl.steps.claims.ClaimsPending` the task defers to :class:`EarlierClaimsTrigger`;
    when the trigger fires, the function runs again from the start (a check changes nothing in AWS),
    keeping the first wait's deadline.
    """

    template_fields: Sequence[str] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}
    custom_operator_name: str = "@task"

    def __init__(
        self, *, python_callable: Callable[..., Any], op_args: Any, op_kwargs: Any, **kwargs: Any
    ) -> None:
        super().__init__(
            kwargs_to_upstream={
                "python_callable": python_callable,
                "op_args": op_args,
                "op_kwargs": op_kwargs,
            },
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )

    def execute(self, context: Any) -> Any:
        """Run the check; defer when it must wait for earlier jobs' claims."""
        try:
            return super().execute(context)
        except ClaimsPending as pending:
            self.defer(
                trigger=EarlierClaimsTrigger([list(run) for run in pending.runs], pending.deadline),
                method_name="execute_complete",
                kwargs={"deadline": pending.deadline},
                timeout=timedelta(seconds=max(pending.deadline - time.time(), 0) + TIMEOUT_MARGIN_SECONDS),
            )

    def execute_complete(
        self, context: Any, event: dict[str, Any] | None = None, deadline: float | None = None
    ) -> Any:
        """Run the check again once the jobs waited for have claimed (or the wait's deadline passed)."""
        if event and event.get("status") == "timeout":
            self.log.warning(
                "Still waiting for %s at the deadline", ", ".join(event.get("waiting_for") or [])
            )
        with resumed_wait(deadline):
            return self.execute(context)


def check_step(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """``@task`` for a job DAG's check: one task, no retries (a refusal is final), that may defer.

    Use as ``@check_step`` on the check function, named ``check``.
    """
    kwargs.setdefault("retries", 0)
    return task_decorator_factory(
        python_callable=python_callable,
        multiple_outputs=False,
        decorated_operator_class=CheckStepOperator,
        **kwargs,
    )
