"""A benchmark store N times the size of another, for the registry's scale (~600,000 trials).

    python bench/scale_store.py /tmp/tsb/synth100k.db /tmp/tsb/synth600k.db 6

Copy k (k = 0..N-1) of every trial gets the NCT id ``NCTxxxxxxxx-k`` (``-0`` left off) and is
otherwise the same trial: the same text, filters and sites, so the distributions are those of
the source with postings N times longer. The copies are written through the store's own
upsert (each copy a new trial, logged for the derived indexes); their raw records are left
out (nothing a benchmark reads needs them). The search index is then built as for any
store (``--no-index`` skips it). The source is read-only; the target must not exist.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from trialscope.indexes import refresh_all
from trialscope.store import StoredRecord, open_store


def scale(source: Path, target: Path, copies: int, *, index: bool = True) -> None:
    src = open_store(source, readonly=True)
    dst = open_store(target)
    started = time.perf_counter()
    with dst.bulk_writes():
        batch: list[StoredRecord] = []
        for k in range(copies):
            for trial in src.iter_trials():
                nct_id = f"{trial.nct_id}-{k}" if k else trial.nct_id
                batch.append(StoredRecord(dataclasses.replace(trial, nct_id=nct_id), b"", "scale_store"))
                if len(batch) >= 2000:
                    dst.upsert_trials(batch)
                    batch = []
            print(f"copy {k + 1}/{copies}: {dst.count():,} trials, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)  # fmt: skip
        dst.upsert_trials(batch)
    if index:
        for done in refresh_all(dst, names=["search"]):
            print(f"{done.line} in {done.seconds:.0f} s", file=sys.stderr)
    dst.close()
    src.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("copies", type=int)
    parser.add_argument("--no-index", action="store_true", help="do not build the search index")
    args = parser.parse_args(argv)
    if args.target.exists():
        parser.error(f"{args.target} exists; give a new file")
    scale(args.source, args.target, args.copies, index=not args.no_index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
