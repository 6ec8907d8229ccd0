"""PostgreSQL under load: two `trialscope serve` processes over one PostgreSQL while an ingest
writes; the ingest rate and the footprint beside SQLite's.

    python bench/bench_pg_load.py --sqlite /tmp/pgbench/lite100k.db --jsonl /tmp/tsb/synth100k.jsonl

The SQLite store given (indexes current: run ``trialscope index`` on it first) is left as it
is. Steps, each figure printed with the machine's load averages:

1. A PostgreSQL 15 server of its own (tests/pg_server.py, fsync on), and ``trialscope db copy``
   of the SQLite store into it: the copy's rate.
2. Footprint: the SQLite file beside the PostgreSQL database, table by table.
3. Ingest rate: the first ``--ingest-n`` records of the JSONL into a new SQLite file and a new
   PostgreSQL database (``trialscope ingest --no-index``, then ``trialscope index``).
4. Load: two ``serve`` processes of two workers each over the copied store, 64 connections on
   loopback (two wrk, 32 each) rotating over trial pages, searches with filters and facets
   (page and API) and related trials, while ``trialscope ingest`` writes new synthetic trials
   (NCT8xxxxxxx) and refreshes the indexes. Errors (non-2xx and socket), p50/p95/p99; then
   both servers must count the new trials. A search alone on one connection gives the
   single-user latency.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
from bench_web import free_port, run_wrk, search_paths, serve, wait_ready, warm
from pg_server import create_database, running_postgres

TRIALSCOPE = [sys.executable, "-m", "trialscope"]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def say(line: str) -> None:
    print(f"{line}  [{load()}]", flush=True)


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([*TRIALSCOPE, *argv], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def footprint(sqlite: Path, url: str) -> dict[str, object]:
    import psycopg

    lite = sum(p.stat().st_size for p in sqlite.parent.glob(sqlite.name + "*"))
    with psycopg.connect(url) as conn:
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
        tables = conn.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace ORDER BY 2 DESC LIMIT 8"
        ).fetchall()
    return {"sqlite_bytes": lite, "postgres_bytes": total, "postgres_tables": dict(tables)}


def ingest_rates(server: str, jsonl: Path, n: int, tmp: Path) -> dict[str, dict[str, float]]:
    part = tmp / f"first{n}.jsonl"
    with jsonl.open("rb") as source, part.open("wb") as out:
        for _, line in zip(range(n), source, strict=False):
            out.write(line)
    out_rates: dict[str, dict[str, float]] = {}
    for name, address in (
        ("sqlite", str(tmp / "ingest.db")),
        ("postgres", create_database(server, "ingest")),
    ):
        ingest = timed(["ingest", str(part), "--db", address, "--no-index", "--no-progress", "-q"])
        index = timed(["index", "--db", address, "--no-progress"])
        out_rates[name] = {"ingest_s": ingest, "trials_per_s": n / ingest, "index_s": index}
        say(
            f"ingest {n:,} into {name}: {n / ingest:,.0f} trials/s ({ingest:.1f} s), then indexes {index:.1f} s"
        )
    return out_rates


def new_trials(n: int, out: Path) -> None:
    """``n`` synthetic studies with ids no store holds yet (NCT8xxxxxxx)."""
    from synth import load_real_studies, synthesize

    with out.open("wb") as stream:
        for i, study in enumerate(synthesize(load_real_studies(), n, seed=7)):
            study["protocolSection"]["identificationModule"]["nctId"] = f"NCT8{i:07d}"
            stream.write(orjson.dumps(study) + b"\n")


def mixed_paths(ids: list[str], rng: random.Random, count: int) -> list[str]:
    """Trial pages, searches (page and API, with filters and facets) and related trials."""
    searches = search_paths("/", count // 4, rng) + [
        p + ("&" if "?" in p else "?") + "facets=status&facets=phase&facets=country"
        for p in search_paths("/api/v1/search", count // 4, rng)
    ]
    trials = [f"/trials/{rng.choice(ids)}" for _ in range(count // 3)]
    related = [f"/api/v1/trials/{rng.choice(ids)}/related" for _ in range(count // 6)]
    paths = searches + trials + related
    rng.shuffle(paths)
    return paths


def load_test(url: str, writes: Path, args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    from trialscope.store import open_store

    with open_store(url, readonly=True) as store:
        ids = store.nct_ids()
        before = store.count()
    rng = random.Random(12)
    ports = [free_port(), free_port()]
    servers = [serve(url, port, 2, args.cache_size) for port in ports]  # type: ignore[arg-type]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base in bases:
            wait_ready(base, timeout=600)
        paths = mixed_paths(ids, rng, args.paths)
        for base in bases:
            warm(base, paths, 60)
        single = run_wrk(
            bases[0], search_paths("/", 200, rng), duration=10, connections=1, threads=1, tmp=tmp
        )
        say(f"one connection, searches: p50 {single['p50_ms']:.1f} ms, p95 {single['p95_ms']:.1f} ms")
        trial_only = run_wrk(
            bases[0], [f"/trials/{i}" for i in ids[:2000]], duration=10, connections=16, threads=2, tmp=tmp
        )
        say(f"trial pages alone, one server: {trial_only['rps']:.0f}/s, p95 {trial_only['p95_ms']:.1f} ms")
        writer = subprocess.Popen(
            [*TRIALSCOPE, "ingest", str(writes), "--db", url, "--no-progress", "-q", "--batch-size", "500"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started = time.perf_counter()
        folders = [tmp / "a", tmp / "b"]  # each wrk its own script and listing
        for folder in folders:
            folder.mkdir(exist_ok=True)
        with ThreadPoolExecutor(2) as pool:  # 64 connections: 32 on each server, at once
            figures = list(
                pool.map(
                    lambda n: run_wrk(
                        bases[n], paths, duration=args.duration, connections=32, threads=2, tmp=folders[n]
                    ),
                    range(2),
                )
            )
        written = writer.wait(timeout=3600)
        ingest_s = time.perf_counter() - started
        out = writer.stdout.read() if writer.stdout else ""
        say(
            f"writer: exit {written}, {ingest_s:.0f} s: {out.strip().splitlines()[-1] if out.strip() else ''}"
        )
        for base, fig in zip(bases, figures, strict=True):
            say(
                f"{base}: {fig['rps']:.0f} req/s, p50 {fig['p50_ms']:.1f} / p95 {fig['p95_ms']:.1f} / "
                f"p99 {fig['p99_ms']:.1f} ms, non-2xx {fig['non2xx']}, socket errors {fig['socket_errors']}"
            )
        seen = []
        for base in bases:
            with urllib_open(base + "/healthz") as response:
                seen.append(json.load(response))
        say(f"after the ingest, the servers say: {seen} (before: {before:,} trials)")
        return {
            "single_search": single,
            "trial_pages": trial_only,
            "mixed": figures,
            "writer_s": ingest_s,
            "writer_exit": written,
            "before": before,
            "seen_after": seen,
        }
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)


def urllib_open(url: str):  # type: ignore[no-untyped-def]
    import urllib.request

    return urllib.request.urlopen(url, timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite", type=Path, required=True, help="a SQLite store with current indexes")
    parser.add_argument("--jsonl", type=Path, default=Path("/tmp/tsb/synth100k.jsonl"))
    parser.add_argument("--ingest-n", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=3000, help="new trials the ingest writes under load")
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--paths", type=int, default=4000)
    parser.add_argument("--cache-size", type=int, default=0, help="searches each worker caches (0: none)")
    parser.add_argument("--skip", action="append", default=[], choices=("ingest", "load"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pgbench-"))
    settings = {"shared_buffers": "2GB", "max_wal_size": "4GB", "checkpoint_timeout": "15min"}
    results: dict[str, object] = {"machine_cores": os.cpu_count()}
    with running_postgres(fsync=True, settings=settings) as server:
        url = create_database(server, "trials")
        say(f"PostgreSQL at {url}")
        started = time.perf_counter()
        subprocess.run([*TRIALSCOPE, "db", "copy", str(args.sqlite), url, "--no-progress"], check=True)
        copy_s = time.perf_counter() - started
        results["copy_s"] = copy_s
        say(f"db copy SQLite -> PostgreSQL: {copy_s:.0f} s")
        results["footprint"] = footprint(args.sqlite, url)
        say(f"footprint: {json.dumps(results['footprint'])}")
        if "ingest" not in args.skip:
            results["ingest"] = ingest_rates(server, args.jsonl, args.ingest_n, tmp)
        if "load" not in args.skip:
            writes = tmp / "new.jsonl"
            new_trials(args.writes, writes)
            results["load"] = load_test(url, writes, args, tmp)
    print("RESULTS " + json.dumps(results, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
