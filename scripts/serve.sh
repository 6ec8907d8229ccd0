#!/usr/bin/env bash
# The main job: set up, load the real records into the embedded SQLite store, serve the web app.
#   scripts/serve.sh                      # http://127.0.0.1:8000/
#   TRIALSCOPE_DB=/path/trials.db PORT=9000 scripts/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALSCOPE_NO_APT=1 bash scripts/setup.sh
DATA=${TRIALSCOPE_DATA:-../shared/data/ctgov}
TS=.venv/bin/trialscope
if [ -d "$DATA" ]; then
    REPORT=${TRIALSCOPE_REPORT:-rejected-records.jsonl}
    rm -f "$REPORT"
    "$TS" ingest ../shared/seed/NCT04184258.json "$DATA" --quiet --report "$REPORT"
    if [ -s "$REPORT" ]; then
        echo "The records that could not be read, and why: $REPORT"
    fi
else
    echo "No records at $DATA: load some with '$TS ingest PATH' (API v2 JSON, bulk zip, legacy XML...)."
fi
exec "$TS" serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
