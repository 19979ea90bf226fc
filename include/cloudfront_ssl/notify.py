"""Publishing the owners' messages to SNS, and the failure notifier attached to every job task."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

from cloudfront_ssl import messages

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


def publish(aws_conn_id: str | None, topic_arn: str | None, subject: str, message: str) -> str | None:
    """Publish one message to the job's topic with the provider's SnsHook; return its message id.

    With no topic, log that the job runs without messages and send nothing.
    """
    if not topic_arn:
        log.warning(
            "No SNS topic (conf notification_topic_arn or Variable %s): not sending '%s'",
            TOPIC_VARIABLE,
            subject,
        )
        return None
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

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


class JobFailureNotifier(BaseNotifier):
    """Tell the owners, by SNS, which step of a job failed and why (spec section 8).

    Attached as ``on_failure_callback`` of every task of a job DAG. The topic and the connection come
    from the run's params; the text never carries the job's secret inputs (only the error, scrubbed of
    any private key).
    """

    def notify(self, context: Any) -> None:
        """Publish the failure message for the failed task in ``context``."""
        params = context.get("params") or {}
        ti = context["ti"]
        step = ti.task_id
        if getattr(ti, "map_index", -1) not in (-1, None):
            step = f"{step}[{ti.map_index}]"
        dag_id = ti.dag_id
        run_id = context["run_id"]
        subject, body = messages.failure_message(
            dag_id, run_id, step, describe_exception(context.get("exception"))
        )
        try:
            topic = resolve_topic(params.get("notification_topic_arn"))
            publish(params.get("aws_conn_id", "aws_default"), topic, subject, body)
        except Exception:  # a failing notification must not hide the job's own error
            log.exception("Could not publish the failure message of %s", run_id)
