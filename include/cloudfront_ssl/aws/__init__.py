"""One module per AWS service, each a few calls and finders around a client from the Amazon
provider's hooks: ``acm`` (and ``acm_status``, its statuses read in bulk), ``cloudfront``,
``route53`` (zones and changes sent; ``route53_records`` reads records, ``route53_changes`` plans
what a job writes and removes), ``notify`` (SNS); ``pacing`` holds the one hook class per service
and paces every client per service and process; ``connections`` refuses a connection id Airflow
does not have."""
