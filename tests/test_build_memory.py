"""The memory-bounded steps of the index builds give exactly what the direct ones give.

A full build works a part, a slice or a chunk at a time so its memory stays bounded; each
test here makes the same thing both ways (the whole at once, and in small pieces) and asserts
the results are equal, array for array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

import trialscope.search.postings as postings_module
import trialscope.similar.extract as extract_module
from trialscope.search.document import field_texts
from trialscope.search.postings import SegmentBuilder, decode_positions, decode_postings
from trialscope.similar.extract import extract_parts, learn_thesaurus, stack_parts
from trialscope.similar.index import vectorize
from trialscope.similar.neighbours import champion_index
from trialscope.similar.spill import SpilledParts
from trialscope.similar.vectors import Vocabulary, unit_vectors
from trialscope.store import open_store


def _same(a: sparse.csr_matrix, b: sparse.csr_matrix) -> bool:
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


def test_vectors_made_part_by_part_are_those_of_the_whole_matrix(
    full_store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(full_store_path, readonly=True)
    rows = store.select("trials", ("id", "nct_id", "content_hash"), order_by=("id",))
    monkeypatch.setattr(extract_module, "EXTRACT_CHUNK", 37)  # many parts, each narrower than the last
    vocab = Vocabulary()
    extracted, parts = extract_parts(store, rows, vocab, learn_thesaurus(store))
    assert len(parts) > 3 and len(extracted.nct_ids) == len(rows) == len(extracted.dups)
    assert parts[0].shape[1] < len(vocab)  # the first part was made before the vocabulary grew
    whole = stack_parts(parts, len(vocab))
    at_once = Vocabulary(keys=vocab.keys, ids=vocab.ids, blocks=vocab.blocks)
    at_once.count_documents(whole)
    vocab.count_parts(parts)
    assert vocab.n_docs == at_once.n_docs == len(rows)
    assert np.array_equal(vocab.df, at_once.df) and np.array_equal(vocab.idf, at_once.idf)
    expected = unit_vectors(whole, at_once)
    assert _same(vectorize(parts, vocab), expected)
    on_disk = SpilledParts()
    for part in parts:
        on_disk.append(part)
    assert len(on_disk) == len(parts)
    assert _same(vectorize(on_disk, vocab), expected)
    on_disk.close()
    store.close()


def test_champion_index_keeps_each_features_strongest_trials() -> None:
    rng = np.random.default_rng(7)
    x = sparse.random(300, 40, density=0.2, format="csr", dtype=np.float32, random_state=3)
    skip = rng.random(40) < 0.2
    got = champion_index(x, 5, skip).toarray()
    dense = x.toarray()
    for col in range(40):
        values = dense[:, col]
        if skip[col]:
            expected = np.zeros_like(values)
        else:
            strongest = np.argsort(-values, kind="stable")[:5]
            expected = np.zeros_like(values)
            expected[strongest] = values[strongest]
        assert np.array_equal(got[col], expected)


def test_segment_rows_are_the_same_whatever_the_slice(
    full_store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(full_store_path, readonly=True)
    trials = store.trials_by_id(store.trial_ids()[:200], results=False)
    store.close()

    def rows() -> list[tuple[str, int, list[int], list[int], list[int], list[int]]]:
        builder = SegmentBuilder()
        for trial_id in sorted(trials):
            builder.add(trial_id, field_texts(trials[trial_id]))
        out = []
        for term, n, postings, positions in builder.build():
            entries = decode_postings(postings)
            where = decode_positions(positions, entries.counts)
            out.append(
                (
                    term,
                    n,
                    entries.docs.tolist(),
                    entries.fields.tolist(),
                    entries.counts.tolist(),
                    where.tolist(),
                )
            )
        return out

    whole = rows()
    monkeypatch.setattr(postings_module, "SLICE_TOKENS", 50)  # many slices; long terms alone in theirs
    assert rows() == whole
    assert [r[0] for r in whole] == sorted(r[0] for r in whole)
    assert len(whole) > 1000


def test_a_full_build_apart_writes_what_one_in_process_writes(
    full_store_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from trialscope.search import SEARCH_INDEX
    from trialscope.similar import SIMILAR_INDEX
    from trialscope.store import refresh_indexes

    paths = [tmp_path / "here.db", tmp_path / "apart.db"]
    for path in paths:
        shutil.copy(full_store_path, path)
    here = open_store(paths[0])
    refresh_indexes(here, [SEARCH_INDEX, SIMILAR_INDEX], full=True)
    monkeypatch.setattr("trialscope.store.derived.APART_FROM", 1)

    def not_here(*args: object) -> str:
        raise AssertionError("a full build ran in the parent process")

    # The spawned child imports the modules afresh: only a build in this process would see this.
    monkeypatch.setattr(type(SEARCH_INDEX), "refresh", not_here)
    SIMILAR_INDEX.last = None
    seen: list[tuple[str, int, int]] = []

    def progress(name: str):  # type: ignore[no-untyped-def]
        return lambda done, total: seen.append((name, done, total))

    apart = open_store(paths[1])
    done = refresh_indexes(apart, [SEARCH_INDEX, SIMILAR_INDEX], full=True, progress=progress)
    trials = here.count()
    assert [r.changed for r in done] == [trials, trials]
    assert SIMILAR_INDEX.last is not None and SIMILAR_INDEX.last.trials == trials  # came back from the child
    assert ("search", trials, trials) in seen  # progress came back too
    for table, order in (("search_facts", "id"), ("text_terms", "term"), ("similar_trials", "trial_id")):
        columns = ("id", "text_seg") if table == "search_facts" else ("term", "docs", "postings")
        if table == "similar_trials":
            columns = ("trial_id", "neighbours", "floor", "facts")
        assert here.select(table, columns, order_by=(order,)) == apart.select(
            table, columns, order_by=(order,)
        )
    here.close()
    apart.close()


def test_champion_index_made_band_by_band_with_weights_is_that_of_the_weighted_matrix() -> None:
    x = sparse.random(400, 60, density=0.15, format="csr", dtype=np.float32, random_state=11)
    scale = np.linspace(0.1, 1.0, 60, dtype=np.float32)
    skip = np.zeros(60, dtype=bool)
    skip[[3, 17, 40]] = True
    whole = sparse.csr_matrix((x.data * scale[x.indices], x.indices, x.indptr), shape=x.shape)
    expected = champion_index(whole, 7, skip, band_entries=10**9)
    got = champion_index(x, 7, skip, scale=scale, band_entries=50)  # dozens of bands
    assert _same(got, expected)
    assert got.nnz == sum(
        min(int(n), 7) for i, n in enumerate(np.bincount(x.indices, minlength=60)) if not skip[i]
    )


def test_neighbours_of_weighted_rows_are_those_of_the_weighted_matrix() -> None:
    from trialscope.similar.neighbours import top_neighbours

    rng = np.random.default_rng(5)
    x = sparse.random(600, 80, density=0.08, format="csr", dtype=np.float32, random_state=rng)
    scale = rng.uniform(0.2, 1.0, 80).astype(np.float32)
    whole = sparse.csr_matrix((x.data * scale[x.indices], x.indices, x.indptr), shape=x.shape)
    dup = np.full(600, -1)
    dup[:10] = 1  # rows of one duplicate group never list each other
    expected = top_neighbours(whole, dup, k=8, champions=30, workers=1)
    got = top_neighbours(x, dup, k=8, champions=30, scale=scale, workers=1)
    assert np.array_equal(got.rows, expected.rows) and np.array_equal(got.scores, expected.scores)
    assert not np.isin(got.rows[:10], np.arange(10)).any()
