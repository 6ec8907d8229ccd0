"""A day of changes applied to a big store: ClinicalTrials.gov's ~1,000 changed studies, end to end.

    python bench/bench_sync.py /tmp/tsb/synth600k.db --corpus /tmp/tsb/synth100k.jsonl --changes 1000

The stand-in API server of the tests (tests/ctgov_server.py, a real HTTP server on loopback)
serves ``--changes`` studies of the store, each a new version (a later last-update date and
another status): the records of the synthetic corpus the store was made from. The sync asks
for the changes since its cursor, fetches them page by page, stores each page with the sync's
state in one transaction (every version kept), fetches the stalest trials again by id, and
then every derived index the store has is refreshed for the changed trials. Timed end to end,
on a copy of the store (``--in-place`` to use it as it is); median of ``--runs``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from ctgov_server import CtgovStandIn

from trialscope.ctgov.client import CtgovClient
from trialscope.indexes import refresh_all
from trialscope.store import open_store
from trialscope.sync import sync


def changed_studies(corpus: Path, n: int, stamp: str) -> list[bytes]:
    """The first ``n`` studies of the corpus, each a newer version: updated ``stamp``, another status."""
    out = []
    with corpus.open("rb") as lines:
        for line in lines:
            study = orjson.loads(line)
            status = study["protocolSection"].setdefault("statusModule", {})
            status["lastUpdatePostDateStruct"] = {"date": stamp, "type": "ACTUAL"}
            status["overallStatus"] = (
                "COMPLETED" if status.get("overallStatus") != "COMPLETED" else "TERMINATED"
            )
            out.append(orjson.dumps(study))
            if len(out) == n:
                break
    return out


def run_once(store_path: Path, studies: list[bytes], indexes: list[str]) -> dict[str, float]:
    with CtgovStandIn(studies) as server:
        store = open_store(store_path)
        started = time.perf_counter()
        with CtgovClient(server.url, rate=None) as client:
            summary = sync(store, client, stale=200)
        fetched = time.perf_counter() - started
        refreshed = refresh_all(store, names=indexes)
        total = time.perf_counter() - started
        store.close()
    assert summary.upserts.replaced == len(studies), summary.line()
    return {
        "sync": fetched,
        "indexes": total - fetched,
        "total": total,
        **{f"index {r.name}": r.seconds for r in refreshed},
        "requests": float(summary.requests),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--corpus", type=Path, required=True, help="the JSONL corpus the store was made from")
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--in-place", action="store_true", help="sync the store itself, not a copy")
    parser.add_argument(
        "--only", action="append", default=[], help="refresh only this derived index (default: every one)"
    )
    args = parser.parse_args(argv)
    trials = open_store(args.store, readonly=True).count()
    results = []
    for run in range(args.runs):
        studies = changed_studies(args.corpus, args.changes, f"2031-01-{run + 1:02d}")
        if args.in_place:
            target = args.store
        else:
            folder = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.store.parent))
            target = folder / args.store.name
            shutil.copy(args.store, target)
        results.append(run_once(target, studies, args.only))
        if not args.in_place:
            shutil.rmtree(target.parent)
        print(f"run {run + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in results[-1].items()), file=sys.stderr)
    keys = results[0].keys()
    print(f"{args.changes:,} changed studies into a {trials:,}-trial store, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; median of {args.runs} runs:")  # fmt: skip
    for key in keys:
        values = [r[key] for r in results]
        print(f"  {key}: {statistics.median(values):.1f}" + (" s" if key != "requests" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
