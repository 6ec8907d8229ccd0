"""The SQLite store: round trips, upsert rules, schema versions."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import orjson
import pytest
from conftest import CTGOV, SEED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialscope.ctgov.parse import parse_study
from trialscope.errors import SchemaVersionError, StoreError, TrialNotFoundError
from trialscope.model import DateStruct, Trial
from trialscope.store import StoredRecord, open_store

SEED_RAW = (SEED / "NCT04184258.json").read_bytes()


def seed_trial(**changes: object) -> Trial:
    return dataclasses.replace(parse_study(orjson.loads(SEED_RAW)), **changes)


def test_stored_trial_reads_back_equal(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    trial = seed_trial()
    store.upsert_trials([StoredRecord(trial, SEED_RAW, "seed.json")])
    assert store.get_trial("NCT04184258") == trial
    raw = store.get_raw("nct04184258")
    assert raw.raw == SEED_RAW and raw.source_file == "seed.json" and len(raw.content_hash) == 64


def test_same_or_older_record_is_skipped_newer_replaces(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    first = store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    again = store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    older = store.upsert_trials(
        [StoredRecord(seed_trial(brief_title="old", last_update_post_date=DateStruct("2020-01-01")), b"x")]
    )
    newer_trial = seed_trial(
        brief_title="new title", last_update_post_date=DateStruct("2022-05-01", "ACTUAL")
    )
    newer = store.upsert_trials([StoredRecord(newer_trial, b"y")])
    assert (first.inserted, again.skipped, older.skipped, newer.replaced) == (1, 1, 1, 1)
    assert store.get_trial("NCT04184258").brief_title == "new title"
    assert store.count() == 1
    # The replaced trial's old rows are gone from the child tables; the change log names it twice.
    assert store.conn.execute("SELECT count(*) FROM trial_conditions").fetchone()[0] == 1
    assert store.changes_since(0).changed == (1,) and store.last_change() == 2


def test_batch_of_new_replaced_and_unchanged_trials_keeps_ids_and_rows_together(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    a, b = seed_trial(), seed_trial(nct_id="NCT00000002", conditions=["Asthma"])
    store.upsert_trials([StoredRecord(a, SEED_RAW), StoredRecord(b, b"b")])
    newer_a = seed_trial(
        brief_title="zebrafish", conditions=["Gout", "Lupus"], last_update_post_date=DateStruct("2030-01-01")
    )
    c = seed_trial(nct_id="NCT00000003", conditions=["Croup"])
    stats = store.upsert_trials([StoredRecord(newer_a, b"a2"), StoredRecord(b, b"b"), StoredRecord(c, b"c")])
    assert (stats.inserted, stats.replaced, stats.skipped) == (1, 1, 1)
    ids = dict(store.conn.execute("SELECT nct_id, id FROM trials"))
    assert ids == {"NCT04184258": 1, "NCT00000002": 2, "NCT00000003": 3}  # a replaced trial keeps its id
    conditions = store.conn.execute("SELECT trial_id, name FROM trial_conditions ORDER BY 1, 2").fetchall()
    assert conditions == [(1, "Gout"), (1, "Lupus"), (2, "Asthma"), (3, "Croup")]
    assert sorted(stats.changed) == [1, 3]  # the unchanged one is not logged again
    assert store.changes_since(2).changed == (1, 3)
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert store.get_raw("NCT04184258").raw == b"a2"


def test_bulk_writes_checkpoint_in_the_background_and_then_restore_sqlite_default(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    with store.bulk_writes():
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
        store.upsert_trials([StoredRecord(seed_trial(nct_id="NCT00000002"), b"b")])
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    assert open_store(tmp_path / "t.db", readonly=True).count() == 2


def test_full_record_beats_summary_only_whatever_the_dates(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    summary = seed_trial(summary_only=True, last_update_post_date=DateStruct("2030-01-01"), brief_title="csv")
    store.upsert_trials([StoredRecord(summary, b"csv")])
    store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    assert store.get_trial("NCT04184258").summary_only is False
    stats = store.upsert_trials([StoredRecord(summary, b"csv")])
    assert stats.skipped == 1 and store.get_trial("NCT04184258").summary_only is False


def test_unknown_trial_is_a_clear_error(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    with pytest.raises(TrialNotFoundError, match="NCT99999999"):
        store.get_trial("NCT99999999")


def test_store_of_another_schema_version_refuses_to_open(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaVersionError, match="schema version 99"):
        open_store(path)


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        open_store(path)


def test_readonly_store_must_exist(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="trialscope ingest"):
        open_store(tmp_path / "missing.db", readonly=True)


def test_postgres_address_is_refused_clearly() -> None:
    with pytest.raises(StoreError, match="PostgreSQL"):
        open_store("postgresql://localhost/trials")


REAL_RECORDS = [
    orjson.loads(line)
    for line in (CTGOV / "v2_json/partrita__clinicaltrial-watch-tigit__snapshots.jsonl")
    .read_bytes()
    .splitlines()[:300]
    if b"protocolSection" in line
]

text = st.text(min_size=0, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    index=st.integers(min_value=0, max_value=len(REAL_RECORDS) - 1),
    title=text,
    conditions=st.lists(text, max_size=4),
    enrollment=st.none() | st.integers(min_value=0, max_value=10**9),
)
def test_round_trip_of_real_and_mutated_trials(
    tmp_path: Path, index: int, title: str, conditions: list[str], enrollment: int | None
) -> None:
    trial = parse_study(REAL_RECORDS[index])
    trial = dataclasses.replace(
        trial,
        brief_title=title or None,
        conditions=tuple(conditions),
        design=dataclasses.replace(trial.design, enrollment_count=enrollment),
    )
    store = open_store(":memory:")
    store.upsert_trials([StoredRecord(trial, orjson.dumps(REAL_RECORDS[index]))])
    assert store.get_trial(trial.nct_id) == trial
    store.close()


@settings(max_examples=40, deadline=None)
@given(st.builds(Trial, nct_id=st.from_regex(r"NCT\d{8}", fullmatch=True)))
def test_round_trip_of_generated_trials(trial: Trial) -> None:
    store = open_store(":memory:")
    store.upsert_trials([StoredRecord(trial, b"{}")])
    assert store.get_trial(trial.nct_id) == trial


# --- the change log, derived indexes and migrations -------------------------------------


class _Recorder:
    """A derived index that records what it is given, and can be told to fail once."""

    name, version, owner = "recorder", "1", "none"

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], tuple[int, ...], bool]] = []
        self.fail = False

    def refresh(self, store, changed, removed, how):  # type: ignore[no-untyped-def]
        if self.fail:
            self.fail = False
            raise RuntimeError("interrupted")
        self.calls.append((tuple(changed), tuple(removed), how.full))
        return "ok"


def test_derived_indexes_read_the_change_log_and_resume_after_a_failure(tmp_path: Path) -> None:
    from trialscope.store import is_current, refresh_indexes

    store = open_store(tmp_path / "t.db")
    index = _Recorder()
    store.upsert_trials(
        [StoredRecord(seed_trial(), SEED_RAW), StoredRecord(seed_trial(nct_id="NCT00000002"), b"b")]
    )
    refresh_indexes(store, [index])
    assert index.calls == [((1, 2), (), True)]  # the first refresh builds from every trial
    assert is_current(store, index)
    store.upsert_trials([StoredRecord(seed_trial(nct_id="NCT00000003"), b"c")])
    assert not is_current(store, index)
    index.fail = True
    with pytest.raises(RuntimeError):
        refresh_indexes(store, [index])
    assert store.remove_trials(["NCT00000002"]) == 1
    refresh_indexes(store, [index])  # the failed refresh is done again, with what came since
    assert index.calls[-1] == ((3,), (2,), False)
    assert refresh_indexes(store, [index]) == []  # nothing new: nothing done
    assert store.count_rows("changes") == 0  # every index has read the log: it is pruned
    index.version = "2"
    refresh_indexes(store, [index])
    assert index.calls[-1] == ((1, 3), (), True)  # a new version of the index rebuilds it


def test_generic_operations_reach_any_table(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    store.insert("search_places", [("Minsk", "", "Belarus", 53.9, 27.56), ("Nowhere", "", "", None, None)])
    assert store.select_in("search_places", ("city", "lat"), "city", ["Minsk", "Paris"]) == [("Minsk", 53.9)]
    store.update_rows("search_places", ("lat",), "city", [(54.0, "Minsk")])
    assert store.select("search_places", ("lat",), where={"city": "Minsk"}) == [(54.0,)]
    assert store.select_range("search_places", ("city",), "city", "M", "N", limit=5) == [("Minsk",)]
    lat, city = store.column_arrays("search_places", (("lat", "real"), ("city", "text")), order_by="city")
    assert city == ["Minsk", "Nowhere"] and lat[0] == 54.0 and lat[1] != lat[1]  # NULL is nan
    store.clear_tables("search")
    assert store.count_rows("search_places") == 0


def test_a_version_1_store_is_upgraded_by_db_upgrade_and_keeps_its_trials(tmp_path: Path) -> None:
    from trialscope.store import upgrade_store

    path = tmp_path / "old.db"
    store = open_store(path)
    store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    store.close()
    conn = sqlite3.connect(path)
    for table in ("changes", "derived", "search_facts", "text_terms", "text_segments"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("CREATE VIRTUAL TABLE trials_fts USING fts5(title)")  # what version 1 kept
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match="trialscope db upgrade"):
        open_store(path)
    steps = upgrade_store(path)
    assert any("dropped trials_fts" in s for s in steps)
    store = open_store(path)
    assert store.get_trial("NCT04184258") == seed_trial()
    assert upgrade_store(path) == []  # already current
