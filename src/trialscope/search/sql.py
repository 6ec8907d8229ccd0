"""SQL builders for search: each returns ``(sql, params)`` and runs nothing.

A search runs as a short plan (:func:`plan_sql`, what ``trialscope search --sql`` prints):
the matching trials are computed once into a TEMP table ``ts_hits`` (id, score, sort key and
the columns the asked facets count), then the total, the page and each facet read that
table. :func:`search_sql` is the same page as one self-contained statement (a CTE), for
callers that want one statement and for tests.

Filters read search's narrow tables (:mod:`trialscope.search.index`): ``search_facts``,
``search_countries``, ``search_points``. Text goes through FTS5 with field weights; a query
without text never touches the full-text index.

>>> from trialscope.search.query import SearchQuery
>>> sql, params = hits_sql(SearchQuery(statuses=("RECRUITING",), has_results=False))
>>> print(sql)  # doctest: +NORMALIZE_WHITESPACE
SELECT f.id AS id, 0.0 AS score, coalesce(f.last_update, '') AS skey
FROM search_facts f
WHERE f.status IN (?) AND f.has_results = ?
>>> params
['RECRUITING', 0]
"""

from __future__ import annotations

from collections.abc import Sequence

from trialscope.errors import QueryError
from trialscope.search.geo import (
    Place,
    bounding_box,
    canonical_country,
    distance_sql,
    inner_box,
    locate_place,
)
from trialscope.search.index import INTERVENTION_BITS, PHASE_BITS
from trialscope.search.query import DAYS_PER_YEAR, FACETS, SearchQuery, date_upper_bound
from trialscope.search.synonyms import SynonymTable
from trialscope.search.text import CompiledText, Term, compile_match, parse_text, phrase_sql, tokenize

# BM25 weight of each FTS column, in store.schema.FTS_COLUMNS order: a word in the title or the
# conditions counts most, one in the eligibility text least.
FIELD_WEIGHTS: dict[str, float] = {
    "title": 10.0,
    "conditions": 8.0,
    "interventions": 5.0,
    "keywords": 4.0,
    "mesh": 4.0,
    "summary": 2.0,
    "description": 1.0,
    "outcomes": 1.0,
    "eligibility": 0.5,
    "sponsors": 1.0,
}
HITS_TABLE = "ts_hits"

_SORT_KEYS = {
    "last_update": "coalesce(f.last_update, '')",
    "start_date": "coalesce(f.start_date, '')",
    "enrollment": "coalesce(f.enrollment, -1)",
}
# The column each facet counts, as the hits table keeps it.
_HIT_COLUMNS = {
    "status": "f.status AS status",
    "study_type": "f.study_type AS study_type",
    "sponsor_class": "f.sponsor_class AS sponsor_class",
    "start_year": "substr(f.start_date, 1, 4) AS start_year",
    "has_results": "f.has_results AS has_results",
    "phase": "f.phases AS phases",
    "intervention_type": "f.itypes AS itypes",
}
_BIT_FACETS = {"phase": ("phases", PHASE_BITS), "intervention_type": ("itypes", INTERVENTION_BITS)}
_COLUMN_FACETS = {
    "status": "status",
    "study_type": "study_type",
    "sponsor_class": "sponsor_class",
    "start_year": "start_year",
    "has_results": "CASE has_results WHEN 1 THEN 'true' ELSE 'false' END",
}


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def bm25_sql(weights: dict[str, float] | None = None) -> str:
    """``bm25(trials_fts, w1, w2, ...)`` with the weights in column order (lower is better).

    >>> bm25_sql()
    'bm25(trials_fts, 10.0, 8.0, 5.0, 4.0, 4.0, 2.0, 1.0, 1.0, 0.5, 1.0)'
    """
    from trialscope.store.schema import FTS_COLUMNS

    w = {**FIELD_WEIGHTS, **(weights or {})}
    return "bm25(trials_fts, " + ", ".join(repr(float(w.get(c, 1.0))) for c in FTS_COLUMNS) + ")"


def compile_text(query: SearchQuery, synonyms: SynonymTable | None = None) -> CompiledText:
    """The query's text as FTS5 expressions; QueryError when text holds nothing to search.

    >>> compile_text(SearchQuery(text="lupus -placebo")).match
    '"lupus" NOT ("placebo")'
    """
    node = parse_text(query.text)
    if node is None and query.text.strip():
        raise QueryError(
            f"The search text {query.text[:60]!r} has no words to search for; use letters or digits, "
            'like: lupus "stem cells" -placebo.'
        )
    return compile_match(node, synonyms.expand if synonyms is not None else None)


def condition_match(conditions: Sequence[str], synonyms: SynonymTable | None = None) -> str:
    """FTS5 text matching any of the conditions in the conditions or MeSH columns.

    The MeSH column holds each trial's condition MeSH terms and their ancestors, so
    "Autoimmune Diseases" finds lupus trials.

    >>> condition_match(["Autoimmune Diseases", "SLE"])
    '({conditions mesh} : "autoimmune diseases") OR ({conditions mesh} : "sle")'
    """
    parts: list[str] = []
    for condition in conditions:
        tokens = tokenize(condition)
        if not tokens:
            raise QueryError(f"The condition {condition!r} has no words to search for.")
        term = Term(tokens, written=condition, columns=("conditions", "mesh"))
        alternatives = (term, *(synonyms.expand(term) if synonyms is not None else ()))
        parts.extend(phrase_sql(t) for t in alternatives)
    return " OR ".join(dict.fromkeys(parts))


def sponsor_match(sponsor: str) -> str:
    """FTS5 text matching a sponsor or collaborator name (its words, in order).

    >>> sponsor_match("Pfizer Inc.")
    '(sponsors : "pfizer inc")'
    """
    tokens = tokenize(sponsor)
    if not tokens:
        raise QueryError(f"The sponsor {sponsor!r} has no words to search for.")
    return phrase_sql(Term(tokens, columns=("sponsors",)))


def resolve_place(query: SearchQuery) -> Place | None:
    """The place a query measures distance from (QueryError when it cannot be found)."""
    return locate_place(query.near) if query.near else None


def filters_sql(
    query: SearchQuery, *, synonyms: SynonymTable | None = None, place: Place | None = None
) -> tuple[list[str], list[object]]:
    """The WHERE conditions (on ``search_facts f``) of every filter of the query, and params.

    >>> filters_sql(SearchQuery(phases=("PHASE1", "PHASE2"), age_years=45.0))
    (['(f.phases & ?) != 0', '(f.min_age_days IS NULL OR f.min_age_days <= ?)', \
'(f.max_age_days IS NULL OR f.max_age_days >= ?)'], [6, 16436.25, 16436.25])
    """
    where: list[str] = []
    params: list[object] = []

    def add(sql: str, *values: object) -> None:
        where.append(sql)
        params.extend(values)

    if query.statuses:
        add(f"f.status IN ({_marks(query.statuses)})", *query.statuses)
    if query.phases:
        add("(f.phases & ?) != 0", sum(PHASE_BITS.get(p, 0) for p in query.phases))
    if query.study_types:
        add(f"f.study_type IN ({_marks(query.study_types)})", *query.study_types)
    if query.intervention_types:
        add("(f.itypes & ?) != 0", sum(INTERVENTION_BITS.get(t, 0) for t in query.intervention_types))
    if query.sponsor_classes:
        add(f"f.sponsor_class IN ({_marks(query.sponsor_classes)})", *query.sponsor_classes)
    if query.conditions:
        add(
            "f.id IN (SELECT rowid FROM trials_fts WHERE trials_fts MATCH ?)",
            condition_match(query.conditions, synonyms),
        )
    if query.sponsor:
        add("f.id IN (SELECT rowid FROM trials_fts WHERE trials_fts MATCH ?)", sponsor_match(query.sponsor))
    if query.countries:
        names = list(dict.fromkeys(canonical_country(c) for c in query.countries))
        add(f"f.id IN (SELECT trial_id FROM search_countries WHERE country IN ({_marks(names)}))", *names)
    if query.cities:
        add(f"f.id IN (SELECT trial_id FROM sites WHERE city IN ({_marks(query.cities)}))", *query.cities)
    if query.near:
        place = place or resolve_place(query)
        assert place is not None and query.within_km is not None
        sql, values = near_sql(place, query.within_km)
        add(f"f.id IN ({sql})", *values)
    if query.age_years is not None:
        days = round(query.age_years * DAYS_PER_YEAR, 6)
        add("(f.min_age_days IS NULL OR f.min_age_days <= ?)", days)
        add("(f.max_age_days IS NULL OR f.max_age_days >= ?)", days)
    if query.sex == "ALL":
        add("(f.sex IS NULL OR f.sex = 'ALL')")
    elif query.sex:
        add("(f.sex IS NULL OR f.sex IN ('ALL', ?))", query.sex)
    if query.healthy_volunteers is not None:
        add("f.healthy_volunteers = ?", int(query.healthy_volunteers))
    if query.has_results is not None:
        add("f.has_results = ?", int(query.has_results))
    for column, low, high in (
        ("start_date", query.start_from, query.start_to),
        ("completion_date", query.completion_from, query.completion_to),
        ("last_update", query.updated_from, query.updated_to),
    ):
        # No date index on purpose: for the wide ranges people ask for, a scan of the narrow
        # table beats reading most of it through an index.
        if low:
            add(f"f.{column} >= ?", low)
        if high:
            bound, inclusive = date_upper_bound(high)
            add(f"f.{column} {'<=' if inclusive else '<'} ?", bound)
    if query.enrollment_min is not None:
        add("f.enrollment >= ?", query.enrollment_min)
    if query.enrollment_max is not None:
        add("f.enrollment <= ?", query.enrollment_max)
    if query.nct_ids:
        add(f"f.id IN (SELECT id FROM trials WHERE nct_id IN ({_marks(query.nct_ids)}))", *query.nct_ids)
    return where, params


def near_sql(place: Place, within_km: float) -> tuple[str, list[object]]:
    """The trial ids with a site within ``within_km`` of ``place``: a bounding box on the index
    narrows, sites in a box inside the circle are in, the haversine decides the rest.

    >>> near_sql(Place("x", 0.0, 0.0), 10)[0].split(" WHERE ")[1][:85]
    'lat BETWEEN ? AND ? AND lon BETWEEN ? AND ? AND ((lat BETWEEN ? AND ? AND lon BETWEEN'
    """
    lat_min, lat_max, lon_min, lon_max = bounding_box(place.lat, place.lon, within_km)
    distance, values = distance_sql("lat", "lon", place.lat, place.lon)
    where = ["lat BETWEEN ? AND ?"]
    params: list[object] = [lat_min, lat_max]
    if lon_min is not None:
        where.append("lon BETWEEN ? AND ?")
        params.extend([lon_min, lon_max])
    inside = inner_box(place.lat, place.lon, within_km)
    if inside is not None:
        where.append(f"((lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?) OR {distance} <= ?)")
        params.extend([*inside, *values, within_km])
    else:
        where.append(f"{distance} <= ?")
        params.extend([*values, within_km])
    return "SELECT trial_id FROM search_points WHERE " + " AND ".join(where), params


def sort_key_sql(query: SearchQuery, has_text: bool) -> str:
    """The sort key column (higher first); relevance without text sorts by last update."""
    if query.sort == "relevance":
        return "score" if has_text else _SORT_KEYS["last_update"]
    return _SORT_KEYS[query.sort]


def hits_sql(
    query: SearchQuery,
    *,
    synonyms: SynonymTable | None = None,
    place: Place | None = None,
    weights: dict[str, float] | None = None,
) -> tuple[str, list[object]]:
    """Every matching trial with its score, sort key and the columns its facets count, in no order.

    BM25 is computed only to sort by relevance (it costs about a microsecond a hit); sorted
    otherwise, a page's scores are read with its snippets.
    """
    text = compile_text(query, synonyms)
    where, params = filters_sql(query, synonyms=synonyms, place=place)
    has_text = text.match is not None
    score = f"-{bm25_sql(weights)}" if has_text and query.sort == "relevance" else "0.0"
    skey = sort_key_sql(query, has_text)
    skey = "NULL" if skey == "score" else skey  # the page sorts on the score column itself
    columns = ", ".join(
        [f"f.id AS id, {score} AS score, {skey} AS skey"]
        + [_HIT_COLUMNS[name] for name in query.facets if name in _HIT_COLUMNS]
    )
    if text.exclude is not None:
        where.append("f.id NOT IN (SELECT rowid FROM trials_fts WHERE trials_fts MATCH ?)")
        params.append(text.exclude)
    if has_text:
        sql = f"SELECT {columns}\nFROM trials_fts JOIN search_facts f ON f.id = trials_fts.rowid\nWHERE trials_fts MATCH ?"
        params.insert(0, text.match)
        if where:
            sql += " AND " + " AND ".join(where)
        return sql, params
    sql = f"SELECT {columns}\nFROM search_facts f"
    if where:
        sql += "\nWHERE " + " AND ".join(where)
    return sql, params


def count_sql(source: str = HITS_TABLE) -> tuple[str, list[object]]:
    """The number of hits.

    >>> count_sql()
    ('SELECT count(*) FROM ts_hits', [])
    """
    return f"SELECT count(*) FROM {source}", []


def page_sql(
    query: SearchQuery,
    source: str = HITS_TABLE,
    *,
    place: Place | None = None,
    after: tuple[object, int] | None = None,
    extra: int = 1,
) -> tuple[str, list[object]]:
    """One page of hits with what a result row shows, best first; ``after`` is a cursor's
    (sort key, id) to continue from instead of an offset. ``extra`` rows beyond the page are
    read to tell whether there is a next page."""
    key = "score" if query.sort == "relevance" and query.text.strip() and _has_match(query) else "skey"
    inner_where = ""
    params: list[object] = []
    if after is not None:
        inner_where = f" WHERE ({key} < ? OR ({key} = ? AND id > ?))"
        params.extend([after[0], after[0], after[1]])
    offset = 0 if after is not None else query.offset
    params.extend([query.limit + extra, offset])
    distance = "NULL"
    if place is not None:
        expr, values = distance_sql("p.lat", "p.lon", place.lat, place.lon)
        distance = f"(SELECT min({expr}) FROM search_points p WHERE p.trial_id = h.id)"
        params[:0] = values
    sql = (
        "SELECT t.nct_id, coalesce(t.brief_title, t.official_title, t.nct_id), t.overall_status, t.phase, "
        "t.study_type,\n"
        "  (SELECT group_concat(name, char(31)) FROM "
        "(SELECT c.name FROM trial_conditions c WHERE c.trial_id = h.id ORDER BY c.rowid)),\n"
        f"  t.last_update, t.start_date, t.enrollment, t.has_results, h.score, h.{key}, h.id, {distance}\n"
        f"FROM (SELECT id, score, skey FROM {source}{inner_where} ORDER BY {key} DESC, id LIMIT ? OFFSET ?) h\n"
        f"JOIN trials t ON t.id = h.id\nORDER BY h.{key} DESC, h.id"
    )
    return sql, params


def rows_sql(trial_ids: Sequence[int], place: Place | None = None) -> tuple[str, list[object]]:
    """What a result row shows for the given trials (in no order), with the same columns as
    :func:`page_sql`; score and sort key are left NULL for the caller to fill in.

    >>> rows_sql([3, 1])[1]
    [3, 1]
    """
    params: list[object] = []
    distance = "NULL"
    if place is not None:
        expr, values = distance_sql("p.lat", "p.lon", place.lat, place.lon)
        distance = f"(SELECT min({expr}) FROM search_points p WHERE p.trial_id = t.id)"
        params.extend(values)
    params.extend(trial_ids)
    sql = (
        "SELECT t.nct_id, coalesce(t.brief_title, t.official_title, t.nct_id), t.overall_status, t.phase, "
        "t.study_type,\n"
        "  (SELECT group_concat(name, char(31)) FROM "
        "(SELECT c.name FROM trial_conditions c WHERE c.trial_id = t.id ORDER BY c.rowid)),\n"
        f"  t.last_update, t.start_date, t.enrollment, t.has_results, NULL, NULL, t.id, {distance}\n"
        f"FROM trials t WHERE t.id IN ({_marks(trial_ids)})"
    )
    return sql, params


def _has_match(query: SearchQuery) -> bool:
    """Whether the text selects trials by FTS (rather than only excluding some)."""
    return compile_text(query).match is not None


def facet_sql(facet: str, source: str = HITS_TABLE, *, large: bool = False) -> tuple[str, list[object]]:
    """Counts of one facet over the hits: rows of (value, count).

    ``large`` says the hits are a big share of all trials (a quarter or more): countries are
    then counted walking the country index in order, testing each trial against the hits,
    which spares sorting hundreds of thousands of rows.

    Phases and intervention types are bit sets, counted in one pass over the hits; a trial
    in PHASE1/PHASE2 counts under both.

    >>> facet_sql("status")[0]
    'SELECT status, count(*) FROM ts_hits WHERE status IS NOT NULL GROUP BY 1'
    """
    if facet not in FACETS:
        raise QueryError(f"Unknown facet {facet!r}; use any of: {', '.join(FACETS)}.")
    if facet in _BIT_FACETS:
        column, bits = _BIT_FACETS[facet]
        sums = ", ".join(f"sum(({column} & {bit}) != 0) AS b{bit}" for bit in bits.values())
        rows = " UNION ALL ".join(f"SELECT '{name}', b{bit} FROM counts" for name, bit in bits.items())
        return f"WITH counts AS MATERIALIZED (SELECT {sums} FROM {source})\n{rows}", []
    if facet == "country" and large:
        sql = (
            "SELECT c.country, count(*) FROM search_countries c INDEXED BY search_countries_country "
            f"WHERE +c.trial_id IN (SELECT id FROM {source}) GROUP BY 1"
        )
        return sql, []
    if facet == "country":
        # CROSS JOIN keeps the hits as the outer loop: one primary-key seek per hit.
        sql = (
            f"SELECT c.country, count(*) FROM {source} h CROSS JOIN search_countries c ON c.trial_id = h.id "
            "GROUP BY 1"
        )
        return sql, []
    expr = _COLUMN_FACETS[facet]
    return (
        f"SELECT {expr}, count(*) FROM {source} WHERE {_COLUMN_FACETS.get(facet, facet)} IS NOT NULL GROUP BY 1",
        [],
    )


def plan_sql(
    query: SearchQuery,
    *,
    synonyms: SynonymTable | None = None,
    place: Place | None = None,
    after: tuple[object, int] | None = None,
    weights: dict[str, float] | None = None,
) -> list[tuple[str, str, list[object]]]:
    """The statements a search runs, in order, as (purpose, sql, params)."""
    place = place or resolve_place(query)
    hits, params = hits_sql(query, synonyms=synonyms, place=place, weights=weights)
    plan: list[tuple[str, str, list[object]]] = [
        ("drop", f"DROP TABLE IF EXISTS temp.{HITS_TABLE}", []),
        ("hits", f"CREATE TEMP TABLE {HITS_TABLE} AS\n{hits}", params),
        ("total", *count_sql()),
        ("page", *page_sql(query, place=place, after=after)),
    ]
    plan.extend((f"facet:{name}", *facet_sql(name)) for name in query.facets)
    return plan


def search_sql(
    query: SearchQuery,
    dialect: str = "sqlite",
    *,
    synonyms: SynonymTable | None = None,
    place: Place | None = None,
) -> tuple[str, list[object]]:
    """The page of a search as one statement: the page's rows plus a ``total`` column.

    >>> sql, params = search_sql(SearchQuery(text="lupus", limit=5))
    >>> sql.startswith("WITH hits AS MATERIALIZED ("), params[0], params[-2:]
    (True, '"lupus"', [5, 0])
    """
    if dialect != "sqlite":
        raise ValueError(f"Search SQL is written for sqlite only, not {dialect!r}.")
    place = place or resolve_place(query)
    hits, params = hits_sql(query, synonyms=synonyms, place=place)
    page, page_params = page_sql(query, "hits", place=place)
    page = page.replace("SELECT t.nct_id,", "SELECT (SELECT count(*) FROM hits) AS total, t.nct_id,", 1)
    page_params[-2] = query.limit  # exactly the page: no look-ahead row
    return f"WITH hits AS MATERIALIZED (\n{hits}\n)\n{page}", [*params, *page_params]
