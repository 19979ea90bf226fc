# The project's Airflow image: the official Airflow 3.3.2 image plus this package and its pinned
# dependencies. docker-compose.yaml builds it for every Airflow service; a Kubernetes deployment
# (the official Helm chart) can use the same image.
FROM apache/airflow:3.3.2

# The official image installs Python packages as the airflow user, never as root.
USER airflow
WORKDIR /opt/airflow

# Dependencies first, so that a code change does not reinstall them. requirements.txt pins
# apache-airflow to the image's own version, so pip keeps the image's Airflow; constraints.txt
# pins everything else the package was tested with.
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/cloudfront-ssl/
RUN pip install --no-cache-dir \
        -r /opt/airflow/cloudfront-ssl/requirements.txt \
        -c /opt/airflow/cloudfront-ssl/constraints.txt

# The library (include/cloudfront_ssl) as an installed package: the DAG processor, the workers and
# the triggerer (which must import the trigger classes) all import it the same way.
COPY --chown=airflow:0 pyproject.toml /opt/airflow/cloudfront-ssl/
COPY --chown=airflow:0 include/ /opt/airflow/cloudfront-ssl/include/
RUN pip install --no-cache-dir --no-deps /opt/airflow/cloudfront-ssl

# The DAGs and plugins are baked in for deployments without mounts; docker-compose.yaml mounts the
# working copies over them (and puts include/ first on PYTHONPATH) so that edits show up live.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
# The emulator profile's seeding command and the one development-stack module it runs.
COPY --chown=airflow:0 scripts/seed_emulator.py /opt/airflow/scripts/seed_emulator.py
COPY --chown=airflow:0 devstack/__init__.py devstack/seed.py /opt/airflow/devstack/
