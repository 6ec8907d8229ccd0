"""search: ranked full text with filters, facets, pages, cursors and whole-result exports.

    trialscope search "mesenchymal stem cells lupus" --status recruiting,completed --phase 2 \\
        --near "Minsk, Belarus" --within 500km --age 45 --sex female --facets status,phase,country
    trialscope search "anaplastic astrocytoma" --sort relevance --limit 20 --page 3
    trialscope search "breast cancer" --format csv --all > all.csv     # every hit, streamed
    trialscope search ... --explain                                    # how the search is read and run
    trialscope search --reindex                                        # rebuild the search index

The filter options are those of the filter table (:data:`trialscope.search.FILTERS`), the
same ones the web form and the JSON API read.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

from trialscope import settings
from trialscope.cli import add_command, add_db_argument
from trialscope.cli.core import open_for_reading
from trialscope.errors import QueryError
from trialscope.ingest import plural
from trialscope.search.filters import FILTERS
from trialscope.search.hits import csv_lines, json_array_lines, jsonl_lines
from trialscope.search.query import FACETS, SORTS, SearchQuery, normalize_query

if TYPE_CHECKING:
    from trialscope.search import SearchResults

_MARKS = re.compile(r"</?mark>")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "search", cmd_search)
    add_filter_arguments(p)
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
    o.add_argument("--explain", action="store_true", help="say how the search is read and run, and stop")
    o.add_argument("--reindex", action="store_true", help="rebuild the search index from the stored trials")
    add_db_argument(p)


def add_filter_arguments(p: argparse.ArgumentParser) -> None:
    """The search words and one option per filter of the filter table (search, changes, watch add)."""
    p.add_argument("text", nargs="*", help="search words (may be empty: filters alone)")
    add_filter_options(p)


def add_filter_options(p: argparse.ArgumentParser, *, leave_out: tuple[str, ...] = ()) -> None:
    """One option per filter of the filter table, but those left out (and no search words: match)."""
    f = p.add_argument_group("filters")
    for spec in FILTERS.values():
        if spec.name in leave_out:
            continue
        if spec.many:
            f.add_argument(spec.cli, dest=spec.name, action="append", default=[], help=spec.help)
        else:
            f.add_argument(spec.cli, dest=spec.name, help=spec.help)


def filters_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The search words and filters given, as SearchQuery fields (unchecked)."""
    given = {spec.field: getattr(args, spec.name) for spec in FILTERS.values() if hasattr(args, spec.name)}
    values: dict[str, Any] = {
        k: (tuple(v) if isinstance(v, list) else v) for k, v in given.items() if v not in (None, [])
    }
    return {"text": " ".join(getattr(args, "text", ())), **values}


def query_from_args(args: argparse.Namespace) -> SearchQuery:
    """The checked SearchQuery of the command-line arguments."""
    query = SearchQuery(
        sort=args.sort,
        limit=args.limit,
        page=args.page,
        cursor=args.cursor,
        facets=tuple(args.facets),
        **filters_from_args(args),
    )
    return normalize_query(query)


def cli_query_error(error: QueryError) -> QueryError:
    """A query error that names the command-line options (``--within``), not the URL parameters."""
    return QueryError(error.render(lambda name: FILTERS[name].cli if name in FILTERS else name))


def _write(chunks: object, out: TextIO) -> int:
    count = 0
    for chunk in chunks:  # type: ignore[attr-defined]
        out.write(chunk.decode() if isinstance(chunk, bytes) else chunk)
        count += 1
    out.flush()
    return count


def plain_snippet(snippet: str) -> str:
    """A snippet for a terminal: marks become *stars*, entities their characters."""
    return html.unescape(_MARKS.sub("*", snippet))


def write_results_text(results: SearchResults, out: TextIO) -> None:
    """A page of results for a person at a terminal."""
    q = results.query
    first = (q.page - 1) * q.limit + 1 if not q.cursor else None
    if results.hits:
        shown = f"{first:,}-{first + len(results.hits) - 1:,}" if first else f"{len(results.hits):,}"
        out.write(f"{plural(results.total, 'trial')} found; showing {shown} ({results.elapsed_ms:.0f} ms).\n")
    elif results.total and first:
        last_page = (results.total + q.limit - 1) // q.limit
        out.write(
            f"{plural(results.total, 'trial')} found, but page {q.page:,} is past the end: "
            f"there {'is' if last_page == 1 else 'are'} {plural(last_page, 'page')} of {q.limit:,}.\n"
        )
    else:
        out.write(f"{plural(results.total, 'trial')} found ({results.elapsed_ms:.0f} ms).\n")
    if results.note:
        out.write(results.note + "\n")
    if results.place is not None:
        p = results.place
        country = f", {p.country}" if p.country else ""
        out.write(
            f"Distances from {p.name}{country} ({p.lat:.4f}, {p.lon:.4f}), within {p.within_km:,.0f} km.\n"
        )
    for hit in results.hits:
        out.write("\n")
        where = f" · {hit.distance_km:,.0f} km" if hit.distance_km is not None else ""
        out.write(f"{hit.nct_id}  {hit.title}\n")
        details = " · ".join(
            x
            for x in (
                hit.status,
                hit.phase_label,
                hit.study_type,
                plural(hit.enrollment, "participant") if hit.enrollment is not None else None,
                f"start {hit.start_date}" if hit.start_date else None,
                f"updated {hit.last_update}" if hit.last_update else None,
                "results posted" if hit.has_results else None,
            )
            if x
        )
        out.write(f"  {details}{where}\n")
        if hit.conditions:
            out.write(f"  Conditions: {'; '.join(hit.conditions[:6])}\n")
        if hit.snippet:
            out.write(f"  {plain_snippet(hit.snippet)}\n")
    for name, values in results.facets.items():
        out.write(f"\n{name}:\n")
        out.writelines(f"  {value.value:<32} {value.count:>8,}\n" for value in values[:25])
        if len(values) > 25:
            out.write(f"  … and {len(values) - 25} more\n")
    if results.next_cursor:
        out.write(f"\nNext page: --page {q.page + 1} or --cursor {results.next_cursor}\n")


def cmd_search(args: argparse.Namespace) -> int:
    """find trials: ranked full text, filters, facet counts, exports

    Search text syntax: words, "phrases", OR, -word or NOT word, (groups), word*, and the field prefixes
    condition:, intervention:, sponsor:, title:, keyword:, mesh:, summary:, outcome:, eligibility:.
    """
    from trialscope.indexes import refresh_all
    from trialscope.search import explain_search, iter_all_hits, search_trials

    store = open_for_reading(args)
    progress = sys.stderr.isatty()
    if args.reindex:
        for done in refresh_all(store, names=["search"], full=True, progress=progress):
            print(f"Index {done.line} ({done.seconds:.1f} s).")
        return 0
    try:
        query = query_from_args(args)
    except QueryError as error:
        raise cli_query_error(error) from None
    if args.all and args.format == "text":
        raise QueryError("--all streams every hit; use it with --format csv, jsonl or json.")
    if not store.readonly:
        refresh_all(store, names=["search"], progress=progress)
    if args.explain:
        print("\n".join(explain_search(store, query)))
        return 0
    timeout = args.timeout if args.timeout is not None else float(settings.resolve("query_timeout", None))
    out = sys.stdout
    if args.all:
        hits = iter_all_hits(store, query, snippets=args.snippets, timeout_s=max(timeout, 60.0))
        writer = {"csv": csv_lines, "jsonl": jsonl_lines, "json": json_array_lines}[args.format]
        _write(writer(hits), out)
        return 0
    results = search_trials(store, query, timeout_s=timeout)
    if args.format == "text":
        write_results_text(results, out)
    elif args.format == "json":
        import msgspec

        out.write(msgspec.json.format(msgspec.json.encode(results.to_page()), indent=2).decode() + "\n")
    elif args.format == "jsonl":
        _write(jsonl_lines(results.hits), out)
    else:
        _write(csv_lines(results.hits), out)
    return 0
