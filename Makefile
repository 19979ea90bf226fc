# Set-up and everyday commands. Each target creates .venv from the pinned requirements first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv test test-engine lint demo up up-celery clean bench

# One pytest-xdist worker more than CPUs: the end-to-end tests spend much of their time waiting on real
# processes and the emulators (two workers left a third of two CPUs idle).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 1)")

$(BIN)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml devstack/ministack-requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --quiet --no-deps -e .
	# The CloudFront SaaS Manager emulator, in its own environment: it pins another botocore.
	test -x $(VENV)/ministack/bin/python || $(PYTHON) -m venv $(VENV)/ministack
	$(VENV)/ministack/bin/pip install --quiet --no-deps -r devstack/ministack-requirements.txt
	touch $@

venv: $(BIN)/.installed

## Run the test suite: ruff and mypy, then unit tests, DAG checks, end-to-end runs against moto, real api-servers and the
## browser in parallel (one pytest-xdist worker more than CPUs); then, alone on the machine, the jobs on the
## production engine (Celery, PostgreSQL, Redis: a worker and a triggerer killed) and a burst of jobs
## on standalone, which time real processes and so must not share the CPUs.
test: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	bash scripts/install-browser.sh
	bash scripts/install-engine-services.sh
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile
	$(BIN)/pytest -m engine

## Only the engine and burst tests (the second half of make test). About 8 minutes on two cores.
test-engine: venv
	bash scripts/install-engine-services.sh
	$(BIN)/pytest -m engine

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

## Watch the jobs run end to end on the AWS emulator (moto; ministack for the tenant job), driven through the
## Airflow REST API.
demo: venv
	-bash scripts/install-engine-services.sh
	$(BIN)/python scripts/demo.py

## The same stack, kept running to explore the UI until Ctrl-C (Airflow home: .airflow/).
up: venv
	-bash scripts/install-engine-services.sh
	$(BIN)/python scripts/demo.py --keep-running

## Benchmarks, not tests: the wait at fleet scale (in-process and in a real triggerer), the create job
## next to a plain boto3 loop, the DAG files' parse time next to Airflow's example. Prints figures.
bench: venv
	$(BIN)/python scripts/bench.py run

## The same on the production engine of docker-compose.yaml, without Docker: CeleryExecutor on
## PostgreSQL and Redis, two workers, two triggerers, until Ctrl-C (Airflow home: .airflow/engine/).
up-celery: venv
	bash scripts/install-engine-services.sh
	$(BIN)/python scripts/demo.py --keep-running --engine

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info include/*.egg-info
