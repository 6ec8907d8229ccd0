"""At a larger scale (slow: ``scripts/test.sh -m slow``): a synthetic corpus of 20,000 trials
made from the real records, ingested as a zip, indexed in worker processes, matching what
SQLite FTS5 matches in the same texts; then its segments merged without changing a result."""

from __future__ import annotations

import json
import sqlite3
import sys
import zipfile
from pathlib import Path

import pytest

from trialscope.ingest import ingest_paths
from trialscope.search import SEARCH_INDEX, SearchQuery, search_trials
from trialscope.search.document import FIELDS, field_texts
from trialscope.search.segments import live_segments, merge_segments
from trialscope.store import open_store, refresh_indexes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from synth import load_real_studies, synthesize

pytestmark = pytest.mark.slow
N = 20_000
QUERIES = [
    ("cancer", '"cancer"'),
    ("breast cancer", '"breast" AND "cancer"'),
    ('"stem cells"', '"stem cells"'),
    ("diabetes OR obesity", '"diabetes" OR "obesity"'),
    ("lupus -placebo", '"lupus" NOT "placebo"'),
    ("title:pain", '(title : "pain")'),
]


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
    refresh_indexes(store, [SEARCH_INDEX])  # 20,000 changed trials: built in worker processes
    return store


@pytest.fixture(scope="module")
def fts5(big_store: object) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        f"CREATE VIRTUAL TABLE t USING fts5({', '.join(FIELDS)}, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    trials = big_store.trials_by_id(big_store.trial_ids())  # type: ignore[attr-defined]
    conn.executemany(
        f"INSERT INTO t(rowid, {', '.join(FIELDS)}) VALUES (?{', ?' * len(FIELDS)})",
        [(i, *field_texts(t)) for i, t in trials.items()],
    )
    return conn


def _ranked(store: object, text: str) -> list[tuple[int, float]]:
    hits = search_trials(store, SearchQuery(text=text, limit=1000), use_synonyms=False).hits  # type: ignore[arg-type]
    ids = store.ids_of([h.nct_id for h in hits])  # type: ignore[attr-defined]
    return [(ids[h.nct_id], h.score) for h in hits]


@pytest.mark.parametrize(("text", "match"), QUERIES)
def test_matches_are_those_of_fts5_at_scale(
    big_store: object, fts5: sqlite3.Connection, text: str, match: str
) -> None:
    theirs = {r for (r,) in fts5.execute("SELECT rowid FROM t WHERE t MATCH ?", [match])}
    assert theirs, f"{text!r} matches something in {N:,} trials"
    assert search_trials(big_store, SearchQuery(text=text), use_synonyms=False).total == len(theirs)  # type: ignore[arg-type]
    ranked = _ranked(big_store, text)
    assert {trial_id for trial_id, _ in ranked} <= theirs
    assert [score for _, score in ranked] == sorted((score for _, score in ranked), reverse=True)


def test_merging_segments_changes_no_result(big_store: object) -> None:
    before = {text: _ranked(big_store, text) for text, _ in QUERIES}
    segments = sorted(live_segments(big_store))  # type: ignore[arg-type]
    assert len(segments) >= 2  # 20,000 trials were indexed in several batches
    merge_segments(big_store, segments)  # type: ignore[arg-type]
    assert len(live_segments(big_store)) == 1  # type: ignore[arg-type]
    assert {text: _ranked(big_store, text) for text, _ in QUERIES} == before
