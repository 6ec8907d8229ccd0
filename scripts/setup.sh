#!/usr/bin/env bash
# Set up everything TrialScope and its tests need on a fresh Debian machine: idempotent.
#   - a virtual environment in .venv with the package and its test dependencies
#   - Debian's chromium (for the browser tests) and wrk (for the web benchmark), when root
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

if [ "${TRIALSCOPE_NO_APT:-}" = "" ] && { [ ! -x /usr/bin/chromium ] || ! command -v wrk >/dev/null; }; then
    if [ "$(id -u)" = "0" ]; then
        echo "setup: installing Debian's chromium and wrk"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium wrk >/dev/null
    else
        echo "setup: chromium/wrk missing and not root; browser tests will fail until they are installed" >&2
    fi
fi
