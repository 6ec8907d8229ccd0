"""Related-trials index: build time and peak memory, lookup latency, and the projection to 600,000.

    python bench/bench_related.py /tmp/related-bench.db                # 3 builds, 1,000 lookups
    python bench/bench_related.py /tmp/related-bench.db --runs 1 --no-write

The store is changed (its ``similar_*`` tables are rebuilt): give it a copy, never a store
someone else benchmarks on. Each build runs in a fresh process so its peak memory
(``resource.getrusage``: the process itself and its largest worker) is that build's own; the
median of the runs is reported. Lookups are ``related_trials(limit=10)`` for random trials,
with and without a status filter, after the builds.

The projection to 600,000 trials: features, vectors and writing grow linearly with the
number of trials; the neighbour search grows faster (every posting list grows with the
corpus), so it is timed on the first 25%, 50% and 100% of the store's vectors and the
exponent of a power-law fit is used to extrapolate. Figures go to docs/PERFORMANCE.md
(block "related").
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from report import machine, write_section

TARGET = 600_000

_BUILD = r"""
import json, resource, sys
from trialscope.similar import build_index
from trialscope.store import open_store
store = open_store(sys.argv[1])
stats = build_index(store)
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": stats.seconds, "timings": dict(stats.timings), "cpu": dict(stats.cpu_timings),
                  "trials": stats.trials, "features": stats.features, "rss_kb": own, "worker_rss_kb": kids,
                  "load": open("/proc/loadavg").read().split()[:3]}))
"""

_SCALING = r"""
import json, sys, time
import numpy as np
from trialscope.similar.index import load_vocabulary, pair_scorer, stored_weights, tie_breaker_columns
from trialscope.similar.neighbours import top_neighbours
from trialscope.similar.vectors import stack_rows, weigh_columns
from trialscope.store import open_store
store = open_store(sys.argv[1], readonly=True)
rows = store.select("similar_trials", ("vector", "dup"), order_by=("trial_id",))
vocab = load_vocabulary(store)
weights = stored_weights(store)
xw = weigh_columns(stack_rows([r[0] for r in rows], len(vocab)), vocab, weights)
dup = np.asarray([r[1] for r in rows], dtype=np.int64)
out = {}
for share in (0.25, 0.5, 1.0):
    n = int(len(rows) * share)
    t = time.perf_counter()
    top_neighbours(xw[:n], dup[:n], skip=tie_breaker_columns(vocab), score_pairs=pair_scorer(vocab, weights))
    out[n] = time.perf_counter() - t
print(json.dumps(out))
"""


_RECALL = r"""
import json, sys
import numpy as np
from trialscope.similar.index import load_vocabulary, stored_weights, unpack_list
from trialscope.similar.vectors import BLOCKS, combine, stack_rows
from trialscope.store import open_store
store = open_store(sys.argv[1], readonly=True)
rows = store.select("similar_trials", ("trial_id", "vector", "dup", "neighbours"), order_by=("trial_id",))
vocab = load_vocabulary(store)
weights = stored_weights(store)
x = stack_rows([r[1] for r in rows], len(vocab))
blocks = vocab.block_array()
per_block = []
for b in range(len(BLOCKS)):
    xb = x.copy()
    xb.data = xb.data * (blocks[xb.indices] == b)
    xb.eliminate_zeros()
    per_block.append(xb)
ids = np.asarray([r[0] for r in rows])
dup = np.asarray([r[2] for r in rows], dtype=np.int64)
sample = np.sort(np.random.default_rng(11).choice(len(rows), min(500, len(rows)), replace=False))
hits = {10: [], 100: []}
for start in range(0, len(sample), 50):
    chunk = sample[start : start + 50]
    cosines = np.stack([(xb[chunk] @ xb.T).toarray() for xb in per_block], axis=2)
    exact = combine(cosines.reshape(-1, len(BLOCKS)), weights).reshape(len(chunk), len(rows))
    exact[np.arange(len(chunk)), chunk] = -1
    exact[(dup[None, :] == dup[chunk][:, None]) & (dup[chunk][:, None] != -1)] = -1
    for i, row in enumerate(chunk):
        stored = set(unpack_list(rows[row][3])[0].tolist())
        order = np.argsort(-exact[i])[:100]
        order = order[exact[i][order] > 0]
        for k in hits:
            best = set(ids[order[:k]].tolist())
            if best:
                hits[k].append(len(best & stored) / len(best))
print(json.dumps({str(k): float(np.mean(v)) for k, v in hits.items()} | {"sample": len(sample)}))
"""


def run_child(code: str, *args: str) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def time_lookups(path: str, n: int, seed: int = 7) -> dict[str, float]:
    """Median and 95th percentile of ``related_trials`` over ``n`` random trials, in milliseconds."""
    from trialscope.similar import related_trials
    from trialscope.store import open_store

    store = open_store(path, readonly=True)
    ids = store.nct_ids()
    sample = random.Random(seed).sample(ids, min(n, len(ids)))
    related_trials(store, sample[0])  # warm the page cache the way a running server has it
    plain, filtered = [], []
    for nct_id in sample:
        t = time.perf_counter()
        related_trials(store, nct_id, limit=10)
        plain.append((time.perf_counter() - t) * 1000)
    for nct_id in sample[: max(1, n // 4)]:
        t = time.perf_counter()
        related_trials(store, nct_id, limit=10, statuses=("RECRUITING",))
        filtered.append((time.perf_counter() - t) * 1000)
    plain.sort()
    return {
        "median_ms": statistics.median(plain),
        "p95_ms": plain[int(0.95 * (len(plain) - 1))],
        "filtered_median_ms": statistics.median(filtered),
        "lookups": len(plain),
        "filtered_lookups": len(filtered),
    }


def project(builds: list[dict], scaling: dict[str, float], key: str) -> dict[str, float]:  # type: ignore[type-arg]
    """Seconds per phase at TARGET trials from ``key`` ("wall" or "quiet") phase seconds.

    Features, vectors and writing scale linearly; the search by the exponent fitted to the
    scaling runs.
    """
    n = statistics.median(b["trials"] for b in builds)
    phases = {
        name: statistics.median(phase_seconds(b, key)[name] for b in builds) for name in builds[0]["timings"]
    }
    sizes = sorted((int(k), v) for k, v in scaling.items())
    (n0, t0), (n1, t1) = sizes[0], sizes[-1]
    # The search's cost per trial is bounded by design (champion lists), so its growth should
    # be about linear; a fitted exponent below 1 is overheads and noise, so 1 is the floor.
    exponent = max(1.0, math.log(t1 / t0) / math.log(n1 / n0))
    fitted = math.log(t1 / t0) / math.log(n1 / n0)
    factor = TARGET / n
    projected = {name: seconds * factor for name, seconds in phases.items() if name != "neighbours"}
    projected["neighbours"] = phases["neighbours"] * factor**exponent
    projected["total"] = sum(projected.values())
    projected["exponent"] = exponent
    projected["fitted"] = fitted
    return projected


PARALLEL_PHASES = {"features", "neighbours"}  # these run on every core; the others on one
PARALLEL_MIN_ROWS = 20_000  # trialscope.similar's threshold for a second process


def phase_seconds(build: dict, key: str) -> dict[str, float]:  # type: ignore[type-arg]
    """Wall seconds per phase as measured, or "quiet": CPU seconds over the cores the phase uses.

    On a shared machine the wall clock counts other people's work too; a phase's CPU
    seconds (its processes' own, from getrusage) divided by the cores it can use is what it
    would take on this machine alone.
    """
    if key == "wall":
        return dict(build["timings"])
    # Below PARALLEL_MIN_ROWS trials extraction and search run in the build process alone.
    cores = 2 if build["trials"] >= PARALLEL_MIN_ROWS else 1
    return {name: cpu / (cores if name in PARALLEL_PHASES else 1) for name, cpu in build["cpu"].items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", help="a copy of a store to build the index in (it is changed)")
    parser.add_argument("--runs", type=int, default=3, help="builds to take the median of (default 3)")
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling runs for the projection")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/PERFORMANCE.md alone")
    parser.add_argument("--section", default="related", help="the block of docs/PERFORMANCE.md to write")
    parser.add_argument("--from-json", help="report saved results (a --save file) instead of measuring")
    parser.add_argument("--save", help="also write the raw results to this JSON file")
    parser.add_argument(
        "--corpus",
        default="the synthetic corpus of `bench/synth.py`",
        help="what the store holds, for the report",
    )
    parser.add_argument(
        "--before", help="a --save file of the previous code on the same store, reported beside"
    )
    parser.add_argument("--label", default="", help="what code was measured (saved; a column head)")
    parser.add_argument("--note", default="", help="a sentence to end the report with")
    args = parser.parse_args(argv)

    before = json.loads(Path(args.before).read_text()) if args.before else None
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        saved["note"] = args.note or saved.get("note", "")
        write_section(args.section, report(saved, before))
        return 0

    builds = []
    for run in range(args.runs):
        result = run_child(_BUILD, args.db)
        builds.append(result)
        print(
            f"build {run + 1}: {result['seconds']:.1f} s {result['timings']}, cpu {result['cpu']}, "
            f"peak {result['rss_kb'] / 1024:.0f} MiB (largest worker {result['worker_rss_kb'] / 1024:.0f} MiB), "
            f"load {result['load']}"
        )
    lookups = time_lookups(args.db, args.lookups)
    print(
        f"lookups: median {lookups['median_ms']:.2f} ms, p95 {lookups['p95_ms']:.2f} ms, "
        f"filtered median {lookups['filtered_median_ms']:.2f} ms"
    )
    recall = run_child(_RECALL, args.db)
    print(
        f"recall of the exact top 10 / top 100 in the stored lists: {recall['10']:.3f} / {recall['100']:.3f}"
    )
    scaling = {} if args.no_scaling else run_child(_SCALING, args.db)
    if scaling:
        print("neighbour search by size:", {k: round(v, 1) for k, v in scaling.items()})
    saved = {
        "db": args.db,
        "label": args.label,
        "corpus": args.corpus,
        "note": args.note,
        "builds": builds,
        "lookups": lookups,
        "scaling": scaling,
        "recall": recall,
    }
    for key, figures in projections(saved).items():
        print(
            f"projected to {TARGET:,} ({key}): {figures['total'] / 60:.1f} min (search exponent "
            f"{figures['exponent']:.2f})"
        )
    if args.save:
        Path(args.save).write_text(json.dumps(saved, indent=1))
    if not args.no_write:
        write_section(args.section, report(saved, before))
    return 0


def projections(saved: dict) -> dict:  # type: ignore[type-arg]
    """The projection to TARGET trials from wall and from CPU seconds, when scaling runs were made."""
    if not saved.get("scaling"):
        return {}
    return {key: project(saved["builds"], saved["scaling"], key) for key in ("wall", "quiet")}


def _figures(saved: dict) -> dict[str, str]:  # type: ignore[type-arg]
    """The table's figures of one measurement, by row name."""
    builds, lookups, recall = saved["builds"], saved["lookups"], saved.get("recall")
    names = list(builds[0]["timings"])
    wall = {n: statistics.median(phase_seconds(b, "wall")[n] for b in builds) for n in names}
    quiet = {n: statistics.median(phase_seconds(b, "quiet")[n] for b in builds) for n in names}
    rss = statistics.median(b["rss_kb"] for b in builds) / 1024
    worker = statistics.median(b["worker_rss_kb"] for b in builds) / 1024
    rows = {
        f"index build, wall clock, median of {len(builds)} runs": (
            f"{statistics.median(b['seconds'] for b in builds):.1f} s"
        ),
        "... by phase, wall clock": ", ".join(f"{n} {wall[n]:.1f} s" for n in names),
        "... by phase, CPU seconds over the cores the phase uses (one below 20,000 trials)": (
            ", ".join(f"{n} {quiet[n]:.1f} s" for n in names) + f" (total {sum(quiet.values()):.1f} s)"
        ),
        "1-minute load average at the end of each build (2 cores)": ", ".join(b["load"][0] for b in builds),
        "peak memory (RSS), build process / largest worker": f"{rss:,.0f} MiB / {worker:,.0f} MiB",
        "feature columns": f"{builds[0]['features']:,}",
        f"lookup `related_trials(limit=10)`, median of {lookups['lookups']:,} random trials": (
            f"{lookups['median_ms']:.2f} ms (p95 {lookups['p95_ms']:.2f} ms)"
        ),
        f"lookup with `statuses=RECRUITING`, median of {lookups['filtered_lookups']:,}": (
            f"{lookups['filtered_median_ms']:.2f} ms"
        ),
    }
    if recall:
        rows[
            f"stored lists vs exact top k ({recall['sample']} random trials): recall of top 10 / top 100"
        ] = f"{recall['10']:.3f} / {recall['100']:.3f}"
    return rows


def report(saved: dict, before: dict | None = None) -> str:  # type: ignore[type-arg]
    builds = saved["builds"]
    heading = (
        "## Related trials" if builds[0]["trials"] < 500_000 else "## Related trials: direct build at 600,000"
    )
    now = _figures(saved)
    lines = [
        heading,
        "",
        f"Machine: {machine()}; shared with other sessions' work while measured (load averages below).",
        (
            f"Store: `{Path(saved['db']).name}`, {builds[0]['trials']:,} trials ({saved.get('corpus', '')}); "
            "k = 100 neighbours stored per trial."
        ),
        "",
    ]
    if before:
        was = _figures(before)
        lines += [f"| figure | before ({before.get('label') or 'previous code'}) | now |", "|---|---|---|"]
        lines += [f"| {name} | {was.get(name, '—')} | {value} |" for name, value in now.items()]
    else:
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in now.items()]
    projected = projections(saved)
    if saved.get("note"):
        lines += ["", saved["note"]]
    if projected:
        scaling = saved["scaling"]
        n = builds[0]["trials"]
        rss = statistics.median(b["rss_kb"] for b in builds) / 1024
        sizes = ", ".join(
            f"{int(k):,}: {v:.1f} s" for k, v in sorted(scaling.items(), key=lambda kv: int(kv[0]))
        )
        wall_p, quiet_p = projected["wall"], projected["quiet"]
        lines += [
            "",
            (
                f"Projected build for {TARGET:,} trials: {quiet_p['total'] / 60:.1f} min from CPU seconds (the machine "
                f"to itself), {wall_p['total'] / 60:.1f} min from wall clock as measured (shared). Features, vectors "
                f"and writing scale linearly ({TARGET:,} / {n:,} times the measured seconds). The neighbour search "
                f"was timed on the first 25%, 50% and 100% of the stored vectors ({sizes}); a power law through the "
                f"ends gives exponent {wall_p['fitted']:.2f}, taken as at least 1 (each trial's search cost is "
                "bounded by the champion lists), and the search seconds are scaled by "
                f"({TARGET:,} / {n:,})^{wall_p['exponent']:.2f}. CPU seconds are divided by the cores a phase "
                "uses (2 for features and search, 1 for vectors and writing). Peak memory grows about linearly: "
                f"about {rss * TARGET / n / 1024:.0f} GiB for the build process at {TARGET:,}."
            ),
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
