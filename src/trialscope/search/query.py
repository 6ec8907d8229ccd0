"""What a user asks search for: the :class:`SearchQuery`, read and checked in one place.

A query arrives from Python (``SearchQuery(statuses=("recruiting",))``), from the CLI or from
URL parameters (:func:`query_from_params`). Every way in ends in :func:`normalize_query`,
which reads each filter's values with the filter table's parser
(:mod:`trialscope.search.filters`), checks the text, sort, page and facets, and raises
:class:`~trialscope.errors.QueryError` with one sentence a user can act on.

>>> q = normalize_query(SearchQuery(text="lupus", statuses=("recruiting",), phases=("2", "phase 3")))
>>> q.statuses, q.phases
(('RECRUITING',), ('PHASE2', 'PHASE3'))
>>> query_from_params({"q": "lupus", "status": "completed,recruiting", "within": "300mi", "near": "Minsk"}).within_km
482.8032
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from trialscope.errors import QueryError
from trialscope.search.filters import BY_FIELD, BY_PARAMETER, FILTERS
from trialscope.search.freetext import is_free_text
from trialscope.search.values import DEFAULT_WITHIN_KM, MAX_LIMIT, MAX_TEXT_CHARS, parse_int, split_values

FACETS = (
    "status",
    "phase",
    "study_type",
    "intervention_type",
    "country",
    "sponsor_class",
    "start_year",
    "has_results",
)
FACET_ALIASES = {
    "type": "study_type",
    "year": "start_year",
    "results": "has_results",
    "class": "sponsor_class",
}
SORTS = ("relevance", "last_update", "start_date", "enrollment")
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class SearchQuery:
    """A search: free text plus any combination of filters, a sort, a page and facets.

    Every field is optional; the empty query matches every trial. Values may be API v2 enums
    or friendly words; :func:`normalize_query` settles them. The filters are those of
    :data:`~trialscope.search.filters.FILTERS` (each names the field it sets).

    >>> SearchQuery(text="anaplastic astrocytoma", limit=20, page=3).page
    3
    """

    text: str = ""
    statuses: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    study_types: tuple[str, ...] = ()
    intervention_types: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    sponsor: str | None = None
    sponsor_classes: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    near: str | None = None
    within_km: float | None = None
    age_years: float | None = None
    sex: str | None = None
    healthy_volunteers: bool | None = None
    has_results: bool | None = None
    start_from: str | None = None
    start_to: str | None = None
    completion_from: str | None = None
    completion_to: str | None = None
    updated_from: str | None = None
    updated_to: str | None = None
    enrollment_min: int | None = None
    enrollment_max: int | None = None
    nct_ids: tuple[str, ...] = ()
    include_removed: bool = False
    sort: str = "relevance"
    limit: int = 20
    page: int = 1
    cursor: str | None = None
    facets: tuple[str, ...] = ()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def active_filters(self) -> list[tuple[str, object]]:
        """(filter name, value) of every filter this query sets."""
        out = []
        for name, f in FILTERS.items():
            value = getattr(self, f.field)
            if value is not None and value != ():
                out.append((name, value))
        return out

    def shown_filters(self) -> list[tuple[str, object]]:
        """The filters a person set (those at their default, like leaving removed trials out, aside)."""
        return [(n, v) for n, v in self.active_filters() if not (n == "include_removed" and not v)]


def _as_texts(value: object) -> list[str]:
    """A filter's value as the strings a person would have typed."""
    if value is None:
        return []
    if isinstance(value, bool):
        return ["yes" if value else "no"]
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple | list):
        return [str(v) for v in value]
    return [repr(value) if isinstance(value, float) else str(value)]


def _check_ranges(values: dict[str, object]) -> None:
    if values.get("within_km") is not None and values.get("near") is None:
        raise QueryError(
            "A distance ({within}) needs a place to measure from ({near}).", names=("within", "near")
        )
    if values.get("near") is not None and values.get("within_km") is None:
        values["within_km"] = DEFAULT_WITHIN_KM
    low, high = values.get("enrollment_min"), values.get("enrollment_max")
    if low is not None and high is not None and low > high:  # type: ignore[operator]
        raise QueryError(
            "The minimum enrollment ({enrollment_min}) is larger than the maximum ({enrollment_max}); swap them.",
            names=("enrollment_min", "enrollment_max"),
        )
    for what in ("start", "completion", "updated"):
        start, end = values.get(f"{what}_from"), values.get(f"{what}_to")
        if start and end and start > end:  # type: ignore[operator]
            raise QueryError(
                f"The {what} date range ({{{what}_from}} to {{{what}_to}}) ends before it starts; swap the dates.",
                names=(f"{what}_from", f"{what}_to"),
            )


def normalize_facets(names: object) -> tuple[str, ...]:
    """Facet names checked, friendly aliases read, ``all`` for every facet."""
    chosen: dict[str, None] = {}
    for name in split_values(_as_texts(names)):
        key = name.strip().lower().replace("-", "_").replace(" ", "_")
        if key == "all":
            chosen.update(dict.fromkeys(FACETS))
            continue
        key = FACET_ALIASES.get(key, key)
        if key not in FACETS:
            raise QueryError(f"Unknown facet {name!r}; use any of: {', '.join(FACETS)}, or all.")
        chosen.setdefault(key, None)
    return tuple(chosen)


def normalize_query(query: SearchQuery) -> SearchQuery:
    """The same query with every value checked and spelled the registry's way.

    >>> normalize_query(SearchQuery(sex="women", sort="Last-Update")).sex
    'FEMALE'
    """
    text = query.text or ""
    if len(text) > MAX_TEXT_CHARS and not is_free_text(text):
        raise QueryError(
            f"The search text is {len(text):,} characters long; at most {MAX_TEXT_CHARS:,} are allowed."
        )
    sort = (query.sort or "relevance").strip().lower().replace("-", "_").replace(" ", "_")
    if sort not in SORTS:
        raise QueryError(f"Unknown sort {query.sort!r}; use one of: {', '.join(SORTS)}.")
    values: dict[str, object] = {
        f.field: f.read(_as_texts(getattr(query, f.field))) for f in FILTERS.values()
    }
    _check_ranges(values)
    return replace(
        query,
        text=text,
        sort=sort,
        limit=parse_int(query.limit, "The limit", minimum=1, maximum=MAX_LIMIT) or 20,
        page=parse_int(query.page, "The page", minimum=1, maximum=MAX_PAGE) or 1,
        cursor=(query.cursor or "").strip() or None,
        facets=normalize_facets(query.facets),
        **values,  # type: ignore[arg-type]
    )


# Parameters of a search besides the filters: URL name -> SearchQuery field.
RESULT_PARAMETERS = {"q": "text", "text": "text", "sort": "sort", "limit": "limit", "page": "page",
                     "cursor": "cursor", "facets": "facets"}  # fmt: skip
# Every URL parameter a search reads (the filters' names and aliases, then the rest).
SEARCH_PARAMETERS: tuple[str, ...] = (*BY_PARAMETER, *RESULT_PARAMETERS)


def query_from_params(params: Mapping[str, str | list[str]]) -> SearchQuery:
    """A checked SearchQuery from URL query parameters (``q``, ``status``, ``phase``, ...).

    Unknown parameter names are ignored (a web form may carry its own); bad values raise
    QueryError with a clear sentence.

    >>> query_from_params({"q": "sle", "phase": ["2", "3"], "limit": "50"}).phases
    ('PHASE2', 'PHASE3')
    """
    values: dict[str, object] = {}
    for name, raw in params.items():
        key = name.strip().lower()
        items = [raw] if isinstance(raw, str) else [str(v) for v in raw]
        items = [i for i in items if i.strip()]
        if not items:
            continue
        f = BY_PARAMETER.get(key)
        if f is not None:
            values[f.field] = (*values.get(f.field, ()), *items)  # type: ignore[misc]
        elif key == "facets":
            values["facets"] = (*values.get("facets", ()), *items)  # type: ignore[misc]
        elif key in RESULT_PARAMETERS:
            last = items[-1]
            values[RESULT_PARAMETERS[key]] = last if key in {"q", "text"} else last.strip()
    return normalize_query(SearchQuery(**values))  # type: ignore[arg-type]


def query_to_params(query: SearchQuery) -> dict[str, str | list[str]]:
    """URL parameters that :func:`query_from_params` reads back into the same query.

    >>> query_to_params(SearchQuery(text="lupus", phases=("PHASE2",), page=2))
    {'q': 'lupus', 'phase': 'PHASE2', 'page': '2'}
    """
    out: dict[str, str | list[str]] = {}
    if query.text:
        out["q"] = query.text
    defaults = {f.name: f.default for f in fields(SearchQuery)}
    for name, f in FILTERS.items():
        value = getattr(query, f.field)
        if value == defaults[f.field] or value is None or value == ():
            continue
        if isinstance(value, tuple):
            # Names that may hold commas (conditions, cities) go as repeats; the rest as one list.
            out[name] = list(value) if f.field in {"conditions", "cities"} else ",".join(value)
        elif isinstance(value, bool):
            out[name] = "yes" if value else "no"
        elif f.field == "within_km":
            out[name] = f"{value:.10g}km"
        else:
            out[name] = str(value)
    for key in ("sort", "limit", "page", "cursor"):
        value = getattr(query, key)
        if value != defaults[key] and value is not None:
            out[key] = str(value)
    if query.facets:
        out["facets"] = ",".join(query.facets)
    return out


__all__ = [
    "BY_FIELD",
    "FACETS",
    "SORTS",
    "SearchQuery",
    "normalize_query",
    "query_from_params",
    "query_to_params",
]
