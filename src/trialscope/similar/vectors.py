"""Feature bags -> sparse vectors: the vocabulary, IDF weights, per-block unit vectors, scores.

Every feature key has one column; a column belongs to one block. A trial's vector is
TF-IDF per block (sublinear counts for text), cut to its strongest features per block and
scaled so each block is a unit vector. Two trials' similarity is the weighted sum of their
blocks' cosines, which a single sparse product gives once each column is scaled by the square
root of its block's weight (:func:`weigh_columns`), plus an *agreement* term that only trials
sharing both the condition and the kind of intervention earn (:func:`combine`).

Peripheral words (``~stem``: outcomes and eligibility text) are folded into their word's
column, each scaled by how much the registry uses that word to say what a trial is about
(:meth:`Vocabulary.topicality`): "lupus" in criteria counts nearly fully, "read" hardly at all.

>>> vocab = Vocabulary()
>>> raw = vocab.add_bags([{"text": {"lupus": 2.0, "cell": 1.0}}, {"text": {"cell": 3.0}}])
>>> vocab.count_documents(raw)
>>> x = unit_vectors(raw, vocab)
>>> round(float((x[0] @ x[1].T).toarray()[0, 0]), 3)
0.387
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from trialscope.similar.features import BLOCKS, PERIPHERAL
from trialscope.similar.neighbours import weighted

BLOCK_ID = {name: i for i, name in enumerate(BLOCKS)}
TEXT = BLOCK_ID["text"]
CONDITION = BLOCK_ID["condition"]
INTERVENTION = BLOCK_ID["intervention"]
# Smoothing of a peripheral word's topicality (trials using it in their topical fields over
# trials using it in outcomes or criteria): a word seen in a handful of criteria only is rare
# and specific rather than boilerplate, so it keeps a fair weight.
TOPICALITY_PRIOR = 2.0
# A cosine at which a block counts as fully shared for the agreement term: a trial of lupus
# nephritis shares the condition of a lupus trial through its MeSH ancestors (cosine ~0.4), and
# any trial of mesenchymal stem cells shares the seed's kind of treatment though not its name.
AGREEMENT_FULL = 0.5

# The strongest features kept per block of one vector. Past these, the rest of a long
# description adds little to a cosine and a lot to the cost of every product.
BLOCK_LIMITS = {"condition": 48, "intervention": 48, "text": 64, "design": 16, "sponsor": 8}


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each block counts in a similarity, and the agreement term; normalized to sum to 1.

    ``agreement`` weighs the geometric mean of the condition and intervention cosines (each
    counted as full from :data:`AGREEMENT_FULL`): a trial of the same condition *and* the same
    kind of treatment earns it, one that shares only one of them does not, so such trials rank
    first whatever their texts say.

    >>> Weights(condition=2, intervention=1, text=1, design=0, sponsor=0, agreement=0).normalized().condition
    0.5
    """

    # Chosen by grid search on TREC 2021 co-relevance (eval/related_quality.py): the best of
    # 720 weightings that keeps every weight above zero and ranks the seed's trials of lupus
    # and mesenchymal stem cells before its acupuncture trial; see docs/PERFORMANCE.md.
    condition: float = 0.2
    intervention: float = 0.05
    text: float = 1.0
    design: float = 0.02
    sponsor: float = 0.04
    agreement: float = 0.6

    def normalized(self) -> Weights:
        total = sum(self.as_tuple()) + self.agreement or 1.0
        return Weights(*(w / total for w in (*self.as_tuple(), self.agreement)))

    def as_tuple(self) -> tuple[float, ...]:
        """The block weights, in :data:`BLOCKS` order."""
        return (self.condition, self.intervention, self.text, self.design, self.sponsor)

    def as_dict(self) -> dict[str, float]:
        return {**dict(zip(BLOCKS, self.as_tuple(), strict=True)), "agreement": self.agreement}

    @classmethod
    def from_dict(cls, values: Mapping[str, float]) -> Weights:
        return cls(**{name: float(values.get(name, 0.0)) for name in (*BLOCKS, "agreement")})


def combine(cosines: np.ndarray, weights: Weights) -> np.ndarray:
    """Scores of pairs from their per-block cosines (pairs x blocks).

    >>> w = Weights(condition=1, intervention=1, text=1, design=0, sponsor=0, agreement=1)
    >>> [round(float(s), 3) for s in combine(np.array([[0.9, 0.0, 0.3, 0, 0], [0.5, 0.4, 0.3, 0, 0]]), w)]
    [0.3, 0.524]
    """
    w = weights.normalized()
    total = cosines @ np.asarray(w.as_tuple(), dtype=cosines.dtype)
    if w.agreement > 0:
        shared = np.clip(cosines[:, [CONDITION, INTERVENTION]] / AGREEMENT_FULL, 0, 1)
        total = total + w.agreement * np.sqrt(shared[:, 0] * shared[:, 1])
    return total


class PairScorer:
    """Exact scores of pairs of rows of column-weighted vectors (:func:`weigh_columns`)."""

    def __init__(self, blocks: np.ndarray, weights: Weights) -> None:
        self.blocks = blocks.astype(np.int64)
        self.weights = weights
        scale = np.asarray(weights.normalized().as_tuple(), dtype=np.float64)
        # Weighted block sums back to cosines; a block weighted 0 has no cosine to give.
        self.unscale = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)

    def __call__(self, a: sparse.csr_matrix, b: sparse.csr_matrix) -> np.ndarray:
        """The score of row i of ``a`` with row i of ``b``, for every i."""
        product = a.multiply(b).tocsr()
        n = product.shape[0]
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(product.indptr))
        group = rows * len(BLOCKS) + self.blocks[product.indices]
        sums = np.bincount(group, weights=product.data, minlength=n * len(BLOCKS)).reshape(n, len(BLOCKS))
        return combine(sums * self.unscale, self.weights).astype(np.float32)


@dataclass(slots=True)
class Vocabulary:
    """Feature keys, their blocks and document frequencies; ids are column numbers.

    The IDF of a column is fixed when the index is built, so a vector computed later (an
    incremental update) is comparable with the stored ones.
    """

    keys: list[str] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)
    blocks: list[int] = field(default_factory=list)
    df: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    idf: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    n_docs: int = 0

    def __len__(self) -> int:
        return len(self.keys)

    def id_of(self, key: str, block: int) -> int:
        """The column of ``key``, adding it when new."""
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = len(self.keys)
            self.keys.append(key)
            self.blocks.append(block)
        return found

    def add_bags(self, bags: Iterable[Mapping[str, Mapping[str, float]]]) -> sparse.csr_matrix:
        """Raw weights of many trials' bags as a CSR matrix, adding new keys to the vocabulary.

        A peripheral word's plain column is added with it, so it always has one to fold into.
        """
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        ids = self.ids
        for trial_bags in bags:
            for name, bag in trial_bags.items():
                block = BLOCK_ID[name]
                for key, weight in bag.items():
                    col = ids.get(key)
                    if col is None:
                        if key[0] == PERIPHERAL:
                            self.id_of(key[1:], block)
                        col = self.id_of(key, block)
                    indices.append(col)
                    data.append(weight)
            indptr.append(len(indices))
        return self.raw_matrix(np.asarray(indptr, np.int64), np.asarray(indices, np.int64), np.asarray(data))

    def raw_matrix(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> sparse.csr_matrix:
        return sparse.csr_matrix(
            (data.astype(np.float32), indices.astype(np.int32), indptr),
            shape=(len(indptr) - 1, len(self.keys)),
        )

    def merge_keys(self, keys: Sequence[str], blocks: Sequence[int]) -> np.ndarray:
        """Global columns of another vocabulary's keys (a worker's), adding the new ones."""
        return np.fromiter((self.id_of(k, b) for k, b in zip(keys, blocks, strict=True)), np.int32, len(keys))

    def count_documents(self, raw: sparse.csr_matrix) -> None:
        """Set document frequencies and IDF from every stored trial's raw matrix (a full build)."""
        self.count_parts([raw])

    def count_parts(self, parts: Iterable[sparse.csr_matrix]) -> None:
        """:meth:`count_documents` of a raw matrix given as consecutive runs of rows."""
        self.n_docs = 0
        self.df = np.zeros(len(self.keys), dtype=np.int64)
        for part in parts:
            self.n_docs += part.shape[0]
            self.df += np.bincount(part.indices, minlength=len(self.keys))
        self.idf = self._idf(self.df)

    def extend_documents(self, raw: sparse.csr_matrix) -> None:
        """Give IDF to columns first seen in an incremental update; known columns keep theirs."""
        old = len(self.idf)
        grow = len(self.keys) - old
        if grow <= 0:
            return
        counts = np.bincount(raw.indices, minlength=len(self.keys)).astype(np.int64)
        self.df = np.concatenate([self.df, counts[old:]])
        self.idf = np.concatenate([self.idf, self._idf(counts[old:])])

    def _idf(self, df: np.ndarray) -> np.ndarray:
        return (np.log((1.0 + self.n_docs) / (1.0 + df)) + 1.0).astype(np.float32)

    def block_array(self) -> np.ndarray:
        return np.asarray(self.blocks, dtype=np.int8)

    def topicality(self) -> tuple[np.ndarray, np.ndarray]:
        """Each column's target column and factor: a peripheral word's plain column and its topicality.

        Topicality = (trials using the word in topical fields + prior) / (trials using it only
        in outcomes or criteria + prior), at most 1: "read" (criteria of many trials, titles of
        few) gets almost nothing, "nephritis" keeps most of its weight. Plain columns map to
        themselves with factor 1.
        """
        n = len(self.keys)
        target = np.arange(n, dtype=np.int64)
        factor = np.ones(n, dtype=np.float32)
        peripheral = [i for i, key in enumerate(self.keys) if key[0] == PERIPHERAL]
        if peripheral:
            cols = np.asarray(peripheral, dtype=np.int64)
            target[cols] = [self.ids[self.keys[i][1:]] for i in peripheral]
            df = np.concatenate([self.df, np.zeros(max(0, n - len(self.df)), np.int64)])
            ratio = (df[target[cols]] + TOPICALITY_PRIOR) / (df[cols] + TOPICALITY_PRIOR)
            factor[cols] = np.minimum(ratio, 1.0)
        return target, factor

    def idf_of(self, key: str) -> float:
        col = self.ids.get(key)
        if col is None or col >= len(self.idf):
            return math.log(1.0 + self.n_docs) + 1.0
        return float(self.idf[col])


def unit_vectors(
    raw: sparse.csr_matrix, vocab: Vocabulary, *, limits: Mapping[str, int] = BLOCK_LIMITS
) -> sparse.csr_matrix:
    """TF-IDF per block, cut to the strongest ``limits`` features per block, each block of unit length.

    Rows are trials; a block a trial has nothing in stays empty (a zero cosine with anyone).
    Peripheral words are folded into their plain column, scaled by their topicality, after
    the sublinear count (so the count's floor cannot undo the scaling).
    """
    raw = raw.tocsr()
    raw.sum_duplicates()
    n_rows = raw.shape[0]
    blocks = vocab.block_array()
    target, factor = vocab.topicality()
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(raw.indptr))
    cols = raw.indices.astype(np.int64)
    values = raw.data.astype(np.float32)
    is_text = blocks[cols] == TEXT
    values[is_text] = 1.0 + np.log(np.maximum(values[is_text], 1e-3)).clip(min=-0.9)
    values *= factor[cols]
    cols = target[cols]
    values *= vocab.idf[cols]
    folded = sparse.csr_matrix((values, (rows, cols)), shape=(n_rows, len(vocab.keys)), dtype=np.float32)
    folded.sum_duplicates()
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(folded.indptr))
    cols = folded.indices.astype(np.int64)
    values = folded.data
    entry_block = blocks[cols].astype(np.int64)

    # Rank the entries of each (row, block) group by value, keep each block's best ones.
    order = np.lexsort((-values, entry_block, rows))
    rows, cols, entry_block, values = rows[order], cols[order], entry_block[order], values[order]
    group = rows * len(BLOCKS) + entry_block
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    rank = np.arange(len(group)) - np.repeat(starts, np.diff(np.r_[starts, len(group)]))
    limit_of = np.asarray([limits.get(name, 1 << 30) for name in BLOCKS], dtype=np.int64)
    keep = rank < limit_of[entry_block]
    rows, cols, group, values = rows[keep], cols[keep], group[keep], values[keep]

    norms = np.sqrt(
        np.bincount(group, weights=values.astype(np.float64) ** 2, minlength=n_rows * len(BLOCKS))
    )
    values = (values / np.maximum(norms[group], 1e-12)).astype(np.float32)
    out = sparse.csr_matrix((values, (rows, cols)), shape=(n_rows, len(vocab.keys)), dtype=np.float32)
    out.sort_indices()
    return out


def column_scale(vocab: Vocabulary, weights: Weights) -> np.ndarray:
    """Each column's factor: the square root of its block's weight, so x @ x.T of the scaled
    vectors is the weighted score (the neighbour search applies it row by row)."""
    scale = np.sqrt(np.asarray(weights.normalized().as_tuple(), dtype=np.float32))
    return scale[vocab.block_array()]


def weigh_columns(x: sparse.csr_matrix, vocab: Vocabulary, weights: Weights) -> sparse.csr_matrix:
    """Scale each column by the square root of its block's weight (:func:`column_scale`)."""
    return weighted(x.tocsr(), column_scale(vocab, weights)[: x.shape[1]])


def pack_row(x: sparse.csr_matrix, row: int) -> bytes:
    """One row as bytes: int32 columns then float32 values.

    >>> m = sparse.csr_matrix(np.array([[0, 0.5, 0, 0.25]], dtype=np.float32))
    >>> unpack_row(pack_row(m, 0))
    (array([1, 3], dtype=int32), array([0.5 , 0.25], dtype=float32))
    """
    start, end = x.indptr[row], x.indptr[row + 1]
    return x.indices[start:end].astype(np.int32).tobytes() + x.data[start:end].astype(np.float32).tobytes()


def unpack_row(blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    n = len(blob) // 8
    return np.frombuffer(blob, np.int32, n), np.frombuffer(blob, np.float32, n, offset=4 * n)


def stack_rows(blobs: Sequence[bytes], n_cols: int) -> sparse.csr_matrix:
    """Packed rows back into one CSR matrix, in the order given."""
    parts = [unpack_row(b) for b in blobs]
    lengths = np.fromiter((len(p[0]) for p in parts), np.int64, len(parts))
    indptr = np.r_[0, np.cumsum(lengths)]
    indices = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int32)
    data = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.float32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(parts), n_cols), dtype=np.float32)
