"""What a search returns, typed once, and written once: JSON, JSON Lines, CSV, and the OpenAPI schema.

:class:`SearchHit` is the one shape of a hit: the CLI (every format), the web pages, the JSON
API and both exports all take it from here, and the OpenAPI description takes its schema
from the same class (:func:`schema_components`), so none of them can drift. Every writer
takes an iterable and writes as it reads, so an export of every hit of a query streams in
constant memory.

>>> hit = SearchHit("NCT04184258", "Treatment of SLE", "COMPLETED", ("PHASE1", "PHASE2"),
...                 "INTERVENTIONAL", ("Systemic Lupus Erythematosus",), "2021-01-22", "2018-04-02", 8,
...                 False, 7.29, "", None)
>>> lines = "".join(csv_lines([hit])).splitlines()
>>> lines[1].split(",")[:4]
['NCT04184258', 'Treatment of SLE', 'COMPLETED', 'PHASE1/PHASE2']
>>> hit.url
'https://clinicaltrials.gov/study/NCT04184258'
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

STUDY_URL = "https://clinicaltrials.gov/study/{}"
CHUNK = 200  # rows per piece of a streamed export


class SearchHit(msgspec.Struct, frozen=True):
    """One trial in a result list.

    ``snippet`` is HTML-safe: registry text escaped, matched words in ``<mark>``;
    ``distance_km`` is to the nearest site when the search measured from a place; ``url`` is
    the trial's page on ClinicalTrials.gov.
    """

    nct_id: str
    title: str
    status: str | None
    phases: tuple[str, ...]
    study_type: str | None
    conditions: tuple[str, ...]
    last_update: str | None
    start_date: str | None
    enrollment: int | None
    has_results: bool
    score: float
    snippet: str
    distance_km: float | None

    @property
    def url(self) -> str:
        return STUDY_URL.format(self.nct_id)

    @property
    def phase_label(self) -> str:
        """The phases as the registry writes them: ``PHASE1/PHASE2``."""
        return "/".join(self.phases)


class FacetValue(msgspec.Struct, frozen=True):
    value: str
    count: int


class PlaceUsed(msgspec.Struct, frozen=True):
    """The place a search measured distances from, as the gazetteer found it."""

    name: str
    country: str | None
    lat: float
    lon: float
    within_km: float


class ResultsPage(msgspec.Struct, frozen=True):
    """A page of results as JSON: the CLI's ``--format json`` and the search API's body."""

    total: int
    page: int
    limit: int
    next_cursor: str | None
    elapsed_ms: float
    hits: list[dict[str, Any]]
    facets: dict[str, list[FacetValue]]
    place: PlaceUsed | None = None
    note: str | None = None


def hit_data(hit: SearchHit) -> dict[str, Any]:
    """A hit as JSON-ready data: its fields and its registry link."""
    data: dict[str, Any] = msgspec.to_builtins(hit)
    data["url"] = hit.url
    return data


# --- CSV ----------------------------------------------------------------------------------

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


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula: registry text is untrusted,
    so text starting with ``= + - @``, a tab or a carriage return gets a leading quote
    (numbers stay numbers); lists are joined by "; ".

    >>> csv_cell("=SUM(A1:A9)"), csv_cell("-1.5"), csv_cell(["a", "b"]), csv_cell(None)
    ("'=SUM(A1:A9)", '-1.5', 'a; b', '')
    """
    if value is None:
        return ""
    if isinstance(value, list | tuple):
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


def csv_row(hit: SearchHit) -> list[str]:
    """A hit's cells, in :data:`CSV_COLUMNS` order."""
    return [
        csv_cell(v)
        for v in (
            hit.nct_id,
            hit.title,
            hit.status,
            hit.phase_label,
            hit.study_type,
            hit.conditions,
            hit.start_date,
            hit.last_update,
            hit.enrollment,
            "yes" if hit.has_results else "no",
            hit.score,
            hit.distance_km,
            hit.url,
        )
    ]


def csv_lines(hits: Iterable[SearchHit]) -> Iterator[str]:
    """CSV text in pieces: the header, then the hits, :data:`CHUNK` rows a piece."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for count, hit in enumerate(hits, 1):
        writer.writerow(csv_row(hit))
        if count % CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


_json = msgspec.json.Encoder()


def jsonl_lines(hits: Iterable[SearchHit]) -> Iterator[bytes]:
    """JSON Lines in pieces: one object per hit, :data:`CHUNK` lines a piece."""
    chunk: list[bytes] = []
    for hit in hits:
        chunk.append(_json.encode(hit_data(hit)))
        if len(chunk) >= CHUNK:
            yield b"\n".join(chunk) + b"\n"
            chunk = []
    if chunk:
        yield b"\n".join(chunk) + b"\n"


def json_array_lines(hits: Iterable[SearchHit]) -> Iterator[bytes]:
    """A JSON array of hits, element by element."""
    count = 0
    yield b"["
    for hit in hits:
        yield (b"\n" if count == 0 else b",\n") + _json.encode(hit_data(hit))
        count += 1
    yield b"\n]\n" if count else b"]\n"


def schema_components() -> tuple[dict[str, Any], dict[str, Any]]:
    """JSON Schemas of a hit and of a results page, for the OpenAPI description."""
    (hit, page), components = msgspec.json.schema_components([SearchHit, ResultsPage])
    hit_schema = components["SearchHit"]
    hit_schema["properties"]["url"] = {"type": "string", "format": "uri"}
    hit_schema["required"] = [*hit_schema["required"], "url"]
    page_schema = components["ResultsPage"]
    page_schema["properties"]["hits"] = {"type": "array", "items": {"$ref": "#/components/schemas/SearchHit"}}
    return components, {"hit": hit, "page": page}
