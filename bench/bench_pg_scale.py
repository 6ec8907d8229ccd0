"""PostgreSQL at scale: a large SQLite store copied into PostgreSQL, then searches and trial pages.

    python bench/bench_pg_scale.py /tmp/tsb/synth600k.db

Steps, each figure printed with the machine's load averages:

1. A PostgreSQL 15 server of its own (tests/pg_server.py, fsync on) and ``trialscope db copy``
   of the store into a new database: the copy's time and the database's size beside the file's.
2. One ``trialscope serve`` of two workers over it: single-connection searches with filters
   (``--runs`` runs of 10 s, 200 rotating searches, after 100 to warm), then trial pages on 16
   connections (3,000 random trials; ids that are not NCT ids, as ``bench/scale_store.py``
   gives its copies, are left out: the page refuses them).

Unlike ``bench_pg_load.py`` there is no writer: on a store without the related-trials index
its ingest would build that index for every trial first.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from bench_web import free_port, run_wrk, search_paths, serve, wait_ready, warm
from pg_server import create_database, running_postgres


def say(line: str) -> None:
    one, five, fifteen = os.getloadavg()
    print(f"{line}  [load {one:.2f} {five:.2f} {fifteen:.2f}]", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a SQLite store with a current search index")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import psycopg

    from trialscope.store import open_store

    with running_postgres(fsync=True) as server, tempfile.TemporaryDirectory() as tmp:
        url = create_database(server, "trials")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "trialscope", "db", "copy", str(args.store), url, "--no-progress"],
            check=True,
        )
        say(f"db copy: {time.perf_counter() - started:.0f} s")
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        size = int(row[0]) if row else 0
        say(f"database size {size / 1e9:.2f} GB; the SQLite file {args.store.stat().st_size / 1e9:.2f} GB")
        with open_store(url, readonly=True) as store:
            valid = [i for i in store.nct_ids() if re.fullmatch(r"NCT\d{8}", i)]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        process = serve(url, port, 2, 0)  # type: ignore[arg-type]
        try:
            wait_ready(base, timeout=900)

            def measure(what: str, paths: list[str], connections: int, threads: int) -> None:
                for run in range(args.runs):
                    fig = run_wrk(
                        base, paths, duration=10, connections=connections, threads=threads, tmp=Path(tmp)
                    )
                    say(
                        f"run {run + 1}, {what}: {fig['rps']:.0f}/s, p50 {fig['p50_ms']:.1f} ms, "
                        f"p95 {fig['p95_ms']:.1f} ms, p99 {fig['p99_ms']:.1f} ms, non-2xx {fig['non2xx']}"
                    )

            rng = random.Random(12)
            searches = search_paths("/", 200, rng)
            warm(base, searches, 100)
            measure("searches on one connection", searches, 1, 1)
            pages = [f"/trials/{i}" for i in rng.sample(valid, min(3000, len(valid)))]
            warm(base, pages, 50)
            measure("trial pages on 16 connections", pages, 16, 2)
        finally:
            process.terminate()
            process.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
