"""TLS certificates for Amazon CloudFront, run as Apache Airflow DAGs.

The library behind the DAGs in ``dags/``: the job configuration models, the domain-name rules,
the AWS service modules (ACM, CloudFront, SNS) and the deferrable wait for issuance.
"""
