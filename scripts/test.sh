#!/usr/bin/env bash
# Run the checks and the test suite on a fresh machine: set up, lint, type-check, then pytest
# (slow tests excluded unless asked).
#   scripts/test.sh              # the default suite, as CI runs it
#   scripts/test.sh -m slow      # only the slow tests
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p test-artifacts
echo "lint: ruff check, ruff format --check, mypy"
.venv/bin/ruff check --quiet src tests bench eval
.venv/bin/ruff format --check --quiet src tests bench eval
.venv/bin/mypy --no-error-summary
if [ "$#" -eq 0 ]; then
    set -- -m "not slow"
fi
exec .venv/bin/python -m pytest "$@"
