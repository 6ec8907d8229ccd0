"""The stored similarity index: built in one pass, updated after each ingest, kept in the store's file.

Tables (all ``similar_*``, in the same SQLite file as the trials, so a restart reads them
and never rebuilds):

``similar_meta``
    format version, block weights, k, the corpus size the IDF was counted on, build times.
``similar_vocab``
    one row per feature column: its block, key, document frequency and frozen IDF.
``similar_trials``
    one row per trial (``trial_id`` = ``trials.id``): the content hash it was computed from,
    its duplicate group, its per-block unit vector, the facts its reasons quote, and its
    top-k neighbours (trial ids and scores, best first) with the k-th score as ``floor``.

An update recomputes only trials whose content hash changed (or that are new), then fixes
the lists they leave or enter: every list holding a changed trial is rewritten, and a
changed trial enters another list when it now scores above that list's floor.

>>> from trialscope.store import open_store
>>> store = open_store(":memory:")
>>> build_index(store).trials
0
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import orjson
from scipy import sparse

from trialscope.similar.features import BLOCKS, extract_features
from trialscope.similar.neighbours import DEFAULT_K, NeighbourLists, search_rows, top_neighbours
from trialscope.similar.thesaurus import Thesaurus, learn_abbreviations
from trialscope.similar.vectors import (
    BLOCK_ID,
    Vocabulary,
    Weights,
    pack_row,
    stack_rows,
    unit_vectors,
    unpack_row,
    weigh_columns,
)
from trialscope.store import SqliteStore

FORMAT = "1"
EXTRACT_CHUNK = 2_000
# Past this share of changed trials a full build is cheaper than an update.
FULL_REBUILD_SHARE = 0.3

SCHEMA = """
CREATE TABLE IF NOT EXISTS similar_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS similar_vocab (
    id INTEGER PRIMARY KEY,
    block INTEGER NOT NULL,
    key TEXT NOT NULL,
    df INTEGER NOT NULL,
    idf REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS similar_trials (
    trial_id INTEGER PRIMARY KEY,
    nct_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dup INTEGER NOT NULL,
    vector BLOB NOT NULL,
    facts BLOB NOT NULL,
    neighbours BLOB NOT NULL,
    floor REAL NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What a build or an update did."""

    trials: int
    recomputed: int
    refreshed: int = 0
    removed: int = 0
    full: bool = True
    seconds: float = 0.0
    features: int = 0
    timings: tuple[tuple[str, float], ...] = ()
    cpu_timings: tuple[tuple[str, float], ...] = ()

    def line(self) -> str:
        """One sentence for the CLI.

        >>> IndexStats(trials=10, recomputed=10, seconds=1.25).line()
        'Related-trials index built for 10 trials in 1.2 s.'
        """
        if self.full:
            return f"Related-trials index built for {self.trials:,} trials in {self.seconds:.1f} s."
        return (
            f"Related-trials index updated: {self.recomputed:,} trials recomputed, {self.refreshed:,} other lists "
            f"refreshed, {self.removed:,} removed, in {self.seconds:.1f} s ({self.trials:,} trials indexed)."
        )


@dataclass(slots=True)
class _Extracted:
    """Features of a run of trials, with a vocabulary local to the run."""

    trial_ids: np.ndarray
    nct_ids: list[str]
    hashes: list[str]
    dup_keys: list[str | None]
    facts: list[bytes]
    keys: list[str]
    blocks: list[int]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray


def duplicate_code(key: str | None) -> int:
    """A stable integer for a duplicate key (-1 for none), the same in every process.

    >>> duplicate_code(None), duplicate_code("a|b") == duplicate_code("a|b")
    (-1, True)
    """
    if key is None:
        return -1
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=7).digest(), "big")


def ensure_tables(store: SqliteStore) -> None:
    with store._lock, store.conn:
        store.conn.executescript(SCHEMA)


def has_index(store: SqliteStore) -> bool:
    """Whether the store holds a built index of this format."""
    try:
        row = store.conn.execute("SELECT value FROM similar_meta WHERE key = 'format'").fetchone()
    except sqlite3.OperationalError:
        return False
    return row is not None and row[0] == FORMAT


def read_meta(store: SqliteStore) -> dict[str, str]:
    return dict(store.conn.execute("SELECT key, value FROM similar_meta").fetchall())


def stored_weights(store: SqliteStore) -> Weights:
    meta = read_meta(store)
    return Weights.from_dict(orjson.loads(meta["weights"])) if "weights" in meta else Weights()


def tie_breaker_columns(vocab: Vocabulary) -> np.ndarray:
    """Columns that count in scores but find no candidates: design and population."""
    return vocab.block_array() == BLOCK_ID["design"]


# --- feature extraction --------------------------------------------------------------


_THESAURUS: Thesaurus | None = None  # set before extraction; forked workers inherit it


def learn_thesaurus(store: SqliteStore) -> Thesaurus:
    """Known condition terms and their ancestors, and abbreviations, from every stored record."""
    book = Thesaurus()
    terms: list[str] = []
    ancestors: list[str] = []
    current = None
    for trial_id, term, is_ancestor in store.conn.execute(
        "SELECT trial_id, term, ancestor FROM trial_mesh WHERE kind = 'condition' ORDER BY trial_id"
    ):
        if trial_id != current:
            book.learn_terms(terms, ancestors)
            terms, ancestors, current = [], [], trial_id
        (ancestors if is_ancestor else terms).append(term)
    book.learn_terms(terms, ancestors)
    texts = (
        text
        for sql in (
            "SELECT brief_title FROM trials",
            "SELECT official_title FROM trials",
            "SELECT name FROM trial_interventions",
        )
        for (text,) in store.conn.execute(sql)
    )
    book.abbreviations = learn_abbreviations(texts)
    return book


def _extract(store: SqliteStore, rows: Sequence[tuple[int, str, str]]) -> _Extracted:
    trials = store.get_trials([nct for _, nct, _ in rows])
    learned = _THESAURUS
    local = Vocabulary()
    bags = []
    kept: list[tuple[int, str, str]] = []
    dup_keys: list[str | None] = []
    facts: list[bytes] = []
    for trial_id, nct_id, content_hash in rows:
        trial = trials.get(nct_id)
        if trial is None:  # replaced or removed while we read; the next update sees it
            continue
        features = extract_features(trial, learned)
        bags.append(features.bags)
        kept.append((trial_id, nct_id, content_hash))
        dup_keys.append(features.dup_key)
        facts.append(orjson.dumps(features.facts))
    raw = local.add_bags(bags)
    return _Extracted(
        trial_ids=np.asarray([r[0] for r in kept], dtype=np.int64),
        nct_ids=[r[1] for r in kept],
        hashes=[r[2] for r in kept],
        dup_keys=dup_keys,
        facts=facts,
        keys=local.keys,
        blocks=local.blocks,
        indptr=raw.indptr.astype(np.int64),
        indices=raw.indices,
        data=raw.data,
    )


_WORKER_STORE: SqliteStore | None = None


def _worker_extract(args: tuple[str, Sequence[tuple[int, str, str]]]) -> _Extracted:
    global _WORKER_STORE
    path, rows = args
    if _WORKER_STORE is None or _WORKER_STORE.path != path:
        _WORKER_STORE = SqliteStore(path, readonly=True)
    return _extract(_WORKER_STORE, rows)


def extract_all(
    store: SqliteStore,
    rows: Sequence[tuple[int, str, str]],
    vocab: Vocabulary,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[_Extracted, sparse.csr_matrix]:
    """Features of ``rows`` (trial id, NCT id, hash), merged into ``vocab``; the raw matrix beside."""
    chunks = [rows[i : i + EXTRACT_CHUNK] for i in range(0, len(rows), EXTRACT_CHUNK)]
    parallel = len(rows) >= 20_000 and store.path != ":memory:" and (os.cpu_count() or 1) > 1
    parts: list[_Extracted] = []
    if parallel:
        store.conn.commit()
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(2, os.cpu_count() or 1), mp_context=context) as pool:
            for part in pool.map(_worker_extract, [(store.path, c) for c in chunks]):
                parts.append(_merge_part(part, vocab))
                if on_progress:
                    on_progress(len(part.nct_ids))
    else:
        for chunk in chunks:
            parts.append(_merge_part(_extract(store, chunk), vocab))
            if on_progress:
                on_progress(len(chunk))
    merged = _concat(parts)
    raw = vocab.raw_matrix(merged.indptr, merged.indices, merged.data)
    return merged, raw


def _merge_part(part: _Extracted, vocab: Vocabulary) -> _Extracted:
    """Rewrite a part's local columns as the global vocabulary's."""
    mapping = vocab.merge_keys(part.keys, part.blocks)
    part.indices = mapping[part.indices] if len(part.indices) else part.indices.astype(np.int32)
    part.keys, part.blocks = [], []
    return part


def _concat(parts: list[_Extracted]) -> _Extracted:
    indptrs = [np.zeros(1, dtype=np.int64)]
    offset = 0
    for part in parts:
        indptrs.append(part.indptr[1:] + offset)
        offset += int(part.indptr[-1])
    return _Extracted(
        trial_ids=np.concatenate([p.trial_ids for p in parts]) if parts else np.zeros(0, np.int64),
        nct_ids=[n for p in parts for n in p.nct_ids],
        hashes=[h for p in parts for h in p.hashes],
        dup_keys=[d for p in parts for d in p.dup_keys],
        facts=[f for p in parts for f in p.facts],
        keys=[],
        blocks=[],
        indptr=np.concatenate(indptrs),
        indices=np.concatenate([p.indices for p in parts]).astype(np.int32)
        if parts
        else np.zeros(0, np.int32),
        data=np.concatenate([p.data for p in parts]).astype(np.float32) if parts else np.zeros(0, np.float32),
    )


def vectorize(raw: sparse.csr_matrix, vocab: Vocabulary, rows_per_chunk: int = 50_000) -> sparse.csr_matrix:
    """Per-block unit vectors of a raw matrix, a slice of rows at a time to bound memory."""
    if raw.shape[0] <= rows_per_chunk:
        return unit_vectors(raw, vocab)
    parts = [unit_vectors(raw[i : i + rows_per_chunk], vocab) for i in range(0, raw.shape[0], rows_per_chunk)]
    return sparse.vstack(parts, format="csr", dtype=np.float32)


# --- writing -------------------------------------------------------------------------


def _pack_list(trial_ids: np.ndarray, scores: np.ndarray) -> bytes:
    keep = trial_ids >= 0
    return trial_ids[keep].astype(np.int32).tobytes() + scores[keep].astype(np.float32).tobytes()


def unpack_list(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A stored neighbour list: trial ids and scores, best first."""
    n = len(blob) // 8
    return np.frombuffer(blob, np.int32, n), np.frombuffer(blob, np.float32, n, offset=4 * n)


def _floor(scores: np.ndarray, k: int) -> float:
    return float(scores[k - 1]) if len(scores) >= k else 0.0


def _write_vocab(store: SqliteStore, vocab: Vocabulary, start: int = 0) -> None:
    store.conn.executemany(
        "INSERT OR REPLACE INTO similar_vocab(id, block, key, df, idf) VALUES (?,?,?,?,?)",
        (
            (i, vocab.blocks[i], vocab.keys[i], int(vocab.df[i]), float(vocab.idf[i]))
            for i in range(start, len(vocab.keys))
        ),
    )


def _write_meta(store: SqliteStore, values: dict[str, object]) -> None:
    store.conn.executemany(
        "INSERT OR REPLACE INTO similar_meta(key, value) VALUES (?, ?)",
        [(k, v if isinstance(v, str) else orjson.dumps(v).decode()) for k, v in values.items()],
    )


def load_vocabulary(store: SqliteStore) -> Vocabulary:
    vocab = Vocabulary()
    rows = store.conn.execute("SELECT id, block, key, df, idf FROM similar_vocab ORDER BY id").fetchall()
    vocab.keys = [r[2] for r in rows]
    vocab.blocks = [r[1] for r in rows]
    vocab.ids = {k: i for i, k in enumerate(vocab.keys)}
    vocab.df = np.asarray([r[3] for r in rows], dtype=np.int64)
    vocab.idf = np.asarray([r[4] for r in rows], dtype=np.float32)
    vocab.n_docs = int(read_meta(store).get("idf_docs", "0"))
    return vocab


# --- full build ----------------------------------------------------------------------


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _progress_bar(enabled: bool, total: int, desc: str) -> Callable[[int], None] | None:
    if not enabled:
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="trial", file=sys.stderr, leave=False)

    def advance(n: int) -> None:
        bar.update(n)
        if bar.n >= total:
            bar.close()

    return advance


def build_index(
    store: SqliteStore, *, progress: bool = False, weights: Weights | None = None, k: int = DEFAULT_K
) -> IndexStats:
    """Compute every trial's features, vectors and top-k neighbours, and store them, in one pass.

    A build replaces any index the store held; it reads trials and writes only ``similar_*``.
    """
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    timings: list[tuple[str, float]] = []
    cpu_timings: list[tuple[str, float]] = []

    def lap(name: str) -> None:
        # Wall and CPU seconds (this process and its finished workers) of each phase.
        timings.append((name, time.perf_counter() - started - sum(t for _, t in timings)))
        cpu_timings.append((name, _cpu_seconds() - cpu_started - sum(t for _, t in cpu_timings)))

    global _THESAURUS
    ensure_tables(store)
    weights = weights or Weights()
    version = store.get_meta("content_version")
    rows = store.conn.execute("SELECT id, nct_id, content_hash FROM trials ORDER BY id").fetchall()
    vocab = Vocabulary()
    _THESAURUS = thesaurus = learn_thesaurus(store)
    try:
        extracted, raw = extract_all(
            store, rows, vocab, on_progress=_progress_bar(progress, len(rows), "features")
        )
    finally:
        _THESAURUS = None
    lap("features")
    vocab.count_documents(raw)
    x = vectorize(raw, vocab)
    del raw
    dup = np.asarray([duplicate_code(key) for key in extracted.dup_keys], dtype=np.int64)
    lap("vectors")
    lists = top_neighbours(
        weigh_columns(x, vocab, weights),
        dup,
        k=k,
        skip=tie_breaker_columns(vocab),
        on_progress=_progress_bar(progress, len(rows), "neighbours"),
    )
    lap("neighbours")
    with store._lock, store.conn:
        store.conn.execute("DELETE FROM similar_trials")
        store.conn.execute("DELETE FROM similar_vocab")
        store.conn.execute("DELETE FROM similar_meta")
        _write_vocab(store, vocab)
        store.conn.executemany(
            "INSERT INTO similar_trials(trial_id, nct_id, content_hash, dup, vector, facts, neighbours, floor) "
            "VALUES (?,?,?,?,?,?,?,?)",
            _trial_rows(extracted, x, dup, lists, extracted.trial_ids, range(len(extracted.nct_ids)), k),
        )
        seconds = time.perf_counter() - started
        _write_meta(
            store,
            {
                "format": FORMAT,
                "weights": weights.as_dict(),
                "k": k,
                "idf_docs": str(vocab.n_docs),
                "trials": str(len(extracted.nct_ids)),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "build_seconds": f"{seconds:.1f}",
                "thesaurus": thesaurus.dumps().decode(),
                **({"content_version": version} if version is not None else {}),
            },
        )
    lap("write")
    return IndexStats(
        trials=len(extracted.nct_ids),
        recomputed=len(extracted.nct_ids),
        seconds=time.perf_counter() - started,
        features=len(vocab),
        timings=tuple(timings),
        cpu_timings=tuple(cpu_timings),
    )


def _trial_rows(
    extracted: _Extracted,
    x: sparse.csr_matrix,
    dup: np.ndarray,
    lists: NeighbourLists,
    row_trial_ids: np.ndarray,
    positions: Sequence[int],
    k: int,
) -> Iterator[tuple[int, str, str, int, bytes, bytes, bytes, float]]:
    """Rows for ``similar_trials``; ``lists`` hold row numbers, mapped here to trial ids."""
    for i in positions:
        neighbour_rows = lists.rows[i]
        valid = neighbour_rows >= 0
        ids = np.where(valid, row_trial_ids[np.maximum(neighbour_rows, 0)], -1)
        scores = lists.scores[i]
        yield (
            int(extracted.trial_ids[i]),
            extracted.nct_ids[i],
            extracted.hashes[i],
            int(dup[i]),
            pack_row(x, i),
            extracted.facts[i],
            _pack_list(ids, scores),
            _floor(scores[valid], k),
        )


# --- incremental update --------------------------------------------------------------


def pending_changes(store: SqliteStore) -> tuple[list[tuple[int, str, str]], list[int]]:
    """Trials new or changed since the index saw them, and indexed trials no longer stored."""
    changed = store.conn.execute(
        "SELECT t.id, t.nct_id, t.content_hash FROM trials t LEFT JOIN similar_trials s ON s.trial_id = t.id "
        "WHERE s.trial_id IS NULL OR s.content_hash != t.content_hash OR s.nct_id != t.nct_id ORDER BY t.id"
    ).fetchall()
    removed = [
        r[0]
        for r in store.conn.execute(
            "SELECT s.trial_id FROM similar_trials s LEFT JOIN trials t ON t.id = s.trial_id WHERE t.id IS NULL"
        )
    ]
    return changed, removed


def update_index_after_ingest(store: SqliteStore, *, progress: bool = False) -> IndexStats | None:
    """Bring the index up to date with the store; None when nothing changed.

    Builds the whole index when there is none yet, or when so much changed that a build is
    cheaper; otherwise recomputes only the new and changed trials and fixes the lists they
    leave or enter.

    >>> from trialscope.store import open_store
    >>> update_index_after_ingest(open_store(":memory:")) is None  # an empty store: nothing to do
    True
    """
    if store.readonly:
        return None
    if not has_index(store):
        return build_index(store, progress=progress) if store.count() else None
    meta = read_meta(store)
    version = store.get_meta("content_version")
    # The ingest bumps the store's content version whenever it stores anything, so an
    # unchanged version (and count) is a no-op without comparing every content hash.
    if (
        version is not None
        and version == meta.get("content_version")
        and meta.get("trials") == str(store.count())
    ):
        return None
    changed, removed = pending_changes(store)
    if not changed and not removed:
        if version is not None:
            with store._lock, store.conn:
                _write_meta(store, {"content_version": version})
        return None
    indexed = int(meta.get("trials", "0"))
    if len(changed) > FULL_REBUILD_SHARE * max(indexed, 1):
        return build_index(
            store, progress=progress, weights=stored_weights(store), k=int(meta.get("k", DEFAULT_K))
        )
    return _update(store, changed, removed, meta)


def _update(
    store: SqliteStore, changed: list[tuple[int, str, str]], removed: list[int], meta: dict[str, str]
) -> IndexStats:
    started = time.perf_counter()
    version = store.get_meta("content_version")
    k = int(meta.get("k", DEFAULT_K))
    weights = Weights.from_dict(orjson.loads(meta["weights"]))
    vocab = load_vocabulary(store)
    known = len(vocab)
    gone = set(removed) | {r[0] for r in changed}
    stored = store.conn.execute(
        "SELECT trial_id, dup, vector, neighbours, floor FROM similar_trials ORDER BY trial_id"
    ).fetchall()
    kept = [r for r in stored if r[0] not in gone]
    old_lists = {r[0]: (r[3], r[4]) for r in kept}

    global _THESAURUS
    _THESAURUS = Thesaurus.loads(meta["thesaurus"]) if "thesaurus" in meta else None
    try:
        extracted, raw = extract_all(store, changed, vocab)
    finally:
        _THESAURUS = None
    vocab.extend_documents(raw)
    x_new = unit_vectors(raw, vocab)
    x_kept = stack_rows([r[2] for r in kept], len(vocab))
    x = sparse.vstack([x_kept, x_new], format="csr", dtype=np.float32)
    row_trial_ids = np.concatenate([np.asarray([r[0] for r in kept], np.int64), extracted.trial_ids])
    new_dup = np.asarray([duplicate_code(key) for key in extracted.dup_keys], dtype=np.int64)
    dup = np.concatenate([np.asarray([r[1] for r in kept], np.int64), new_dup])
    floors = np.concatenate(
        [np.asarray([r[4] for r in kept], np.float32), np.zeros(len(extracted.nct_ids), np.float32)]
    )
    query_rows = np.arange(len(kept), len(kept) + len(extracted.nct_ids))
    lists, entering = search_rows(
        weigh_columns(x, vocab, weights), dup, query_rows, floors, k=k, skip=tie_breaker_columns(vocab)
    )

    # Lists that held a changed or removed trial, or that a changed trial now enters.
    additions: dict[int, list[tuple[int, float]]] = {}
    for row, query_row, score in entering:
        if row < len(kept):
            additions.setdefault(int(row_trial_ids[row]), []).append((int(row_trial_ids[query_row]), score))
    holders = _lists_holding(kept, gone)
    refreshed: list[tuple[bytes, float, int]] = []
    for trial_id in sorted(holders | set(additions)):
        blob, floor = old_lists[trial_id]
        ids, scores = unpack_list(blob)
        entries = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if int(i) not in gone]
        entries += additions.get(trial_id, [])
        entries.sort(key=lambda e: (-e[1], e[0]))
        entries = entries[:k]
        new_ids = np.asarray([e[0] for e in entries], np.int64)
        new_scores = np.asarray([e[1] for e in entries], np.float32)
        new_floor = float(new_scores[-1]) if len(entries) >= k else float(floor)
        refreshed.append((_pack_list(new_ids, new_scores), new_floor, trial_id))

    positions = range(len(extracted.nct_ids))
    x_rows = x[query_rows]
    with store._lock, store.conn:
        if removed:
            store.conn.executemany("DELETE FROM similar_trials WHERE trial_id = ?", [(r,) for r in removed])
        store.conn.executemany(
            "INSERT OR REPLACE INTO similar_trials(trial_id, nct_id, content_hash, dup, vector, facts, neighbours, "
            "floor) VALUES (?,?,?,?,?,?,?,?)",
            _trial_rows(extracted, x_rows, new_dup, lists, row_trial_ids, positions, k),
        )
        store.conn.executemany(
            "UPDATE similar_trials SET neighbours = ?, floor = ? WHERE trial_id = ?", refreshed
        )
        _write_vocab(store, vocab, start=known)
        total = store.conn.execute("SELECT count(*) FROM similar_trials").fetchone()[0]
        _write_meta(
            store,
            {
                "trials": str(total),
                "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                **({"content_version": version} if version is not None else {}),
            },
        )
    return IndexStats(
        trials=int(total),
        recomputed=len(extracted.nct_ids),
        refreshed=len(refreshed),
        removed=len(removed),
        full=False,
        seconds=time.perf_counter() - started,
        features=len(vocab),
    )


def _lists_holding(kept: list[tuple], gone: set[int]) -> set[int]:  # type: ignore[type-arg]
    """Trial ids whose stored list names one of ``gone``, checked in one vectorized pass."""
    if not gone or not kept:
        return set()
    lengths = np.fromiter((len(r[3]) // 8 for r in kept), np.int64, len(kept))
    ids = np.frombuffer(b"".join(r[3][: len(r[3]) // 2] for r in kept), np.int32)
    hit = np.isin(ids, np.fromiter(gone, np.int64, len(gone)))
    owners = np.repeat(np.arange(len(kept)), lengths)
    return {int(kept[i][0]) for i in np.unique(owners[hit])}


def read_vector(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """A stored vector's columns and values."""
    return unpack_row(blob)


__all__ = [
    "BLOCKS",
    "IndexStats",
    "build_index",
    "has_index",
    "read_vector",
    "unpack_list",
    "update_index_after_ingest",
]
