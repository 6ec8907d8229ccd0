"""A search-benchmark store N times the size of another, for the registry's scale (~600,000).

    python bench/scale_store.py /tmp/search-bench/synth100k.db /tmp/search-bench/synth600k.db 6

Copy k (k = 0..N-1) of every trial gets the id ``id + k * (max id + 1)`` and the NCT id
``NCTxxxxxxxx-k`` (``-0`` left off), with the same text, filters, sites and full-text row:
the same distributions with postings N times longer. The parsed-trial and raw blobs are left
out (search never reads them), so the copy is a search store only: its trial pages cannot be
shown. Search's own tables are built on first use (``bench_search.py`` does it). The source
is read-only; the target must not exist.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

from trialscope.store import open_store

CHILD_TABLES = (
    "trial_phases",
    "trial_conditions",
    "trial_mesh",
    "trial_interventions",
    "trial_sponsors",
    "sites",
)


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA s.table_info({table})")]


def scale(source: Path, target: Path, copies: int) -> None:
    open_store(target).close()  # the store's schema, at its version
    conn = sqlite3.connect(f"file:{target}", uri=True)  # so that ATTACH takes the read-only URI below
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -500000")
    conn.execute("ATTACH DATABASE ? AS s", [f"file:{source}?mode=ro"])
    step = conn.execute("SELECT max(id) FROM s.trials").fetchone()[0] + 1
    trial_columns = columns(conn, "trials")
    fts_columns = columns(conn, "trials_fts")
    for k in range(copies):
        started = time.perf_counter()
        chosen = []
        for name in trial_columns:
            if name == "id":
                chosen.append(f"id + {k * step}")
            elif name == "nct_id":
                chosen.append(f"nct_id || '-{k}'" if k else "nct_id")
            elif name == "trial":
                chosen.append("X''")
            elif name == "raw":
                chosen.append("NULL")
            else:
                chosen.append(name)
        conn.execute(f"INSERT INTO trials({','.join(trial_columns)}) SELECT {','.join(chosen)} FROM s.trials")
        for table in CHILD_TABLES:
            names = [f"trial_id + {k * step}" if c == "trial_id" else c for c in columns(conn, table)]
            conn.execute(f"INSERT INTO {table} SELECT {','.join(names)} FROM s.{table}")
        conn.execute(
            f"INSERT INTO trials_fts(rowid, {','.join(fts_columns)}) "
            f"SELECT rowid + {k * step}, {','.join(fts_columns)} FROM s.trials_fts"
        )
        conn.commit()
        print(f"copy {k + 1} of {copies} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('content_version', '1') ON CONFLICT(key) DO UPDATE SET value = '1'"
    )
    conn.execute("INSERT INTO trials_fts(trials_fts) VALUES ('optimize')")
    conn.commit()
    conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="a store to copy (read only)")
    parser.add_argument("target", type=Path, help="the new store (must not exist)")
    parser.add_argument("copies", type=int, help="how many copies of every trial")
    args = parser.parse_args(argv)
    if not args.source.exists():
        parser.error(f"{args.source} does not exist")
    if args.target.exists():
        parser.error(f"{args.target} exists; give a new path")
    if args.copies < 1:
        parser.error("copies must be at least 1")
    scale(args.source, args.target, args.copies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
