"""ingest, show, stats."""

from __future__ import annotations

import argparse
import os
import re
import sys

from trialscope import settings
from trialscope.cli import add_command, add_db_argument
from trialscope.errors import TrialScopeError
from trialscope.store import Store, open_store, store_path


def open_from_args(args: argparse.Namespace, *, readonly: bool = False) -> Store:
    return open_store(settings.resolve("db", getattr(args, "db", None)), readonly=readonly)


def open_for_reading(args: argparse.Namespace) -> Store:
    """The store, writable when its file allows it (so its derived indexes can be brought up
    to date); read-only otherwise, and never created: a missing store is an error."""
    path = store_path(settings.resolve("db", getattr(args, "db", None)))
    writable = (
        os.path.exists(path)
        and os.access(path, os.W_OK)
        and os.access(os.path.dirname(os.path.abspath(path)), os.W_OK)
    )
    return open_store(path, readonly=not writable)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "ingest", cmd_ingest)
    p.add_argument("paths", nargs="+", help="files or folders (read recursively): JSON, JSONL, XML, CSV, zip")
    p.add_argument(
        "--report", help="write each rejected record and warning as a JSON line to this file (none: no file)"
    )
    p.add_argument("--batch-size", type=int, default=2000, help="trials per transaction (default 2000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the one-line summary")
    p.add_argument(
        "--no-index",
        action="store_true",
        help="skip updating the derived indexes (search, related trials, typed criteria)",
    )
    add_db_argument(p)

    p = add_command(sub, "show", cmd_show)
    p.add_argument("nct_id")
    p.add_argument("--format", "-f", choices=("text", "markdown", "html", "json"), default="text")
    p.add_argument("--no-related", action="store_true", help="leave More Related Trials empty")
    add_db_argument(p)

    p = add_command(sub, "stats", cmd_stats)
    add_db_argument(p)

    p = add_command(sub, "db", cmd_db)
    p.add_argument(
        "action",
        choices=("init", "upgrade", "copy"),
        help="init: create an empty store; upgrade: migrate; copy SRC DEST: copy a whole store "
        "(SQLite <-> PostgreSQL) into a new one",
    )
    p.add_argument("stores", nargs="*", metavar="SRC DEST", help="copy: the store to copy and the new one")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_db_argument(p)


def cmd_ingest(args: argparse.Namespace) -> int:
    """read record files, folders and zips into the store"""
    from trialscope.ingest import plural

    if args.batch_size < 1:
        raise TrialScopeError("--batch-size must be at least 1.")
    store = open_from_args(args)
    # The indexes are this ingest's to refresh: a reader (a web worker) that finds them behind
    # meanwhile serves them as they are rather than refresh them itself in a request.
    with store.refresh_lock():
        _ingest(store, args)
    print(f"The store {store.name} now holds {plural(store.count(), 'trial')}.")
    return 0


def _ingest(store: Store, args: argparse.Namespace) -> None:
    from trialscope.ingest import ingest_paths, plural, write_report

    summary = ingest_paths(
        store, args.paths, batch_size=args.batch_size, progress=not args.no_progress and sys.stderr.isatty()
    )
    lines = list(summary.lines())
    for line in lines[:1] if args.quiet else lines:
        print(line)
    reported = len(summary.rejected) + len(summary.skipped_files) + len(summary.warnings)
    if args.report and reported:
        with open(args.report, "wb") as stream:
            write_report(summary, stream)
        print(f"{plural(reported, 'rejected record or warning', 'rejected records and warnings')} "
              f"written to {args.report}.")  # fmt: skip
    if not args.no_index:
        from trialscope.indexes import refresh_all

        for done in refresh_all(store, progress=not args.no_progress and sys.stderr.isatty()):
            if not args.quiet:
                print(f"Index {done.line} ({done.seconds:.1f} s).")


def related_for_page(store: Store, nct_id: str) -> tuple:
    """Related trials for the page, from the stored index; empty when there is none yet."""
    try:
        from trialscope.similar import related_for_page as lookup
    except ImportError:
        return ()
    return tuple(lookup(store, nct_id))


def check_nct_id(text: str) -> str:
    """An NCT id as the registry writes it; a clear error for anything else.

    >>> check_nct_id(" nct04184258 ")
    'NCT04184258'
    """
    nct_id = text.strip().upper()
    if not re.fullmatch(r"NCT\d{8}", nct_id):
        raise TrialScopeError(f"{text.strip()[:40]!r} is not a valid NCT id; they look like NCT04184258.")
    return nct_id


def cmd_show(args: argparse.Namespace) -> int:
    """the trial page of one trial"""
    from trialscope.render import build_page, render_page

    nct_id = check_nct_id(args.nct_id)
    store = open_from_args(args, readonly=True)
    from trialscope.criteria.index import criteria_by_nct_id

    trial = store.get_trial(nct_id)
    related = () if args.no_related else related_for_page(store, trial.nct_id)
    typed = criteria_by_nct_id(store, [trial.nct_id]).get(trial.nct_id)
    sys.stdout.write(render_page(build_page(trial, related, typed), args.format))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """create, upgrade or copy a store"""
    from trialscope.store import display_name, upgrade_store

    if args.action == "copy":
        return _copy(args)
    if args.stores:
        raise TrialScopeError(f"`db {args.action}` takes no store names; give the store with --db.")
    db = settings.resolve("db", getattr(args, "db", None))
    steps = upgrade_store(db)
    for step in steps:
        print(step)
    name = display_name(db)
    print(f"The store {name} is at the current schema." if not steps else f"The store {name} was upgraded.")
    return 0


def _copy(args: argparse.Namespace) -> int:
    from trialscope.ingest import plural
    from trialscope.store import display_name
    from trialscope.store.copy import copy_store

    if len(args.stores) != 2:
        raise TrialScopeError(
            "`db copy` takes two stores: SRC DEST (a file path or a postgresql:// address)."
        )
    source, dest = args.stores
    done = copy_store(source, dest, progress=not args.no_progress and sys.stderr.isatty())
    print(
        f"Copied {plural(done.trials, 'trial')} ({done.rows:,} rows, indexes included) "
        f"to {display_name(dest)}."
    )
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """counts by status, phase, study type, results"""
    stats = open_from_args(args, readonly=True).stats()
    print(
        f"Trials: {stats.trials:,} ({stats.with_results:,} with results, "
        f"{stats.trials - stats.with_results:,} without; {stats.summary_only:,} summary-only)"
    )
    for title, counter in (
        ("Status", stats.by_status),
        ("Phase", stats.by_phase),
        ("Study type", stats.by_type),
        ("Source format", stats.by_source),
    ):
        print(f"\n{title}:")
        for value, n in counter.most_common():
            print(f"  {value:<28} {n:>8,}")
    return 0
