"""Ingest throughput, peak memory and the parse floor; `show` latency on a large store.

    python bench/bench_ingest.py                       # real records + 100k synthetic corpus
    python bench/bench_ingest.py --synthetic 20000 --runs 3

Each ingest runs in a fresh process into a fresh store (so peak memory is that ingest's),
several times; the median is reported. The floor is the time to decode every record with
orjson and nothing else. Figures go to docs/PERFORMANCE.md (section "ingest").
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from report import machine, write_section

REAL = ROOT.parent / "shared" / "data" / "ctgov"
SEED = ROOT.parent / "shared" / "seed" / "NCT04184258.json"

_CHILD = r"""
import json, os, resource, sys, time
from trialscope.ingest import ingest_paths
from trialscope.store import open_store
store = open_store(sys.argv[1])
t = time.perf_counter()
summary = ingest_paths(store, sys.argv[2:], progress=False)
elapsed = time.perf_counter() - t
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"elapsed": elapsed, "records": summary.records, "stored": summary.stored,
                  "rss_kb": own, "worker_rss_kb": kids, "load": os.getloadavg()[0]}))
"""


def run_ingest(paths: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(Path(tmp) / "b.db"), *paths],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    rate = result["records"] / result["elapsed"]
    print(f"  {rate:,.0f} records/s, 1-minute load {result['load']:.1f}", flush=True)
    return result


def compressor() -> str:
    """How the store compresses its values."""
    from trialscope.store import blobs

    return f"zstd level {blobs.LEVEL} with the store's own dictionaries ({blobs.DICT_BYTES // 1024} KiB each)"


def parse_floor(path: Path) -> float:
    """Seconds to decode every line of a JSONL file with orjson, and nothing else."""
    import orjson

    t = time.perf_counter()
    with open(path, "rb") as stream:
        for line in stream:
            orjson.loads(line)
    return time.perf_counter() - t


def show_latency(db: Path, samples: int = 300) -> list[float]:
    from trialscope.render import build_page, render_page
    from trialscope.store import open_store

    store = open_store(db, readonly=True)
    ids = store.nct_ids()
    rng = random.Random(7)
    times = []
    for nct_id in rng.sample(ids, min(samples, len(ids))):
        t = time.perf_counter()
        render_page(build_page(store.get_trial(nct_id)), "text")
        times.append((time.perf_counter() - t) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=100_000, help="size of the synthetic corpus")
    parser.add_argument("--synthetic-runs", type=int, default=3)
    parser.add_argument("--workdir", default="/tmp/trialscope-bench")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)

    load_before = os.getloadavg()[0]
    real = [run_ingest([str(REAL), str(SEED)]) for _ in range(args.runs)]
    real_rate = statistics.median(r["records"] / r["elapsed"] for r in real)
    print(f"real: {real[0]['records']} records, {real_rate:.0f} records/s", flush=True)

    corpus = work / f"synth{args.synthetic // 1000}k.jsonl"
    if not corpus.exists():
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "synth.py"),
                "--n",
                str(args.synthetic),
                "--out",
                str(corpus),
            ],
            check=True,
        )
    floor = statistics.median(parse_floor(corpus) for _ in range(3))
    synth = [run_ingest([str(corpus)]) for _ in range(args.synthetic_runs)]
    elapsed = statistics.median(r["elapsed"] for r in synth)
    rate = args.synthetic / elapsed
    peak = max(max(r["rss_kb"], r["worker_rss_kb"]) for r in synth + real) / 1024
    print(
        f"synthetic: {rate:.0f} trials/s, floor {args.synthetic / floor:.0f}/s, peak {peak:.0f} MiB",
        flush=True,
    )

    load_after = os.getloadavg()[0]
    loads = [r["load"] for r in real + synth]
    store = work / f"synth{args.synthetic // 1000}k.db"
    show = show_latency(store) if store.exists() else []
    size_gb = corpus.stat().st_size / 1e9
    lines = [
        "## Ingest and the trial page",
        "",
        (
            f"Machine: {machine()}. Median of {args.runs} runs (real) and {args.synthetic_runs} runs (synthetic); "
            "each run is a fresh process into a fresh SQLite store (trials, their filter tables and every version; the derived indexes are timed apart, below), "
            "parsing in worker processes (one per core) while the main process writes, "
            f"blobs compressed with {compressor()}. "
            f"1-minute load average {load_before:.1f} before the runs, {min(loads):.1f}–{max(loads):.1f} "
            f"at the end of each run and {load_after:.1f} after them; an ingest alone keeps the load near 2–3 "
            "(a writer and two parsers), so a load above 3 during the runs, or above 0.5 before them, "
            "means other work shared the 2 cores and the figures are low by that much."
        ),
        "",
        "| corpus | records | trials/s | peak RSS (largest process) |",
        "|---|---|---|---|",
        (
            f"| real records, `shared/data/ctgov` (all formats) + seed | {real[0]['records']:,} | {real_rate:,.0f} | "
            f"{max(max(r['rss_kb'], r['worker_rss_kb']) for r in real) / 1024:.0f} MiB |"
        ),
        f"| synthetic API v2 JSONL ({size_gb:.2f} GB) | {args.synthetic:,} | {rate:,.0f} | {peak:.0f} MiB |",
        "",
        (
            f"Parse floor (orjson decode of each synthetic line, nothing else): {args.synthetic / floor:,.0f} records/s; "
            f"the full ingest runs at {rate / (args.synthetic / floor):.1%} of the floor "
            f"(floor/ingest ratio {(args.synthetic / floor) / rate:.1f}x)."
        ),
    ]
    if show:
        lines += [
            "",
            (
                f"`show` (get trial + build page + render text, in-process) on the {args.synthetic:,}-trial store: "
                f"median {statistics.median(show):.2f} ms, p95 {statistics.quantiles(show, n=20)[-1]:.2f} ms over {len(show)} random trials."
            ),
        ]
    write_section("ingest", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
