"""Web throughput and latency: `trialscope serve` under wrk, on a large store.

    python bench/bench_web.py                                  # synth100k store, 1 and 2 workers
    python bench/bench_web.py --db /tmp/x.db --workers 2 --duration 10 --no-write

For each worker count it starts ``trialscope serve`` on a free loopback port, warms it up,
then runs wrk (loopback only, bounded duration, 32 connections) against:

- trial pages: ``/trials/{nct_id}`` rotating over a random sample of the store's ids;
- the search page: ``/`` with a rotating list of searches (text, filters, facets, pages);
- the search API: ``/api/v1/search`` with the same searches.

A Lua script feeds wrk the URLs and prints requests/s, latency percentiles and non-2xx
counts as JSON. Figures go to docs/PERFORMANCE.md (section "web").

    python bench/bench_web.py --cpu                            # no server, no wrk

``--cpu`` instead asks the app in this process (search cache off) for the same searches and
prints the CPU time of each kind of request: with 32 connections on 2 cores, latency is
about 16 times that, so it tells whether a change can meet the target before running wrk.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from report import machine, write_section

DEFAULT_DB = Path("/tmp/trialscope-bench/synth100k.db")

# A Lua script for wrk: rotate over the URL paths in a file, each thread from its own offset,
# and print the summary as one line of JSON.
LUA = r"""
local paths = {}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  counter = (tonumber(tid) or 0) * 7919
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_ms": %.2f, "p90_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "mean_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000, latency.max / 1000))
end
"""

TERMS = (
    "cancer",
    "breast cancer",
    "diabetes",
    "lupus",
    "stem cell",
    "mesenchymal",
    "asthma",
    "covid-19",
    "depression",
    "hypertension",
    "leukemia",
    "lymphoma",
    "melanoma",
    "pain",
    "obesity",
    "heart failure",
    "alzheimer",
    "parkinson",
    "hiv",
    "hepatitis",
    "vaccine",
    "pembrolizumab",
    "insulin",
    "stroke",
    "rheumatoid arthritis",
    "multiple sclerosis",
    "kidney",
    "pregnancy",
    "sleep",
    "exercise",
)
FILTERS = (
    {},
    {"status": "RECRUITING"},
    {"phase": "PHASE2"},
    {"phase": "PHASE3", "status": "COMPLETED"},
    {"type": "INTERVENTIONAL"},
    {"has_results": "true"},
    {"sponsor_class": "INDUSTRY"},
    {"country": "United States"},
    {"start_from": "2015"},
    {"page": "2"},
    {"sort": "last_update"},
)


def search_paths(prefix: str, count: int, rng: random.Random) -> list[str]:
    """A rotating mix of searches: text alone, text with filters, filters alone, the empty search."""
    out = [prefix]  # the front page with no query: all trials with their facets
    while len(out) < count:
        params: dict[str, str] = dict(rng.choice(FILTERS))
        if rng.random() < 0.85:
            params["q"] = rng.choice(TERMS)
        out.append(prefix + ("?" + urlencode(params) if params else ""))
    return out


def http_stack() -> str:
    """What uvicorn runs on here: httptools and uvloop when installed, else h11 and asyncio."""
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{parser} + {loop}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if json.load(response).get("trials"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server at {base} did not come up within {timeout:.0f} s")


def warm(base: str, paths: list[str], count: int) -> None:
    for path in paths[:count]:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            response.read()


def run_wrk(base: str, paths: list[str], *, duration: int, connections: int, threads: int, tmp: Path) -> dict:
    script = tmp / "rotate.lua"
    script.write_text(LUA)
    listing = tmp / f"paths-{len(paths)}-{abs(hash(paths[0])) % 10_000}.txt"
    listing.write_text("\n".join(paths) + "\n")
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
            "--",
            str(listing),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    figures = json.loads(line[len("WRKJSON ") :])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def serve(db: Path, port: int, workers: int, cache: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "trialscope",
        "serve",
        "--db",
        str(db),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--search-cache",
        str(cache),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def warm_all(base: str, paths: list[str], rounds: int, workers: int) -> None:
    """Ask every path ``rounds`` times, a few at a time, so each worker process has cached it."""

    def ask(path: str) -> None:
        try:
            warm(base, [path], 1)
        except urllib.error.HTTPError:
            pass  # a search that timed out under the warm-up load is asked again in the next round

    with ThreadPoolExecutor(2 * workers) as pool:
        list(pool.map(ask, paths * rounds))


def bench_server(
    db: Path, workers: int, cached: bool, args: argparse.Namespace, ids: list[str], tmp: Path
) -> dict[str, dict]:
    """One server (workers, search cache on or off) under each load; figures by load name."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve(db, port, workers, args.cache_size if cached else 0)
    rng = random.Random(workers)
    # With the cache on, searches rotate over a small set of popular ones, asked beforehand
    # so that every worker holds them; with it off, over many, each one a real search.
    count = args.popular if cached else args.searches
    page_paths = search_paths("/", count, rng)
    api_paths = search_paths("/api/v1/search", count, rng)
    trial_paths = [f"/trials/{nct_id}" for nct_id in ids]
    try:
        wait_ready(base)
        warm(base, trial_paths, 50)
        warm(base, page_paths, 10)
        if cached:
            warm_all(base, page_paths + api_paths, 2 * workers, workers)
        else:
            # A server up a while: searches drawn from the same words and filters (another
            # seed), so each worker has read the words' postings (or left them to its
            # background reader, done by the second round). With the cache off nothing else
            # is kept: a timed search is searched afresh even if the warm-up drew it too.
            others = search_paths("/", count, random.Random(workers + 1000))
            warm_all(base, others, 2 * workers, workers)
        # Words the warm-up searches found costly are read by each worker's background
        # reader; let it finish, as on a server up a while, before anything is timed.
        time.sleep(args.settle)
        loads = [("search page", page_paths), ("search API", api_paths)]
        if cached:
            loads.insert(0, ("trial pages", trial_paths))
        results = {}
        for name, paths in loads:
            print(f"  {workers} worker(s), cache {'on' if cached else 'off'}: {name} ...", file=sys.stderr)
            results[name] = run_wrk(
                base,
                paths,
                duration=args.duration,
                connections=args.connections,
                threads=args.threads,
                tmp=tmp,
            )
            if name == "search page":
                # One connection: the latency of a search with nobody else waiting.
                results[name + " (1 connection)"] = run_wrk(
                    base, paths, duration=max(5, args.duration // 2), connections=1, threads=1, tmp=tmp
                )
        return results
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def cpu_per_request(db: Path, count: int) -> dict[str, dict[str, float]]:
    """CPU milliseconds of one request (median, mean, p90) to the app in this process."""
    import asyncio
    import statistics

    from trialscope.web.app import WebSettings, _warm_search, create_app

    app = create_app(WebSettings(db=str(db), search_cache=0))
    _warm_search(app.state.stores)

    async def ask(path: str) -> int:
        route, _, query = path.partition("?")
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": route, "raw_path": route.encode(), "query_string": query.encode(),
            "root_path": "", "headers": [(b"host", b"localhost")], "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80), "state": {},
        }  # fmt: skip
        status = 0

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])  # type: ignore[call-overload]

        await app(scope, receive, send)  # type: ignore[arg-type]
        return status

    async def measure(paths: list[str]) -> dict[str, float]:
        for path in paths[:10]:  # the first requests load what every search needs
            await ask(path)
        times = []
        for path in paths[10:]:
            started = time.process_time()
            status = await ask(path)
            times.append((time.process_time() - started) * 1000)
            if status != 200:
                raise SystemExit(f"{path} answered {status}")
        times.sort()
        return {
            "median_ms": statistics.median(times),
            "mean_ms": statistics.mean(times),
            "p90_ms": times[int(0.9 * len(times))],
        }

    rng = random.Random(1)
    loads = {
        "search page": search_paths("/", count + 10, rng),
        "search API": search_paths("/api/v1/search", count + 10, rng),
    }
    return {name: asyncio.run(measure(paths)) for name, paths in loads.items()}


def store_facts(db: Path, sample: int) -> tuple[int, list[str]]:
    """How many trials, a random sample of their ids; a warning when an index is missing."""
    from trialscope.indexes import DERIVED_INDEXES
    from trialscope.store import is_current, open_store

    with open_store(db, readonly=True) as store:
        ids = store.nct_ids()
        if not all(is_current(store, index) for index in DERIVED_INDEXES):
            print(
                f"warning: {db} lacks a current derived index, so the figures would not be a served "
                "store's; run `trialscope index` on a copy first",
                file=sys.stderr,
            )
    rng = random.Random(42)
    return len(ids), rng.sample(ids, min(sample, len(ids)))


def table(all_results: dict[tuple[int, bool], dict[str, dict]], args: argparse.Namespace) -> str:
    lines = [
        "| workers | search cache | load | connections | requests/s | p50 ms | p95 ms | p99 ms | non-2xx |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (workers, cached), results in all_results.items():
        for name, f in results.items():
            conns = 1 if "1 connection" in name else args.connections
            cache = f"on ({args.popular} popular searches)" if cached else f"off ({args.searches} searches)"
            if name == "trial pages":
                cache = "–"
            lines.append(
                f"| {workers} | {cache} | {name.replace(' (1 connection)', '')} | {conns} | {f['rps']:,.0f} | "
                f"{f['p50_ms']:.1f} | {f['p95_ms']:.1f} | {f['p99_ms']:.1f} | {f['non2xx'] + f['socket_errors']} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"the store (default {DEFAULT_DB})")
    parser.add_argument(
        "--workers", default="1,2", help="worker counts to try, comma-separated (default 1,2)"
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run (default 15)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--ids", type=int, default=5000, help="distinct trials the page run rotates over")
    parser.add_argument("--searches", type=int, default=200, help="distinct searches of the uncached runs")
    parser.add_argument("--popular", type=int, default=40, help="distinct searches of the cached runs")
    parser.add_argument("--cache-size", type=int, default=256, help="the server's --search-cache when on")
    parser.add_argument("--no-write", action="store_true", help="print the figures, leave docs/ alone")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds to wait after the warm-up (default 10)"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="only the CPU time of each request, in this process (no wrk)"
    )
    args = parser.parse_args()
    if args.cpu:
        for name, f in cpu_per_request(args.db, args.searches).items():
            print(
                f"{name:<12} CPU per request: median {f['median_ms']:.2f} ms, mean {f['mean_ms']:.2f} ms, "
                f"p90 {f['p90_ms']:.2f} ms ({args.searches} searches, cache off)"
            )
        return 0
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    if not args.db.exists():
        raise SystemExit(f"no store at {args.db}; build it with bench/synth.py first")
    trials, ids = store_facts(args.db, args.ids)
    print(f"store {args.db}: {trials:,} trials; rotating over {len(ids):,} trial pages", file=sys.stderr)
    all_results: dict[tuple[int, bool], dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (int(w) for w in args.workers.split(",")):
            for cached in (True, False):
                results = bench_server(args.db, workers, cached, args, ids, Path(tmp))
                all_results[(workers, cached)] = results
                for name, f in results.items():
                    print(
                        f"  {workers} worker(s) cache {'on ' if cached else 'off'} {name:<26} {f['rps']:8,.0f} req/s"
                        f"  p50 {f['p50_ms']:7.1f} ms  p95 {f['p95_ms']:7.1f} ms  p99 {f['p99_ms']:7.1f} ms"
                        f"  non-2xx {f['non2xx']}",
                        file=sys.stderr,
                    )
    body = "\n".join(
        [
            "## Web",
            "",
            (
                f"`python bench/bench_web.py` — `trialscope serve` (uvicorn with {http_stack()}) on a "
                f"{trials:,}-trial store "
                f"(`{args.db.name}`, search and similarity indexes built), wrk on loopback, {args.duration} s per "
                f"run, {args.connections} connections ({args.threads} wrk threads) unless the row says 1. Trial "
                f"pages rotate over {len(ids):,} random trials (the full page: every section and its related "
                "trials; no gzip, wrk does not ask for it). Searches mix text, filters, pages and sorts; the "
                "HTML search page also counts 7 facets. With the search cache off every request is a real "
                f"search ({args.searches} distinct ones); with it on, the rows show {args.popular} popular "
                "searches, each asked once per worker beforehand."
            ),
            f"Machine: {machine()}. wrk runs on the same 2 cores as the server.",
            "",
            table(all_results, args),
            "",
            "Targets: ≥ 300 trial pages/s; search p95 ≤ 150 ms (32 connections).",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("web", body)
        print(f"written to {ROOT / 'docs' / 'PERFORMANCE.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    # A SIGTERM still runs the finally blocks that stop the servers this script started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
