"""BM25 from FTS5's own index, computed over arrays: the numbers of ``bm25()``, without its cost.

FTS5's ``bm25()`` is called once per matching row and reads the row's position lists
again: about a microsecond a row, which is most of a search's time when the filters leave
tens of thousands of hits (a common word at 600,000 trials). The score itself is simple:

    score(row) = sum over phrases p of  idf(p) * f(p, row) * (k1 + 1) / (f(p, row) + k1 * (1 - b + b * D(row) / avgdl))

where f is the phrase's instances in the row weighted by column, D the row's length in
tokens, avgdl the mean length and idf(p) = log((N - n(p) + 0.5) / (n(p) + 0.5)) over the N rows,
n(p) of which hold the phrase. This module reads the same inputs FTS5 uses — its averages
record, its per-row sizes (``trials_fts_docsize``) and each phrase's instances (through an
``fts5vocab`` table) — and evaluates that formula with numpy in the same order of
operations, so the scores are equal to FTS5's bit for bit (a test compares them).

A phrase's per-row weighted frequencies are kept in a cache per store version, in memory and
on disk for other processes, so a word searched again (with other filters, another page, a
facet click) costs an array lookup; the match itself is then answered from the cached rows
(:func:`match_ids`). Reading a common word's instances costs more than scoring one narrow
search with ``bm25()``, so such a word is read by a background thread while ``bm25()``
answers. Phrases FTS5 expands itself (``word*`` prefixes) are left to ``bm25()``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import queue
import re
import shutil
import sqlite3
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import platformdirs

from trialscope.search.index import connection_token
from trialscope.search.sql import FIELD_WEIGHTS
from trialscope.search.text import MATCH_PHRASE, read_phrase
from trialscope.store.schema import FTS_COLUMNS

log = logging.getLogger(__name__)

K1 = 1.2
B = 0.75
CACHE_BYTES = 128 * 1024 * 1024  # per store and process: a few hundred common words at 600k trials
_COLUMN_INDEX = {name: i for i, name in enumerate(FTS_COLUMNS)}
_WEIGHTS = np.array([FIELD_WEIGHTS.get(c, 1.0) for c in FTS_COLUMNS], dtype=np.float64)
_OFFSET_BITS = 24
_COLUMN_BITS = 4
_Key = tuple[tuple[str, ...], tuple[int, ...]]  # a phrase's index terms and the columns it is limited to


@dataclass(frozen=True)
class Phrase:
    """One phrase of an FTS5 expression: its tokens as written, and the columns it is limited to."""

    tokens: tuple[str, ...]
    columns: tuple[int, ...] = ()


def phrases_of(match: str) -> list[Phrase] | None:
    """The phrases of a compiled match, in FTS5's order; None when one is a prefix search.

    >>> phrases_of('("lupus" OR ({conditions mesh} : "lupus erythematosus")) NOT ("placebo")')
    [Phrase(tokens=('lupus',), columns=()), Phrase(tokens=('lupus', 'erythematosus'), columns=(1, 4)), \
Phrase(tokens=('placebo',), columns=())]
    >>> phrases_of('"stem"* AND "cells"') is None
    True
    """
    out: list[Phrase] = []
    for found in MATCH_PHRASE.finditer(match):
        term = read_phrase(found)
        if term.prefix or any(n not in _COLUMN_INDEX for n in term.columns):
            return None
        out.append(Phrase(term.tokens, tuple(sorted(_COLUMN_INDEX[n] for n in term.columns))))
    return out


_PARSE_CHUNK = 1 << 20


def parse_numbers(text: str | None, dtype: type) -> np.ndarray:
    """Numbers from a comma-joined column (``group_concat``), parsed in C.

    A long text is parsed a megabyte at a time: the parser holds the GIL, and a thread
    reading postings in the background must not stall the searches meanwhile.

    >>> parse_numbers("3,1,2", np.int64).tolist()
    [3, 1, 2]
    >>> int(parse_numbers(",".join(map(str, range(300_000))), np.int64).sum()) == sum(range(300_000))
    True
    """
    if not text:
        return np.empty(0, dtype=dtype)
    pieces = []
    start = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        while start < len(text):
            end = text.find(",", start + _PARSE_CHUNK)
            end = len(text) if end < 0 else end
            pieces.append(np.fromstring(text[start:end], dtype=dtype, sep=","))
            start = end + 1
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)


def _varints(data: bytes) -> np.ndarray:
    """Every SQLite varint in a buffer, in order (token counts: never the 9-byte form)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        return np.empty(0, dtype=np.int64)
    last = (buf & 0x80) == 0
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    which = np.cumsum(last) - last  # the varint each byte belongs to
    shift = 7 * (ends[which] - np.arange(buf.size))
    return np.add.reduceat((buf & 0x7F).astype(np.int64) << shift, starts)


@dataclass
class _Postings:
    """A phrase's rows (ascending) and its weighted frequency in each; ``hits`` = rows.size."""

    rows: np.ndarray
    freq: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes + self.freq.nbytes)


@dataclass
class _Index:
    """The row lengths and totals of one store version, and its cache of phrase postings."""

    version: str
    row_ids: np.ndarray
    row_len: np.ndarray
    n_rows: int
    avgdl: float
    cache: OrderedDict[_Key, _Postings] = field(default_factory=OrderedDict)
    cached_bytes: int = 0
    stems: dict[str, tuple[str, ...]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    disk: Path | None = None  # where this store version's postings are shared (see _disk_dir)
    helpers_made: bool = False  # the connection's TEMP vocabulary and stemmer tables exist


def _store_version(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = 'content_version'").fetchone()
    return str(row[0]) if row else ""


def _load_index(conn: sqlite3.Connection, version: str) -> _Index | None:
    """Row sizes and totals as FTS5 keeps them; None when they are not as expected."""
    averages = conn.execute("SELECT block FROM trials_fts_data WHERE id = 1").fetchone()
    if averages is None or not averages[0]:
        return None
    totals = _varints(bytes(averages[0]))
    n_rows = int(totals[0])
    ids_text, sizes_hex = conn.execute(
        "SELECT group_concat(id), group_concat(hex(sz), '') FROM (SELECT id, sz FROM trials_fts_docsize ORDER BY id)"
    ).fetchone()
    if not ids_text or n_rows <= 0:
        return None
    row_ids = parse_numbers(ids_text, np.int64)
    sizes = _varints(bytes.fromhex(sizes_hex))
    if sizes.size != row_ids.size * len(FTS_COLUMNS):
        return None
    row_len = sizes.reshape(row_ids.size, len(FTS_COLUMNS)).sum(axis=1).astype(np.float64)
    avgdl = float(int(totals[1:].sum())) / float(n_rows)
    index = _Index(version=version, row_ids=row_ids, row_len=row_len, n_rows=n_rows, avgdl=avgdl)
    index.disk = _disk_dir(conn, f"{version}|{n_rows}|{bytes(averages[0]).hex()}|{row_ids.size}")
    return index


# --- postings shared on disk -------------------------------------------------------------
#
# Every process searching a store (each web worker, each CLI run) would otherwise read the
# same phrases' instances again. Postings read once are written beside the user's cache,
# one pair of .npy files per phrase, under a directory named for the store file and one for
# its content: a changed store is another directory (the old ones are removed), and a file
# is only ever complete (written aside, then renamed).

DISK_BYTES = 2 * 1024**3  # per store; the least recently written postings go first


def _store_file(conn: sqlite3.Connection) -> str | None:
    """The absolute path of a connection's main database file (None in memory)."""
    files = [row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"]
    return os.path.abspath(files[0]) if files and files[0] else None


def _disk_dir(conn: sqlite3.Connection, content: str) -> Path | None:
    """This store version's postings directory (made, and older versions' removed), or
    None for a store with no file or when the cache directory cannot be written."""
    path = _store_file(conn)
    if path is None:
        return None
    store = hashlib.sha1(path.encode()).hexdigest()[:16]
    root = (
        Path(os.environ.get("TRIALSCOPE_CACHE_DIR") or platformdirs.user_cache_dir("trialscope"))
        / "postings"
        / store
    )
    here = root / hashlib.sha1(content.encode()).hexdigest()[:16]
    try:
        here.mkdir(parents=True, exist_ok=True)
        for other in root.iterdir():
            if other != here:
                _carry_over(other, here)
                shutil.rmtree(other, ignore_errors=True)
        stale = time.time() - 3600
        for aside in here.glob(".*"):  # left by a process that ended while writing
            if aside.stat().st_mtime < stale:
                aside.unlink(missing_ok=True)
    except OSError as error:
        log.info("search postings are not shared on disk (%s)", error)
        return None
    return here


CARRY_OVER = 500  # phrases of a previous store version read again for the new one


def _carry_over(old: Path, new: Path) -> None:
    """Mark the phrases read for a previous version of the store (the most recently read
    first) as wanted in the new one: a server that sees the store change reads them again
    in the background (:func:`read_wanted`), so searches after a sync are not all cold."""
    try:
        keys = sorted(old.glob("*.key"), key=lambda f: f.stat().st_mtime, reverse=True)[:CARRY_OVER]
        for key in keys:
            (new / f"{key.stem}.want").write_text(key.read_text())
    except OSError as error:
        log.info("search postings of %s not carried over (%s)", old, error)


def read_wanted(conn: sqlite3.Connection) -> int:
    """Ask the background reader for the phrases marked wanted for this store version and
    not read yet; how many. A web worker does this at start-up and when the store changes."""
    index = _index_for(conn)
    reader = _reader_for(conn)
    if index is None or index.disk is None or reader is None:
        return 0
    asked = 0
    for want in index.disk.glob("*.want"):
        if (index.disk / f"{want.stem}.key").exists():
            want.unlink(missing_ok=True)
            continue
        try:
            key = _parse_key(want.read_text())
        except (OSError, ValueError):
            continue
        reader.ask(index, key)
        asked += 1
    return asked


def _disk_name(key: _Key) -> str:
    return hashlib.sha1(repr(key).encode()).hexdigest()[:24]


def _from_disk(index: _Index, key: _Key) -> _Postings | None:
    if index.disk is None:
        return None
    name = _disk_name(key)
    try:
        rows = np.load(index.disk / f"{name}.rows.npy", mmap_mode="r")
        freq = np.load(index.disk / f"{name}.freq.npy", mmap_mode="r")
    except (OSError, ValueError):
        return None
    if rows.shape != freq.shape or rows.dtype != np.int64 or freq.dtype != np.float64:
        return None
    return _Postings(rows, freq)


def _to_disk(index: _Index, key: _Key, got: _Postings) -> None:
    if index.disk is None:
        return
    name = _disk_name(key)
    try:
        for part, array in (("freq", got.freq), ("rows", got.rows), ("key", key)):  # the key says "complete"
            aside = index.disk / f".{name}.{part}.{os.getpid()}.{threading.get_ident()}"
            if part == "key":
                aside.write_text(json.dumps(key))
            else:
                with open(aside, "wb") as out:
                    np.save(out, array)
            os.replace(aside, index.disk / (f"{name}.{part}" + ("" if part == "key" else ".npy")))
        (index.disk / f"{name}.want").unlink(missing_ok=True)
        files = sorted(index.disk.glob("[!.]*"), key=lambda f: f.stat().st_mtime)
        total = sum(f.stat().st_size for f in files)
        while files and total > DISK_BYTES:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
    except OSError as error:
        log.info("search postings not written to %s (%s)", index.disk, error)


def _parse_key(text: str) -> _Key:
    terms, columns = json.loads(text)
    return tuple(str(t) for t in terms), tuple(int(c) for c in columns)


def warm_scoring(conn: sqlite3.Connection) -> int:
    """Load the postings other processes have already read for this store (mapped, not
    copied); how many phrases. A web worker calls this at start-up."""
    index = _index_for(conn)
    if index is None or index.disk is None:
        return 0
    loaded = 0
    for path in sorted(index.disk.glob("*.key"), key=lambda f: f.stat().st_mtime, reverse=True):
        try:
            key = _parse_key(path.read_text())
        except (OSError, ValueError):
            continue
        got = _from_disk(index, key)
        if got is not None:
            _keep(index, key, got)
            loaded += 1
        if index.cached_bytes >= CACHE_BYTES:
            break
    read_wanted(conn)
    return loaded


_INDEXES: dict[str, _Index] = {}
_INDEXES_LOCK = threading.Lock()
_KEEP = 4


def _index_for(conn: sqlite3.Connection) -> _Index | None:
    key = connection_token(conn)
    version = _store_version(conn)
    index = _INDEXES.get(key)
    if index is not None and index.version == version:
        return index
    changed = False
    with _INDEXES_LOCK:
        index = _INDEXES.get(key)
        if index is None or index.version != version:
            changed = index is not None  # a running process saw the store change
            index = _load_index(conn, version)
            if index is None:
                return None
            _INDEXES.pop(key, None)
            _INDEXES[key] = index
            while len(_INDEXES) > _KEEP:
                _INDEXES.pop(next(iter(_INDEXES)))
    if changed:
        read_wanted(conn)
    return index


def _ensure_helpers(conn: sqlite3.Connection) -> None:
    """A TEMP vocabulary view of the index, and a TEMP one-column table with its tokenizer."""
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ts_instances USING fts5vocab(main, trials_fts, instance)"
    )
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.ts_terms USING fts5vocab(main, trials_fts, row)")
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ts_stemmer USING fts5(x, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.ts_stems USING fts5vocab(temp, ts_stemmer, instance)"
    )


def _stems(conn: sqlite3.Connection, index: _Index, tokens: tuple[str, ...]) -> tuple[str, ...] | None:
    """The index terms of query tokens, as FTS5's tokenizer makes them; None if not one each."""
    out: list[str] = []
    for token in tokens:
        stem = index.stems.get(token)
        if stem is None:
            conn.execute("INSERT INTO temp.ts_stemmer(rowid, x) VALUES (1, ?)", [token])
            try:
                stem = tuple(r[0] for r in conn.execute('SELECT term FROM temp.ts_stems ORDER BY "offset"'))
            finally:
                conn.execute("DELETE FROM temp.ts_stemmer")
            index.stems[token] = stem
        if len(stem) != 1:
            return None
        out.append(stem[0])
    return tuple(out)


_COLUMN_CASE = "CASE col " + " ".join(f"WHEN '{c}' THEN {i}" for i, c in enumerate(FTS_COLUMNS)) + " END"


def _instances(conn: sqlite3.Connection, term: str) -> np.ndarray:
    """A term's instances as sorted keys: row, column and token offset packed in one integer."""
    (packed,) = conn.execute(
        f'SELECT group_concat((doc << {_OFFSET_BITS + _COLUMN_BITS}) | (({_COLUMN_CASE}) << {_OFFSET_BITS}) | "offset") '
        "FROM temp.ts_instances WHERE term = ?",
        [term],
    ).fetchone()
    return parse_numbers(packed, np.int64)


def _postings(conn: sqlite3.Connection, terms: tuple[str, ...], columns: tuple[int, ...]) -> _Postings:
    """Rows holding the phrase (within its columns) and its weighted count in each, as FTS5
    counts instances for bm25()."""
    keys = _instances(conn, terms[0])
    if columns:
        keys = keys[np.isin((keys >> _OFFSET_BITS) & ((1 << _COLUMN_BITS) - 1), columns)]
    for k, term in enumerate(terms[1:], start=1):
        if keys.size == 0:
            break
        following = _instances(conn, term)
        keys = keys[_within(keys + k, following)]
    rows = keys >> (_OFFSET_BITS + _COLUMN_BITS)
    weights = _WEIGHTS[(keys >> _OFFSET_BITS) & ((1 << _COLUMN_BITS) - 1)]
    if rows.size == 0:
        return _Postings(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))
    first = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))
    return _Postings(rows[first], np.add.reduceat(weights, first))


def _cached(index: _Index, key: _Key) -> _Postings | None:
    """A phrase's postings from this process's cache, or else from the shared disk cache."""
    with index.lock:
        got = index.cache.get(key)
        if got is not None:
            index.cache.move_to_end(key)
            return got
    got = _from_disk(index, key)
    if got is not None:
        _keep(index, key, got)
    return got


def _keep(index: _Index, key: _Key, got: _Postings) -> None:
    with index.lock:
        if key not in index.cache:
            index.cache[key] = got
            index.cached_bytes += got.nbytes
            while index.cached_bytes > CACHE_BYTES and len(index.cache) > 1:
                _, dropped = index.cache.popitem(last=False)
                index.cached_bytes -= dropped.nbytes


def _instance_count(conn: sqlite3.Connection, index: _Index, term: str) -> int:
    count = index.counts.get(term)
    if count is None:
        row = conn.execute("SELECT cnt FROM temp.ts_terms WHERE term = ?", [term]).fetchone()
        count = index.counts[term] = int(row[0]) if row else 0
    return count


def _affordable(conn: sqlite3.Connection, index: _Index, key: _Key, budget: int) -> bool:
    """Whether reading a phrase's instances costs at most ``budget`` instances."""
    return sum(_instance_count(conn, index, term) for term in key[0]) <= budget


class _Reader:
    """Reads phrases' postings in a thread of its own, on its own read-only connection, for
    the searches that found them too costly to read themselves: they are answered by
    ``bm25()`` meanwhile, and later searches find the phrase cached (here and on disk)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.queue: queue.Queue[tuple[_Index, _Key]] = queue.Queue()
        self.waiting: set[tuple[str, _Key]] = set()
        self.lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()
        threading.Thread(target=self._run, name="trialscope-postings", daemon=True).start()

    def ask(self, index: _Index, key: _Key) -> None:
        with self.lock:
            if (index.version, key) in self.waiting:
                return
            self.waiting.add((index.version, key))
            self.idle.clear()
        self.queue.put((index, key))

    def _run(self) -> None:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        _ensure_helpers(conn)
        while True:
            index, key = self.queue.get()
            try:
                if _store_version(conn) == index.version and _cached(index, key) is None:
                    got = _postings(conn, *key)
                    _keep(index, key, got)
                    _to_disk(index, key, got)
            except sqlite3.Error as error:
                log.warning("could not read the postings of %s: %s", key, error)
            finally:
                with self.lock:
                    self.waiting.discard((index.version, key))
                    if not self.waiting:
                        self.idle.set()


_READERS: dict[str, _Reader] = {}
_READERS_LOCK = threading.Lock()


def _reader_for(conn: sqlite3.Connection) -> _Reader | None:
    path = _store_file(conn)
    if path is None:
        return None
    with _READERS_LOCK:
        if path not in _READERS:
            _READERS[path] = _Reader(path)
        return _READERS[path]


def wait_for_postings(timeout: float | None = None) -> bool:
    """Wait until the background readers have read every phrase asked of them (benchmarks,
    tests); whether they all have."""
    with _READERS_LOCK:
        readers = list(_READERS.values())
    return all(r.idle.wait(timeout) for r in readers)


def _phrase_keys(conn: sqlite3.Connection, match: str) -> tuple[_Index, list[_Key]] | None:
    """The store's index and the cache key of each phrase of a match, in FTS5's order."""
    phrases = phrases_of(match)
    if not phrases:
        return None
    index = _index_for(conn)
    if index is None:
        return None
    if not index.helpers_made:  # once per connection and store version, not per search
        _ensure_helpers(conn)
        index.helpers_made = True
    keys = []
    for phrase in phrases:
        terms = _stems(conn, index, phrase.tokens)
        if not terms:
            return None
        keys.append((terms, phrase.columns))
    return index, keys


_OPERATOR = re.compile(r"\s*(?:(?P<op>AND|OR|NOT)\b|(?P<open>\()|(?P<close>\)))")
_PRECEDENCE = {"OR": 1, "AND": 2, "NOT": 3}


def _positions(ids: np.ndarray, sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``ids`` is (or would be) in the ascending array ``sorted_ids``, and
    whether it is there."""
    at = np.searchsorted(sorted_ids, ids)
    found = at < sorted_ids.size
    found[found] = sorted_ids[at[found]] == ids[found]
    return at, found


def _within(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are in the ascending array ``sorted_ids``."""
    return _positions(ids, sorted_ids)[1]


def match_ids(conn: sqlite3.Connection, match: str) -> np.ndarray | None:
    """The trial ids a match selects (ascending), from cached phrase postings alone: the same
    set as FTS5's ``MATCH``, or None when a phrase is not cached (FTS5 is asked then)."""
    found = _phrase_keys(conn, match)
    if found is None:
        return None
    index, keys = found
    sets = []
    for key in keys:
        got = _cached(index, key)
        if got is None:
            return None
        sets.append(got.rows)
    phrases = iter(sets)
    position = 0

    def skip() -> None:
        nonlocal position
        while position < len(match) and match[position] == " ":
            position += 1

    def primary() -> np.ndarray:
        nonlocal position
        skip()
        if match.startswith("(", position) and not MATCH_PHRASE.match(match, position):
            position += 1
            value = expression(0)
            skip()
            if not match.startswith(")", position):
                raise ValueError(match)
            position += 1
            return value
        unit = MATCH_PHRASE.match(match, position)
        if unit is None:
            raise ValueError(match)
        position = unit.end()
        return next(phrases)

    def expression(floor: int) -> np.ndarray:
        nonlocal position
        value = primary()
        while True:
            op = _OPERATOR.match(match, position)
            if op is None or not op["op"] or _PRECEDENCE[op["op"]] <= floor:
                return value
            position = op.end()
            right = expression(_PRECEDENCE[op["op"]])
            if op["op"] == "AND":
                value = (
                    value[_within(value, right)] if value.size <= right.size else right[_within(right, value)]
                )
            elif op["op"] == "OR":
                both = np.concatenate((value, right))
                both.sort(kind="stable")  # two sorted runs: merged in linear time
                value = both[np.concatenate(([True], both[1:] != both[:-1]))] if both.size else both
            else:
                value = value[~_within(value, right)]

    try:
        ids = expression(0)
        skip()
        if position != len(match):
            return None
    except (ValueError, StopIteration):
        return None
    return ids


def bm25_scores(
    conn: sqlite3.Connection, match: str, ids: np.ndarray, *, budget: int | None = None
) -> np.ndarray | None:
    """``-bm25(trials_fts, <FIELD_WEIGHTS>)`` of the given matching trial ids (higher is better).

    None when the match needs FTS5's own function (prefix phrases), or when a phrase not yet
    cached would mean reading more than ``budget`` instances from the index now (a common
    word in a narrow match is cheaper to leave to ``bm25()``): a background reader then reads
    it for later searches (in a store with a file; in memory it is read now, whatever it costs).
    """
    found = _phrase_keys(conn, match)
    if found is None:
        return None
    index, keys = found
    postings: dict[_Key, _Postings] = {}
    missing = []
    for key in dict.fromkeys(keys):
        got = _cached(index, key)
        if got is None:
            missing.append(key)
        else:
            postings[key] = got
    reader = _reader_for(conn) if budget is not None else None
    for key in missing:
        if reader is None or _affordable(conn, index, key, budget // len(missing)):  # type: ignore[operator]
            postings[key] = _postings(conn, *key)
            _keep(index, key, postings[key])
            _to_disk(index, key, postings[key])
        else:
            reader.ask(index, key)
    if len(postings) < len(set(keys)):
        return None
    at = np.clip(np.searchsorted(index.row_ids, ids), 0, max(index.row_ids.size - 1, 0))
    norm = K1 * ((1 - B) + B * index.row_len[at] / index.avgdl)
    score = np.zeros(ids.size, dtype=np.float64)
    for key in keys:  # in FTS5's phrase order, so the sum rounds as bm25()'s does
        got = postings[key]
        hits = got.rows.size
        idf = math.log((index.n_rows - hits + 0.5) / (hits + 0.5))
        if idf <= 0.0:
            idf = 1e-6
        where, inside = _positions(ids, got.rows)
        if not inside.any():
            continue
        freq = np.zeros(ids.size, dtype=np.float64)
        freq[inside] = got.freq[where[inside]]
        score += idf * ((freq * (K1 + 1.0)) / (freq + norm))
    return score


def clear_scoring_cache() -> None:
    """Forget every store's row sizes and cached phrases (tests; after a store is replaced)."""
    with _INDEXES_LOCK:
        _INDEXES.clear()
