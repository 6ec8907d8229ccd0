"""Running a search: text and filters to masks, facets, ranking, a page of hits, cursors.

:func:`search_trials` is the library call the CLI, the web pages and the JSON API share;
:func:`iter_all_hits` streams every hit of a query for exports, whatever their number.

One :class:`SearchReader` per open store (kept by the store, see ``Store.memo``) holds
the trials' search facts as columns and a :class:`~trialscope.search.match.Matcher` over the
postings; it reloads them when the store's content changes, so a running server sees an
ingest without a restart.

Facet counts are disjunctive: each facet counts the trials that pass every other filter,
so with ``status=RECRUITING`` the status facet still shows how many trials each other
status would add.

>>> from trialscope.store import open_store
>>> results = search_trials(open_store(":memory:"), SearchQuery(text="lupus", facets=("status",)))
>>> results.total, results.hits, results.facets
(0, (), {'status': ()})
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from trialscope.errors import QueryError, StoreError
from trialscope.model import Trial
from trialscope.search.document import B, field_texts
from trialscope.search.facts import Columns, load_columns, site_distances
from trialscope.search.filters import BY_FIELD, FILTERS, Context
from trialscope.search.freetext import MAX_CHARS, is_free_text, salient_words
from trialscope.search.geo import Place, country_name, locate_place
from trialscope.search.hits import FacetValue, PlaceUsed, ResultsPage, SearchHit, hit_data
from trialscope.search.index import INTERVENTION_BITS, PHASE_BITS, SEARCH_INDEX
from trialscope.search.match import Matcher, scored_terms
from trialscope.search.query import FACETS, SearchQuery, normalize_query
from trialscope.search.rank import bm25_scores
from trialscope.search.snippets import lead_of, match_phrases, snippet_of
from trialscope.search.synonyms import Synonym, SynonymTable
from trialscope.search.syntax import AllOf, AnyOf, Negated, Node, Term, parse_text, tokenize
from trialscope.store import Store, is_current, open_store, refresh_indexes

log = logging.getLogger(__name__)
_CURSOR_VERSION = 2
# The filter each facet counts, whose own selection its counts ignore.
FACET_FILTERS = {"status": "status", "phase": "phase", "study_type": "type", "intervention_type": "intervention_type",
                 "country": "country", "sponsor_class": "sponsor_class", "has_results": "has_results",
                 "start_year": None}  # fmt: skip


class SearchReader:
    """What searching one store version needs in memory (built on first use, per store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.version = index_version(store)
        self.seen = ("", self.version)  # (content version, index version) last checked
        self.columns: Columns = load_columns(store)
        self.matcher = Matcher(store, self.columns.owner(), self.columns.norms_by_id(B))
        self.n_docs = self.columns.size
        rows = store.select("search_synonyms", ("abbr", "expansion", "columns", "trials", "kind"))
        self.synonyms = SynonymTable(Synonym(*row) for row in rows)

    def doc_freq(self, words: Sequence[str]) -> dict[str, int]:
        """How many trials hold each word (a word of several tokens, "x-ray", as a phrase)."""
        return {w: int(self.matcher.phrase(Term(tokenize(w))).docs.size) if tokenize(w) else 0 for w in words}


_READERS_LOCK = threading.Lock()


def index_version(store: Store) -> str:
    """What a reader's in-memory state reflects: how far the search index has read the
    change log, and its newest segment (every refresh or merge writes one, so a merge alone
    also makes readers reload). Trials written but not yet indexed change nothing a reader
    holds, so they make no reader reload (a web worker would reload once per ingest batch)."""
    state = store.derived_state(SEARCH_INDEX.name)
    return f"{state[1] if state else 0}/{store.max_value('text_segments', 'seg')}"


def search_reader(store: Store) -> SearchReader:
    """The store's reader, current with its content (the index brought up to date first
    when the store can be written)."""
    holder: dict[str, SearchReader] = store.memo("search", dict)
    reader = holder.get("reader")
    seen = (store.content_version(), index_version(store))
    if reader is not None and reader.seen == seen:
        return reader
    with _READERS_LOCK:
        reader = holder.get("reader")
        seen = (store.content_version(), index_version(store))
        if reader is not None and reader.seen == seen:
            return reader
        if not is_current(store, SEARCH_INDEX):
            _catch_up(store)
            # Still behind (another process is refreshing it, or the store cannot be
            # written): serve the index as it is, and look again at the next search.
            seen = (seen[0] if is_current(store, SEARCH_INDEX) else "", index_version(store))
        if reader is None or reader.version != seen[1]:
            reader = holder["reader"] = SearchReader(store)
        reader.seen = seen
        return reader


def _catch_up(store: Store) -> None:
    """Bring the search index up to date before reading it: through the store itself, or,
    for a read-only one (a web worker's), through a writable store on the same file. Where
    the file cannot be written, or another process is refreshing it (PostgreSQL), search
    reads the index as it is."""
    if not store.readonly:
        refresh_indexes(store, [SEARCH_INDEX], wait=False)
        return
    if store.path == ":memory:":
        return
    with store.refresh_lock(wait=False) as free:
        if not free:  # another process (an ingest, say) is refreshing it: that refresh commits soon
            return
    try:
        writer = open_store(store.path)
    except StoreError:
        return
    try:
        refresh_indexes(writer, [SEARCH_INDEX], wait=False)
    except (sqlite3.OperationalError, StoreError) as error:  # read-only file system, another writer's lock
        log.info("the search index of %s is not current (%s)", store.path, error)
    finally:
        writer.close()


def warm_search(store: Store) -> None:
    """Load a store's search columns, sites and gazetteer now (a web worker's start-up)."""
    from trialscope.search.geo import warm_gazetteer

    search_reader(store).columns.points()
    warm_gazetteer()


@dataclass(frozen=True)
class SearchResults:
    """A page of hits, the total, the facets asked for, and a cursor to the next page."""

    query: SearchQuery
    total: int
    hits: tuple[SearchHit, ...]
    facets: dict[str, tuple[FacetValue, ...]]
    page: int
    limit: int
    next_cursor: str | None
    elapsed_ms: float
    place: PlaceUsed | None = None
    note: str | None = None  # how the text was read, when worth saying

    def to_page(self) -> ResultsPage:
        return ResultsPage(
            total=self.total,
            page=self.page,
            limit=self.limit,
            next_cursor=self.next_cursor,
            elapsed_ms=round(self.elapsed_ms, 2),
            hits=[hit_data(h) for h in self.hits],
            facets={k: list(v) for k, v in self.facets.items()},
            place=self.place,
            note=self.note,
        )


class _Deadline:
    def __init__(self, seconds: float) -> None:
        if not seconds > 0:
            raise QueryError(f"The time limit must be more than 0 seconds, not {seconds:g}.")
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.end:
            raise QueryError(
                f"The search took longer than {self.seconds:g} s and was stopped; narrow it with filters "
                "or fewer words."
            )


# --- cursors ---------------------------------------------------------------------------


def _fingerprint(query: SearchQuery) -> str:
    """What a cursor must match: everything but the page, limit, cursor and facets."""
    skip = {"page", "limit", "cursor", "facets"}
    data = [(f.name, getattr(query, f.name)) for f in fields(query) if f.name not in skip]
    return hashlib.sha1(repr(data).encode()).hexdigest()[:12]


def encode_cursor(query: SearchQuery, key: float, trial_id: int) -> str:
    """An opaque token for "the hits after this one" (sort key and id of the last hit)."""
    raw = json.dumps([_CURSOR_VERSION, _fingerprint(query), key, trial_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(query: SearchQuery) -> tuple[float, int] | None:
    """(sort key, id) from the query's cursor; QueryError if it is not one of ours for it."""
    if not query.cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(query.cursor + "=" * (-len(query.cursor) % 4))
        version, fingerprint, key, trial_id = json.loads(raw)
        if version != _CURSOR_VERSION or not isinstance(trial_id, int) or not isinstance(key, int | float):
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError):
        raise QueryError(
            "The cursor is not one TrialScope gave out; start again from the first page."
        ) from None
    if fingerprint != _fingerprint(query):
        raise QueryError(
            "The cursor belongs to another search (other words, filters or sort); start from page 1."
        )
    return float(key), trial_id


# --- the search ------------------------------------------------------------------------


@dataclass
class _Found:
    """Every hit of a query, in result order, with what a page of them needs."""

    query: SearchQuery
    reader: SearchReader
    rows: np.ndarray  # row numbers of the hits, best first
    keys: np.ndarray  # sort key of each (descending), ties by trial id
    scores: np.ndarray | None
    total: int
    facets: dict[str, tuple[FacetValue, ...]]
    distances: dict[int, float]
    terms: list
    place: Place | None
    note: str | None = None

    def page_scores(self, rows: np.ndarray, start: int) -> np.ndarray:
        """Scores of some of the hits: computed with the order, or now for another sort."""
        if self.scores is not None:
            return self.scores[start : start + rows.size]
        if not self.terms:
            return np.zeros(rows.size)
        reader = self.reader
        phrases = [reader.matcher.phrase(t) for t in self.terms]
        ids = reader.columns.ids[rows]
        return bm25_scores(phrases, ids, n_docs=reader.n_docs)


def _text_tree(query: SearchQuery, reader: SearchReader) -> tuple[Node | None, str | None]:
    """The text as a tree to evaluate, and how it was read when that is worth saying (a long
    description is read for its salient words, searched with OR)."""
    if is_free_text(query.text):
        words = salient_words(query.text, reader.doc_freq, max(reader.n_docs, 1))
        if not words:
            raise QueryError("None of the words of this text is in any trial; try other words.")
        terms = [Term(tokenize(w), written=w) for w in words]
        node: Node | None = terms[0] if len(terms) == 1 else AnyOf(tuple(dict.fromkeys(terms)))
        shown = ", ".join(words[:12]) + (" …" if len(words) > 12 else "")
        cut = f" (its first {MAX_CHARS:,} characters)" if len(query.text) > MAX_CHARS else ""
        return (
            node,
            f"Read as a description{cut}: trials ranked by how many of its {len(words)} most telling words they hold ({shown}).",
        )
    node = parse_text(query.text)
    if node is None and query.text.strip():
        raise QueryError(
            f"The search text {query.text[:60]!r} has no words to search for; use letters or digits, "
            'like: lupus "stem cells" -placebo.'
        )
    return node, None


def _facet_counts(cols: Columns, rows: np.ndarray, name: str) -> list[tuple[str, int]]:
    if name in ("status", "study_type", "sponsor_class"):
        counts = np.bincount(cols.codes[name][rows], minlength=len(cols.values[name]))
        return [
            (str(v), int(c)) for v, c in zip(cols.values[name], counts, strict=True) if v is not None and c
        ]
    if name in ("phase", "intervention_type"):
        bits = cols.phases[rows] if name == "phase" else cols.itypes[rows]
        table = PHASE_BITS if name == "phase" else INTERVENTION_BITS
        return [(value, int(np.count_nonzero(bits & bit))) for value, bit in table.items()]
    if name == "has_results":
        yes = int(np.count_nonzero(cols.results[rows]))
        return [("true", yes), ("false", int(rows.size) - yes)]
    if name == "start_year":
        years = cols.start_year[rows]
        counts = np.bincount(years[years > 0]) if np.any(years > 0) else np.empty(0, dtype=np.int64)
        return [(str(year), int(c)) for year, c in enumerate(counts) if c]
    chosen = np.zeros(cols.size, dtype=bool)  # country
    chosen[rows] = True
    inside = cols.country_row >= 0
    picked = np.zeros(cols.country_row.size, dtype=bool)
    picked[inside] = chosen[cols.country_row[inside]]
    counts = np.bincount(cols.country_code[picked], minlength=len(cols.country_values))
    return [(v, int(c)) for v, c in zip(cols.country_values, counts, strict=True) if v and c]


def _facet_values(pairs: list[tuple[str, int]]) -> tuple[FacetValue, ...]:
    values = [FacetValue(v, n) for v, n in pairs if n]
    return tuple(sorted(values, key=lambda f: (-f.count, f.value)))


def _sort_keys(cols: Columns, rows: np.ndarray, sort: str, scores: np.ndarray | None) -> np.ndarray:
    if sort == "relevance" and scores is not None:
        return scores
    if sort == "start_date":
        return cols.start[rows].astype(np.float64)
    if sort == "enrollment":
        return np.nan_to_num(cols.enrollment[rows], nan=-1.0)
    return cols.updated[rows].astype(np.float64)


def _order(keys: np.ndarray, ids: np.ndarray, top: int | None) -> np.ndarray:
    """Indexes of the best entries, key descending then id ascending; the ``top`` first only."""
    if keys.size == 0:
        return np.empty(0, dtype=np.int64)
    candidates = np.arange(keys.size)
    if top is not None and keys.size > top * 4 and keys.size > 2000:
        threshold = np.partition(keys, keys.size - top)[keys.size - top]
        candidates = np.nonzero(keys >= threshold)[0]
    order = np.lexsort((ids[candidates], -keys[candidates]))
    return candidates[order] if top is None else candidates[order][:top]


def _find(store: Store, query: SearchQuery, *, deadline: _Deadline, use_synonyms: bool,
          top: int | None) -> _Found:  # fmt: skip
    reader = search_reader(store)
    cols = reader.columns
    node, note = _text_tree(query, reader)
    synonyms = reader.synonyms if use_synonyms else None
    expand = synonyms.expand if synonyms is not None else None
    place = locate_place(query.near) if query.near else None
    ctx = Context(cols, reader.matcher, store, synonyms, place, query.within_km)
    masks: dict[str, np.ndarray] = {}
    for name, value in query.active_filters():
        test = FILTERS[name].test
        if test is not None:
            masks[name] = test(ctx, value)
            deadline.check()
    text = cols.rows_mask(reader.matcher.evaluate(node, expand)) if node is not None else None
    deadline.check()

    def passing(skip: str | None = None) -> np.ndarray:
        mask = text.copy() if text is not None else np.ones(cols.size, dtype=bool)
        for name, m in masks.items():
            if name != skip:
                mask &= m
        return mask

    rows = np.flatnonzero(passing())
    facets: dict[str, tuple[FacetValue, ...]] = {}
    for name in query.facets:
        own = FACET_FILTERS[name]
        counted = rows if own not in masks else np.flatnonzero(passing(own))
        facets[name] = _facet_values(_facet_counts(cols, counted, name))
    terms = scored_terms(_positive(node), expand)
    scores = None
    if query.sort == "relevance" and terms:
        phrases = [reader.matcher.phrase(t) for t in terms]
        scores = bm25_scores(phrases, cols.ids[rows], n_docs=reader.n_docs)
    deadline.check()
    keys = _sort_keys(cols, rows, query.sort, scores)
    ids = cols.ids[rows]
    total = int(rows.size)
    after = decode_cursor(query)
    if after is not None:
        keep = (keys < after[0]) | ((keys == after[0]) & (ids > after[1]))
        rows, keys, ids = rows[keep], keys[keep], ids[keep]
        scores = scores[keep] if scores is not None else None
    order = _order(keys, ids, top)
    distances: dict[int, float] = {}
    if place is not None and query.within_km is not None:
        near, sites = ctx.near()
        shown = np.zeros(cols.size, dtype=bool)
        shown[rows[order]] = True
        mine = shown[near]  # the sites within reach of the hits shown: only those are measured
        for row, km in zip(
            near[mine].tolist(), site_distances(cols, place, sites[mine]).tolist(), strict=True
        ):
            distances[row] = min(km, distances.get(row, km))
    return _Found(query, reader, rows[order], keys[order], scores[order] if scores is not None else None,
                  total, facets, distances, terms, place, note)  # fmt: skip


def _positive(node: Node | None) -> Node | None:
    """The text tree without its NOT parts (what a hit may hold and be scored on)."""
    if node is None or isinstance(node, Negated):
        return None
    if isinstance(node, AllOf):
        items = tuple(i for i in node.items if not isinstance(i, Negated))
        return AllOf(items) if items else None
    return node


def _hit(trial: Trial, score: float, snippet: str, distance: float | None) -> SearchHit:
    return SearchHit(
        nct_id=trial.nct_id,
        title=trial.brief_title or trial.official_title or trial.nct_id,
        status=trial.overall_status,
        phases=tuple(trial.design.phases),
        study_type=trial.design.study_type,
        conditions=tuple(trial.conditions),
        last_update=trial.last_update,
        start_date=trial.start_date.date if trial.start_date else None,
        enrollment=trial.design.enrollment_count,
        has_results=trial.has_results,
        score=round(score, 4),
        snippet=snippet,
        distance_km=round(distance, 1) if distance is not None else None,
    )


def _hits(found: _Found, start: int, stop: int, *, snippets: bool) -> list[SearchHit]:
    cols = found.reader.columns
    rows = found.rows[start:stop]
    ids = cols.ids[rows].tolist()
    trials = found.reader.store.trials_by_id(ids, results=False)
    phrases = match_phrases(found.terms) if snippets else ()
    scores = found.page_scores(rows, start)
    out = []
    for n, (row, trial_id) in enumerate(zip(rows.tolist(), ids, strict=True), start):
        trial = trials.get(trial_id)
        if trial is None:  # removed since the columns were read
            continue
        snippet = ""
        if snippets:
            texts = field_texts(trial)
            snippet = (snippet_of(texts, phrases) if phrases else "") or lead_of(texts[5] or texts[0])
        out.append(_hit(trial, float(scores[n - start]), snippet, found.distances.get(row)))
    return out


def search_trials(
    store: Store, query: SearchQuery, *, timeout_s: float = 5.0, use_synonyms: bool = True
) -> SearchResults:
    """Run a search: total, one page of hits (best first), facet counts, next-page cursor.

    Raises QueryError for a bad query or one that runs longer than ``timeout_s``.
    ``use_synonyms=False`` leaves abbreviations unexpanded (for measuring what they bring).

    >>> from trialscope.store import open_store
    >>> search_trials(open_store(":memory:"), SearchQuery(statuses=("recruiting",))).total
    0
    """
    started = time.perf_counter()
    search_reader(store)  # catching up with changed trials is not part of the query's time
    deadline = _Deadline(timeout_s)
    query = normalize_query(query)
    if query.cursor:
        query = replace(query, page=1)
    found = _find(
        store, query, deadline=deadline, use_synonyms=use_synonyms, top=query.offset + query.limit + 1
    )
    hits = _hits(found, query.offset, query.offset + query.limit, snippets=True)
    more = found.rows.size > query.offset + query.limit
    last = query.offset + query.limit - 1
    next_cursor = None
    if more and hits:
        trial_id = int(found.reader.columns.ids[found.rows[last]])
        next_cursor = encode_cursor(query, float(found.keys[last]), trial_id)
    place = None
    if found.place is not None and query.within_km is not None:
        p = found.place
        place = PlaceUsed(
            p.name, country_name(p.country_code), round(p.lat, 5), round(p.lon, 5), query.within_km
        )
    return SearchResults(
        query=query,
        total=found.total,
        hits=tuple(hits),
        facets=found.facets,
        page=query.page,
        limit=query.limit,
        next_cursor=next_cursor,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        place=place,
        note=found.note,
    )


def iter_all_hits(
    store: Store,
    query: SearchQuery,
    *,
    snippets: bool = False,
    chunk: int = 500,
    timeout_s: float = 60.0,
) -> Iterator[SearchHit]:
    """Every hit of a query in result order, read in chunks: for exports of any size.

    The page, limit and cursor of the query are ignored. The hits are found once; their
    trials are read ``chunk`` at a time. Snippets cost reading each hit's text, so they are
    left empty unless asked for.

    >>> from trialscope.store import open_store
    >>> list(iter_all_hits(open_store(":memory:"), SearchQuery(text="lupus")))
    []
    """
    query = normalize_query(replace(query, cursor=None, page=1, facets=()))
    search_reader(store)  # catching up first, outside the deadline
    found = _find(store, query, deadline=_Deadline(timeout_s), use_synonyms=True, top=None)
    for start in range(0, int(found.rows.size), chunk):
        yield from _hits(found, start, start + chunk, snippets=snippets)


def explain_search(store: Store, query: SearchQuery) -> list[str]:
    """How a search is read and run, a line each (``trialscope search --explain``)."""
    query = normalize_query(query)
    reader = search_reader(store)
    node, note = _text_tree(query, reader)
    lines = [f"store: {reader.n_docs:,} trials, content version {reader.seen[0]}"]
    if node is None:
        lines.append("text: none (every trial passes)")
    else:
        lines.append(f"text: {note or node}")
        for term in scored_terms(_positive(node), reader.synonyms.expand):
            hits = reader.matcher.phrase(term)
            where = f" in {', '.join(term.columns)}" if term.columns else ""
            lines.append(f"  phrase {' '.join(term.tokens)!r}{'*' if term.prefix else ''}{where}: "
                         f"{hits.docs.size:,} trials")  # fmt: skip
    for name, value in query.shown_filters():
        lines.append(f"filter {name} = {value!r} ({BY_FIELD[FILTERS[name].field].help})")
    lines.append(f"sort: {query.sort}; facets: {', '.join(query.facets) or 'none'} (of {', '.join(FACETS)})")
    return lines
