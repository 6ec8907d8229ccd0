"""Top-K neighbours of every trial by sparse products in chunks, bounded in memory, on all cores.

A score is ``x_i . x_j`` over weighted unit vectors (see :mod:`trialscope.similar.vectors`).
Multiplying every row by every row directly is quadratic and dense: features many trials
share (``type:INTERVENTIONAL``, ``c:neoplasm``, the word "treatment") touch most pairs. So
a search has two steps:

1. *candidates*: a product with a truncated index, where each feature keeps only its
   ``champions`` strongest trials (a champion list) and tie-breaker columns (design) are
   left out. A row's cost is then bounded by ``nnz(row) * champions`` whatever the corpus
   size, so a build grows about linearly with the number of trials;
2. *rescoring*: the best ``2k`` candidates of each row get their exact score from the full
   vectors (by default their dot product; the index passes
   :class:`~trialscope.similar.vectors.PairScorer`, which adds the agreement term), and the
   best ``k`` of those are kept.

A trial that is not among another's candidates shares nothing it is strongly about, so
missing it costs little; ``bench/bench_related.py`` measures the recall against exact top-k.

>>> import numpy as np
>>> from scipy import sparse
>>> x = sparse.csr_matrix(np.array([[1, 0, 0], [0.8, 0.6, 0], [0, 0.6, 0.8]], dtype=np.float32))
>>> lists = top_neighbours(x, np.array([-1, -1, -1]), k=2)
>>> lists.rows.tolist(), [[round(float(s), 2) for s in row] for row in lists.scores]
([[1, -1], [0, 2], [1, -1]], [[0.8, 0.0], [0.8, 0.36], [0.36, 0.0]])
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypedDict, Unpack

import numpy as np
from scipy import sparse

DEFAULT_K = 100
CHAMPIONS = 2_000  # trials kept per feature in the candidate index
QUERY_FEATURES = 32  # a row's strongest features that look for candidates
CANDIDATES_PER_K = 2  # rescored candidates per neighbour kept
CHUNK_ROWS = 128  # query rows searched at a time: their candidates' rows are copied to rescore them
BAND_ENTRIES = 8_000_000  # entries of the matrix copied at a time to make the candidate index
PARALLEL_MIN_ROWS = 20_000  # below this a second process costs more than it saves

# The exact score of row i of one matrix with row i of another, for every i.
ScorePairs = Callable[[sparse.csr_matrix, sparse.csr_matrix], np.ndarray]


def dot_pairs(a: sparse.csr_matrix, b: sparse.csr_matrix) -> np.ndarray:
    """Row-by-row dot products: the plain score of weighted vectors."""
    return np.asarray(a.multiply(b).sum(axis=1), dtype=np.float32).ravel()


@dataclass(slots=True)
class NeighbourLists:
    """Row indices (``-1`` where a list is shorter than k) and scores, best first, per query row."""

    rows: np.ndarray
    scores: np.ndarray


@dataclass(slots=True)
class Pairs:
    """Rescored candidate pairs: query row, candidate row, exact score."""

    rows: np.ndarray
    cols: np.ndarray
    scores: np.ndarray


def champion_index(
    x: sparse.csr_matrix,
    champions: int,
    skip: np.ndarray | None = None,
    *,
    scale: np.ndarray | None = None,
    band_entries: int = BAND_ENTRIES,
) -> sparse.csr_matrix:
    """The candidate index, features x trials: each feature's ``champions`` strongest trials only.

    ``scale`` multiplies each column's values first (see :func:`weighted`). The index is made
    a band of columns at a time (about ``band_entries`` entries each), so besides ``x`` and the
    index only one band's copy is in memory, whatever the corpus.

    >>> m = sparse.csr_matrix(np.array([[0.9, 0.1], [0.5, 0.2], [0.7, 0.0]], dtype=np.float32))
    >>> (champion_index(m, 2).toarray() > 0).astype(int).tolist()
    [[1, 0, 1], [1, 1, 0]]
    """
    x = x.tocsr()
    n_rows, n_cols = x.shape
    entries = np.bincount(x.indices, minlength=n_cols).astype(np.int64)
    counts = entries.copy()
    if skip is not None:
        counts[np.flatnonzero(skip[:n_cols])] = 0
    kept = np.minimum(counts, champions)
    indptr = np.concatenate([np.zeros(1, np.int64), np.cumsum(kept)])
    data = np.empty(int(indptr[-1]), np.float32)
    indices = np.empty(int(indptr[-1]), np.int32)
    cuts = np.searchsorted(np.cumsum(entries), np.arange(band_entries, x.nnz, band_entries))
    for first, last in zip(np.r_[0, cuts + 1], np.r_[cuts + 1, n_cols], strict=True):
        if first >= last or not kept[first:last].any():
            continue
        # The band's columns as CSC: the features x trials rows of the index, uncut.
        band = weighted(x[:, first:last], None if scale is None else scale[first:last]).tocsc()
        band.sort_indices()
        keep = np.repeat(kept[first:last] > 0, np.diff(band.indptr))
        for col in np.flatnonzero(counts[first:last] > champions):
            start, end = band.indptr[col], band.indptr[col + 1]
            weakest = np.argpartition(-band.data[start:end], champions)[champions:]
            keep[start + weakest] = False
        data[indptr[first] : indptr[last]] = band.data[keep]
        indices[indptr[first] : indptr[last]] = band.indices[keep]
    return sparse.csr_matrix((data, indices, indptr), shape=(n_cols, n_rows))


def weighted(x: sparse.csr_matrix, scale: np.ndarray | None) -> sparse.csr_matrix:
    """``x`` with each column's values multiplied by its factor in ``scale`` (None: ``x`` itself).

    The search keeps only the unweighted vectors in memory and weighs the rows it works on,
    value for value as weighing the whole matrix would.

    >>> m = sparse.csr_matrix(np.array([[1.0, 2.0]], dtype=np.float32))
    >>> weighted(m, np.array([0.5, 3.0], dtype=np.float32)).toarray().tolist()
    [[0.5, 6.0]]
    """
    if scale is None:
        return x
    return sparse.csr_matrix((x.data * scale[x.indices], x.indices, x.indptr), shape=x.shape)


def strongest(x: sparse.csr_matrix, m: int) -> sparse.csr_matrix:
    """Each row cut to its ``m`` largest values.

    >>> m = sparse.csr_matrix(np.array([[0.1, 0.5, 0.3]], dtype=np.float32))
    >>> strongest(m, 2).toarray().tolist()
    [[0.0, 0.5, 0.30000001192092896]]
    """
    x = x.tocsr()
    lengths = np.diff(x.indptr)
    if not len(lengths) or lengths.max() <= m:
        return x
    rows = np.repeat(np.arange(x.shape[0]), lengths)
    order = np.lexsort((-x.data, rows))
    starts = np.repeat(x.indptr[:-1], lengths)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - starts
    keep = rank < m
    out = sparse.csr_matrix(
        (x.data[keep], x.indices[keep], np.r_[0, np.cumsum(np.minimum(lengths, m))]), shape=x.shape
    )
    return out


class SearchOptions(TypedDict, total=False):
    """How neighbours are searched (every key optional): ``k`` per row (:data:`DEFAULT_K`),
    ``champions`` per column (:data:`CHAMPIONS`), columns to ``skip``, the exact scorer
    (:func:`dot_pairs`), per-column weights (see :func:`top_neighbours`)."""

    k: int
    champions: int
    skip: np.ndarray | None
    score_pairs: ScorePairs | None
    scale: np.ndarray | None


class NeighbourOptions(SearchOptions, total=False):
    """A search of every row: also how many worker processes (two at most by default)."""

    workers: int | None


class _Searcher:
    """The matrices one search needs, shared with worker processes by fork.

    ``x`` is kept as given; ``scale`` (per-column factors, see :func:`weighted`) is applied
    to the rows a search works on, so the weighted matrix is never held whole.
    """

    def __init__(
        self,
        x: sparse.csr_matrix,
        dup: np.ndarray,
        options: SearchOptions,
        query_features: int = QUERY_FEATURES,
    ) -> None:
        self.x = x.tocsr()
        self.scale = options.get("scale")
        self.score_pairs = options.get("score_pairs") or dot_pairs
        self.query_features = query_features
        champions = options.get("champions", CHAMPIONS)
        self.index_t = champion_index(self.x, champions, options.get("skip"), scale=self.scale)
        self.dup = np.asarray(dup, dtype=np.int64)
        self.k = k = options.get("k", DEFAULT_K)
        self.n_candidates = max(k * CANDIDATES_PER_K, k + 10)

    def search(
        self, query: sparse.csr_matrix, query_dup: np.ndarray, query_self: np.ndarray
    ) -> tuple[NeighbourLists, Pairs]:
        """Top k of each query row over all rows (``query_self``: the query's own row or -1)."""
        n = query.shape[0]
        query = weighted(query, self.scale)
        partial = (strongest(query, self.query_features) @ self.index_t).tocsr()
        pair_row: list[np.ndarray] = []
        pair_col: list[np.ndarray] = []
        for r in range(n):
            start, end = partial.indptr[r], partial.indptr[r + 1]
            cols = partial.indices[start:end]
            vals = partial.data[start:end]
            drop = cols == query_self[r]
            if query_dup[r] != -1:
                drop |= self.dup[cols] == query_dup[r]
            if drop.any():
                cols, vals = cols[~drop], vals[~drop]
            if len(cols) > self.n_candidates:
                cols = cols[np.argpartition(-vals, self.n_candidates - 1)[: self.n_candidates]]
            pair_row.append(np.full(len(cols), r, dtype=np.int64))
            pair_col.append(cols.astype(np.int64))
        rows_of = np.concatenate(pair_row) if pair_row else np.zeros(0, np.int64)
        cols_of = np.concatenate(pair_col) if pair_col else np.zeros(0, np.int64)
        exact = np.zeros(len(rows_of), dtype=np.float32)
        if len(rows_of):
            exact = self.score_pairs(query[rows_of], weighted(self.x[cols_of], self.scale))
        return _best_per_row(rows_of, cols_of, exact, n, self.k), Pairs(rows_of, cols_of, exact)


def _best_per_row(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int, k: int) -> NeighbourLists:
    """The k best (col, val) per row, best first; padded with -1 and 0."""
    out_rows = np.full((n, k), -1, dtype=np.int64)
    out_scores = np.zeros((n, k), dtype=np.float32)
    if not len(rows):
        return NeighbourLists(out_rows, out_scores)
    order = np.lexsort((cols, -vals, rows))  # ties broken by row number, so results are stable
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    keep = (rank < k) & (vals > 0)
    out_rows[rows[keep], rank[keep]] = cols[keep]
    out_scores[rows[keep], rank[keep]] = vals[keep]
    return NeighbourLists(out_rows, out_scores)


_SEARCHER: _Searcher | None = None


def _search_chunk(bounds: tuple[int, int]) -> tuple[int, NeighbourLists]:
    searcher = _SEARCHER
    assert searcher is not None
    start, end = bounds
    lists, _ = searcher.search(searcher.x[start:end], searcher.dup[start:end], np.arange(start, end))
    return start, lists


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(start + size, n)


def top_neighbours(
    x: sparse.csr_matrix,
    dup: np.ndarray,
    *,
    on_progress: Callable[[int], None] | None = None,
    **options: Unpack[NeighbourOptions],
) -> NeighbourLists:
    """The k best neighbours of every row of ``x`` among all rows, excluding itself and its duplicates.

    ``dup`` holds a duplicate-group number per row (-1: none); rows of one group never list
    each other. ``skip`` marks columns that find no candidates (tie breakers); they still
    count in every score. ``score_pairs`` gives the exact scores (default: dot products).
    ``scale`` weighs each column (:func:`weighted`) where the rows are used, not in ``x``.
    """
    n, k = x.shape[0], options.get("k", DEFAULT_K)
    # Row numbers as int32 (a row number of the trials' matrix fits).
    out = NeighbourLists(np.full((n, k), -1, dtype=np.int32), np.zeros((n, k), dtype=np.float32))
    for start, lists in each_neighbours(x, dup, **options):
        _place(out, start, lists, on_progress)
    return out


def each_neighbours(
    x: sparse.csr_matrix, dup: np.ndarray, **options: Unpack[NeighbourOptions]
) -> Iterator[tuple[int, NeighbourLists]]:
    """:func:`top_neighbours` chunk by chunk, in row order: (first row, the chunk's lists).

    A full build writes each chunk away as it comes rather than hold every trial's lists
    (~800 bytes a trial at k=100). Consume it to the end: the worker processes live as long.
    """
    global _SEARCHER
    n = x.shape[0]
    searcher = _Searcher(x, dup, options)
    workers = options.get("workers")
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    chunks = list(_chunks(n, CHUNK_ROWS))
    _SEARCHER = searcher
    try:
        if workers > 1 and n >= PARALLEL_MIN_ROWS:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                yield from pool.map(_search_chunk, chunks, chunksize=4)
        else:
            for bounds in chunks:
                yield _search_chunk(bounds)
    finally:
        _SEARCHER = None


def _place(
    out: NeighbourLists, start: int, lists: NeighbourLists, on_progress: Callable[[int], None] | None
) -> None:
    end = start + lists.rows.shape[0]
    out.rows[start:end] = lists.rows
    out.scores[start:end] = lists.scores
    if on_progress:
        on_progress(end - start)


def search_rows(
    x: sparse.csr_matrix,
    dup: np.ndarray,
    query_rows: np.ndarray,
    floors: np.ndarray,
    **options: Unpack[SearchOptions],
) -> tuple[NeighbourLists, list[tuple[int, int, float]]]:
    """Top k for some rows only (an incremental update), and the other lists those rows enter.

    ``floors`` holds each row's k-th score (0 for a list that is not full). Similarity is
    symmetric, so the lists a query row enters are looked for among its own rescored
    candidates: ``(row, query_row, score)`` for each whose floor the score passes.
    """
    searcher = _Searcher(x, dup, options)
    k = searcher.k
    lists = NeighbourLists(
        np.full((len(query_rows), k), -1, np.int64), np.zeros((len(query_rows), k), np.float32)
    )
    entering: list[tuple[int, int, float]] = []
    for start, end in _chunks(len(query_rows), CHUNK_ROWS):
        ids = query_rows[start:end]
        part, pairs = searcher.search(searcher.x[ids], searcher.dup[ids], ids)
        lists.rows[start:end] = part.rows
        lists.scores[start:end] = part.scores
        passing = pairs.scores > floors[pairs.cols]
        entering += [
            (int(c), int(ids[r]), float(v))
            for r, c, v in zip(pairs.rows[passing], pairs.cols[passing], pairs.scores[passing], strict=True)
        ]
    return lists, entering
