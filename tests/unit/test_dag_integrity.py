"""Every DAG imports cleanly, is light to parse, and has params, tags and retries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.dag_runs import ROOT, dag_bag

DAG_FILES = sorted((ROOT / "dags").glob("*.py"))
HEAVY_MODULES = ("boto3", "botocore", "cryptography", "moto", "aiobotocore")


def test_every_dag_imports_without_error(airflow_db) -> None:
    bag = dag_bag()
    assert not bag.import_errors
    assert "ssl_create_certificates" in bag.dag_ids


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda path: path.name)
def test_dag_files_import_nothing_heavy_at_top_level(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        assert not [n for n in names if n.split(".")[0] in HEAVY_MODULES], f"{path.name}: {names}"


def test_every_dag_has_params_tags_and_retries(airflow_db) -> None:
    for dag_id, dag in dag_bag().dags.items():
        assert dag.tags, dag_id
        assert dag.params, dag_id
        for name in dag.params:
            assert dag.params.get_param(name).description, f"{dag_id}.{name}"
        assert dag.default_args.get("retries", 0) >= 1, dag_id
        assert dag.doc_md, dag_id


def test_the_create_dag_reads_as_the_job_steps(airflow_db) -> None:
    dag = dag_bag().get_dag("ssl_create_certificates")
    assert dag.schedule is None  # a create job runs only when someone starts it
    for step in (
        "check",
        "request_certificates",
        "wait_for_issuance",
        "create_distributions",
        "notify_cname_targets",
        "summary",
    ):
        assert step in dag.task_ids
    assert dag.get_task("check").retries == 0  # a refused conf is not tried again


def test_every_step_of_every_dag_is_spelt_in_the_vocabulary(airflow_db) -> None:
    """A step renamed in a DAG but not in ``vocabulary`` would leave the page and the claims blind."""
    from cloudfront_ssl import vocabulary

    spelt = {value for name, value in vars(vocabulary).items() if name.isupper() and isinstance(value, str)}
    for dag_id, dag in dag_bag().dags.items():
        assert dag_id in spelt, dag_id
        assert not set(dag.task_ids) - spelt, f"{dag_id}: {sorted(set(dag.task_ids) - spelt)}"
    for steps in (vocabulary.CERTIFICATE_STEPS, vocabulary.DISTRIBUTION_STEPS, vocabulary.DNS_STEPS):
        for step in steps:
            assert any(step in dag.task_ids for dag in dag_bag().dags.values()), step
