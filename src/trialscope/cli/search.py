"""search: ranked full text with filters, facets, pages, cursors and whole-result exports.

    trialscope search "mesenchymal stem cells lupus" --status recruiting,completed --phase 2 \\
        --near "Minsk, Belarus" --within 500km --age 45 --sex female --facets status,phase,country
    trialscope search "anaplastic astrocytoma" --sort relevance --limit 20 --page 3
    trialscope search "breast cancer" --format csv --all > all.csv     # every hit, streamed
    trialscope search ... --sql                                        # print the query that would run
    trialscope search --reindex                                        # rebuild search's own tables
"""

from __future__ import annotations

import argparse
import os
import sys

from trialscope import settings
from trialscope.cli import add_db_argument
from trialscope.cli.core import open_from_args
from trialscope.errors import QueryError
from trialscope.search.query import FACETS, SORTS, SearchQuery, normalize_query, split_values

LIST_HELP = "comma list or repeated"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="find trials: ranked full text, filters, facet counts, exports",
        description='Search text syntax: words, "phrases", OR, -word or NOT word, (groups), word*, and the '
        "field prefixes condition:, intervention:, sponsor:, title:.",
    )
    p.add_argument("text", nargs="*", help="search words (may be empty: filters alone)")
    f = p.add_argument_group("filters")
    f.add_argument(
        "--status", action="append", default=[], help=f"recruitment status, e.g. recruiting ({LIST_HELP})"
    )
    f.add_argument(
        "--phase", action="append", default=[], help=f"phase: 1, 2, 'phase 3', PHASE2 ({LIST_HELP})"
    )
    f.add_argument(
        "--type", action="append", default=[], help=f"study type: interventional, observational ({LIST_HELP})"
    )
    f.add_argument(
        "--intervention-type", action="append", default=[], help=f"drug, device, biological ... ({LIST_HELP})"
    )
    f.add_argument(
        "--condition",
        action="append",
        default=[],
        help="condition, its MeSH terms and their ancestors (repeat for more; commas stay in a name)",
    )
    f.add_argument("--sponsor", help="sponsor or collaborator name (words of it)")
    f.add_argument(
        "--sponsor-class",
        action="append",
        default=[],
        help=f"lead sponsor class: industry, nih ... ({LIST_HELP})",
    )
    f.add_argument("--country", action="append", default=[], help=f"a site in this country ({LIST_HELP})")
    f.add_argument("--city", action="append", default=[], help="a site in this city (repeat for more)")
    f.add_argument(
        "--near", help="a place ('Minsk, Belarus', 'Boston, MA') or 'lat,lon' to measure distance from"
    )
    f.add_argument("--within", help="distance from --near, like 500km or 300mi (default 100km)")
    f.add_argument("--age", help="a patient's age: 45, 45y, 18 months, 3 weeks")
    f.add_argument("--sex", help="female, male or all")
    f.add_argument("--healthy-volunteers", help="yes or no")
    f.add_argument("--has-results", help="yes or no")
    for what in ("start", "completion", "updated"):
        f.add_argument(f"--{what}-from", help=f"{what} date on or after (2021, 2021-06, 2021-06-30)")
        f.add_argument(f"--{what}-to", help=f"{what} date on or before")
    f.add_argument("--enrollment-min", help="at least this many participants")
    f.add_argument("--enrollment-max", help="at most this many participants")
    f.add_argument("--nct", action="append", default=[], help=f"only these NCT ids ({LIST_HELP})")
    o = p.add_argument_group("results")
    o.add_argument("--sort", default="relevance", help=f"one of: {', '.join(SORTS)} (default relevance)")
    o.add_argument("--limit", "-n", default="20", help="hits per page (default 20, at most 1000)")
    o.add_argument("--page", default="1", help="page number (default 1)")
    o.add_argument("--cursor", help="continue after the page that gave this cursor")
    o.add_argument("--facets", action="append", default=[], help=f"counts by: {', '.join(FACETS)}, or all")
    o.add_argument("--format", "-f", choices=("text", "json", "jsonl", "csv"), default="text")
    o.add_argument("--all", action="store_true", help="every hit, not one page, streamed (csv, jsonl, json)")
    o.add_argument("--snippets", action="store_true", help="with --all: include highlighted snippets")
    o.add_argument(
        "--timeout", type=float, help="seconds a search may run (default $TRIALSCOPE_QUERY_TIMEOUT or 5)"
    )
    o.add_argument("--sql", action="store_true", help="print the SQL plan of the search, and stop")
    o.add_argument(
        "--engine",
        choices=("columns", "sql"),
        default="columns",
        help="columns (default): filters and facets in memory; sql: the SQL plan --sql prints",
    )
    o.add_argument(
        "--reindex", action="store_true", help="rebuild search's own tables from the stored trials"
    )
    add_db_argument(p)
    p.set_defaults(handler=cmd_search)


def query_from_args(args: argparse.Namespace) -> SearchQuery:
    """The checked SearchQuery of the command-line arguments."""
    facets = split_values(args.facets)
    if any(f.lower() == "all" for f in facets):
        facets = list(FACETS)
    query = SearchQuery(
        text=" ".join(args.text),
        statuses=tuple(split_values(args.status)),
        phases=tuple(split_values(args.phase)),
        study_types=tuple(split_values(args.type)),
        intervention_types=tuple(split_values(args.intervention_type)),
        conditions=tuple(args.condition),
        sponsor=args.sponsor,
        sponsor_classes=tuple(split_values(args.sponsor_class)),
        countries=tuple(split_values(args.country)),
        cities=tuple(args.city),
        near=args.near,
        within_km=args.within,  # normalize_query reads "500km"
        age_years=args.age,
        sex=args.sex,
        healthy_volunteers=args.healthy_volunteers,
        has_results=args.has_results,
        start_from=args.start_from,
        start_to=args.start_to,
        completion_from=args.completion_from,
        completion_to=args.completion_to,
        updated_from=args.updated_from,
        updated_to=args.updated_to,
        enrollment_min=args.enrollment_min,
        enrollment_max=args.enrollment_max,
        nct_ids=tuple(split_values(args.nct)),
        sort=args.sort,
        limit=args.limit,
        page=args.page,
        cursor=args.cursor,
        facets=tuple(facets),
    )
    return normalize_query(query)


def _open(args: argparse.Namespace):
    """The store, writable when the file allows it (so search's tables are kept in it)."""
    path = settings.resolve("db", getattr(args, "db", None))
    plain = path.removeprefix("sqlite:///")
    writable = (
        os.path.exists(plain)
        and os.access(plain, os.W_OK)
        and os.access(os.path.dirname(os.path.abspath(plain)), os.W_OK)
    )
    return open_from_args(args, readonly=not writable)


def _progress(done: int, total: int) -> None:
    print(f"\rsearch tables: {done:,}/{total:,} trials", end="" if done < total else "\n", file=sys.stderr)


def cmd_search(args: argparse.Namespace) -> int:
    from trialscope.search.export import (
        write_csv,
        write_json_array,
        write_jsonl,
        write_results_json,
        write_results_text,
    )
    from trialscope.search.index import index_is_current, refresh_search_index
    from trialscope.search.run import explain_search, format_sql, iter_all_hits, search_trials

    store = _open(args)
    progress = _progress if sys.stderr.isatty() else None
    if args.reindex:
        summary = refresh_search_index(store, full=True, progress=progress)
        print(f"Search tables rebuilt from {summary.trials:,} trials ({summary.schema}).")
        return 0
    query = query_from_args(args)
    if args.all and args.format == "text":
        raise QueryError("--all streams every hit; use it with --format csv, jsonl or json.")
    if not index_is_current(store.conn):
        if sys.stderr.isatty():
            print("Bringing search's tables up to date (once after each ingest)…", file=sys.stderr)
        refresh_search_index(store, progress=progress)
    if args.sql:
        print(
            "-- The SQL plan of this search (--engine sql runs it). The default engine gives the same results\n"
            "-- reading search_facts, search_countries and search_points as in-memory columns, and SQLite for\n"
            "-- the full-text match (trials_fts), conditions, sponsor, cities and the rows of the page.\n"
        )
        for purpose, sql, params in explain_search(store, query):
            print(f"-- {purpose}\n{format_sql(sql, params)}\n")
        return 0
    timeout = args.timeout if args.timeout is not None else float(settings.resolve("query_timeout", None))
    out = sys.stdout
    if args.all:
        hits = iter_all_hits(store, query, snippets=args.snippets, timeout_s=max(timeout, 60.0))
        writer = {"csv": write_csv, "jsonl": write_jsonl, "json": write_json_array}[args.format]
        count = writer(hits, out)
        if sys.stderr.isatty():
            print(f"{count:,} trials written.", file=sys.stderr)
        return 0
    results = search_trials(store, query, timeout_s=timeout, engine=args.engine)
    if args.format == "text":
        write_results_text(results, out)
    elif args.format == "json":
        write_results_json(results, out)
    elif args.format == "jsonl":
        write_jsonl(results.hits, out)
    else:
        write_csv(results.hits, out)
    return 0
