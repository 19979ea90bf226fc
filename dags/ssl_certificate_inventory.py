"""ssl_certificate_inventory: every certificate in ACM us-east-1, what uses it, what needs attention.

Runs daily. One task, ``inventory``, returns the report (its XCom): for each certificate its ARN,
names, status, type (requested or imported), expiry, renewal eligibility, the distributions that
use it and the job that made it. When something needs attention (an imported certificate expiring,
a requested one ACM could not renew, a validation stuck, a failed request, an unused certificate) it
publishes one alert message to SNS; when all is well it sends nothing.

The logic lives in ``cloudfront_ssl.steps.inventory``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from cloudfront_ssl.rules.config import InventoryConfig, dag_params
from cloudfront_ssl.steps.inventory import run_inventory
from cloudfront_ssl.vocabulary import INVENTORY_DAG_ID

with DAG(
    dag_id=INVENTORY_DAG_ID,
    description="Daily report of the ACM certificates for CloudFront, with one alert when something needs attention",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["ssl", "acm", "cloudfront"],
    params=dag_params(InventoryConfig, InventoryConfig.field_order()),
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
) as dag:

    @task(multiple_outputs=False)
    def inventory(params: dict[str, Any]) -> dict[str, Any]:
        """Report every certificate and publish one alert listing what needs attention, if anything."""
        return run_inventory(params)

    inventory()
