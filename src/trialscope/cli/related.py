"""related, index: the trials most like one trial, and the index that finds them.

trialscope related NCT04184258
trialscope related NCT04184258 --limit 25 --status recruiting --format json
trialscope index            # bring the index up to date (builds it the first time)
trialscope index --full     # rebuild it from every stored trial
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from dataclasses import asdict

import orjson

from trialscope.cli import add_command, add_db_argument
from trialscope.cli.core import open_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "related", cmd_related)
    p.add_argument("nct_id")
    p.add_argument("--limit", "-n", type=int, default=10, help="how many to show (default 10)")
    p.add_argument("--status", action="append", default=[], help="only this recruitment status (repeatable)")
    p.add_argument(
        "--phase", action="append", default=[], help="only this phase, e.g. 2 or PHASE2 (repeatable)"
    )
    results = p.add_mutually_exclusive_group()
    results.add_argument(
        "--has-results",
        dest="has_results",
        action="store_const",
        const=True,
        default=None,
        help="only trials with posted results",
    )
    results.add_argument(
        "--no-results",
        dest="has_results",
        action="store_const",
        const=False,
        help="only trials without posted results",
    )
    p.add_argument(
        "--country", action="append", default=[], help="only trials with a site in this country (repeatable)"
    )
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    add_db_argument(p)

    p = add_command(sub, "index", cmd_index)
    p.add_argument("--full", action="store_true", help="rebuild from every stored trial instead of updating")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        choices=("search", "similar", "criteria"),
        help="only this index (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_db_argument(p)


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "no_progress", False) and sys.stderr.isatty()


def cmd_index(args: argparse.Namespace) -> int:
    """bring the search, related-trials and typed-criteria indexes up to date"""
    from trialscope.indexes import refresh_all

    store = open_from_args(args)
    done = refresh_all(store, names=args.only, full=args.full, progress=_progress(args))
    for refreshed in done:
        print(f"Index {refreshed.line} ({refreshed.seconds:.1f} s).")
    if not done:
        print(f"The indexes are up to date ({store.count():,} trials).")
    return 0


def cmd_related(args: argparse.Namespace) -> int:
    """the trials most related to one trial, each with its reasons"""
    from trialscope.indexes import refresh_all
    from trialscope.similar import has_index, related_trials

    store = open_from_args(args)
    if not has_index(store):
        print(
            "Building the related-trials index first (once; later ingests keep it up to date).",
            file=sys.stderr,
        )
    # Cheap when nothing changed; picks up trials stored since the last ingest's refresh.
    refresh_all(store, names=["similar"], progress=_progress(args))
    related = related_trials(
        store,
        args.nct_id,
        limit=args.limit,
        statuses=args.status,
        phases=args.phase,
        has_results=args.has_results,
        countries=args.country,
    )
    if args.format == "json":
        sys.stdout.write(
            orjson.dumps([asdict(r) for r in related], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return 0
    if not related:
        print(f"No related trials for {args.nct_id.upper()} with these filters.")
        return 0
    for rank, r in enumerate(related, start=1):
        facts = ", ".join(filter(None, (r.status, r.phase, "has results" if r.has_results else None)))
        print(f"{rank:>2}. {r.nct_id}  {r.title}")
        print(
            f"    {facts}"
            + (f"; {', '.join(r.countries[:5])}" if r.countries else "")
            + f"  (score {r.score:.3f})"
        )
        for reason in r.reasons:
            print(textwrap.fill(reason, width=100, initial_indent="    - ", subsequent_indent="      "))
    return 0
