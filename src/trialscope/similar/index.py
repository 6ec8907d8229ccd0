"""The related-trials index: a derived index of the store, built in one pass, then updated.

Tables (all ``similar_*``, declared in :mod:`trialscope.store.schema`, kept in the store so a
restart reads them and never rebuilds):

``similar_meta``
    format version, block weights, k, the corpus size the IDF was counted on, build times.
``similar_vocab``
    one row per feature column: its block, key, document frequency and frozen IDF.
``similar_trials``
    one row per trial (``trial_id`` = ``trials.id``): the content hash it was computed from,
    its duplicate group, its per-block unit vector, the facts its reasons quote, and its
    top-k neighbours (trial ids and scores, best first) with the k-th score as ``floor``.

An update (:class:`SimilarIndex`, refreshed through the store's change log) recomputes only
the trials written since, then fixes the lists they leave or enter: every list holding a
changed trial is rewritten, and a changed trial enters another list when it now scores
above that list's floor.

>>> from trialscope.store import open_store
>>> store = open_store(":memory:")
>>> build_index(store).trials
0
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import orjson
from scipy import sparse

from trialscope.similar.extract import (
    Extracted,
    extract_parts,
    learn_thesaurus,
    stack_parts,
    widen,
)
from trialscope.similar.features import BLOCKS
from trialscope.similar.neighbours import (
    DEFAULT_K,
    NeighbourLists,
    SearchOptions,
    each_neighbours,
    search_rows,
)
from trialscope.similar.spill import Spill, SpilledParts
from trialscope.similar.thesaurus import Thesaurus
from trialscope.similar.vectors import (
    BLOCK_ID,
    PairScorer,
    Vocabulary,
    Weights,
    column_scale,
    pack_row,
    stack_rows,
    unit_vectors,
    unpack_row,
)
from trialscope.store import Store
from trialscope.store.derived import How, Ids, release_memory

FORMAT = "1"
VERSION = "4"  # of what the index computes; a store built by another version is rebuilt (4: facts compressed)
SIMILAR_NAME = "similar"
# Past this share of changed trials a full build is cheaper than an update.
FULL_REBUILD_SHARE = 0.3


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


def has_index(store: Store) -> bool:
    """Whether the store holds a built index of this format."""
    meta = read_meta(store, ("format", "version"))
    return meta.get("format") == FORMAT and meta.get("version") == VERSION


def read_meta(store: Store, keys: Sequence[str] | None = None) -> dict[str, str]:
    """The index's settings, or only ``keys`` of them: a trial page asks for two or three on
    every request, and the thesaurus beside them is ~160 KB."""
    if keys is None:
        rows = store.select("similar_meta", ("key", "value"))
    else:
        rows = store.select_in("similar_meta", ("key", "value"), "key", list(keys))
    return {str(k): str(v) for k, v in rows}


def stored_weights(store: Store) -> Weights:
    meta = read_meta(store, ("weights",))
    return Weights.from_dict(orjson.loads(meta["weights"])) if "weights" in meta else Weights()


def tie_breaker_columns(vocab: Vocabulary) -> np.ndarray:
    """Columns that count in scores but find no candidates: design and population."""
    return vocab.block_array() == BLOCK_ID["design"]


def pair_scorer(vocab: Vocabulary, weights: Weights) -> PairScorer:
    """Exact scores of pairs of weighted vectors over this vocabulary, agreement term included."""
    return PairScorer(vocab.block_array(), weights)


def _search_options(vocab: Vocabulary, weights: Weights, k: int) -> SearchOptions:
    """How a build and an update search ``k`` neighbours over this vocabulary and these weights."""
    return {
        "k": k,
        "skip": tie_breaker_columns(vocab),
        "score_pairs": pair_scorer(vocab, weights),
        "scale": column_scale(vocab, weights),
    }


def vectorize(parts: Iterable[sparse.csr_matrix], vocab: Vocabulary) -> sparse.csr_matrix:
    """Per-block unit vectors of the raw parts (:func:`extract_parts`), one part at a time.

    The work arrays of :func:`unit_vectors` are those of one part (a few thousand rows),
    whatever the corpus. A trial's vector depends only on its row and the vocabulary's IDF,
    so this is the matrix :func:`unit_vectors` makes of all rows at once.
    """
    n_cols = len(vocab.keys)
    data: list[np.ndarray] = []
    indices: list[np.ndarray] = []
    lengths: list[np.ndarray] = [np.zeros(1, np.int64)]
    for raw in parts:
        part = unit_vectors(widen(raw, n_cols), vocab)
        data.append(part.data)
        indices.append(part.indices.astype(np.int32, copy=False))
        lengths.append(np.diff(part.indptr))
    indptr = np.cumsum(np.concatenate(lengths))
    return sparse.csr_matrix(
        (
            np.concatenate(data) if data else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int32),
            indptr,
        ),
        shape=(len(indptr) - 1, n_cols),
    )


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


def _write_vocab(store: Store, vocab: Vocabulary, start: int = 0) -> None:
    store.insert(
        "similar_vocab",
        (
            (i, vocab.blocks[i], vocab.keys[i], int(vocab.df[i]), float(vocab.idf[i]))
            for i in range(start, len(vocab.keys))
        ),
        replace=True,
    )


def _write_meta(store: Store, values: dict[str, object]) -> None:
    store.insert(
        "similar_meta",
        [(k, v if isinstance(v, str) else orjson.dumps(v).decode()) for k, v in values.items()],
        replace=True,
    )


def load_vocabulary(store: Store) -> Vocabulary:
    vocab = Vocabulary()
    rows = store.select("similar_vocab", ("id", "block", "key", "df", "idf"), order_by=("id",))
    vocab.keys = [r[2] for r in rows]
    vocab.blocks = [r[1] for r in rows]
    vocab.ids = {k: i for i, k in enumerate(vocab.keys)}
    vocab.df = np.asarray([r[3] for r in rows], dtype=np.int64)
    vocab.idf = np.asarray([r[4] for r in rows], dtype=np.float32)
    vocab.n_docs = int(read_meta(store, ("idf_docs",)).get("idf_docs", "0"))
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
    store: Store, *, progress: bool = False, weights: Weights | None = None, k: int = DEFAULT_K
) -> IndexStats:
    """Compute every trial's features, vectors and top-k neighbours, and store them, in one pass.

    A build replaces any index the store held; it reads trials and writes only ``similar_*``.

    Memory: a fixed part (the interpreter, SQLite's cache and memory-mapped pages, at most
    ~320 MB, the thesaurus, the work arrays of one part, one band of columns or one chunk of
    rows) and a part that grows with the corpus: the vectors (~0.8 KB a trial; weighted only
    row by row as the search uses them), the champion index (at most the vectors' size) and
    the vocabulary, in memory at once for the neighbour search. The raw feature rows, each
    trial's ids and facts and the lists wait in temporary files (:mod:`.spill`; ~3.4 KB a
    trial on disk). Measured figures: docs/PERFORMANCE.md.
    """
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    timings: list[tuple[str, float]] = []
    cpu_timings: list[tuple[str, float]] = []

    def lap(name: str) -> None:
        # Wall and CPU seconds (this process and its finished workers) of each phase.
        timings.append((name, time.perf_counter() - started - sum(t for _, t in timings)))
        cpu_timings.append((name, _cpu_seconds() - cpu_started - sum(t for _, t in cpu_timings)))

    weights = weights or Weights()
    upto = store.last_change()  # a build covers every trial logged so far
    rows = store.select("trials", ("id", "nct_id", "content_hash"), order_by=("id",))
    n = len(rows)
    vocab = Vocabulary()
    thesaurus = learn_thesaurus(store)
    # What every trial has but is needed only later goes to temporary files (see .spill).
    parts, records, lists = SpilledParts(), Spill(), Spill()
    try:
        extracted, _ = extract_parts(
            store,
            rows,
            vocab,
            thesaurus,
            on_progress=_progress_bar(progress, n, "features"),
            parts=parts,
            records=records,
        )
        del rows
        release_memory()  # the parsed trials and work arrays of the last parts
        lap("features")
        vocab.count_parts(parts)
        x = vectorize(parts, vocab)
        parts.close()
        dup = extracted.dups
        release_memory()
        lap("vectors")
        floors = np.zeros(len(extracted.trial_ids), np.float32)
        advance = _progress_bar(progress, n, "neighbours")
        for start, chunk in each_neighbours(
            x,
            dup,
            **_search_options(vocab, weights, k),
        ):
            for row, (neighbour_rows, scores) in enumerate(zip(chunk.rows, chunk.scores, strict=True)):
                valid = neighbour_rows >= 0
                ids = np.where(valid, extracted.trial_ids[np.maximum(neighbour_rows, 0)], -1)
                lists.write(_pack_list(ids, scores))
                floors[start + row] = _floor(scores[valid], k)
            if advance:
                advance(len(chunk.rows))
        release_memory()  # the candidate index and the workers' results: the write needs neither
        lap("neighbours")
        with store.transaction():
            store.clear_tables("similar")
            _write_vocab(store, vocab)
            store.insert("similar_trials", _spilled_rows(extracted.trial_ids, x, dup, records, lists, floors))
            seconds = time.perf_counter() - started
            _write_meta(
                store,
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "weights": weights.as_dict(),
                    "k": k,
                    "idf_docs": str(vocab.n_docs),
                    "trials": str(len(extracted.trial_ids)),
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "build_seconds": f"{seconds:.1f}",
                    "thesaurus": thesaurus.dumps().decode(),
                },
            )
            store.set_derived_state(SIMILAR_NAME, VERSION, upto)
    finally:
        for spill in (parts, records, lists):
            spill.close()
    lap("write")
    return IndexStats(
        trials=len(extracted.trial_ids),
        recomputed=len(extracted.trial_ids),
        seconds=time.perf_counter() - started,
        features=len(vocab),
        timings=tuple(timings),
        cpu_timings=tuple(cpu_timings),
    )


def _spilled_rows(
    trial_ids: np.ndarray,
    x: sparse.csr_matrix,
    dup: np.ndarray,
    records: Spill,
    lists: Spill,
    floors: np.ndarray,
) -> Iterator[tuple[int, str, str, int, bytes, bytes, bytes, float]]:
    """Rows for ``similar_trials`` of a full build: ids and facts (three records a trial) and
    packed lists read back from their temporary files, in row order."""
    stored, packed = iter(records), iter(lists)
    for i in range(len(trial_ids)):
        nct_id, content_hash, facts = next(stored).decode(), next(stored).decode(), next(stored)
        yield (
            int(trial_ids[i]),
            nct_id,
            content_hash,
            int(dup[i]),
            pack_row(x, i),
            facts,
            next(packed),
            float(floors[i]),
        )


def _trial_rows(
    extracted: Extracted,
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


class SimilarIndex:
    """The related-trials index as a derived index of the store (see the module's description)."""

    name = SIMILAR_NAME
    version = VERSION
    owner = "similar"
    last: IndexStats | None = None  # what the latest refresh in this process did

    def refresh(self, store: Store, changed: Ids, removed: Ids, how: How) -> str:
        """Build the index when it is new or much changed; else recompute the changed trials."""
        bar = how.progress is not None
        meta = read_meta(store)
        built = not how.full and meta.get("format") == FORMAT
        indexed = int(meta.get("trials", "0")) if built else 0
        if not built or len(changed) > FULL_REBUILD_SHARE * max(indexed, 1):
            weights = stored_weights(store) if built else None
            stats = build_index(store, progress=bar, weights=weights, k=int(meta.get("k", DEFAULT_K)))
        else:
            rows = store.select_in("trials", ("id", "nct_id", "content_hash"), "id", list(changed))
            stats = _update(store, sorted(rows), list(removed), meta)
        self.last = stats
        return stats.line()


SIMILAR_INDEX = SimilarIndex()


def update_index_after_ingest(store: Store, *, progress: bool = False) -> IndexStats | None:
    """Bring the index up to date with the store (the change log says what changed); None
    when nothing had to be done.

    >>> from trialscope.store import open_store
    >>> update_index_after_ingest(open_store(":memory:")) is None  # an empty store: nothing to do
    True
    """
    from trialscope.store import refresh_indexes

    if store.readonly or store.count() == 0:
        return None
    SIMILAR_INDEX.last = None
    refresh_indexes(store, [SIMILAR_INDEX])
    return SIMILAR_INDEX.last


def _update(
    store: Store, changed: list[tuple[int, str, str]], removed: list[int], meta: dict[str, str]
) -> IndexStats:
    started = time.perf_counter()
    k = int(meta.get("k", DEFAULT_K))
    weights = Weights.from_dict(orjson.loads(meta["weights"]))
    vocab = load_vocabulary(store)
    known = len(vocab)
    gone = set(removed) | {r[0] for r in changed}
    stored = store.select(
        "similar_trials", ("trial_id", "dup", "vector", "neighbours", "floor"), order_by=("trial_id",)
    )
    kept = [r for r in stored if r[0] not in gone]
    old_lists = {r[0]: (r[3], r[4]) for r in kept}

    thesaurus = Thesaurus.loads(meta["thesaurus"]) if "thesaurus" in meta else None
    extracted, parts = extract_parts(store, changed, vocab, thesaurus)
    raw = stack_parts(list(parts), len(vocab))
    vocab.extend_documents(raw)
    x_new = unit_vectors(raw, vocab)
    x_kept = stack_rows([r[2] for r in kept], len(vocab))
    x = sparse.vstack([x_kept, x_new], format="csr", dtype=np.float32)
    row_trial_ids = np.concatenate([np.asarray([r[0] for r in kept], np.int64), extracted.trial_ids])
    new_dup = extracted.dups
    dup = np.concatenate([np.asarray([r[1] for r in kept], np.int64), new_dup])
    floors = np.concatenate(
        [np.asarray([r[4] for r in kept], np.float32), np.zeros(len(extracted.nct_ids), np.float32)]
    )
    query_rows = np.arange(len(kept), len(kept) + len(extracted.nct_ids))
    lists, entering = search_rows(
        x,
        dup,
        query_rows,
        floors,
        **_search_options(vocab, weights, k),
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
    with store.transaction():
        if removed:
            store.delete_trials("similar_trials", removed)
        store.insert(
            "similar_trials",
            _trial_rows(extracted, x_rows, new_dup, lists, row_trial_ids, positions, k),
            replace=True,
        )
        store.update_rows("similar_trials", ("neighbours", "floor"), "trial_id", refreshed)
        _write_vocab(store, vocab, start=known)
        total = store.count_rows("similar_trials")
        _write_meta(
            store,
            {"trials": str(total), "updated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
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


def _lists_holding(kept: list[tuple], gone: set[int]) -> set[int]:
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
    "SIMILAR_INDEX",
    "IndexStats",
    "SimilarIndex",
    "build_index",
    "has_index",
    "read_vector",
    "unpack_list",
    "update_index_after_ingest",
]
