"""One module per AWS service, each a few calls and finders around a client from the Amazon
provider's hooks: ``acm`` (and ``acm_status``, its statuses read in bulk), ``cloudfront``,
``route53``, ``notify`` (SNS); ``acm_rate`` paces the package's calls per process and
``connections`` refuses a connection id Airflow does not have."""
