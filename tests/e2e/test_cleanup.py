"""ssl_cleanup_job and cleanup_on_failure against the emulator."""

from __future__ import annotations

import pytest

from tests.dag_runs import load_dag, run_dag
from tests.plugin_support import without_retries

NEIGHBOUR = {"airflow:dag_id": "ssl_create_certificates", "airflow:run_id": "neighbour-job"}


def _certificate(aws, name: str, tags: dict[str, str] | None = None) -> str:
    items = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    kwargs = {"Tags": items} if items else {}
    return aws.acm.request_certificate(DomainName=name, ValidationMethod="DNS", **kwargs)["CertificateArn"]


def _state(aws) -> tuple[set[str], set[str]]:
    """The ids of every distribution and the ARNs of every certificate the emulator holds."""
    return (
        {d["Id"] for d in aws.distributions(include_source=True)},
        {c["CertificateArn"] for c in aws.certificates()},
    )


@pytest.fixture
def job(airflow_db, aws):
    """A real create job's run, a neighbour job's resources, and resources of no job."""
    result = run_dag(
        load_dag("ssl_create_certificates"),
        {
            "certificates": ["one.example.com", "two.example.com, www.two.example.com"],
            "source_distribution_id": aws.source_distribution_id,
            "notification_topic_arn": aws.topic_arn,
            "poll_interval_seconds": 1,
        },
    )
    assert result.state == "success"
    neighbour_certificate = _certificate(aws, "neighbour.example.com", NEIGHBOUR)
    neighbour_distribution = aws.create_distribution(["neighbour.example.com"], tags=NEIGHBOUR)
    # Same run id, other DAG: not this job either.
    other_dag = _certificate(
        aws, "other.example.com", {"airflow:dag_id": "x", "airflow:run_id": result.run_id}
    )
    untagged = _certificate(aws, "untagged.example.com")
    return (
        result,
        {neighbour_certificate, other_dag, untagged},
        {neighbour_distribution, aws.source_distribution_id},
    )


def _cleanup(run_id: str, dry_run: bool):
    result = run_dag(load_dag("ssl_cleanup_job"), {"job_run_id": run_id, "dry_run": dry_run})
    assert result.state == "success", result.task_states
    return result.xcom("remove_job_resources")


def test_dry_run_lists_and_removes_nothing_then_a_real_run_removes_exactly_the_job(job, aws):
    run, other_certificates, other_distributions = job
    summary = run.xcom("summary")
    job_distributions = {d["id"] for d in summary["distributions"]}
    job_certificates = {c["arn"] for c in summary["certificates"]}
    assert len(job_distributions) == 2 and len(job_certificates) == 2
    before = _state(aws)

    listed = _cleanup(run.run_id, dry_run=True)
    assert _state(aws) == before
    assert listed["dry_run"] is True
    assert {d["id"] for d in listed["distributions"]} == job_distributions
    assert {c["arn"] for c in listed["certificates"]} == job_certificates

    removed = _cleanup(run.run_id, dry_run=False)
    assert {d["id"]: d["action"] for d in removed["distributions"]} == dict.fromkeys(
        job_distributions, "deleted"
    )
    assert {c["arn"]: c["action"] for c in removed["certificates"]} == dict.fromkeys(
        job_certificates, "deleted"
    )
    distributions, certificates = _state(aws)
    assert distributions == other_distributions
    assert certificates == other_certificates

    again = _cleanup(run.run_id, dry_run=False)
    assert again["distributions"] == [] and again["certificates"] == []
    assert _state(aws) == (distributions, certificates)


def test_waits_until_the_disabled_distribution_is_deployed(airflow_db, aws):
    """CloudFront refuses to delete a distribution before its disabling is deployed."""
    from moto.moto_api import state_manager

    from cloudfront_ssl.steps.cleanup import remove_job_resources

    tags = {"airflow:dag_id": "ssl_create_certificates", "airflow:run_id": "slow-job"}
    distribution = aws.create_distribution(["slow.example.com"], tags=tags)
    certificate = _certificate(aws, "slow.example.com", tags)
    # Three status reads per change before CloudFront (moto) reports "Deployed".
    state_manager.set_transition("cloudfront::distribution", {"progression": "manual", "times": 3})
    try:
        result = remove_job_resources(
            "aws_default", tags["airflow:dag_id"], "slow-job", dry_run=False, poll_seconds=0.05
        )
    finally:
        state_manager.unset_transition("cloudfront::distribution")
    assert [d["action"] for d in result["distributions"]] == ["deleted"]
    assert [c["action"] for c in result["certificates"]] == ["deleted"]
    assert distribution not in _state(aws)[0] and certificate not in _state(aws)[1]


def test_the_clean_up_defers_while_cloudfront_deploys_then_deletes(airflow_db, aws, capfd, caplog):
    """The wait for a disabled distribution holds no worker: the step defers (Airflow records it
    DEFERRED and hands botocore's distribution_deployed waiter to the triggerer), then the last step
    deletes the distribution and its certificate."""
    from moto.moto_api import state_manager

    tags = {"airflow:dag_id": "ssl_create_certificates", "airflow:run_id": "fleet-job"}
    distribution = aws.create_distribution(["fleet.example.com"], tags=tags)
    certificate = _certificate(aws, "fleet.example.com", tags)
    dag = load_dag("ssl_cleanup_job")
    dag.get_task("wait_for_distributions").waiter_delay = 1
    # Many status reads before CloudFront (moto) reports the disabling "Deployed": seconds of waiting.
    state_manager.set_transition("cloudfront::distribution", {"progression": "manual", "times": 12})
    try:
        result = run_dag(dag, {"job_run_id": "fleet-job", "dry_run": False})
    finally:
        state_manager.unset_transition("cloudfront::distribution")
    output = capfd.readouterr()
    logged = output.out + output.err + caplog.text  # where the log lines go depends on the logging set-up
    assert result.state == "success", result.task_states
    # The worker gave the wait up: the execution API recorded the task deferred, and the triggerer
    # (in line under dag.test) polled CloudFront until it reported the distribution deployed.
    assert "Pausing task as DEFERRED" in logged and "new_state=deferred" in logged
    assert logged.count("Distribution status: InProgress") >= 2
    assert f"Distribution {distribution} is deployed" in logged
    removed = result.xcom("remove_job_resources")
    assert [d["action"] for d in removed["distributions"]] == ["deleted"]
    assert [c["action"] for c in removed["certificates"]] == ["deleted"]
    assert distribution not in _state(aws)[0] and certificate not in _state(aws)[1]
    # Running it twice is harmless: nothing left to do.
    again = _cleanup("fleet-job", dry_run=False)
    assert again["distributions"] == [] and again["certificates"] == []


def test_cleanup_on_failure_leaves_nothing_behind(airflow_db, aws, monkeypatch, capfd, caplog):
    """A real failing run: its cleanup_on_failure step disables the distribution the job made, waits
    deferred (holding no worker) while CloudFront deploys that, then deletes it and the certificates."""
    from moto.moto_api import state_manager

    from cloudfront_ssl.aws import cloudfront

    before = _state(aws)
    real_create = cloudfront.create_job_distribution

    def second_fails(client, source, **kwargs):
        if kwargs["item"] == 1:
            raise RuntimeError("CloudFront said no")
        return real_create(client, source, **kwargs)

    monkeypatch.setattr(cloudfront, "create_job_distribution", second_fails)
    dag = load_dag("ssl_create_certificates")  # the job DAG as shipped, with its cleanup_on_failure step
    dag.get_task("cleanup_on_failure").waiter_delay = 1
    capfd.readouterr()
    with without_retries(dag):
        # Several status reads per change before CloudFront (moto) reports it "Deployed".
        state_manager.set_transition("cloudfront::distribution", {"progression": "manual", "times": 6})
        try:
            result = run_dag(
                dag,
                {
                    "certificates": ["first.example.com", "second.example.com"],
                    "source_distribution_id": aws.source_distribution_id,
                    "notification_topic_arn": aws.topic_arn,
                    "poll_interval_seconds": 1,
                    "cleanup_on_failure": True,
                },
            )
        finally:
            state_manager.unset_transition("cloudfront::distribution")
    output = capfd.readouterr()
    logged = output.out + output.err + caplog.text
    assert result.state == "failed"
    assert result.task_states["create_distributions"] == ["failed"]  # the first made, the second not
    assert result.task_states["cleanup_on_failure"] == ["success"], logged[-6000:]
    # The step gave its worker up while CloudFront deployed the disabled distribution.
    assert "Pausing task as DEFERRED" in logged and "new_state=deferred" in logged
    assert "Distribution status: InProgress" in logged
    removed = result.xcom("cleanup_on_failure")
    assert [d["action"] for d in removed["distributions"]] == ["deleted"]
    assert {c["action"] for c in removed["certificates"]} == {"deleted"}
    assert _state(aws) == before


def test_a_successful_job_skips_the_cleanup_step(airflow_db, aws):
    dag = load_dag("ssl_create_certificates")
    result = run_dag(
        dag,
        {
            "certificates": ["kept.example.com"],
            "source_distribution_id": aws.source_distribution_id,
            "poll_interval_seconds": 1,
            "cleanup_on_failure": True,
        },
    )
    assert result.state == "success"
    assert result.task_states["cleanup_on_failure"] == ["skipped"]
    assert len(aws.distributions()) == 1


def test_cleanup_on_failure_does_nothing_unless_asked(airflow_db, aws):
    from cloudfront_ssl.steps.cleanup import cleanup_failed_job

    dag_id, run_id = "ssl_create_certificates", "kept-job"
    certificate = _certificate(aws, "kept.example.com", {"airflow:dag_id": dag_id, "airflow:run_id": run_id})

    assert cleanup_failed_job({"cleanup_on_failure": False}, dag_id, run_id, failed_steps=1) is None
    assert cleanup_failed_job({"cleanup_on_failure": True}, dag_id, run_id, failed_steps=0) is None
    assert certificate in _state(aws)[1]
    cleanup_failed_job({"cleanup_on_failure": True}, dag_id, run_id, failed_steps=1)
    assert certificate not in _state(aws)[1]


def test_a_bad_conf_is_refused_at_trigger_time(airflow_db):
    from airflow.sdk.definitions.param import ParamsDict

    dag = load_dag("ssl_cleanup_job")
    params = ParamsDict(dag.params)
    # Neither job_run_id nor distribution_id is required alone (one of the two is: the task says so).
    params.validate()
    with pytest.raises(Exception, match="distribution_id"):
        params["distribution_id"] = "not a distribution"
    assert dag.params["dry_run"] is True


def _tries(dag_id: str, run_id: str, task_id: str) -> int:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return (
            session.query(TaskInstance)
            .filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id)
            .one()
            .try_number
        )


def test_a_job_that_is_still_running_is_refused_but_a_dry_run_lists_it(job, aws):
    from tests.e2e.test_claims import set_running

    result, _, _ = job
    set_running("ssl_create_certificates", result.run_id, running=True)
    before = _state(aws)
    refused = run_dag(load_dag("ssl_cleanup_job"), {"job_run_id": result.run_id, "dry_run": False})
    assert refused.task_states["disable_distributions"] == ["failed"]
    assert _tries("ssl_cleanup_job", refused.run_id, "disable_distributions") == 1  # refused, not retried
    assert _state(aws) == before
    assert len(_cleanup(result.run_id, dry_run=True)["distributions"]) == 2
    set_running("ssl_create_certificates", result.run_id, running=False)
    removed = _cleanup(result.run_id, dry_run=False)
    assert [d["action"] for d in removed["distributions"]] == ["deleted", "deleted"]


def test_a_conf_error_fails_at_once(airflow_db, aws):
    refused = run_dag(load_dag("ssl_cleanup_job"), {"job_run_id": "some-job", "dryrun": False})
    assert refused.task_states["disable_distributions"] == ["failed"]
    assert _tries("ssl_cleanup_job", refused.run_id, "disable_distributions") == 1
    inventory = run_dag(load_dag("ssl_certificate_inventory"), {"aws_conn_id": "aws_defualt"})
    assert inventory.task_states["inventory"] == ["failed"]
    assert _tries("ssl_certificate_inventory", inventory.run_id, "inventory") == 1


def test_one_distribution_that_cannot_be_disabled_does_not_stop_the_rest(airflow_db, aws, monkeypatch):
    from botocore.exceptions import ClientError

    from cloudfront_ssl.steps import cleanup
    from cloudfront_ssl.steps.cleanup import CleanupError, remove_job_resources

    tags = {"airflow:dag_id": "ssl_create_certificates", "airflow:run_id": "stubborn-job"}
    stubborn = aws.create_distribution(["stubborn.example.com"], tags=tags)
    willing = aws.create_distribution(["willing.example.com"], tags=tags)
    certificate = _certificate(aws, "willing.example.com", tags)
    disable = cleanup.disable_distribution

    def refuse_one(client, distribution_id):
        if distribution_id == stubborn:
            raise ClientError(
                {"Error": {"Code": "PreconditionFailed", "Message": "ETag changed"}}, "UpdateDistribution"
            )
        return disable(client, distribution_id)

    monkeypatch.setattr(cleanup, "disable_distribution", refuse_one)
    with pytest.raises(CleanupError, match=f"distribution {stubborn}: PreconditionFailed"):
        remove_job_resources(
            "aws_default", tags["airflow:dag_id"], "stubborn-job", dry_run=False, poll_seconds=0.05
        )
    distributions, certificates = _state(aws)
    assert stubborn in distributions and willing not in distributions
    assert certificate not in certificates
