"""The search index search owns: postings round trips, BM25 against SQLite FTS5's own, and a
store refreshed piece by piece (new, replaced and removed trials, merged segments, an
interrupted refresh) searching exactly like one indexed in one go."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest_search import *
from conftest_search import CTGOV, SEED
from hypothesis import given, settings
from hypothesis import strategies as st

from trialscope.ingest import ingest_paths
from trialscope.model import DateStruct
from trialscope.search import SEARCH_INDEX, SearchQuery, search_reader, search_trials
from trialscope.search import segments as segments_module
from trialscope.search.document import FIELDS, field_texts
from trialscope.search.postings import SegmentBuilder, decode_positions, decode_postings, encode_postings
from trialscope.store import StoredRecord, open_store, refresh_indexes

# --- postings -------------------------------------------------------------------------

entries = st.lists(
    st.tuples(st.integers(1, 2_000_000), st.integers(0, 9), st.integers(1, 70_000)),
    max_size=60,
    unique_by=lambda e: e[:2],
)


@settings(max_examples=200, deadline=None)
@given(entries)
def test_postings_round_trip(rows: list[tuple[int, int, int]]) -> None:
    rows.sort()
    docs = np.array([r[0] for r in rows], np.int64)
    fields = np.array([r[1] for r in rows], np.uint8)
    counts = np.array([r[2] for r in rows], np.int64)
    got = decode_postings(encode_postings(docs, fields, counts))
    assert got.docs.tolist() == docs.tolist()
    assert got.fields.tolist() == fields.tolist()
    assert got.counts.tolist() == counts.tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["lupus", "stem", "cells", "the", "Sjögren's", "10"]), max_size=30),
        min_size=1,
        max_size=10,
    )
)
def test_segment_positions_are_where_the_words_stand(docs: list[list[str]]) -> None:
    from trialscope.analyze import terms

    builder = SegmentBuilder()
    texts = {i + 1: " ".join(words) for i, words in enumerate(docs)}
    for trial_id, text in texts.items():
        builder.add(trial_id, ("", "", "", "", "", text, "", "", "", ""))
    for term, trials, postings, positions in builder.build():
        got = decode_postings(postings)
        where = decode_positions(positions, got.counts).tolist()
        expected = [
            (trial_id, i) for trial_id, text in texts.items() for i, t in enumerate(terms(text)) if t == term
        ]
        assert list(zip(np.repeat(got.docs, got.counts).tolist(), where, strict=True)) == expected
        assert trials == len({d for d, _ in expected})
        assert set(got.fields.tolist()) == {FIELDS.index("summary")}


# --- matches against SQLite FTS5 -------------------------------------------------------

QUERIES = [
    ("cancer", '"cancer"'),
    ("breast cancer", '"breast" AND "cancer"'),
    ('"stem cells"', '"stem cells"'),
    ("lupus OR asthma", '"lupus" OR "asthma"'),
    ("title:pain", '(title : "pain")'),
    ("diabetes -insulin", '"diabetes" NOT "insulin"'),
    ('condition:"heart failure"', '({conditions mesh} : "heart failure")'),
]


def test_matches_are_those_of_sqlite_fts5_on_the_same_texts(search_store: object) -> None:
    """The trials search finds from its own postings are the ones SQLite's FTS5 finds in the
    same field texts (an independent index with the same tokenizer and stemmer family)."""
    store = search_store
    trials = store.trials_by_id(store.trial_ids())  # type: ignore[attr-defined]
    conn = sqlite3.connect(":memory:")
    conn.execute(
        f"CREATE VIRTUAL TABLE t USING fts5({', '.join(FIELDS)}, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.executemany(
        f"INSERT INTO t(rowid, {', '.join(FIELDS)}) VALUES (?{', ?' * len(FIELDS)})",
        [(i, *field_texts(t)) for i, t in trials.items()],
    )
    for text, match in QUERIES:
        theirs = {r for (r,) in conn.execute("SELECT rowid FROM t WHERE t MATCH ?", [match])}
        got = search_trials(store, SearchQuery(text=text, limit=1000), use_synonyms=False)  # type: ignore[arg-type]
        ids = store.ids_of([h.nct_id for h in got.hits])  # type: ignore[attr-defined]
        assert got.total == len(theirs), text
        assert {ids[h.nct_id] for h in got.hits} <= theirs, text


def test_a_long_text_cannot_win_by_length(tmp_path: Path) -> None:
    """A trial whose 4 MB criteria repeat a word ranks below one whose title and conditions name it."""
    import orjson

    store = open_store(tmp_path / "t.db")
    ingest_paths(store, [SEED], progress=False)
    study = orjson.loads(SEED.read_bytes())
    study["protocolSection"]["identificationModule"]["nctId"] = "NCT00000009"
    study["protocolSection"]["identificationModule"]["briefTitle"] = "A study of something else"
    study["protocolSection"]["identificationModule"]["officialTitle"] = "Something else"
    study["protocolSection"]["conditionsModule"] = {"conditions": ["Gout"]}
    study["derivedSection"] = {}
    study["protocolSection"]["descriptionModule"] = {"briefSummary": "Gout."}
    study["protocolSection"]["eligibilityModule"]["eligibilityCriteria"] = (
        "Inclusion Criteria:\n\n* " + "lupus " * 700_000
    )
    path = tmp_path / "stuffed.json"
    path.write_bytes(orjson.dumps(study))
    ingest_paths(store, [path], progress=False)
    refresh_indexes(store, [SEARCH_INDEX])
    hits = search_trials(store, SearchQuery(text="lupus")).hits
    assert [h.nct_id for h in hits] == ["NCT04184258", "NCT00000009"]


def test_words_only_in_exclusion_criteria_rank_below_trials_about_them(search_store: object) -> None:
    from trialscope.analyze import terms

    hits = search_trials(search_store, SearchQuery(text="breast cancer", limit=1000)).hits  # type: ignore[arg-type]
    trials = search_store.get_trials([h.nct_id for h in hits], results=False)  # type: ignore[attr-defined]

    def where(nct_id: str, words: set[str]) -> set[str]:
        texts = field_texts(trials[nct_id])
        return {f for f, text in zip(FIELDS, texts, strict=True) if words & set(terms(text))}

    about = [
        i for i, h in enumerate(hits) if where(h.nct_id, {"breast"}) & where(h.nct_id, {"cancer"}) & {"title"}
    ]
    excluding = [i for i, h in enumerate(hits) if where(h.nct_id, {"breast", "cancer"}) == {"exclusion"}]
    assert about and excluding and max(about) < min(excluding)


# --- refreshing piece by piece ------------------------------------------------------------

PROBES = [
    SearchQuery(text="lupus", limit=50, facets=("status", "phase", "country")),
    SearchQuery(text='"stem cells" -placebo', limit=50, sort="enrollment"),
    SearchQuery(text="cancer OR tumour", statuses=("recruiting",), limit=50),
    SearchQuery(text="immun*", limit=50),
    SearchQuery(conditions=("Neoplasms",), limit=50, facets=("start_year",), sort="enrollment"),
    SearchQuery(text="zebrafish", limit=50),
]


def _answers(store: object) -> list[tuple[object, ...]]:
    out = []
    for query in PROBES:
        r = search_trials(store, query)  # type: ignore[arg-type]
        out.append((r.total, [(h.nct_id, h.score, h.title) for h in r.hits], r.facets))
    return out


def test_an_index_refreshed_piece_by_piece_searches_like_one_built_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path
    files = sorted(
        p for p in (CTGOV / "v2_json").rglob("*") if p.is_file() and p.suffix in {".json", ".jsonl"}
    )
    thirds = [files[i::3] for i in range(3)]
    monkeypatch.setattr(segments_module, "MERGE_FACTOR", 2)  # merge often
    monkeypatch.setattr("trialscope.search.index.SEGMENT_TRIALS", 400)
    grown = open_store(folder / "grown.db")
    ingest_paths(grown, [SEED], progress=False)
    for part in thirds:
        ingest_paths(grown, part, progress=False)
        refresh_indexes(grown, [SEARCH_INDEX])
    # A newer version of the seed (new words), and a trial removed.
    seed = grown.get_trial("NCT04184258")
    newer = dataclasses.replace(seed, brief_title="Zebrafish stem cells for lupus",
                                last_update_post_date=DateStruct("2031-01-01", "ACTUAL"))  # fmt: skip
    grown.upsert_trials([StoredRecord(newer, b"{}")])
    lupus = search_trials(grown, SearchQuery(text="lupus", limit=5)).hits
    gone = next(h.nct_id for h in lupus if h.nct_id != "NCT04184258")
    grown.remove_trials([gone])
    refresh_indexes(grown, [SEARCH_INDEX])
    live = segments_module.live_segments(grown)
    assert not segments_module.merges_due(live, 2)  # no tier holds two segments

    fresh = open_store(folder / "fresh.db")
    ingest_paths(fresh, [SEED], progress=False)
    ingest_paths(fresh, [p for part in thirds for p in part], progress=False)
    fresh.upsert_trials([StoredRecord(newer, b"{}")])
    fresh.remove_trials([gone])
    refresh_indexes(fresh, [SEARCH_INDEX])
    assert _answers(grown) == _answers(fresh)
    assert search_trials(grown, SearchQuery(text="zebrafish")).hits[0].nct_id == "NCT04184258"
    assert gone not in {h.nct_id for h in search_trials(grown, SearchQuery(text="lupus", limit=1000)).hits}


def test_an_interrupted_refresh_is_done_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(tmp_path / "t.db")
    ingest_paths(store, [SEED, CTGOV / "v2_json"], progress=False)
    refresh_indexes(store, [SEARCH_INDEX])
    before = _answers(store)
    shutil.copy(tmp_path / "t.db", tmp_path / "copy.db")
    # Every trial written again (newer), and the refresh killed after its first batch.
    trials = list(store.iter_trials())
    newer = [dataclasses.replace(t, last_update_post_date=DateStruct("2031-01-01")) for t in trials]
    store.upsert_trials(StoredRecord(t, b"{}") for t in newer)
    monkeypatch.setattr("trialscope.search.index.SEGMENT_TRIALS", 500)
    calls = {"n": 0}
    real = segments_module.next_segment

    def dying(s: object) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(s)  # type: ignore[arg-type]

    monkeypatch.setattr("trialscope.search.index.next_segment", dying)
    with pytest.raises(KeyboardInterrupt):
        refresh_indexes(store, [SEARCH_INDEX])
    monkeypatch.setattr("trialscope.search.index.next_segment", real)
    refresh_indexes(store, [SEARCH_INDEX])
    assert _answers(store) == before  # same texts: same answers, nothing doubled
    reader = search_reader(store)
    assert reader.n_docs == len(trials)


def test_postings_of_the_first_format_still_read() -> None:
    # Format 1 (stores built before the first trial id moved to the header): the first delta
    # is the id itself.
    import struct

    docs = np.array([70_000, 70_000, 70_010], np.uint32)
    deltas = np.diff(docs, prepend=0).astype(np.uint32)
    blob = struct.pack("<BBBBI", 1, 4, 1, 0, 3) + deltas.tobytes() + bytes([0, 2, 0]) + bytes([1, 2, 3])
    got = decode_postings(blob)
    assert got.docs.tolist() == [70_000, 70_000, 70_010]
    assert got.fields.tolist() == [0, 2, 0] and got.counts.tolist() == [1, 2, 3]
    # the same entries now: the deltas fit one byte each, whatever the ids
    now = encode_postings(docs.astype(np.int64), got.fields, got.counts)
    assert len(now) < len(blob) and decode_postings(now).docs.tolist() == got.docs.tolist()
