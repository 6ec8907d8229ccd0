#!/usr/bin/env bash
# Set up everything TrialScope and its tests need on a fresh Debian machine: idempotent.
#   - a virtual environment in .venv with the package and its test dependencies
#   - Debian's chromium (for the browser tests), wrk (for the web benchmark) and PostgreSQL 15
#     (the tests start a throwaway server of their own: tests/pg_server.py), when root
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import trialscope, pytest, hypothesis, playwright" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ]; then
    echo "setup: installing trialscope and its test dependencies"
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
    .venv/bin/python -m pip install --quiet -e ".[test]"
    touch .venv/.installed
fi

if [ "${TRIALSCOPE_NO_APT:-}" = "" ] && { [ ! -x /usr/bin/chromium ] || ! command -v wrk >/dev/null \
        || [ ! -x /usr/lib/postgresql/15/bin/initdb ]; }; then
    if [ "$(id -u)" = "0" ]; then
        echo "setup: installing Debian's chromium, wrk and postgresql"
        apt-get update -qq
        # Debian's postgresql package starts a cluster of its own; the tests never use it.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wrk postgresql >/dev/null
    else
        echo "setup: chromium/wrk/postgresql missing and not root; browser and PostgreSQL tests will fail" >&2
    fi
fi
