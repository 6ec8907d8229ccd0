"""history and changes: how a record changed, version by version, and what changed in the registry.

trialscope history NCT04184258                   # every kept version, what changed in each
trialscope history NCT04184258 --format json     # the same with the raw records' JSON paths
trialscope history NCT04184258 --backfill        # first fetch the registry's own earlier versions
trialscope history NCT04184258 --compare 1,3     # two versions compared
trialscope changes --since 2026-11-01            # new, updated, results posted, removed
trialscope changes --since 2026-11-01 --format csv --condition lupus --status recruiting
"""

from __future__ import annotations

import argparse
import logging
import sys

import msgspec

from trialscope import settings
from trialscope.cli import add_command, add_db_argument
from trialscope.cli.core import check_nct_id, open_for_reading, open_from_args
from trialscope.cli.search import add_filter_arguments, filters_from_args
from trialscope.errors import QueryError, TrialScopeError
from trialscope.search.filters import FILTERS


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "history", cmd_history)
    p.add_argument("nct_id")
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    p.add_argument(
        "--backfill",
        action="store_true",
        help="first fetch the registry's own earlier versions of the record",
    )
    p.add_argument(
        "--compare", metavar="A,B", help="compare two versions (numbers from the list, 1 = oldest)"
    )
    p.add_argument(
        "--api-url", help="the site root of the API, for --backfill (default: $TRIALSCOPE_API_URL)"
    )
    add_db_argument(p)

    p = add_command(sub, "changes", cmd_changes)
    p.add_argument("--since", required=True, help="the first day to report (2026-11-01; or 2026-11, 2026)")
    p.add_argument("--format", "-f", choices=("text", "json", "csv"), default="text")
    p.add_argument("--limit", type=int, help="report the newest N changes only (the counts are of all)")
    add_filter_arguments(p)
    add_db_argument(p)


def _encode(answer: object) -> str:
    return msgspec.json.format(msgspec.json.encode(answer), indent=2).decode()


def _versions(text: str) -> tuple[int, int]:
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise TrialScopeError(f"--compare takes two version numbers like 1,3, not {text!r}.")
    return int(parts[0]), int(parts[1])


def cmd_history(args: argparse.Namespace) -> int:
    """every kept version of a record and what changed in each, field by field

    Every kept version of a record (from files, the bulk zip, syncs and the registry's own history),
    oldest first, each with what changed since the one before.
    """
    from trialscope.history import FORMAT_WORDS, ORIGIN_WORDS, compare_versions, record_history

    nct_id = check_nct_id(args.nct_id)
    if args.backfill:
        from trialscope.ctgov.client import CtgovClient
        from trialscope.sync import backfill_history

        store = open_from_args(args)
        if not store.has_trial(nct_id):
            from trialscope.errors import TrialNotFoundError

            raise TrialNotFoundError(nct_id)
        logging.getLogger("stamina").setLevel(logging.ERROR)
        with CtgovClient(args.api_url or settings.resolve("api_url", None)) as client:
            added = backfill_history(store, client, nct_id)
        print(f"{added:,} earlier version{'s' if added != 1 else ''} kept from the registry's history.",
              file=sys.stderr)  # fmt: skip
    else:
        store = open_for_reading(args)
    if args.compare:
        first, second = _versions(args.compare)
        pair = compare_versions(store, nct_id, first, second)
        if args.format == "json":
            print(_encode(pair))
            return 0
        print(
            f"{nct_id}: version {first} ({pair.before.last_update}) -> version {second} ({pair.after.last_update})"
        )
        for change in pair.changes:
            print(f"  {change.line}")
        if pair.note or not pair.changes:
            print(f"  {pair.note or 'No field shown here differs.'}")
        return 0
    history = record_history(store, nct_id)
    if args.format == "json":
        print(_encode(history))
        return 0
    n = len(history.versions)
    print(f"{history.nct_id}  {history.title}")
    removed = f"; removed from the registry on {history.removed_at[:10]}" if history.removed_at else ""
    print(f"{n} version{'s' if n != 1 else ''} kept{removed}.")
    for v in history.versions:
        number = f", registry version {v.registry_version}" if v.registry_version is not None else ""
        shape = FORMAT_WORDS.get(v.source_format, v.source_format)
        origin = ORIGIN_WORDS.get(v.origin, v.origin)
        print(
            f"\nv{v.number}  {v.last_update or 'undated'}  {shape}, from {origin}{number}; seen {v.seen_at}"
        )
        for change in v.changes:
            print(f"    {change.line}")
        if v.note:
            print(f"    {v.note}")
    return 0


def cmd_changes(args: argparse.Namespace) -> int:
    """what changed in the registry since a day: new, updated, results posted, removed

    Trials new, updated (with the fields that changed), with results first posted, or removed, on or after
    a day, judged by the registry's own dates. Search words and filters narrow the list to the trials that
    search matches.
    """
    from trialscope.changes import changes_csv, changes_since, changes_text, check_since
    from trialscope.search import SearchQuery, normalize_query

    if args.limit is not None and args.limit < 1:
        raise TrialScopeError("--limit must be 1 or more.")
    since = check_since(args.since, "--since")
    fields = filters_from_args(args)
    try:
        query = normalize_query(SearchQuery(**fields)) if len(fields) > 1 or fields["text"] else None
    except QueryError as error:
        raise QueryError(error.render(lambda name: FILTERS[name].cli if name in FILTERS else name)) from None
    store = open_for_reading(args)
    if query is not None and not store.readonly:
        from trialscope.indexes import refresh_all

        refresh_all(store, names=["search"], progress=False)
    changes = changes_since(store, since, query=query, limit=args.limit)
    if args.format == "json":
        print(_encode(changes))
    elif args.format == "csv":
        sys.stdout.writelines(changes_csv(changes))
    else:
        sys.stdout.writelines(changes_text(changes))
    return 0
