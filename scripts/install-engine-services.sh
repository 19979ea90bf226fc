#!/usr/bin/env bash
# Installs Debian's PostgreSQL and Redis servers for the engine test (tests/e2e/test_engine.py) and
# `make up-celery`. Idempotent: does nothing when both are already there. Needs root (or sudo) and
# Debian's packages. It only installs them: when nothing answers on 127.0.0.1:5432 / 6379, the
# development stack (devstack/engine.py) starts servers of its own from these binaries.
set -euo pipefail

have_postgres() { command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
if have_postgres && command -v redis-server >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql redis-server >/dev/null
redis-server --version
