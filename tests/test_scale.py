"""At a larger scale (slow: ``scripts/test.sh -m slow``): a synthetic corpus of 20,000 trials
made from the real records, ingested as a zip, searched with both engines, and ranked with
BM25 from the index's instances that equals FTS5's own."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from trialscope.ingest import ingest_paths
from trialscope.search import SearchQuery, refresh_search_index, search_trials
from trialscope.search.index import load_synonyms
from trialscope.search.scoring import bm25_scores, match_ids
from trialscope.search.sql import bm25_sql, compile_text
from trialscope.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from synth import load_real_studies, synthesize

pytestmark = pytest.mark.slow
N = 20_000


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> object:
    folder = tmp_path_factory.mktemp("scale")
    corpus = folder / "synthetic.zip"
    with zipfile.ZipFile(corpus, "w", zipfile.ZIP_DEFLATED) as out:
        for study in synthesize(load_real_studies(), N):
            nct_id = study["protocolSection"]["identificationModule"]["nctId"]
            out.writestr(f"{nct_id}.json", json.dumps(study))
    store = open_store(folder / "big.db")
    summary = ingest_paths(store, [corpus], progress=False)
    assert summary.stored == N and not summary.rejected
    refresh_search_index(store)
    return store


@pytest.mark.parametrize(
    "text",
    [
        "cancer",
        "breast cancer",
        '"stem cells"',
        "diabetes OR obesity",
        "COPD",
        "lupus -placebo",
        "title:pain",
    ],
)
def test_scores_and_matches_equal_fts5_at_scale(big_store: object, text: str) -> None:
    conn = big_store.conn  # type: ignore[attr-defined]
    match = compile_text(SearchQuery(text=text), load_synonyms(conn)).match
    assert match is not None
    rows = conn.execute(
        f"SELECT rowid, -{bm25_sql()} FROM trials_fts WHERE trials_fts MATCH ? ORDER BY rowid", [match]
    ).fetchall()
    assert rows, f"{text!r} matches something in {N:,} trials"
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    got = bm25_scores(conn, match, ids)
    assert got is not None
    assert got.tolist() == [r[1] for r in rows]
    assert match_ids(conn, match).tolist() == ids.tolist()  # type: ignore[union-attr]


def test_both_engines_agree_at_scale(big_store: object) -> None:
    query = SearchQuery(
        text="cancer", phases=("PHASE2",), facets=("status", "phase", "country", "start_year"), limit=50
    )
    a = search_trials(big_store, query, engine="columns")
    b = search_trials(big_store, query, engine="sql")
    assert a.total == b.total > 0
    assert [h.nct_id for h in a.hits] == [h.nct_id for h in b.hits]
    assert a.facets == b.facets
