"""BM25 computed from the index's instances equals FTS5's own bm25(), bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest_search import *
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialscope.search import SearchQuery
from trialscope.search.index import load_synonyms
from trialscope.search.scoring import (
    bm25_scores,
    clear_scoring_cache,
    match_ids,
    phrases_of,
    wait_for_postings,
)
from trialscope.search.sql import bm25_sql, compile_text

# Words of every kind: common and rare, multi-token, abbreviations with synonyms, stop-word-like.
WORDS = [
    "lupus", "cancer", "breast", "stem", "cells", "mesenchymal", "SLE", "COPD", "covid-19",
    "pd-1", "of", "the", "placebo", "children", "exercise", "insulin", "NSCLC", "pregnancy",
    "astrocytoma", "anaplastic", "vaccine", "sclerosis", "T2DM", "pain",
]  # fmt: skip
FIELDS = ["", "", "", "condition:", "title:", "intervention:", "eligibility:", "sponsor:"]


def fts5_scores(conn: object, match: str) -> tuple[np.ndarray, np.ndarray]:
    rows = conn.execute(  # type: ignore[attr-defined]
        f"SELECT rowid, -{bm25_sql()} FROM trials_fts WHERE trials_fts MATCH ? ORDER BY rowid", [match]
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.float64)


def _text(parts: list[tuple[str, str, str]], joiner: str) -> str:
    """Search text from (field prefix, word, second word) parts: a phrase when there is a second word."""
    return joiner.join(f'{field}"{a} {b}"' if b else f"{field}{a}" for field, a, b in parts)


texts = st.builds(
    _text,
    st.lists(
        st.tuples(st.sampled_from(FIELDS), st.sampled_from(WORDS), st.sampled_from(["", "", "", *WORDS])),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([" ", " OR ", " -"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts)
def test_scores_equal_fts5_bm25(search_store: object, text: str) -> None:
    conn = search_store.conn  # type: ignore[attr-defined]
    match = compile_text(SearchQuery(text=text), load_synonyms(conn)).match
    assert match is not None
    ids, expected = fts5_scores(conn, match)
    got = bm25_scores(conn, match, ids)
    assert got is not None, match
    assert got.tolist() == expected.tolist(), match


def test_phrases_columns_and_prefixes() -> None:
    match = compile_text(SearchQuery(text='condition:"lupus nephritis" -placebo stem*')).match
    assert match is not None
    assert phrases_of(match) is None  # a prefix phrase is left to FTS5
    phrases = phrases_of(compile_text(SearchQuery(text='condition:"lupus nephritis" -placebo')).match or "")
    assert phrases is not None
    assert [(p.tokens, p.columns) for p in phrases] == [(("lupus", "nephritis"), (1, 4)), (("placebo",), ())]


def test_a_subset_of_hits_gets_the_same_scores_and_order(search_store: object) -> None:
    conn = search_store.conn  # type: ignore[attr-defined]
    ids, expected = fts5_scores(conn, '"cancer"')
    assert ids.size > 100
    some = ids[::7]
    got = bm25_scores(conn, '"cancer"', some)
    assert got is not None
    assert got.tolist() == expected[::7].tolist()


def test_an_expensive_uncached_phrase_is_left_to_fts5_and_read_in_the_background(
    search_store: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = search_store.conn  # type: ignore[attr-defined]
    monkeypatch.setenv("TRIALSCOPE_CACHE_DIR", str(tmp_path))  # nothing read before, on disk either
    clear_scoring_cache()
    ids, expected = fts5_scores(conn, '"the"')
    assert bm25_scores(conn, '"the"', ids[:5], budget=10) is None
    assert wait_for_postings(timeout=60)
    got = bm25_scores(conn, '"the"', ids[:5], budget=10)  # cached now: no cost
    assert got is not None
    assert got.tolist() == expected[:5].tolist()


def test_scores_follow_new_content(tmp_path: Path) -> None:
    """A store that changes is scored on its new content, not on a cached past."""
    from trialscope.ingest import ingest_paths
    from trialscope.search import scoring
    from trialscope.store import open_store

    shared = Path(__file__).resolve().parents[2] / "shared"
    store = open_store(tmp_path / "t.db")
    ingest_paths(store, [shared / "seed" / "NCT04184258.json"], progress=False)
    ids, expected = fts5_scores(store.conn, '"lupus"')
    assert bm25_scores(store.conn, '"lupus"', ids).tolist() == expected.tolist()  # type: ignore[union-attr]
    before = scoring._index_for(store.conn)
    assert before is not None and before.disk is not None and any(before.disk.iterdir())
    xml = sorted((shared / "data" / "ctgov").rglob("*.xml"))[:40]
    assert xml, "the shared data has legacy XML records"
    ingest_paths(store, xml, progress=False)
    ids2, expected2 = fts5_scores(store.conn, '"lupus"')
    got = bm25_scores(store.conn, '"lupus"', ids2)
    assert got is not None
    assert got.tolist() == expected2.tolist()
    assert expected2[ids2 == ids[0]].tolist() != expected.tolist()  # the idf and lengths moved
    after = scoring._index_for(store.conn)
    assert after is not None and after.disk is not None
    assert after.disk != before.disk and not before.disk.exists()  # the old version's postings are gone
    store.close()


@pytest.mark.parametrize("text", ["SLE", "COPD nephritis", "title:(asthma OR copd)"])
def test_synonym_expansions_score_exactly(search_store: object, text: str) -> None:
    conn = search_store.conn  # type: ignore[attr-defined]
    match = compile_text(SearchQuery(text=text), load_synonyms(conn)).match
    assert match is not None and " : " in match
    ids, expected = fts5_scores(conn, match)
    assert bm25_scores(conn, match, ids).tolist() == expected.tolist()  # type: ignore[union-attr]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts)
def test_cached_phrases_select_what_fts5_matches(search_store: object, text: str) -> None:
    conn = search_store.conn  # type: ignore[attr-defined]
    match = compile_text(SearchQuery(text=text), load_synonyms(conn)).match
    assert match is not None
    ids, _ = fts5_scores(conn, match)
    assert bm25_scores(conn, match, ids) is not None  # reads and caches every phrase
    got = match_ids(conn, match)
    assert got is not None, match
    assert got.tolist() == ids.tolist(), match


def test_an_uncached_phrase_leaves_the_match_to_fts5(
    search_store: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIALSCOPE_CACHE_DIR", str(tmp_path))  # nothing read before, on disk either
    clear_scoring_cache()
    assert match_ids(search_store.conn, '"lupus" NOT ("placebo")') is None  # type: ignore[attr-defined]


def test_postings_read_once_are_shared_through_the_disk(
    search_store: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process (here: this one with its memory cleared) finds read postings on disk."""
    from trialscope.search import scoring

    conn = search_store.conn  # type: ignore[attr-defined]
    ids, expected = fts5_scores(conn, '"stem" AND "cells"')
    clear_scoring_cache()
    assert bm25_scores(conn, '"stem" AND "cells"', ids) is not None

    def no_reading(*args: object) -> None:
        raise AssertionError("read the index again")

    monkeypatch.setattr(scoring, "_postings", no_reading)
    clear_scoring_cache()
    assert scoring.warm_scoring(conn) >= 2
    assert bm25_scores(conn, '"stem" AND "cells"', ids).tolist() == expected.tolist()  # type: ignore[union-attr]
    assert match_ids(conn, '"stem" AND "cells"').tolist() == ids.tolist()  # type: ignore[union-attr]


def test_a_damaged_disk_cache_is_read_again(search_store: object) -> None:
    from trialscope.search import scoring

    conn = search_store.conn  # type: ignore[attr-defined]
    ids, expected = fts5_scores(conn, '"vaccine"')
    clear_scoring_cache()
    bm25_scores(conn, '"vaccine"', ids)
    index = scoring._index_for(conn)
    assert index is not None and index.disk is not None
    for part in index.disk.glob("*.rows.npy"):
        part.write_bytes(b"not an array")
    clear_scoring_cache()
    assert bm25_scores(conn, '"vaccine"', ids).tolist() == expected.tolist()  # type: ignore[union-attr]


def test_phrases_read_before_a_store_change_are_read_again_after_it(tmp_path: Path) -> None:
    """A server that sees the store change (a sync) reads its words' postings again in the
    background, so the searches after the sync are not all cold."""
    from trialscope.ingest import ingest_paths
    from trialscope.search import scoring
    from trialscope.store import open_store

    shared = Path(__file__).resolve().parents[2] / "shared"
    store = open_store(tmp_path / "t.db")
    ingest_paths(store, [shared / "seed" / "NCT04184258.json"], progress=False)
    for match in ('"lupus"', '"stem" AND "cells"'):
        ids, _ = fts5_scores(store.conn, match)
        assert bm25_scores(store.conn, match, ids) is not None
    before = scoring._index_for(store.conn)
    assert before is not None and before.disk is not None
    ingest_paths(store, sorted((shared / "data" / "ctgov").rglob("*.xml"))[:40], progress=False)

    after = scoring._index_for(store.conn)  # notices the change, asks for the wanted phrases
    assert after is not None and after.disk is not None and after is not before
    assert wait_for_postings(timeout=60)
    assert not list(after.disk.glob("*.want"))
    assert len(list(after.disk.glob("*.key"))) == 3  # lupus, stem, cells
    key = ((scoring._stems(store.conn, after, ("lupus",)) or ("",))[0],)
    assert scoring._cached(after, (key, ())) is not None
    ids, expected = fts5_scores(store.conn, '"lupus"')
    assert bm25_scores(store.conn, '"lupus"', ids, budget=0).tolist() == expected.tolist()  # type: ignore[union-attr]
    store.close()
