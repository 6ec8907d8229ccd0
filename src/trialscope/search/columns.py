"""The in-memory engine: search's narrow tables as numpy columns, filters as masks, facets as counts.

SQLite reads a row at a time: filtering 600,000 narrow rows and sorting a quarter of them
five times for five facets costs a few hundred milliseconds on a small machine. The same
work over columns in memory costs a few: a filter is a vectorised comparison, a facet a
``bincount``. This module loads ``search_facts``, ``search_countries`` and ``search_points``
once per process and store content version (about two seconds at 600,000 trials, ~100 MB),
and answers with the same semantics as the SQL of :mod:`trialscope.search.sql` — the tests
run both engines on the same queries and compare.

SQLite still does what it is best at: the full-text match (FTS5, with BM25 computed only
for trials that pass the filters), the filters that are text searches themselves
(conditions, sponsor), the sites of a city, and the rows of the page.

>>> date_key("2021-06-30"), date_key("2021-06"), date_key("2021"), date_key(None)
(20210630, 20210600, 20210000, -1)
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field

import numpy as np

from trialscope.search.geo import EARTH_RADIUS_KM, Place, bounding_box, canonical_country, inner_box
from trialscope.search.index import INTERVENTION_BITS, PHASE_BITS, connection_token, content_version
from trialscope.search.query import DAYS_PER_YEAR, SearchQuery, date_upper_bound
from trialscope.search.scoring import bm25_scores, match_ids
from trialscope.search.scoring import parse_numbers as _numbers
from trialscope.search.sql import bm25_sql, compile_text, condition_match, rows_sql, sponsor_match
from trialscope.search.synonyms import SynonymTable

CODED = ("status", "study_type", "sponsor_class", "sex")


def date_key(text: str | None) -> int:
    """An ISO date (as precise as the registry gives it) as an integer in the same order as
    the strings compare: missing parts are zeros; no date is -1."""
    if not text:
        return -1
    parts = text.split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else 0
        day = int(parts[2]) if len(parts) > 2 else 0
    except ValueError:
        return -1
    return year * 10000 + month * 100 + day


@dataclass
class Columns:
    """Every trial's search facts, row i being the trial ``ids[i]`` (ids ascending)."""

    version: str
    ids: np.ndarray
    codes: dict[str, np.ndarray]
    values: dict[str, list[str | None]]
    phases: np.ndarray
    itypes: np.ndarray
    healthy: np.ndarray
    results: np.ndarray
    min_age: np.ndarray
    max_age: np.ndarray
    enrollment: np.ndarray
    start: np.ndarray
    completion: np.ndarray
    updated: np.ndarray
    start_year: np.ndarray
    country_row: np.ndarray
    country_code: np.ndarray
    country_values: list[str]
    conn: sqlite3.Connection | None = None
    _points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    _code_of: dict[str, dict[str | None, int]] = field(default_factory=dict)
    _by_id: np.ndarray | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lat, lon, row) of every located site, by latitude; read on first use."""
        if self._points is None:
            with self._lock:
                if self._points is None and self.conn is not None:
                    got = self.conn.execute(
                        "SELECT group_concat(trial_id), group_concat(lat), group_concat(lon) "
                        "FROM (SELECT trial_id, lat, lon FROM search_points ORDER BY lat)"
                    ).fetchone()
                    trial_ids = _numbers(got[0], np.int64)
                    self._points = (
                        _numbers(got[1], np.float64),
                        _numbers(got[2], np.float64),
                        np.searchsorted(self.ids, trial_ids),
                    )
        assert self._points is not None
        return self._points

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def code(self, column: str, value: str | None) -> int:
        """The code of a value in a coded column; -2 (matching nothing) when absent."""
        if column not in self._code_of:
            self._code_of[column] = {v: i for i, v in enumerate(self.values[column])}
        return self._code_of[column].get(value, -2)

    def rows_of(self, trial_ids: np.ndarray) -> np.ndarray:
        """Row numbers of trial ids (ids without a row are dropped)."""
        if trial_ids.size == 0:
            return np.empty(0, dtype=np.int64)
        by_id = self._row_by_id()
        if by_id is not None:
            inside = trial_ids[(trial_ids >= 0) & (trial_ids < by_id.size)]
            rows = by_id[inside]
            return rows[rows >= 0].astype(np.int64)
        rows = np.searchsorted(self.ids, trial_ids)
        rows = np.clip(rows, 0, max(self.size - 1, 0))
        return rows[self.ids[rows] == trial_ids] if self.size else np.empty(0, dtype=np.int64)

    def _row_by_id(self) -> np.ndarray | None:
        """Row number by trial id (-1: no row), when ids are dense enough for a table to pay."""
        if self._by_id is None and self.size and int(self.ids[-1]) < 4 * self.size + 1024:
            table = np.full(int(self.ids[-1]) + 1, -1, dtype=np.int32)
            table[self.ids] = np.arange(self.size, dtype=np.int32)
            self._by_id = table
        return self._by_id

    def mask_of(self, trial_ids: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        mask[self.rows_of(trial_ids)] = True
        return mask


def _encode(values: list[str | None]) -> tuple[np.ndarray, list[str | None]]:
    table: dict[str | None, int] = {None: 0}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.int32, count=len(values))
    names: list[str | None] = [None] * len(table)
    for value, code in table.items():
        names[code] = value
    return codes, names


def _texts(text: str | None, n: int) -> list[str | None]:
    if n == 0:
        return []
    return [v or None for v in (text or "").split(_SEP)]


def _dates(values: list[str | None]) -> np.ndarray:
    cache: dict[str | None, int] = {}
    return np.fromiter(
        (cache[v] if v in cache else cache.setdefault(v, date_key(v)) for v in values),
        dtype=np.int64,
        count=len(values),
    )


_SEP = "\x1f"
# One scan of search_facts, each column joined into one string: no Python object per value.
_FACTS_SQL = (
    "SELECT count(*), group_concat(id), group_concat(phases), group_concat(itypes), "
    "group_concat(ifnull(healthy_volunteers, -1)), group_concat(has_results), "
    "group_concat(ifnull(min_age_days, 'nan')), group_concat(ifnull(max_age_days, 'nan')), "
    "group_concat(ifnull(enrollment, 'nan')), "
    + ", ".join(
        f"group_concat(ifnull({c}, ''), char(31))"
        for c in (*CODED, "start_date", "completion_date", "last_update")
    )
    + " FROM (SELECT * FROM search_facts ORDER BY id)"
)


def load_columns(conn: sqlite3.Connection) -> Columns:
    """Read the search tables into columns (see :func:`columns_for` for the cached ones).

    Sites' points are read on first use (:meth:`Columns.points`): they are the largest part.
    """
    row = conn.execute(_FACTS_SQL).fetchone()
    n = int(row[0])
    ids = _numbers(row[1], np.int64)
    codes: dict[str, np.ndarray] = {}
    values: dict[str, list[str | None]] = {}
    for i, name in enumerate(CODED):
        codes[name], values[name] = _encode(_texts(row[9 + i], n))
    start = _dates(_texts(row[13], n))
    countries = conn.execute(
        "SELECT group_concat(trial_id), group_concat(country, char(31)) "
        "FROM (SELECT trial_id, country FROM search_countries ORDER BY trial_id)"
    ).fetchone()
    country_ids = _numbers(countries[0], np.int64)
    country_code, country_values = _encode(_texts(countries[1], country_ids.size))
    return Columns(
        version=content_version(conn),
        ids=ids,
        codes=codes,
        values=values,
        phases=_numbers(row[2], np.int64),
        itypes=_numbers(row[3], np.int64),
        healthy=_numbers(row[4], np.int64).astype(np.int8),
        results=_numbers(row[5], np.int64).astype(np.int8),
        min_age=_numbers(row[6], np.float64),
        max_age=_numbers(row[7], np.float64),
        enrollment=_numbers(row[8], np.float64),
        start=start,
        completion=_dates(_texts(row[14], n)),
        updated=_dates(_texts(row[15], n)),
        start_year=np.where(start >= 0, start // 10000, 0).astype(np.int32),
        country_row=np.searchsorted(ids, country_ids),
        country_code=country_code,
        country_values=[v or "" for v in country_values],
        conn=conn,
    )


_CACHE: dict[str, Columns] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def columns_for(conn: sqlite3.Connection) -> Columns:
    """The columns of a connection's search tables, loaded once per content version (the
    few most recent connections are kept)."""
    key = connection_token(conn)
    version = content_version(conn)
    cached = _CACHE.get(key)
    if cached is not None and cached.version == version:
        return cached
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is None or cached.version != version:
            cached = load_columns(conn)
            _CACHE.pop(key, None)
            _CACHE[key] = cached
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
        return cached


def warm_columns(conn: sqlite3.Connection) -> None:
    """Load a connection's columns and sites now (a web app may call this at start-up)."""
    columns_for(conn).points()


def ids_from_sql(conn: sqlite3.Connection, sql: str, params: list[object]) -> np.ndarray:
    """Trial ids from a ``SELECT group_concat(id) ...`` statement, without a Python object per id."""
    return _numbers(conn.execute(sql, params).fetchone()[0], np.int64)


def near_rows(cols: Columns, place: Place, within_km: float) -> np.ndarray:
    """Rows of trials with a site within ``within_km`` of the place (same rule as the SQL);
    a trial with several such sites appears once for each."""
    lat_min, lat_max, lon_min, lon_max = bounding_box(place.lat, place.lon, within_km)
    point_lat, point_lon, point_row = cols.points()
    lo = int(np.searchsorted(point_lat, lat_min, side="left"))
    hi = int(np.searchsorted(point_lat, lat_max, side="right"))
    lat, lon, rows = point_lat[lo:hi], point_lon[lo:hi], point_row[lo:hi]
    if lon_min is not None:
        keep = (lon >= lon_min) & (lon <= lon_max)
        lat, lon, rows = lat[keep], lon[keep], rows[keep]
    inside = np.zeros(lat.size, dtype=bool)
    box = inner_box(place.lat, place.lon, within_km)
    if box is not None:
        inside = (lat >= box[0]) & (lat <= box[1]) & (lon >= box[2]) & (lon <= box[3])
    rest = ~inside
    # The same expression, in the same order, as geo.distance_sql.
    a = np.power(np.sin(np.radians(lat[rest] - place.lat) / 2), 2) + np.cos(np.radians(place.lat)) * np.cos(
        np.radians(lat[rest])
    ) * np.power(np.sin(np.radians(lon[rest] - place.lon) / 2), 2)
    distance = round(2 * EARTH_RADIUS_KM, 4) * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    inside[rest] = distance <= within_km
    return rows[inside]


def filter_mask(
    cols: Columns,
    query: SearchQuery,
    *,
    place: Place | None,
    sql_ids: dict[str, np.ndarray],
) -> np.ndarray:
    """The rows passing every filter of the query; ``sql_ids`` holds the trial ids of the
    filters SQLite answers (``conditions``, ``sponsor``, ``cities``, ``nct_ids``, ``exclude``)."""
    mask = np.ones(cols.size, dtype=bool)

    def coded(column: str, wanted: tuple[str, ...]) -> None:
        nonlocal mask
        chosen = np.zeros(len(cols.values[column]), dtype=bool)  # a lookup table by code
        chosen[[c for c in (cols.code(column, v) for v in wanted) if c >= 0]] = True
        mask &= chosen[cols.codes[column]]

    if query.statuses:
        coded("status", query.statuses)
    if query.phases:
        mask &= (cols.phases & sum(PHASE_BITS.get(p, 0) for p in query.phases)) != 0
    if query.study_types:
        coded("study_type", query.study_types)
    if query.intervention_types:
        mask &= (cols.itypes & sum(INTERVENTION_BITS.get(t, 0) for t in query.intervention_types)) != 0
    if query.sponsor_classes:
        coded("sponsor_class", query.sponsor_classes)
    for name in ("conditions", "sponsor", "cities", "nct_ids"):
        if name in sql_ids:
            mask &= cols.mask_of(sql_ids[name])
    if query.countries:
        wanted = {canonical_country(c).lower() for c in query.countries}
        codes = [i for i, v in enumerate(cols.country_values) if v.lower() in wanted]
        rows = cols.country_row[np.isin(cols.country_code, codes)]
        country_mask = np.zeros(cols.size, dtype=bool)
        country_mask[rows] = True
        mask &= country_mask
    if place is not None and query.within_km is not None:
        near = np.zeros(cols.size, dtype=bool)
        near[near_rows(cols, place, query.within_km)] = True
        mask &= near
    if query.age_years is not None:
        days = round(query.age_years * DAYS_PER_YEAR, 6)
        with np.errstate(invalid="ignore"):
            mask &= (np.isnan(cols.min_age) | (cols.min_age <= days)) & (
                np.isnan(cols.max_age) | (cols.max_age >= days)
            )
    if query.sex:
        sexes = ("ALL",) if query.sex == "ALL" else ("ALL", query.sex)
        mask &= (cols.codes["sex"] == cols.code("sex", None)) | np.isin(
            cols.codes["sex"], [cols.code("sex", s) for s in sexes]
        )
    if query.healthy_volunteers is not None:
        mask &= cols.healthy == int(query.healthy_volunteers)
    if query.has_results is not None:
        mask &= cols.results == int(query.has_results)
    for keys, low, high in (
        (cols.start, query.start_from, query.start_to),
        (cols.completion, query.completion_from, query.completion_to),
        (cols.updated, query.updated_from, query.updated_to),
    ):
        if low:
            mask &= (keys >= 0) & (keys >= date_key(low))
        if high:
            bound, inclusive = date_upper_bound(high)
            mask &= (keys >= 0) & ((keys <= date_key(bound)) if inclusive else (keys < date_key(bound)))
    with np.errstate(invalid="ignore"):
        if query.enrollment_min is not None:
            mask &= cols.enrollment >= query.enrollment_min
        if query.enrollment_max is not None:
            mask &= cols.enrollment <= query.enrollment_max
    if "exclude" in sql_ids:
        mask &= ~cols.mask_of(sql_ids["exclude"])
    return mask


def count_facets(cols: Columns, rows: np.ndarray, names: tuple[str, ...]) -> dict[str, list[tuple[str, int]]]:
    """(value, count) per facet over some rows, with the SQL engine's values and rules."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name in names:
        if name in ("status", "study_type", "sponsor_class"):
            counts = np.bincount(cols.codes[name][rows], minlength=len(cols.values[name]))
            out[name] = [
                (str(v), int(c))
                for v, c in zip(cols.values[name], counts, strict=True)
                if v is not None and c
            ]
        elif name in ("phase", "intervention_type"):
            bits = cols.phases[rows] if name == "phase" else cols.itypes[rows]
            table = PHASE_BITS if name == "phase" else INTERVENTION_BITS
            out[name] = [(value, int(np.count_nonzero(bits & bit))) for value, bit in table.items()]
        elif name == "has_results":
            yes = int(np.count_nonzero(cols.results[rows]))
            out[name] = [("true", yes), ("false", int(rows.size) - yes)]
        elif name == "start_year":
            years = cols.start_year[rows]
            counts = np.bincount(years[years > 0]) if np.any(years > 0) else np.empty(0, dtype=np.int64)
            out[name] = [(str(year), int(c)) for year, c in enumerate(counts) if c]
        elif name == "country":
            chosen = np.zeros(cols.size, dtype=bool)
            chosen[rows] = True
            counts = np.bincount(
                cols.country_code[chosen[cols.country_row]], minlength=len(cols.country_values)
            )
            out[name] = [(v, int(c)) for v, c in zip(cols.country_values, counts, strict=True) if v and c]
    return out


def order_rows(keys: np.ndarray, ids: np.ndarray, top: int) -> np.ndarray:
    """Indexes of the ``top`` best entries, key descending then id ascending (the SQL order)."""
    if keys.size == 0 or top <= 0:
        return np.empty(0, dtype=np.int64)
    if keys.size > top * 4 and keys.size > 2000:
        threshold = np.partition(keys, keys.size - top)[keys.size - top]
        candidates = np.nonzero(keys >= threshold)[0]
    else:
        candidates = np.arange(keys.size)
    order = np.lexsort((ids[candidates], -keys[candidates]))
    return candidates[order][:top]


# --- running a search on columns -------------------------------------------------------


@dataclass(frozen=True)
class ColumnsAnswer:
    """What the columns engine found: the total, the page's rows (as the SQL page returns
    them, score and sort key filled in), whether more follow, and facet counts."""

    total: int
    rows: list[tuple[object, ...]]
    more: bool
    facets: dict[str, list[tuple[str, int]]]


def _sql_filter_ids(
    conn: sqlite3.Connection, query: SearchQuery, synonyms: SynonymTable | None, exclude: str | None
) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    fts = "SELECT group_concat(rowid) FROM trials_fts WHERE trials_fts MATCH ?"
    if query.conditions:
        found["conditions"] = ids_from_sql(conn, fts, [condition_match(query.conditions, synonyms)])
    if query.sponsor:
        found["sponsor"] = ids_from_sql(conn, fts, [sponsor_match(query.sponsor)])
    if query.cities:
        marks = ",".join("?" * len(query.cities))
        sql = f"SELECT group_concat(trial_id) FROM sites WHERE city IN ({marks})"
        found["cities"] = ids_from_sql(conn, sql, list(query.cities))
    if query.nct_ids:
        marks = ",".join("?" * len(query.nct_ids))
        found["nct_ids"] = ids_from_sql(
            conn, f"SELECT group_concat(id) FROM trials WHERE nct_id IN ({marks})", list(query.nct_ids)
        )
    if exclude is not None:
        found["exclude"] = ids_from_sql(conn, fts, [exclude])
    return found


# Index instances a search may read itself for phrases not yet cached (~20 ms); a phrase
# costing more is read by the background reader while bm25() answers, so no search waits
# for an investment made for later ones.
_READ_NOW = 100_000


def _scores(conn: sqlite3.Connection, match: str, ids: np.ndarray, matched: int) -> np.ndarray:
    """BM25 (higher better) of the given matching trials, in the order of ``ids`` (ascending).

    Computed from the index's phrase instances (:mod:`trialscope.search.scoring`) when they are
    cached or cheap to read, else by FTS5's ``bm25()`` while the phrases are read in the
    background. FTS5 cannot seek one row of a match cheaply, so the match is walked once,
    and when the filters left a minority of it BM25 is computed only for those (a membership
    test per row). Both give the same numbers.
    """
    computed = bm25_scores(conn, match, ids, budget=_READ_NOW)
    if computed is not None:
        return computed
    restrict = ids.size * 2 < matched
    sql = f"SELECT rowid, -{bm25_sql()} FROM trials_fts WHERE trials_fts MATCH ?" + (
        " AND +rowid IN (SELECT value FROM json_each(?))" if restrict else ""
    )
    params: list[object] = [match]
    if restrict:
        params.append("[" + ",".join(map(str, ids.tolist())) + "]")
    got = np.fromiter(conn.execute(sql, params), dtype=[("id", np.int64), ("score", np.float64)])
    if got.size == 0:
        return np.zeros(ids.size)
    got.sort(order="id")
    where = np.searchsorted(got["id"], ids)
    return got["score"][np.clip(where, 0, got.size - 1)]


def _sort_keys(cols: Columns, rows: np.ndarray, query: SearchQuery, scores: np.ndarray | None) -> np.ndarray:
    if query.sort == "relevance" and scores is not None:
        return scores
    if query.sort == "start_date":
        return cols.start[rows].astype(np.float64)
    if query.sort == "enrollment":
        return np.nan_to_num(cols.enrollment[rows], nan=-1.0)
    return cols.updated[rows].astype(np.float64)


def _key_value(query: SearchQuery, has_scores: bool, key: object) -> float:
    """A cursor's sort key (as the SQL engine writes it) in this engine's numbers."""
    if query.sort == "relevance" and has_scores or query.sort == "enrollment":
        return float(key)  # type: ignore[arg-type]
    return float(date_key(str(key)) if key else -1)


def _sql_key(query: SearchQuery, row: tuple[object, ...], score: float | None) -> object:
    """The sort key of a page row as the SQL engine writes it (for cursors)."""
    if query.sort == "relevance" and score is not None:
        return score
    if query.sort == "start_date":
        return row[7] or ""
    if query.sort == "enrollment":
        return -1 if row[8] is None else row[8]
    return row[6] or ""


def search_with_columns(
    conn: sqlite3.Connection,
    query: SearchQuery,
    *,
    synonyms: SynonymTable | None,
    place: Place | None,
    after: tuple[object, int] | None,
) -> ColumnsAnswer:
    """A search on columns: the same hits, order, total and facets as the SQL plan."""
    cols = columns_for(conn)
    text = compile_text(query, synonyms)
    mask = filter_mask(cols, query, place=place, sql_ids=_sql_filter_ids(conn, query, synonyms, text.exclude))
    scores: np.ndarray | None = None
    if text.match is not None:
        matched_ids = match_ids(conn, text.match)
        if matched_ids is None:
            matched_ids = ids_from_sql(
                conn, "SELECT group_concat(rowid) FROM trials_fts WHERE trials_fts MATCH ?", [text.match]
            )
        rows = cols.rows_of(matched_ids)  # both ascending
        rows = rows[mask[rows]]
        if query.sort == "relevance":
            scores = _scores(conn, text.match, cols.ids[rows], matched_ids.size)
    else:
        rows = np.nonzero(mask)[0]
    facets = count_facets(cols, rows, query.facets)
    keys = _sort_keys(cols, rows, query, scores)
    ids = cols.ids[rows]
    offset = query.offset
    if after is not None:
        k0, i0 = _key_value(query, scores is not None, after[0]), after[1]
        keep = (keys < k0) | ((keys == k0) & (ids > i0))
        keys, ids = keys[keep], ids[keep]
        if scores is not None:
            scores = scores[keep]
        offset = 0
    chosen = order_rows(keys, ids, offset + query.limit + 1)[offset:]
    page_ids = ids[chosen]
    page_scores = scores[chosen] if scores is not None else None
    by_id: dict[int, tuple[object, ...]] = {}
    if page_ids.size:
        sql, params = rows_sql([int(i) for i in page_ids], place)
        by_id = {int(r[12]): r for r in conn.execute(sql, params)}
    out: list[tuple[object, ...]] = []
    for n, trial_id in enumerate(page_ids.tolist()):
        row = by_id.get(trial_id)
        if row is None:
            continue
        score = float(page_scores[n]) if page_scores is not None else None
        out.append((*row[:10], score if score is not None else 0.0, _sql_key(query, row, score), *row[12:]))
    more = len(out) > query.limit
    return ColumnsAnswer(total=int(rows.size), rows=out[: query.limit], more=more, facets=facets)
