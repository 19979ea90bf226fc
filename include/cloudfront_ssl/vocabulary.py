"""The jobs' vocabulary: DAG ids, step ids and run states, spelt once.

Every module that names a job DAG, one of its steps or an Airflow state imports it from here, so that
a renamed step cannot leave a reader behind looking for the old name.
"""

from __future__ import annotations

# The DAGs (their conf keys and what each does: docs/reference.md).
CREATE_DAG_ID = "ssl_create_certificates"
IMPORT_DAG_ID = "ssl_import_certificate"
CLEANUP_DAG_ID = "ssl_cleanup_job"
INVENTORY_DAG_ID = "ssl_certificate_inventory"
UPDATE_DAG_ID = "ssl_update_site"
ROTATE_DAG_ID = "ssl_rotate_imported"
FLEET_DAG_ID = "ssl_fleet"
JOB_DAG_IDS = (CREATE_DAG_ID, IMPORT_DAG_ID, UPDATE_DAG_ID)
"""The DAGs whose runs are jobs that create resources (and so hold claims and appear on the page)."""

# The steps (task ids) of the job DAGs.
CHECK = "check"
REQUEST_CERTIFICATES = "request_certificates"
CERTIFICATE_ARNS = "certificate_arns"
FIND_VALIDATION_RECORDS = "find_validation_records"
WRITE_VALIDATION_RECORDS = "write_validation_records"
WAIT_FOR_DNS = "wait_for_dns"
WAIT_FOR_ISSUANCE = "wait_for_issuance"
DISTRIBUTIONS_TO_CREATE = "distributions_to_create"
CREATE_DISTRIBUTIONS = "create_distributions"
POINT_ALIASES = "point_aliases"
NOTIFY_CNAME_TARGETS = "notify_cname_targets"
CREATE_TENANTS = "create_tenants"
POINT_TENANT_NAMES = "point_tenant_names"
NOTIFY_ROUTING_ENDPOINTS = "notify_routing_endpoints"
WAIT_FOR_MANAGED_CERTIFICATES = "wait_for_managed_certificates"
IMPORT_CERTIFICATE = "import_certificate"
NOTIFY_OWNERS = "notify_owners"
SUMMARY = "summary"
NOTIFY_FAILURE = "notify_failure"
CLEANUP_ON_FAILURE = "cleanup_on_failure"
REMOVE_JOB_RESOURCES = "remove_job_resources"
DISABLE_DISTRIBUTIONS = "disable_distributions"
WAIT_FOR_DISTRIBUTIONS = "wait_for_distributions"
INVENTORY = "inventory"
UPDATE_DISTRIBUTION = "update_distribution"
UPDATE_TENANT = "update_tenant"
DROP_OLD_DOMAINS = "drop_old_domains"
REMOVE_CNAME_RECORDS = "remove_cname_records"
REMOVE_ALIAS_RECORDS = "remove_alias_records"
DELETE_REPLACED_CERTIFICATE = "delete_replaced_certificate"
ROTATE_CERTIFICATES = "rotate_certificates"
REPORT_REFUSALS = "report_refusals"

# The steps of ssl_fleet (docs/fleet.md).
READ_FLEET = "read_fleet"
PLAN_FLEET = "plan"
APPROVAL_NEEDED = "approval_needed"
APPROVE = "approve"
FLEET_JOBS = "jobs"
APPLY = "apply"
FLEET_REPORT = "report"

LAST_STEP = CLEANUP_ON_FAILURE
"""Every job DAG ends with this step (trigger rule all_done): while it has not finished, the job runs."""
CLOSING_STEPS = (NOTIFY_FAILURE, CLEANUP_ON_FAILURE)
"""The steps that run after a failure; skipped after a success, which is normal."""
CERTIFICATE_STEPS = (REQUEST_CERTIFICATES, IMPORT_CERTIFICATE)
"""Steps whose XCom lists a job's certificates, read when the job has no summary yet."""
DISTRIBUTION_STEPS = (CREATE_DISTRIBUTIONS, UPDATE_DISTRIBUTION)
"""Steps whose XCom lists a job's distributions, one result per item: created (``state`` success, with
``id``, ``domain_name``...) or not (``state`` failed, with ``error``). A failed try keeps its results too.
An update's (``update_distribution``) is the one distribution it changed."""
TENANT_STEPS = (CREATE_TENANTS, UPDATE_TENANT)
"""Steps whose XCom lists a job's distribution tenants (an update's: the one tenant it changed)."""
DNS_STEPS = (WRITE_VALIDATION_RECORDS, POINT_ALIASES, POINT_TENANT_NAMES)
"""Steps whose XCom holds the Route 53 records a job wrote (``records``) or found in place: a dict, or
(``point_aliases``) a list of one such result per distribution."""
EARLIER_DISTRIBUTION_STEPS = ("create_distribution",)
"""The distribution step of jobs run by earlier versions (a mapped task, one distribution per map
index): read so that those jobs still show their distributions."""
ITEM_STEPS = (CREATE_DISTRIBUTIONS, POINT_ALIASES)
"""Steps that work on every item of a job in one task, keeping each item's result, state and error in
their XCom; the job view shows each item as ``step[first alias]``."""

# Airflow's states, as their plain names.
QUEUED = "queued"
RUNNING = "running"
SUCCESS = "success"
FAILED = "failed"
SKIPPED = "skipped"
UPSTREAM_FAILED = "upstream_failed"
REMOVED = "removed"
RUN_STATES = (QUEUED, RUNNING, SUCCESS, FAILED)
"""The states of a DAG run (a job)."""
ACTIVE_RUN_STATES = (QUEUED, RUNNING)
"""A run in one of these states can still hold a claim or change AWS."""
FINISHED_STEP_STATES = frozenset({SUCCESS, FAILED, SKIPPED, UPSTREAM_FAILED, REMOVED})
"""A step in one of these states will not run again in this try of the job."""


def state_name(state: object) -> str | None:
    """A task or run state as its plain name (``"running"``), whether Airflow gave a str or an enum."""
    return None if state is None else str(getattr(state, "value", state))
