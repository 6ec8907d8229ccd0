"""Running a search: under a time limit, with totals, a page, facets, snippets and cursors.

:func:`search_trials` is the library call the CLI, the web pages and the JSON API share;
:func:`iter_all_hits` streams every hit of a query for exports, whatever their number.

Facet counts are those of the hits of the whole query, every filter applied, its own
dimension's included: with ``status=RECRUITING`` the status facet shows RECRUITING alone.
(Counts "as if this dimension were not filtered" would cost one more search per filtered
dimension.)

>>> from trialscope.store import open_store
>>> results = search_trials(open_store(":memory:"), SearchQuery(text="lupus", facets=("status",)))
>>> results.total, results.hits, results.facets
(0, (), {'status': ()})
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import logging
import re
import sqlite3
import threading
import time
import unicodedata
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from trialscope.errors import QueryError
from trialscope.search.columns import search_with_columns
from trialscope.search.geo import Place
from trialscope.search.index import (
    connection_token,
    content_version,
    ensure_search_index,
    load_synonyms,
    search_lock,
    trial_count,
)
from trialscope.search.query import SearchQuery, normalize_query
from trialscope.search.scoring import bm25_scores
from trialscope.search.sql import (
    HITS_TABLE,
    bm25_sql,
    compile_text,
    facet_sql,
    hits_sql,
    page_sql,
    plan_sql,
    resolve_place,
)
from trialscope.search.synonyms import SynonymTable
from trialscope.search.text import MATCH_PHRASE, fold_word, index_word, read_phrase
from trialscope.store.schema import FTS_COLUMNS

log = logging.getLogger(__name__)

SNIPPET_TOKENS = 24
_OPEN, _CLOSE = "\x02", "\x03"
_SUMMARY_COLUMN = FTS_COLUMNS.index("summary")
_CURSOR_VERSION = 1
_export_ids = itertools.count(1)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SearchHit:
    """One trial in a result list. ``snippet`` is HTML-safe: registry text escaped, matched
    words in ``<mark>``; ``distance_km`` is to the nearest site when the query has a place."""

    nct_id: str
    title: str
    status: str | None
    phases: str | None
    study_type: str | None
    conditions: tuple[str, ...]
    last_update: str | None
    start_date: str | None
    enrollment: int | None
    has_results: bool
    score: float
    snippet: str
    distance_km: float | None

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["conditions"] = list(self.conditions)
        return data


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


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

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready data (the CLI's --format json and a JSON API can share it)."""
        return {
            "total": self.total,
            "page": self.page,
            "limit": self.limit,
            "next_cursor": self.next_cursor,
            "elapsed_ms": round(self.elapsed_ms, 2),
            "hits": [h.to_dict() for h in self.hits],
            "facets": {
                k: [{"value": v.value, "count": v.count} for v in vs] for k, vs in self.facets.items()
            },
        }


# --- time limit ------------------------------------------------------------------------


@contextmanager
def time_limit(conn: sqlite3.Connection, seconds: float) -> Iterator[None]:
    """Stop any statement this thread runs on ``conn`` after ``seconds``: QueryError.

    SQLite calls the handler every few thousand virtual-machine steps; it stops only this
    thread's statements, so another thread reading on the same connection is left alone.
    """
    deadline = time.monotonic() + seconds
    me = threading.get_ident()

    def handler() -> int:
        return 1 if threading.get_ident() == me and time.monotonic() > deadline else 0

    conn.set_progress_handler(handler, 5000)
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "interrupt" in str(exc).lower():
            raise QueryError(
                f"The search took longer than {seconds:g} s and was stopped; narrow it with filters or fewer words."
            ) from None
        log.warning("search failed: %s", exc)
        raise QueryError(
            "The search could not run on this store; check the search words and filters."
        ) from None
    finally:
        conn.set_progress_handler(None, 0)


# --- cursors ---------------------------------------------------------------------------


def _fingerprint(query: SearchQuery) -> str:
    """What a cursor must match: everything but the page, limit, cursor and facets."""
    skip = {"page", "limit", "cursor", "facets"}
    data = [(f.name, getattr(query, f.name)) for f in fields(query) if f.name not in skip]
    return hashlib.sha1(repr(data).encode()).hexdigest()[:12]


def encode_cursor(query: SearchQuery, key: object, trial_id: int) -> str:
    """An opaque token for "the hits after this one" (sort key and id of the last hit)."""
    raw = json.dumps([_CURSOR_VERSION, _fingerprint(query), key, trial_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(query: SearchQuery) -> tuple[object, int] | None:
    """(sort key, id) from the query's cursor; QueryError if it is not one of ours for it."""
    if not query.cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(query.cursor + "=" * (-len(query.cursor) % 4))
        version, fingerprint, key, trial_id = json.loads(raw)
        if version != _CURSOR_VERSION or not isinstance(trial_id, int) or isinstance(key, list | dict):
            raise ValueError
    except (ValueError, TypeError, UnicodeDecodeError):
        raise QueryError(
            "The cursor is not one TrialScope gave out; start again from the first page."
        ) from None
    if fingerprint != _fingerprint(query):
        raise QueryError(
            "The cursor belongs to another search (other words, filters or sort); start from page 1."
        )
    return key, trial_id


# --- snippets --------------------------------------------------------------------------


def _mark(text: str) -> str:
    """Escape registry text for HTML, then turn the snippet markers into <mark> tags."""
    clean = _SPACES.sub(" ", text).strip()
    return html.escape(clean, quote=True).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")


def _lead(text: str | None, words: int = SNIPPET_TOKENS) -> str:
    parts = (text or "").split()
    cut = " ".join(parts[:words])
    return html.escape(cut + (" …" if len(parts) > words else ""), quote=True)


@dataclass(frozen=True)
class _Phrase:
    """One phrase of a compiled match, as index stems; ``probe`` is a lower-case piece of text
    every word holding its first stem contains (to skip columns without it cheaply)."""

    stems: tuple[str, ...]
    columns: frozenset[int] | None
    prefix: bool  # the last stem is a prefix (``word*``)
    probe: str


_WORD = re.compile(r"[^\W_]+")
# Latin letters with diacritics -> the letter without (one character each, so offsets hold).
_BASE_LETTERS = {
    code: base[0]
    for code in range(0xC0, 0x250)
    if (base := unicodedata.normalize("NFD", chr(code))) and base[0].isascii() and base[0] != chr(code)
}
_ACCENTED = re.compile("[\u00c0-\u024f]")
_SENTENCE = re.compile(r"[.:][ \t\r\n]+(?=[^\W_])")


def match_phrases(match: str) -> tuple[_Phrase, ...]:
    """The phrases a hit can hold (those before the top-level NOT) of a compiled FTS5 match.

    >>> [(p.stems, p.probe) for p in match_phrases('("stem cells" OR "msc") NOT ("placebo")')]
    [(('stem', 'cell'), 'ste'), (('msc',), 'msc')]
    """
    positive = match.split(" NOT (", 1)[0]
    phrases: list[_Phrase] = []
    for found in MATCH_PHRASE.finditer(positive):
        term = read_phrase(found)
        tokens = term.tokens
        if not tokens:
            continue
        names = term.columns
        columns = frozenset(FTS_COLUMNS.index(n) for n in names if n in FTS_COLUMNS) if names else None
        prefix = term.prefix
        # FTS5 matches a prefix against the index's stems as it is, without stemming it.
        stems = tuple(
            fold_word(t) if prefix and i == len(tokens) - 1 else index_word(t) for i, t in enumerate(tokens)
        )
        first = stems[0]
        # Porter changes at most the last three letters of a word, so a word with this stem
        # holds its first letters as written (index_word folds diacritics: 'sjogren' misses 'Sjögren').
        probe = first[: min(len(first), max(3, len(first) - 3))]
        phrases.append(_Phrase(stems, columns, prefix, probe))
    return tuple(dict.fromkeys(phrases))


def _instances(text: str, column: int, phrases: Sequence[_Phrase]) -> list[tuple[int, int, int]]:
    """(start, end, phrase) of each phrase in ``text``, by character offsets."""
    low = text.lower()
    if len(low) != len(text):  # lower-casing moved offsets (rare letters): compare word by word
        low = "".join(c.lower()[:1] or c for c in text)
    folded = None
    found: list[tuple[int, int, int]] = []
    for p, phrase in enumerate(phrases):
        if phrase.columns is not None and column not in phrase.columns:
            continue
        at = low.find(phrase.probe)
        if at < 0 and not low.isascii() and _ACCENTED.search(low):
            # 'sjogren' finds 'Sjögren': accented letters as their base letter, offsets kept.
            folded = folded or low.translate(_BASE_LETTERS)
            low = folded
            at = low.find(phrase.probe)
        while at >= 0:
            if at == 0 or not low[at - 1].isalnum():
                end = _phrase_end(text, at, phrase)
                if end:
                    found.append((at, end, p))
            at = low.find(phrase.probe, at + 1)
    found.sort()
    return found


def _phrase_end(text: str, at: int, phrase: _Phrase) -> int:
    """Where the phrase starting at ``at`` ends in ``text``, or 0 when it does not start there."""
    end = 0
    words = _WORD.finditer(text, at)
    last = len(phrase.stems) - 1
    for i, stem in enumerate(phrase.stems):
        word = next(words, None)
        if word is None:
            return 0
        got = index_word(word.group())
        if not (got == stem or (phrase.prefix and i == last and got.startswith(stem))):
            return 0
        end = word.end()
    return end


@dataclass(frozen=True)
class _Fragment:
    score: int
    start: int  # the index of the first token shown
    marks: list[tuple[int, int, int]]  # first token, last token, start offset of each instance
    size: int | None  # tokens in the text; None when far more than the fragment reaches


# UTF-8 bytes -> b"a" for a letter or digit (any non-ASCII byte, once the non-ASCII characters
# that are not letters or digits are spaces), b" " for anything else: tokens become split()'s words.
_TOKEN_BYTES = bytes(ord("a") if chr(b).isalnum() else ord(" ") for b in range(128)) + b"a" * 128
_NON_ASCII_SEPARATOR = re.compile(r"[^\x00-\x7f\w]")


def _count(text: str, start: int, end: int) -> int:
    """Tokens between two offsets (as ``_WORD`` finds them), counted in C."""
    if end <= start:
        return 0
    piece = text[start:end]
    if not piece.isascii():
        piece = _NON_ASCII_SEPARATOR.sub(" ", piece)
    return len(piece.encode().translate(_TOKEN_BYTES).split())


def _best_fragment(text: str, instances: list[tuple[int, int, int]], tokens: int) -> _Fragment | None:
    """FTS5's choice of a fragment of ``tokens`` tokens: the window scoring most - 1000 for
    each phrase in it, 1 for each repeat - centred on its instances, or starting the
    sentence before them for a bonus of 100 (120 at the start of the text).

    Token indices are counted between the instances only, so a long text costs little.
    """
    if not instances:
        return None
    ranges: list[tuple[int, int, int, int]] = []  # first token, last token, phrase, offset
    at, index = 0, 0
    for a, b, p in instances:
        index += _count(text, at, a)
        at = a
        ranges.append((index, index + _count(text, a, b) - 1, p, a))
    last = ranges[-1]
    # The text's size in tokens matters only when the fragment can reach its end.
    reach = last[3] + 64 * tokens
    size: int | None = None
    if reach >= len(text) or _count(text, last[3], reach) <= 2 * tokens:
        size = last[0] + _count(text, last[3], len(text))
    sentence_offsets = [m.end() for m in _SENTENCE.finditer(text, 0, last[3] + 1)]

    offsets = [r[3] for r in ranges]

    def sentence_index(at: int) -> int:
        """The token index at a sentence's offset, counted from the instance before it."""
        j = bisect_right(offsets, at) - 1
        return ranges[j][0] + _count(text, offsets[j], at) if j >= 0 else _count(text, 0, at)

    def score(first_token: int) -> tuple[int, int]:
        seen: set[int] = set()
        value, low, high = 0, -1, -1
        for a, b, p, _ in ranges:
            if first_token <= a < first_token + tokens:
                value += 1 if p in seen else 1000
                seen.add(p)
                low = a if low < 0 else low
                high = max(high, b)
        centred = low - (tokens - (high + 1 - low)) // 2
        if size is not None:
            centred = min(centred, size - tokens)
        return value, max(0, centred)

    best, start = -1, 0
    for a, _, _, offset in ranges:
        value, centred = score(a)
        if value > best:
            best, start = value, centred
        if size is None or size > tokens:
            # The start of the sentence this instance is in.
            i = bisect_right(sentence_offsets, offset) - 1
            sentence = sentence_index(sentence_offsets[i]) if i >= 0 else 0
            if sentence < a:
                value = score(sentence)[0] + (120 if sentence == 0 else 100)
                if value > best:
                    best, start = value, sentence
    return _Fragment(best, start, [(a, b, offset) for a, b, _, offset in ranges], size)


def _token_spans(text: str, fragment: _Fragment, count: int) -> list[tuple[int, int]]:
    """The spans of ``count`` tokens from the fragment's first, found from the nearest instance."""
    before = [m for m in fragment.marks if m[0] <= fragment.start]
    if before:
        index, offset = before[-1][0], before[-1][2]
    else:
        # The fragment starts before the first instance: step back from it.
        index, offset = fragment.marks[0][0], fragment.marks[0][2]
        back = index - fragment.start
        reach = 16 * (back + 1)
        while True:
            lo = max(0, offset - reach)
            spans = [w.span() for w in _WORD.finditer(text, lo, offset)]
            if lo == 0 or len(spans) > back:
                break
            reach *= 4
        index, offset = index - back, spans[len(spans) - back][0]
    words = _WORD.finditer(text, offset)
    spans = []
    for word in words:
        if index >= fragment.start:
            spans.append(word.span())
            if len(spans) == count:
                break
        index += 1
    return spans


def _highlight(text: str, fragment: _Fragment, tokens: int) -> str:
    """The fragment's text, its instances between the snippet markers, '…' where text is left out."""
    first = fragment.start
    spans = _token_spans(text, fragment, tokens)
    last = first + len(spans) - 1
    ends: dict[int, int] = {}
    for a, b, _ in fragment.marks:
        if first <= a <= last:
            ends[a] = max(ends.get(a, a), b)
    out = ["…"] if first > 0 else []
    cursor = spans[0][0]
    close_after = -1
    for i, (s, e) in enumerate(spans, first):
        out.append(text[cursor:s])
        if close_after < 0 and i in ends:
            out.append(_OPEN)
            close_after = ends[i]
        out.append(text[s:e])
        cursor = e
        if close_after >= 0:
            close_after = max([close_after, *(b for a, b in ends.items() if i < a <= close_after)])
            if i >= close_after or i == last:
                out.append(_CLOSE)
                close_after = -1
    at_end = fragment.size is not None and last >= fragment.size - 1
    out.append(text[cursor:] if at_end else "…")
    return "".join(out)


def _snippet(texts: Sequence[str | None], phrases: Sequence[_Phrase]) -> str:
    """The snippet of one trial: the best fragment of its brief summary when the phrases are
    in it (the title is shown anyway), else of the column where they score best; '' without."""
    chosen: tuple[_Fragment, str] | None = None
    order = (_SUMMARY_COLUMN, *(c for c in range(len(texts)) if c != _SUMMARY_COLUMN))
    for column in order:
        text = texts[column]
        if not text:
            continue
        fragment = _best_fragment(text, _instances(text, column, phrases), SNIPPET_TOKENS)
        if fragment is None:
            continue
        if column == _SUMMARY_COLUMN:
            chosen = (fragment, text)
            break
        if chosen is None or fragment.score > chosen[0].score:
            chosen = (fragment, text)
    if chosen is None:
        return ""
    return _mark(_highlight(chosen[1], chosen[0], SNIPPET_TOKENS))


_PAGE_SCORING_BUDGET = 50_000  # index instances a page's scores may read, else bm25() scores them


def fetch_snippets(
    conn: sqlite3.Connection,
    ids: list[int],
    match: str | None,
    weights_sql: str | None = None,
    *,
    with_snippets: bool = True,
) -> tuple[dict[int, str], dict[int, float]]:
    """Snippets for some trials: the best fragment with matched words marked, or, without
    words to match, the start of the brief summary; and their BM25 scores when asked for
    (``weights_sql``, the ``bm25(...)`` expression) and there are words to match.

    Without scores to compute, the fragments are cut here from the stored text as FTS5's
    ``snippet()`` cuts them (the same stems, the same scoring of windows): ``snippet()``
    would look every row up in the whole index again, which costs more than cutting them.
    With scores, the rows are looked up in the index anyway, and ``snippet()`` in the same
    pass costs less than cutting them in Python.
    """
    if not ids:
        return {}, {}
    marks = ",".join("?" * len(ids))
    snippets: dict[int, str] = {}
    scores: dict[int, float] = {}
    if match is not None and weights_sql == bm25_sql():
        # The page's scores from cached phrase postings when they are (a few array lookups).
        order = np.array(sorted(ids), dtype=np.int64)
        computed = bm25_scores(conn, match, order, budget=_PAGE_SCORING_BUDGET)
        if computed is not None:
            scores = dict(zip(order.tolist(), computed.tolist(), strict=True))
            weights_sql = None
    if match is not None and weights_sql:
        # The brief summary's best fragment when the words are in it (the title is shown
        # anyway), else the best fragment of any column.
        summary = f"snippet(trials_fts, {_SUMMARY_COLUMN}, char(2), char(3), '…', {SNIPPET_TOKENS})"
        best = f"snippet(trials_fts, -1, char(2), char(3), '…', {SNIPPET_TOKENS})"
        texts = f"{summary}, {best}" if with_snippets else "'', ''"
        sql = (
            f"SELECT rowid, {texts}, -{weights_sql} FROM trials_fts "
            f"WHERE trials_fts MATCH ? AND rowid IN ({marks})"
        )
        for rowid, in_summary, anywhere, value in conn.execute(sql, [match, *ids]):
            snippets[rowid] = _mark(in_summary if _OPEN in (in_summary or "") else anywhere or "")
            if value is not None:
                scores[rowid] = float(value)
        phrases: tuple[_Phrase, ...] = ()
    else:
        phrases = match_phrases(match) if match is not None else ()
    if not with_snippets:
        return {}, scores
    missing = [i for i in ids if not snippets.get(i)]
    if missing:
        marks = ",".join("?" * len(missing))
        columns = ", ".join(FTS_COLUMNS)
        for rowid, *texts in conn.execute(
            f"SELECT rowid, {columns} FROM trials_fts WHERE rowid IN ({marks})", missing
        ):
            snippet = _snippet(texts, phrases) if phrases else ""
            snippets[rowid] = snippet or _lead(texts[_SUMMARY_COLUMN] or texts[0])
    return snippets, scores


# --- running ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    query: SearchQuery
    synonyms: SynonymTable
    place: Place | None
    match: str | None
    after: tuple[object, int] | None


def _prepare(store: object, query: SearchQuery, use_synonyms: bool = True) -> _Prepared:
    query = normalize_query(query)
    ensure_search_index(store)
    synonyms = load_synonyms(store.conn) if use_synonyms else SynonymTable()  # type: ignore[attr-defined]
    text = compile_text(query, synonyms)
    return _Prepared(query, synonyms, resolve_place(query), text.match, decode_cursor(query))


def _hit(row: tuple[object, ...], snippet: str, score: float | None = None) -> SearchHit:
    conditions = tuple(str(row[5]).split("\x1f")) if row[5] else ()
    distance = row[13]
    return SearchHit(
        nct_id=str(row[0]),
        title=str(row[1]),
        status=row[2],  # type: ignore[arg-type]
        phases=row[3],  # type: ignore[arg-type]
        study_type=row[4],  # type: ignore[arg-type]
        conditions=conditions,
        last_update=row[6],  # type: ignore[arg-type]
        start_date=row[7],  # type: ignore[arg-type]
        enrollment=row[8],  # type: ignore[arg-type]
        has_results=bool(row[9]),
        score=round(score if score is not None else float(row[10] or 0.0), 4),  # type: ignore[arg-type]
        snippet=snippet,
        distance_km=round(float(distance), 1) if distance is not None else None,  # type: ignore[arg-type]
    )


def _facet_values(rows: Sequence[tuple[object, int]]) -> tuple[FacetValue, ...]:
    values = [FacetValue(str(v), int(n)) for v, n in rows if v is not None and n]
    return tuple(sorted(values, key=lambda f: (-f.count, f.value)))


# Facet counts of recent queries (any page, any sort), per connection and content version:
# turning pages of one search then costs only its hits and the page.
_FACET_CACHE: OrderedDict[tuple[object, ...], tuple[FacetValue, ...]] = OrderedDict()
_FACET_CACHE_SIZE = 512
_FACET_CACHE_LOCK = threading.Lock()


def clear_search_caches() -> None:
    """Forget cached facet counts (for benchmarks that must not be answered from them)."""
    with _FACET_CACHE_LOCK:
        _FACET_CACHE.clear()


def _facet_cache_key(conn: sqlite3.Connection, query: SearchQuery, use_synonyms: bool) -> tuple[object, ...]:
    what = replace(query, sort="relevance", limit=20, page=1, cursor=None, facets=())
    return (connection_token(conn), content_version(conn), _fingerprint(what), use_synonyms)


def _remember_facet(key: tuple[object, ...], values: tuple[FacetValue, ...]) -> None:
    with _FACET_CACHE_LOCK:
        _FACET_CACHE[key] = values
        while len(_FACET_CACHE) > _FACET_CACHE_SIZE:
            _FACET_CACHE.popitem(last=False)


ENGINES = ("columns", "sql")


def search_trials(
    store: object,
    query: SearchQuery,
    *,
    timeout_s: float = 5.0,
    use_synonyms: bool = True,
    engine: str = "columns",
) -> SearchResults:
    """Run a search: total, one page of hits (best first), facet counts, next-page cursor.

    Raises QueryError for a bad query or one that runs longer than ``timeout_s``.
    ``use_synonyms=False`` leaves abbreviations unexpanded (for measuring what they bring).
    ``engine="sql"`` runs the SQL plan (:func:`~trialscope.search.sql.plan_sql`) instead of
    the in-memory columns (:mod:`~trialscope.search.columns`); both give the same results.

    >>> from trialscope.store import open_store
    >>> search_trials(open_store(":memory:"), SearchQuery(statuses=("recruiting",))).total
    0
    """
    started = time.perf_counter()
    if engine not in ENGINES:
        raise ValueError(f"Unknown search engine {engine!r}; use one of {ENGINES}.")
    prepared = _prepare(store, query, use_synonyms)
    query = prepared.query
    conn: sqlite3.Connection = store.conn  # type: ignore[attr-defined]
    facets: dict[str, tuple[FacetValue, ...]] = {}
    with search_lock(store), time_limit(conn, timeout_s):
        if engine == "columns":
            answer = search_with_columns(
                conn, query, synonyms=prepared.synonyms, place=prepared.place, after=prepared.after
            )
            total, rows, more = answer.total, answer.rows, answer.more
            facets = {name: _facet_values(values) for name, values in answer.facets.items()}
        else:
            total, rows, more, facets = _search_with_sql(conn, prepared, use_synonyms)
        ids = [int(r[12]) for r in rows]  # type: ignore[call-overload]
        scored_later = None if query.sort == "relevance" else bm25_sql()
        snippets, scores = fetch_snippets(conn, ids, prepared.match, scored_later)
    hits = tuple(_hit(r, snippets.get(i, ""), scores.get(i)) for r, i in zip(rows, ids, strict=True))
    next_cursor = encode_cursor(query, rows[-1][11], int(rows[-1][12])) if more and rows else None  # type: ignore[call-overload]
    return SearchResults(
        query=query,
        total=total,
        hits=hits,
        facets=facets,
        page=query.page,
        limit=query.limit,
        next_cursor=next_cursor,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )


def _search_with_sql(
    conn: sqlite3.Connection, prepared: _Prepared, use_synonyms: bool
) -> tuple[int, list[tuple[object, ...]], bool, dict[str, tuple[FacetValue, ...]]]:
    """The SQL plan: hits into a TEMP table, then total, page and facets from it."""
    query = prepared.query
    plan = plan_sql(query, synonyms=prepared.synonyms, place=prepared.place, after=prepared.after)
    facets: dict[str, tuple[FacetValue, ...]] = {}
    total = 0
    rows: list[tuple[object, ...]] = []
    cache_key = _facet_cache_key(conn, query, use_synonyms)
    for purpose, sql, params in plan:
        if purpose.startswith("facet:"):
            name = purpose[6:]
            cached = _FACET_CACHE.get((*cache_key, name))
            if cached is not None:
                facets[name] = cached
                continue
            sql, params = facet_sql(name, large=total * 4 > trial_count(conn))
        cursor = conn.execute(sql, params)
        if purpose == "total":
            total = int(cursor.fetchone()[0])
        elif purpose == "page":
            rows = cursor.fetchall()
        elif purpose.startswith("facet:"):
            facets[purpose[6:]] = _facet_values(cursor.fetchall())
            _remember_facet((*cache_key, purpose[6:]), facets[purpose[6:]])
    conn.execute(f"DROP TABLE IF EXISTS temp.{HITS_TABLE}")
    more = len(rows) > query.limit
    return total, rows[: query.limit], more, facets


def iter_all_hits(
    store: object,
    query: SearchQuery,
    *,
    snippets: bool = False,
    chunk: int = 1000,
    timeout_s: float = 60.0,
) -> Iterator[SearchHit]:
    """Every hit of a query in result order, read in chunks: for exports of any size.

    The page, limit and cursor of the query are ignored. The hits are computed once into a
    TEMP table of their own (the SQL plan) and read in keyset order, so any size streams in
    constant memory. Snippets cost a full-text lookup per hit, so they are left empty
    unless asked for.

    >>> from trialscope.store import open_store
    >>> list(iter_all_hits(open_store(":memory:"), SearchQuery(text="lupus")))
    []
    """
    prepared = _prepare(store, replace(query, cursor=None, page=1))
    query = replace(prepared.query, limit=min(max(chunk, 1), 1000), page=1)
    conn: sqlite3.Connection = store.conn  # type: ignore[attr-defined]
    table = f"ts_export_{next(_export_ids)}"
    sql, params = hits_sql(query, synonyms=prepared.synonyms, place=prepared.place)
    with search_lock(store), time_limit(conn, timeout_s):
        conn.execute(f"CREATE TEMP TABLE {table} AS\n{sql}", params)
    try:
        after: tuple[object, int] | None = None
        while True:
            page, page_params = page_sql(query, table, place=prepared.place, after=after, extra=0)
            with search_lock(store), time_limit(conn, timeout_s):
                rows = conn.execute(page, page_params).fetchall()
                ids = [int(r[12]) for r in rows]
                scored_later = None if query.sort == "relevance" else bm25_sql()
                marked, scores = fetch_snippets(
                    conn, ids, prepared.match, scored_later, with_snippets=snippets
                )
            for row in rows:
                yield _hit(row, marked.get(int(row[12]), ""), scores.get(int(row[12])))
            if len(rows) < query.limit:
                return
            after = (rows[-1][11], int(rows[-1][12]))
    finally:
        with search_lock(store):
            conn.execute(f"DROP TABLE IF EXISTS temp.{table}")


def explain_search(store: object, query: SearchQuery) -> list[tuple[str, str, list[object]]]:
    """The statements a search would run, after the same checks (for ``--sql``)."""
    prepared = _prepare(store, query)
    return plan_sql(prepared.query, synonyms=prepared.synonyms, place=prepared.place, after=prepared.after)


def format_sql(sql: str, params: list[object]) -> str:
    """A statement with its params shown after it, for people to read."""
    return f"{sql};\n-- params: {json.dumps(params, ensure_ascii=False)}"
