#!/usr/bin/env bash
# Run the test suite on a fresh machine: set up, then pytest (slow tests excluded unless asked).
#   scripts/test.sh              # the default suite, as CI runs it
#   scripts/test.sh -m slow      # only the slow tests
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p test-artifacts
if [ "$#" -eq 0 ]; then
    set -- -m "not slow"
fi
exec .venv/bin/python -m pytest "$@"
