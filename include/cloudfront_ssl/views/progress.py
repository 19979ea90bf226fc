"""How far a job has got, for the job view that follows it: its steps in the DAG's order, and the wait.

The steps are listed in the order the job runs them, read from the DAG itself (its serialized
version in Airflow's database, the one the run was created with): a step added, removed or merged
in the DAG file is listed in its place without a change here. While a step is deferred (the wait for
ACM, the wait for Route 53), its trigger's arguments say how often it checks and when it gives up.
"""

from __future__ import annotations

import heapq
import logging
from typing import TYPE_CHECKING, Any

from cloudfront_ssl.rules.messages import iso

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

DEFERRED = "deferred"


def topological_order(upstream: dict[str, set[str]]) -> list[str]:
    """The step ids in an order where every step comes after its upstream steps.

    :param upstream: each step id with the ids it waits for, in the DAG's own order (the order the
        DAG file defines them): among steps that may go next, the one defined first goes first.
    """
    position = {step: index for index, step in enumerate(upstream)}
    waiting = {step: {u for u in ups if u in position} for step, ups in upstream.items()}
    downstream: dict[str, list[str]] = {step: [] for step in upstream}
    for step, ups in waiting.items():
        for up in ups:
            downstream[up].append(step)
    ready = [(position[step], step) for step, ups in waiting.items() if not ups]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, step = heapq.heappop(ready)
        order.append(step)
        for down in downstream[step]:
            waiting[down].discard(step)
            if not waiting[down]:
                heapq.heappush(ready, (position[down], down))
    # A cycle cannot be a DAG; whatever is left keeps the DAG's own order.
    return order + [step for step in upstream if step not in set(order)]


def step_order(session: Session, run: Any) -> dict[str, int]:
    """``{step id: position}`` in the run's DAG (the version it was created with); empty when the DAG
    cannot be read here (the job view then lists the steps as they started)."""
    try:
        from airflow.models.dagbag import DBDagBag

        dag = DBDagBag().get_dag_for_run(run, session=session)
        if dag is None:
            return {}
        upstream = {task_id: set(task.upstream_task_ids) for task_id, task in dag.task_dict.items()}
    except Exception:  # the order is a convenience: never worth failing the page for
        log.warning("Cannot read the steps of %s from its DAG", run.dag_id, exc_info=True)
        return {}
    return {step: index for index, step in enumerate(topological_order(upstream))}


def waiting(instances: list[Any]) -> dict[str, Any] | None:
    """What a deferred step of the job waits for, from its trigger's arguments: ``step``, ``since``,
    ``poll_interval_seconds``, ``gives_up_at`` (ISO time) and ``certificates`` (how many it waits
    for); None when no step is deferred (or its trigger cannot be read here)."""
    for ti in instances:
        if str(getattr(ti.state, "value", ti.state)) != DEFERRED:
            continue
        try:
            kwargs = dict(ti.trigger.kwargs) if ti.trigger is not None else {}
        except Exception:  # an unreadable trigger (another Fernet key) costs only this line
            log.warning("Cannot read the trigger of %s", ti.task_id, exc_info=True)
            kwargs = {}
        interval = kwargs.get("poll_interval_seconds")
        deadline = kwargs.get("deadline")
        return {
            "step": ti.task_id,
            "since": iso(ti.start_date),
            "poll_interval_seconds": float(interval) if isinstance(interval, int | float) else None,
            "gives_up_at": iso(deadline) if isinstance(deadline, int | float) else None,
            "certificates": len(kwargs.get("certificate_arns") or []) or None,
        }
    return None
