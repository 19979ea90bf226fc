"""Publishing the owners' messages to SNS, and the failure notifier attached to every job task."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from cloudfront_ssl.aws.connections import require_connection
from cloudfront_ssl.rules import messages

log = logging.getLogger(__name__)

TOPIC_VARIABLE = "ssl_notification_topic_arn"
"""Airflow Variable holding the default SNS topic when a job's conf names none."""


def resolve_topic(conf_topic: str | None) -> str | None:
    """The job's SNS topic: the conf's, else the Airflow Variable's, else None (no messages)."""
    if conf_topic:
        return conf_topic
    from airflow.sdk import Variable

    topic = Variable.get(TOPIC_VARIABLE, default=None)
    return topic.strip() if isinstance(topic, str) and topic.strip() else None


def topic_region(topic_arn: str) -> str:
    """The region of an SNS topic ARN (``arn:aws:sns:REGION:ACCOUNT:NAME``): it must be called there."""
    return topic_arn.split(":")[3]


def topic_problem(aws_conn_id: str | None, topic_arn: str | None) -> str | None:
    """Why the job could not publish to ``topic_arn``, or None when it can (or has no topic).

    Asked before anything is created, so that a job does not request certificates and then fail
    three times on its first message.
    """
    if not topic_arn:
        return None
    from cloudfront_ssl.aws.pacing import SnsHook
    from cloudfront_ssl.errors import aws_error_code, is_access_refused, is_not_found, is_request_refused

    client = SnsHook(aws_conn_id=aws_conn_id, region_name=topic_region(topic_arn)).conn
    try:
        client.get_topic_attributes(TopicArn=topic_arn)
    except Exception as error:
        code = aws_error_code(error)
        if is_not_found(error):
            return f"SNS topic {topic_arn} does not exist"
        if is_access_refused(error):
            return f"this connection may not use SNS topic {topic_arn} ({code})"
        if is_request_refused(error):
            return f"{topic_arn} is not a usable SNS topic ARN ({code})"
        raise
    return None


def publish(aws_conn_id: str | None, topic_arn: str | None, subject: str, message: str) -> str | None:
    """Publish one message to the job's topic with the provider's SnsHook (paced); return its message id.

    With no topic, log that the job runs without messages and send nothing.
    """
    if not topic_arn:
        log.warning(
            "No SNS topic (conf notification_topic_arn or Variable %s): not sending '%s'",
            TOPIC_VARIABLE,
            subject,
        )
        return None
    from cloudfront_ssl.aws.pacing import SnsHook

    hook = SnsHook(aws_conn_id=aws_conn_id, region_name=topic_region(topic_arn))
    response = hook.publish_to_target(
        target_arn=topic_arn, message=messages.scrub_secrets(message), subject=messages.subject(subject)
    )
    log.info("Published '%s' to %s", subject, topic_arn)
    return response.get("MessageId")


def describe_exception(error: BaseException | str | None) -> str:
    """A short, secret-free text for an exception."""
    if error is None:
        return "the task failed (no error was reported, for example it was stopped or timed out)"
    text = str(error) if not isinstance(error, str) else error
    if not isinstance(error, str) and type(error).__name__ not in text:
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return messages.scrub_secrets(text)


FAILURE_KEY = "failure"
"""XCom key under which a failed step records why it failed, for the job's single failure message."""


class FailureRecorder(BaseNotifier):
    """Record, in the failed step's XCom, why it failed (secret-free and cut to a readable length).

    Attached as ``on_failure_callback`` of every task of a job DAG. It sends nothing itself: the
    job's ``notify_failure`` step tells the owners once, naming every failed step, however many
    mapped steps failed.
    """

    def notify(self, context: Any) -> None:
        """Push the failed task's reason as its ``failure`` XCom."""
        try:
            context["ti"].xcom_push(key=FAILURE_KEY, value=describe_exception(context.get("exception")))
        except Exception:  # a failing record must not hide the step's own error
            log.exception("Could not record why %s failed", context["ti"].task_id)


def failed_steps(dag: Any, run_id: str, ti: Any) -> list[tuple[str, str, int]]:
    """The failed steps of a run: ``(step name, task id, map index)``, in the DAG's order."""
    states = (ti.get_task_states(dag_id=dag.dag_id, run_ids=[run_id]) or {}).get(run_id, {})
    order = {task_id: position for position, task_id in enumerate(dag.task_ids)}
    failed = []
    for key, state in states.items():
        if str(getattr(state, "value", state)) != "failed":  # a str, or an enum of the Task SDK
            continue
        task_id, map_index = key, -1
        base, _, suffix = key.rpartition("_")
        if key not in order and suffix.isdigit() and base in order:
            task_id, map_index = base, int(suffix)
        name = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        failed.append((name, task_id, map_index))
    return sorted(failed, key=lambda step: (order.get(step[1], len(order)), step[2]))


def notify_job_failure(params: dict[str, Any], dag: Any, run_id: str, ti: Any) -> list[str]:
    """Tell the owners once that a job failed, naming every failed step and why; return the steps.

    Returns an empty list (and sends nothing) when no step failed.
    """
    steps = failed_steps(dag, run_id, ti)
    if not steps:
        return []
    reasons = []
    for name, task_id, map_index in steps:
        try:
            reason = ti.xcom_pull(task_ids=task_id, key=FAILURE_KEY, map_indexes=map_index)
        except Exception:  # an unreadable record only costs the detail
            log.warning("Could not read why %s failed", name, exc_info=True)
            reason = None
        reasons.append((name, reason if isinstance(reason, str) and reason else None))
    subject, body = messages.failure_message(dag.dag_id, run_id, reasons)
    log.error("%s\n%s", subject, body)
    conn_id = params.get("aws_conn_id") or "aws_default"
    try:
        require_connection(conn_id)
        publish(conn_id, resolve_topic(params.get("notification_topic_arn")), subject, body)
    except Exception as error:  # the job's own failure stays in Airflow: do not hide it behind this one
        log.warning("Could not tell the owners by SNS that job %s failed: %s", run_id, error)
    return [name for name, _ in reasons]
