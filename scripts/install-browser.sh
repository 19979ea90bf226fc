#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver for the browser test (tests/e2e/test_browser.py).
# Idempotent: does nothing when both are already there. Needs root (or sudo) and Debian's packages;
# no browser build is downloaded from anywhere else.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
chromium --version
