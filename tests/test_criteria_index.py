"""Typed criteria as a derived index: written at refresh, kept current, never read stale."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest
from test_criteria import MCODE, snapshot_trials

from trialscope.criteria import typed_criteria
from trialscope.criteria.index import (
    CRITERIA_INDEX,
    TABLE,
    criteria_by_nct_id,
    criteria_of,
    decode_criteria,
    encode_criteria,
)
from trialscope.ctgov.parse import parse_study
from trialscope.indexes import DERIVED_INDEXES, refresh_all
from trialscope.model import DateStruct, Eligibility, Trial
from trialscope.store import StoredRecord, is_current, open_store, refresh_indexes

PALLAS = "NCT02513394"


def real_trials(n: int = 12) -> list[Trial]:
    """The mCODE record and some snapshot trials that have criteria text."""
    with_criteria = [t for t in snapshot_trials().values() if t.eligibility.criteria][:n]
    return [parse_study(orjson.loads(MCODE.read_bytes())), *with_criteria]


def stored_rows(store) -> dict[int, tuple]:  # type: ignore[no-untyped-def]
    return {i: decode_criteria(b) for i, b in store.select(TABLE, ("trial_id", "criteria"))}


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = open_store(tmp_path / "trials.db")
    s.upsert_trials(StoredRecord(t, b"{}") for t in real_trials())
    yield s
    s.close()


def test_the_index_is_one_of_the_derived_indexes_and_types_every_trial(store) -> None:  # type: ignore[no-untyped-def]
    assert CRITERIA_INDEX in DERIVED_INDEXES
    done = refresh_indexes(store, [CRITERIA_INDEX])
    assert [d.line for d in done] == [f"criteria: {store.count():,} trials typed"]
    assert is_current(store, CRITERIA_INDEX)
    rows = stored_rows(store)
    trials = store.trials_by_id(store.trial_ids(), results=False)
    assert sorted(rows) == sorted(trials)
    for trial_id, trial in trials.items():
        assert rows[trial_id] == typed_criteria(trial)
    pallas = criteria_by_nct_id(store, [PALLAS, "NCT99999999"])
    assert list(pallas) == [PALLAS]
    assert any(c.type == "lab" and c.variable == "anc" for c in pallas[PALLAS])


def test_an_upsert_is_typed_on_the_fly_until_the_refresh_writes_it(store) -> None:  # type: ignore[no-untyped-def]
    refresh_all(store, names=["criteria"])
    pallas = store.get_trial(PALLAS)
    trial_id = store.ids_of([PALLAS])[PALLAS]
    newer = dataclasses.replace(
        pallas,
        last_update_post_date=DateStruct("2099-01-01"),
        eligibility=dataclasses.replace(pallas.eligibility, criteria="Inclusion Criteria:\n\n* ECOG 0-2"),
    )
    store.upsert_trials([StoredRecord(newer, b"{}")])
    assert not is_current(store, CRITERIA_INDEX)
    assert "ECOG 0–2" not in [c.label for c in stored_rows(store)[trial_id]]
    # Read before the refresh: the new record's criteria, never the stored ones.
    assert [c.label for c in criteria_of(store, [trial_id])[trial_id] if c.source == "text"] == ["ECOG 0–2"]
    assert [d.changed for d in refresh_all(store, names=["criteria"])] == [1]
    assert [c.label for c in stored_rows(store)[trial_id] if c.source == "text"] == ["ECOG 0–2"]


def test_a_removed_trial_leaves_the_index(store) -> None:  # type: ignore[no-untyped-def]
    refresh_all(store, names=["criteria"])
    trial_id = store.ids_of([PALLAS])[PALLAS]
    assert store.remove_trials([PALLAS]) == 1
    assert criteria_of(store, [trial_id]) == {}
    refresh_all(store, names=["criteria"])
    assert trial_id not in stored_rows(store)
    assert len(stored_rows(store)) == store.count()


def test_another_vocabulary_version_is_not_read_and_is_rebuilt(store) -> None:  # type: ignore[no-untyped-def]
    refresh_all(store, names=["criteria"])
    trial_id = store.ids_of([PALLAS])[PALLAS]
    # What a store typed by another catalogue looks like: another version, other rows.
    stale = (dataclasses.replace(typed_criteria(Trial(nct_id=PALLAS, eligibility=Eligibility(
        criteria="Inclusion Criteria:\n* Pregnant")))[0]),)  # fmt: skip
    store.insert(TABLE, [(trial_id, encode_criteria(stale))], replace=True)
    store.set_derived_state("criteria", "0.old-vocabulary", store.last_change())
    assert not is_current(store, CRITERIA_INDEX)
    assert criteria_of(store, [trial_id])[trial_id] == typed_criteria(store.get_trial(PALLAS))
    done = refresh_all(store, names=["criteria"])
    assert [d.full for d in done] == [True]
    assert stored_rows(store)[trial_id] == typed_criteria(store.get_trial(PALLAS))


def test_a_read_only_store_without_the_table_types_on_the_fly(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    writer = open_store(path)
    writer.upsert_trials(StoredRecord(t, b"{}") for t in real_trials(2))
    writer.conn.execute(f"DROP TABLE {TABLE}")  # a store made before the table existed
    writer.close()
    reader = open_store(path, readonly=True)
    ids = reader.trial_ids()
    typed = criteria_of(reader, ids)
    assert sorted(typed) == ids and all(
        typed[i] == typed_criteria(t) for i, t in reader.trials_by_id(ids).items()
    )


def test_worker_processes_type_a_large_change_the_same(store, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import trialscope.criteria.index as index_module

    refresh_all(store, names=["criteria"])
    alone = stored_rows(store)
    monkeypatch.setattr(index_module, "PARALLEL_FROM", 2)  # as for a large ingest: batches built in workers
    monkeypatch.setattr(index_module, "BATCH", 3)
    done = refresh_all(store, names=["criteria"], full=True)
    assert [d.changed for d in done] == [store.count()]
    assert stored_rows(store) == alone


def test_a_large_batch_trains_the_criteria_dictionary_and_every_row_reads_back(tmp_path: Path) -> None:
    """The first batch of 500 or more typed trials trains the store's criteria dictionary
    (kept in blob_dicts beside the records' two); each row is a zstd frame naming it, smaller
    than the same criteria compressed alone, and reads back as typed."""
    from trialscope.store.blobs import MIN_SAMPLES, compress, decompress

    trials = [t for t in snapshot_trials().values() if t.eligibility.criteria]
    assert len(trials) >= MIN_SAMPLES  # the shared snapshots hold enough to train on
    s = open_store(tmp_path / "many.db")
    try:
        s.upsert_trials(StoredRecord(t, orjson.dumps({"nct": t.nct_id})) for t in trials)
        refresh_indexes(s, [CRITERIA_INDEX])
        assert {kind for (kind,) in s.select("blob_dicts", ("kind",))} >= {"criteria"}
        blobs = {i: bytes(b) for i, b in s.select(TABLE, ("trial_id", "criteria"))}
        assert all(b[:4] == b"\x28\xb5\x2f\xfd" for b in blobs.values())
        assert sum(map(len, blobs.values())) < 0.8 * sum(len(compress(decompress(b))) for b in blobs.values())
        stored = s.trials_by_id(blobs, results=False)
        assert all(decode_criteria(blobs[i]) == typed_criteria(stored[i]) for i in list(blobs)[:50])
    finally:
        s.close()
