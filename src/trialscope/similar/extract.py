"""Trials -> raw feature matrix: the corpus's thesaurus, then every trial's bags, on two processes.

Extraction is the costly part of a build (every trial is read and parsed), so a large store
is read in chunks by worker processes, each with its own read-only store and a vocabulary of
its own; the parts' columns are then merged into the index's vocabulary
(:meth:`~trialscope.similar.vectors.Vocabulary.merge_keys`).

>>> from trialscope.store import open_store
>>> vocab = Vocabulary()
>>> extracted, parts = extract_parts(open_store(":memory:"), [], vocab)
>>> stack_parts(list(parts), len(vocab)).shape
(0, 0)
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import orjson
from scipy import sparse

from trialscope.similar.features import extract_features
from trialscope.similar.neighbours import PARALLEL_MIN_ROWS
from trialscope.similar.spill import Spill
from trialscope.similar.thesaurus import Thesaurus, learn_abbreviations
from trialscope.similar.vectors import Vocabulary
from trialscope.store import Store, open_store
from trialscope.store.blobs import compress
from trialscope.store.derived import chunks

EXTRACT_CHUNK = 2_000


class Parts(Protocol):
    """Where the raw parts go: a list, or a :class:`~trialscope.similar.spill.SpilledParts`."""

    def append(self, part: sparse.csr_matrix, /) -> None: ...

    def __iter__(self) -> Iterator[sparse.csr_matrix]: ...

    def __len__(self) -> int: ...


_NO_ROWS = np.zeros(1, np.int64)
_NO_COLUMNS = np.zeros(0, np.int32)
_NO_VALUES = np.zeros(0, np.float32)


@dataclass(slots=True)
class Extracted:
    """Features of a run of trials, with a vocabulary local to the run."""

    trial_ids: np.ndarray
    nct_ids: list[str]
    hashes: list[str]
    dups: np.ndarray  # duplicate codes (:func:`duplicate_code`), -1 for none
    facts: list[bytes]
    keys: list[str]
    blocks: list[int]
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray


def duplicate_code(key: str | None) -> int:
    """A stable integer for a duplicate key (-1 for none), the same in every process: a worker
    sends the number, not the key.

    >>> duplicate_code(None), duplicate_code("a|b") == duplicate_code("a|b")
    (-1, True)
    """
    if key is None:
        return -1
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=7).digest(), "big")


_THESAURUS: Thesaurus | None = None  # set during extraction; forked workers inherit it


THESAURUS_CHUNK = 20_000  # trials whose MeSH terms and titles are read at a time


def learn_thesaurus(store: Store) -> Thesaurus:
    """Known condition terms and their ancestors, and abbreviations, from every stored record.

    The store is read a slice of trials at a time: at 600,000 trials their condition terms
    alone are millions of rows, which a single read would hold all at once.
    """
    book = Thesaurus()
    ids = store.trial_ids()
    for piece in chunks(ids, THESAURUS_CHUNK):
        by_trial: dict[int, tuple[list[str], list[str]]] = {}
        for trial_id, kind, term, is_ancestor in store.select_in(
            "trial_mesh", ("trial_id", "kind", "term", "ancestor"), "trial_id", piece
        ):
            if kind == "condition":
                terms, ancestors = by_trial.setdefault(trial_id, ([], []))
                (ancestors if is_ancestor else terms).append(term)
        for trial_id in sorted(by_trial):
            book.learn_terms(*by_trial[trial_id])
    book.abbreviations = learn_abbreviations(_title_texts(store, ids))
    return book


def _title_texts(store: Store, ids: Sequence[int]) -> Iterator[str]:
    """Every trial's brief title, then every official title, then every intervention's name,
    each in trial order, read a slice of trials at a time."""
    for table, key, column in (
        ("trials", "id", "brief_title"),
        ("trials", "id", "official_title"),
        ("trial_interventions", "trial_id", "name"),
    ):
        for piece in chunks(ids, THESAURUS_CHUNK):
            rows = sorted(store.select_in(table, (key, column), key, piece), key=lambda r: r[0])
            yield from (text for _, text in rows)


def _extract(store: Store, rows: Sequence[tuple[int, str, str]]) -> Extracted:
    trials = store.trials_by_id([trial_id for trial_id, _, _ in rows])
    learned = _THESAURUS
    local = Vocabulary()
    bags = []
    kept: list[tuple[int, str, str]] = []
    dups: list[int] = []
    facts: list[bytes] = []
    for trial_id, nct_id, content_hash in rows:
        trial = trials.get(trial_id)
        if (
            trial is None or trial.nct_id != nct_id
        ):  # replaced or removed while we read; the next update sees it
            continue
        features = extract_features(trial, learned)
        bags.append(features.bags)
        kept.append((trial_id, nct_id, content_hash))
        dups.append(duplicate_code(features.dup_key))
        facts.append(compress(orjson.dumps(features.facts)))  # kept compressed: stored as they are
    raw = local.add_bags(bags)
    return Extracted(
        trial_ids=np.asarray([r[0] for r in kept], dtype=np.int64),
        nct_ids=[r[1] for r in kept],
        hashes=[r[2] for r in kept],
        dups=np.asarray(dups, dtype=np.int64),
        facts=facts,
        keys=local.keys,
        blocks=local.blocks,
        indptr=raw.indptr.astype(np.int64),
        indices=raw.indices,
        data=raw.data,
    )


_WORKER_STORE: Store | None = None


def _worker_extract(args: tuple[str, Sequence[tuple[int, str, str]]]) -> Extracted:
    global _WORKER_STORE
    path, rows = args
    if _WORKER_STORE is None or _WORKER_STORE.path != path:
        _WORKER_STORE = open_store(path, readonly=True)
    return _extract(_WORKER_STORE, rows)


def extract_parts(
    store: Store,
    rows: Sequence[tuple[int, str, str]],
    vocab: Vocabulary,
    learned: Thesaurus | None = None,
    *,
    on_progress: Callable[[int], None] | None = None,
    parts: Parts | None = None,
    records: Spill | None = None,
) -> tuple[Extracted, Parts]:
    """Features of ``rows`` (trial id, NCT id, hash), merged into ``vocab``; the raw matrix beside,
    in its parts (consecutive runs of rows, columns already the vocabulary's, each as wide as the
    vocabulary was when it came), appended to ``parts`` (a list, or a
    :class:`~trialscope.similar.spill.SpilledParts` on disk); :func:`stack_parts` makes them one.

    ``learned`` is the corpus's thesaurus (:func:`learn_thesaurus`, or the one an index stored).
    A full build turns the parts into vectors one at a time, so the raw matrix (the largest
    thing a build makes, ~1.8 KB a trial) is never in memory in one piece. With ``records``,
    each trial's NCT id, content hash and facts are written there (three records a trial, in
    row order) instead of being kept in the returned :class:`Extracted`, which then holds
    only trial ids and duplicate keys.
    """
    global _THESAURUS
    _THESAURUS = learned
    try:
        return _extract_all(store, rows, vocab, on_progress, [] if parts is None else parts, records)
    finally:
        _THESAURUS = None


def stack_parts(parts: Sequence[sparse.csr_matrix], n_cols: int) -> sparse.csr_matrix:
    """The parts as one raw matrix ``n_cols`` wide."""
    if not parts:
        return sparse.csr_matrix((0, n_cols), dtype=np.float32)
    return sparse.vstack([widen(p, n_cols) for p in parts], format="csr", dtype=np.float32)


def widen(part: sparse.csr_matrix, n_cols: int) -> sparse.csr_matrix:
    """A part as ``n_cols`` wide (columns added since it was made), sharing its arrays."""
    return sparse.csr_matrix((part.data, part.indices, part.indptr), shape=(part.shape[0], n_cols))


def _extract_all(
    store: Store,
    rows: Sequence[tuple[int, str, str]],
    vocab: Vocabulary,
    on_progress: Callable[[int], None] | None,
    raw: Parts,
    records: Spill | None,
) -> tuple[Extracted, Parts]:
    chunks = [rows[i : i + EXTRACT_CHUNK] for i in range(0, len(rows), EXTRACT_CHUNK)]
    parallel = len(rows) >= PARALLEL_MIN_ROWS and store.path != ":memory:" and (os.cpu_count() or 1) > 1
    parts: list[Extracted] = []

    def take(part: Extracted) -> None:
        raw.append(_merge_part(part, vocab))
        if records is not None:
            for nct_id, content_hash, facts in zip(part.nct_ids, part.hashes, part.facts, strict=True):
                records.write(nct_id.encode())
                records.write(content_hash.encode())
                records.write(facts)
            part.nct_ids, part.hashes, part.facts = [], [], []
        parts.append(part)

    if parallel:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(2, os.cpu_count() or 1), mp_context=context) as pool:
            for part in pool.map(_worker_extract, [(store.path, c) for c in chunks]):
                done = len(part.trial_ids)
                take(part)
                if on_progress:
                    on_progress(done)
    else:
        for chunk in chunks:
            take(_extract(store, chunk))
            if on_progress:
                on_progress(len(chunk))
    return _concat(parts), raw


def _merge_part(part: Extracted, vocab: Vocabulary) -> sparse.csr_matrix:
    """The part's raw rows with its local columns rewritten as the global vocabulary's; the
    part keeps only what is not the matrix."""
    mapping = vocab.merge_keys(part.keys, part.blocks)
    indices = mapping[part.indices] if len(part.indices) else part.indices.astype(np.int32)
    raw = sparse.csr_matrix(
        (part.data.astype(np.float32, copy=False), indices, part.indptr.astype(np.int32)),
        shape=(len(part.trial_ids), len(vocab)),
    )
    part.keys, part.blocks = [], []
    part.indptr, part.indices, part.data = _NO_ROWS, _NO_COLUMNS, _NO_VALUES
    return raw


def _concat(parts: list[Extracted]) -> Extracted:
    """The parts' trials as one run (their raw rows were taken out by :func:`_merge_part`)."""
    return Extracted(
        trial_ids=np.concatenate([p.trial_ids for p in parts]) if parts else np.zeros(0, np.int64),
        nct_ids=[n for p in parts for n in p.nct_ids],
        hashes=[h for p in parts for h in p.hashes],
        dups=np.concatenate([p.dups for p in parts]) if parts else np.zeros(0, np.int64),
        facts=[f for p in parts for f in p.facts],
        keys=[],
        blocks=[],
        indptr=_NO_ROWS,
        indices=_NO_COLUMNS,
        data=_NO_VALUES,
    )
