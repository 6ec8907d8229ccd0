"""sync: keep the store current with ClinicalTrials.gov (run it daily: see the README for cron and systemd).

trialscope sync                          # the registry's zip into an empty store, then what changed
trialscope sync --check-removed          # also mark trials the registry no longer lists
trialscope sync --since 2026-11-01       # every change from that day on
trialscope sync --dry-run                # what would change, nothing written
trialscope sync --api-url http://127.0.0.1:8765   # a mirror or a stand-in of the API
"""

from __future__ import annotations

import argparse
import logging
import re
import sys

from trialscope import settings
from trialscope.cli import add_command, add_db_argument
from trialscope.cli.core import open_from_args
from trialscope.errors import TrialScopeError

DEFAULT_API_URL = "https://clinicaltrials.gov"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "sync", cmd_sync, description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--api-url", help=f"the site root of the API (default {DEFAULT_API_URL}; $TRIALSCOPE_API_URL)"
    )
    p.add_argument(
        "--bulk", action="store_true", help="load the registry's whole zip (the default for an empty store)"
    )
    p.add_argument("--since", help="every change from this day on (YYYY-MM-DD), whatever was synced before")
    p.add_argument(
        "--check-removed", action="store_true", help="list every id and mark trials no longer listed"
    )
    p.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    p.add_argument(
        "--history", action="store_true", help="keep the registry's earlier versions of touched trials"
    )
    p.add_argument(
        "--stale", type=int, default=200, help="trials checked longest ago to fetch again by id (default 200)"
    )
    p.add_argument(
        "--rate", type=float, help="requests per second at most (default: polite, under one a second)"
    )
    p.add_argument(
        "--no-index", action="store_true", help="skip refreshing the search and related-trials indexes"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_db_argument(p)


def cmd_sync(args: argparse.Namespace) -> int:
    """bring the store up to date with ClinicalTrials.gov (bulk zip first, then daily changes)"""
    from trialscope.ctgov.client import CtgovClient
    from trialscope.indexes import refresh_all
    from trialscope.sync import sync

    if args.since is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.since.strip()):
        raise TrialScopeError(f"--since takes a day like 2026-11-01, not {args.since!r}.")
    if args.stale < 0:
        raise TrialScopeError("--stale must be 0 or more.")
    if args.rate is not None and not args.rate > 0:
        raise TrialScopeError("--rate must be more than 0 requests per second.")
    api_url = args.api_url or settings.resolve("api_url", None)
    logging.getLogger("stamina").setLevel(logging.ERROR)  # its retries are counted in the summary
    store = open_from_args(args)
    show = not args.no_progress and sys.stderr.isatty()
    progress = _bar() if show else None
    options = {"rate": args.rate} if args.rate is not None else {}
    with CtgovClient(api_url, **options) as client:
        summary = sync(
            store,
            client,
            bulk=args.bulk,
            since=args.since.strip() if args.since else None,
            check_removed=args.check_removed,
            dry_run=args.dry_run,
            history=args.history,
            stale=args.stale,
            progress=progress,
        )
    print(summary.line())
    for reject in summary.rejected[:20]:
        print(f"rejected {reject.nct_id or reject.source}: {reject.reason}")
    if summary.unknown_fields:
        names = ", ".join(sorted(summary.unknown_fields)[:10])
        print(f"Fields no earlier record had (kept in the raw records, not shown yet): {names}")
    if not args.dry_run and not args.no_index:
        for done in refresh_all(store, progress=show):
            print(f"Index {done.line} ({done.seconds:.1f} s).")
    return 0


def _bar():  # type: ignore[no-untyped-def]
    """A progress callback drawing one bar per phase (download, changes) on stderr."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def advance(what: str, done: int, total: int | None) -> None:
        bar = bars.get(what)
        if bar is None:
            unit = "B" if what == "download" else "trial"
            bar = bars[what] = tqdm(
                total=total, desc=what, unit=unit, unit_scale=what == "download", file=sys.stderr
            )
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return advance
