"""The Airflow connections the jobs name: refused early when they do not exist.

The Amazon provider falls back to the worker's own AWS identity, with only a warning, when a
connection id does not exist. On a real deployment that can be another account, so a job that names
a connection must find it before it changes anything.
"""

from __future__ import annotations

from cloudfront_ssl.errors import JobInputError
from cloudfront_ssl.rules.messages import quote_input


def require_connection(conn_id: str, field: str = "aws_conn_id") -> None:
    """Raise :class:`JobInputError` naming ``field`` when Airflow has no connection ``conn_id``."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        Connection.get(conn_id)
    except AirflowNotFoundException:
        raise JobInputError(
            f"{field}: Airflow has no connection {quote_input(conn_id)} (Admin > Connections); "
            "the job would otherwise run with the worker's own AWS identity"
        ) from None


def account_number(aws_conn_id: str) -> str:
    """The 12-digit AWS account a connection reaches (STS ``GetCallerIdentity``, paced).

    Raises when the connection's credentials do not work.
    """
    from cloudfront_ssl.aws.pacing import GLOBAL_REGION, StsHook

    return str(StsHook(aws_conn_id=aws_conn_id, region_name=GLOBAL_REGION).get_account_number())
