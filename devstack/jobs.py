"""Jobs triggered through the REST API, followed task by task until they finish."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from devstack.api import TERMINAL_STATES, AirflowApi
from devstack.processes import StackFailure


@dataclass
class Job:
    """One triggered job and what the demo saw of it."""

    label: str
    dag_id: str
    run_id: str = ""
    state: str = "queued"
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    task_states: dict[tuple[str, int], str] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    failed_steps: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Whether the run has finished, either way."""
        return self.state in TERMINAL_STATES

    def duration(self) -> str:
        """How long the run took (or has taken so far)."""
        seconds = int((self.finished or time.monotonic()) - self.started)
        return f"{seconds // 60}m {seconds % 60:02d}s"


def follow(
    api: AirflowApi,
    jobs: list[Job],
    timeout: float,
    on_tick: Callable[[], None],
    say: Callable[[str], None] = print,
) -> None:
    """Print every task state change of the jobs until all have finished (or ``timeout`` passes)."""
    deadline = time.monotonic() + timeout
    width = max(len(job.label) for job in jobs)
    while not all(job.done for job in jobs):
        on_tick()
        for job in (job for job in jobs if not job.done):
            order = lambda ti: (ti.get("start_date") or "~", ti["task_id"], ti.get("map_index", -1))  # noqa: E731
            try:
                task_instances = api.task_instances(job.dag_id, job.run_id)
                run_state = api.run_state(job.dag_id, job.run_id)
            except requests.RequestException as error:
                # A busy API server (a burst of tasks on two cores) may miss one poll: ask again.
                say(f"  (the API server did not answer in time: {type(error).__name__}; asking again)")
                continue
            for ti in sorted(task_instances, key=order):
                key = (ti["task_id"], ti.get("map_index", -1))
                state = ti.get("state") or "none"
                if job.task_states.get(key) != state:
                    job.task_states[key] = state
                    if state != "none":
                        label = ti["task_id"] + (f"[{key[1]}]" if key[1] >= 0 else "")
                        note = f" (try {ti['try_number']})" if (ti.get("try_number") or 1) > 1 else ""
                        say(f"  {job.label:<{width}}  {label:<32} {state}{note}")
            if run_state != job.state:
                job.state = run_state
                if job.done:
                    job.finished = time.monotonic()
                    say(
                        f"  {job.label:<{width}}  job {job.run_id}: {run_state.upper()} after {job.duration()}"
                    )
        if not all(job.done for job in jobs):
            if time.monotonic() > deadline:
                running = ", ".join(f"{job.label} ({job.state})" for job in jobs if not job.done)
                raise StackFailure("wait for the jobs", f"still running after {timeout:.0f} s: {running}")
            time.sleep(2)


def explain_failure(api: AirflowApi, job: Job, say: Callable[[str], None] = print) -> None:
    """Name the failed steps of a job and show the end of their logs."""
    failed = [ti for ti in api.task_instances(job.dag_id, job.run_id) if ti.get("state") == "failed"]
    for ti in failed:
        name = ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else "")
        job.failed_steps.append(name)
        say(f"  {job.label}: step {name} failed; end of its log:")
        say(api.task_log(job.dag_id, job.run_id, ti))
    if not failed:
        job.failed_steps.append("(no task failed: the run itself did)")
