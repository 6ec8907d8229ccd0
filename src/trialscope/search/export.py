"""Writing search hits out: CSV, JSON Lines, a JSON array, and plain text for a terminal.

Each writer takes an iterable of hits and writes as it reads, so an export of every hit of
a query (:func:`~trialscope.search.run.iter_all_hits`) streams in constant memory.

>>> import io
>>> from trialscope.search.run import SearchHit
>>> hit = SearchHit("NCT04184258", "Treatment of SLE", "COMPLETED", "PHASE1/PHASE2", "INTERVENTIONAL",
...                 ("Systemic Lupus Erythematosus",), "2021-01-22", "2018-04-02", 8, False, 7.29, "", None)
>>> out = io.StringIO(); write_csv([hit], out)
1
>>> out.getvalue().splitlines()[1][:60]
'NCT04184258,Treatment of SLE,COMPLETED,PHASE1/PHASE2,INTERVE'
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Iterable
from typing import TextIO

import orjson

from trialscope.search.run import SearchHit, SearchResults

CSV_COLUMNS = (
    "nct_id",
    "title",
    "status",
    "phases",
    "study_type",
    "conditions",
    "start_date",
    "last_update",
    "enrollment",
    "has_results",
    "score",
    "distance_km",
    "url",
)
STUDY_URL = "https://clinicaltrials.gov/study/{}"
_TAGS = re.compile(r"</?mark>")


def hit_record(hit: SearchHit) -> dict[str, object]:
    """A hit as plain data with the study's registry address, for JSON output."""
    data = hit.to_dict()
    data["url"] = STUDY_URL.format(hit.nct_id)
    return data


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula: registry text is untrusted,
    so text starting with ``= + - @``, a tab or a carriage return gets a leading quote
    (numbers stay numbers); lists are joined by "; ".

    >>> csv_cell("=SUM(A1:A9)"), csv_cell("-1.5"), csv_cell(["a", "b"]), csv_cell(None)
    ("'=SUM(A1:A9)", '-1.5', 'a; b', '')
    """
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_csv(hits: Iterable[SearchHit], stream: TextIO) -> int:
    """Hits as CSV with a header row, every cell through :func:`csv_cell`. Returns the
    number written."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for hit in hits:
        writer.writerow(
            csv_cell(v)
            for v in (
                hit.nct_id,
                hit.title,
                hit.status or "",
                hit.phases or "",
                hit.study_type or "",
                hit.conditions,
                hit.start_date or "",
                hit.last_update or "",
                "" if hit.enrollment is None else hit.enrollment,
                "yes" if hit.has_results else "no",
                hit.score,
                "" if hit.distance_km is None else hit.distance_km,
                STUDY_URL.format(hit.nct_id),
            )
        )
        count += 1
        if count % 1000 == 0:
            stream.flush()
    stream.flush()
    return count


def write_jsonl(hits: Iterable[SearchHit], stream: TextIO) -> int:
    """One JSON object per hit per line. Returns the number written."""
    count = 0
    for hit in hits:
        stream.write(orjson.dumps(hit_record(hit)).decode() + "\n")
        count += 1
        if count % 1000 == 0:
            stream.flush()
    stream.flush()
    return count


def write_json_array(hits: Iterable[SearchHit], stream: TextIO) -> int:
    """A JSON array of hits, written element by element. Returns the number written."""
    count = 0
    stream.write("[")
    for hit in hits:
        stream.write(("\n" if count == 0 else ",\n") + orjson.dumps(hit_record(hit)).decode())
        count += 1
    stream.write("\n]\n" if count else "]\n")
    stream.flush()
    return count


def write_results_json(results: SearchResults, stream: TextIO) -> None:
    """One page of results (total, hits, facets, cursor) as a JSON document."""
    data = results.to_dict()
    data["hits"] = [hit_record(h) for h in results.hits]
    stream.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def plain_snippet(snippet: str) -> str:
    """A snippet for a terminal: tags become *stars*, entities their characters."""
    return html.unescape(_TAGS.sub("*", snippet))


def write_results_text(results: SearchResults, stream: TextIO) -> None:
    """A page of results for a person at a terminal."""
    q = results.query
    first = (q.page - 1) * q.limit + 1 if not q.cursor else None
    shown = (
        f"{first:,}-{first + len(results.hits) - 1:,}" if first and results.hits else f"{len(results.hits):,}"
    )
    stream.write(f"{results.total:,} trials found; showing {shown} ({results.elapsed_ms:.0f} ms).\n")
    for hit in results.hits:
        stream.write("\n")
        where = f" · {hit.distance_km:,.0f} km" if hit.distance_km is not None else ""
        stream.write(f"{hit.nct_id}  {hit.title}\n")
        details = " · ".join(
            x
            for x in (
                hit.status,
                hit.phases,
                hit.study_type,
                f"{hit.enrollment:,} participants" if hit.enrollment is not None else None,
                f"start {hit.start_date}" if hit.start_date else None,
                f"updated {hit.last_update}" if hit.last_update else None,
                "results posted" if hit.has_results else None,
            )
            if x
        )
        stream.write(f"  {details}{where}\n")
        if hit.conditions:
            stream.write(f"  Conditions: {'; '.join(hit.conditions[:6])}\n")
        if hit.snippet:
            stream.write(f"  {plain_snippet(hit.snippet)}\n")
    for name, values in results.facets.items():
        stream.write(f"\n{name}:\n")
        stream.writelines(f"  {value.value:<32} {value.count:>8,}\n" for value in values[:25])
        if len(values) > 25:
            stream.write(f"  … and {len(values) - 25} more\n")
    if results.next_cursor:
        stream.write(f"\nNext page: --page {q.page + 1}" + (f" or --cursor {results.next_cursor}\n"))
