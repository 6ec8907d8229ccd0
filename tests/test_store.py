"""The store's contract, on both backends (SQLite and PostgreSQL): round trips, upsert rules,
the change log and derived indexes, the generic operations; then what is each backend's own
(SQLite's WAL and file checks, PostgreSQL's connections and schema)."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from conftest import CTGOV, SEED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialscope.ctgov.parse import parse_study
from trialscope.errors import SchemaVersionError, StoreError, TrialNotFoundError
from trialscope.model import DateStruct, Site, Trial
from trialscope.store import Store, StoredRecord, open_store

SEED_RAW = (SEED / "NCT04184258.json").read_bytes()
MakeStore = Callable[..., Store]


@pytest.fixture(params=["sqlite", "postgres"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A factory of one new, empty store on each backend (the same store on a second call)."""
    opened: list[Store] = []
    address = [str(tmp_path / "t.db")]
    if request.param == "postgres":
        address = [request.getfixturevalue("postgres_url")]

    def make(*, readonly: bool = False) -> Store:
        for store in opened:
            if store.readonly == readonly:
                return store
        store = open_store(address[0], readonly=readonly)
        opened.append(store)
        return store

    make.address = address[0]  # type: ignore[attr-defined]
    yield make
    for store in opened:
        store.close()


def seed_trial(**changes: object) -> Trial:
    return dataclasses.replace(parse_study(orjson.loads(SEED_RAW)), **changes)


def test_stored_trial_reads_back_equal(new_store: MakeStore) -> None:
    store = new_store()
    trial = seed_trial()
    store.upsert_trials([StoredRecord(trial, SEED_RAW, "seed.json")])
    assert store.get_trial("NCT04184258") == trial
    raw = store.get_raw("nct04184258")
    assert raw.raw == SEED_RAW and raw.source_file == "seed.json" and len(raw.content_hash) == 64


def test_same_or_older_record_is_skipped_newer_replaces(new_store: MakeStore) -> None:
    store = new_store()
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
    assert store.count_rows("trial_conditions") == 1
    assert store.changes_since(0).changed == (1,) and store.last_change() == 2


def test_batch_of_new_replaced_and_unchanged_trials_keeps_ids_and_rows_together(new_store: MakeStore) -> None:
    store = new_store()
    a, b = seed_trial(), seed_trial(nct_id="NCT00000002", conditions=["Asthma"])
    store.upsert_trials([StoredRecord(a, SEED_RAW), StoredRecord(b, b"b")])
    newer_a = seed_trial(
        brief_title="zebrafish", conditions=["Gout", "Lupus"], last_update_post_date=DateStruct("2030-01-01")
    )
    c = seed_trial(nct_id="NCT00000003", conditions=["Croup"])
    stats = store.upsert_trials([StoredRecord(newer_a, b"a2"), StoredRecord(b, b"b"), StoredRecord(c, b"c")])
    assert (stats.inserted, stats.replaced, stats.skipped) == (1, 1, 1)
    ids = dict(store.select("trials", ("nct_id", "id")))
    assert ids == {"NCT04184258": 1, "NCT00000002": 2, "NCT00000003": 3}  # a replaced trial keeps its id
    conditions = store.select("trial_conditions", ("trial_id", "name"), order_by=("trial_id", "name"))
    assert conditions == [(1, "Gout"), (1, "Lupus"), (2, "Asthma"), (3, "Croup")]
    assert sorted(stats.changed) == [1, 3]  # the unchanged one is not logged again
    assert store.changes_since(2).changed == (1, 3)
    assert store.get_raw("NCT04184258").raw == b"a2"


def test_versions_removals_and_sync_state_behave_alike_on_both_backends(new_store: MakeStore) -> None:
    store = new_store()
    store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW, origin="file")])
    other = seed_trial(nct_id="NCT00000002", brief_title="second")
    store.upsert_trials([StoredRecord(other, b'{"a": 1}', origin="sync")])
    newer = seed_trial(brief_title="newer", last_update_post_date=DateStruct("2022-05-01", "ACTUAL"))
    store.upsert_trials([StoredRecord(newer, b'{"b": 2}', origin="sync")])
    store.upsert_trials([StoredRecord(newer, b'{"b": 2}', origin="sync")])  # seen again: no new version
    versions = store.versions("nct04184258")
    assert [v.origin for v in versions] == ["file", "sync"] and versions[-1].raw == b'{"b": 2}'
    assert store.get_raw("NCT04184258").raw == b'{"b": 2}'
    # The registry's old versions: kept, not made the trial; one already kept learns its number.
    old = seed_trial(brief_title="first of all", last_update_post_date=DateStruct("2019-01-01"))
    added = store.add_versions(
        [StoredRecord(old, b"{}", origin="history", registry_version=0),
         StoredRecord(newer, b'{"b": 2}', origin="history", registry_version=3)]
    )  # fmt: skip
    assert added == 1 and store.get_trial("NCT04184258").brief_title == "newer"
    assert [v.registry_version for v in store.versions("NCT04184258")] == [0, None, 3]
    assert {n for n, *_ in store.versions_seen_since("2000-01-01")} == {"NCT04184258", "NCT00000002"}
    # Removed from the registry: kept, marked, logged as changed; listed again: unmarked.
    before = store.last_change()
    assert store.mark_removed(["NCT00000002", "NCT09999999"], "2026-11-29T00:00:00Z") == 1
    assert store.mark_removed(["NCT00000002"], "2026-11-30T00:00:00Z") == 0  # already marked
    assert store.removed_at("NCT00000002") == "2026-11-29T00:00:00Z" and store.count() == 2
    assert store.removed_since("2026-01-01") == [("NCT00000002", "2026-11-29T00:00:00Z")]
    assert store.last_change() == before + 1 and store.changes_since(before).changed == (2,)
    assert store.stalest(5) == ["NCT04184258"]  # a removed trial is not re-checked
    assert store.unmark_removed(["NCT00000002"]) == 1 and store.removed_at("NCT00000002") is None
    # What a sync keeps between runs; None forgets.
    store.set_state({"cursor": "2026-11-28", "page": "abc"})
    store.set_state({"cursor": "2026-11-29", "page": None})
    assert (store.get_state("cursor"), store.get_state("page")) == ("2026-11-29", None)
    assert store.has_table("sync_state") and not store.has_table("no_such_table")
    assert store.max_of("trials", "nct_id") == "NCT04184258"
    assert store.select("trials", ("nct_id",), order_by=("id",), limit=1) == [("NCT04184258",)]


def test_bulk_writes_checkpoint_in_the_background_and_then_restore_sqlite_default(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    with store.bulk_writes():
        assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
        store.upsert_trials([StoredRecord(seed_trial(nct_id="NCT00000002"), b"b")])
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    assert open_store(tmp_path / "t.db", readonly=True).count() == 2


def test_a_long_bulk_write_keeps_the_wal_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A bulk write whose WAL was only checkpointed in the background grew it without end; now
    # the writer starts it again past a limit, and every batch leaves it under the limit.
    from trialscope import ingest
    from trialscope.store import sqlite as sqlite_module

    limit = 1024 * 1024
    monkeypatch.setattr(sqlite_module, "WAL_LIMIT", limit)
    store = open_store(tmp_path / "t.db")
    sizes: list[int] = []
    write = store.upsert_prepared

    def watched(records):  # type: ignore[no-untyped-def]
        stats = write(records)
        sizes.append(store.wal_size())
        return stats

    monkeypatch.setattr(store, "upsert_prepared", watched)
    summary = ingest.ingest_paths(
        store, [CTGOV / "v2_json" / "ctg_studies_downloads"], batch_size=50, progress=False
    )
    assert summary.upserts.inserted > 500 and len(sizes) > 10
    assert max(sizes) <= limit
    assert sum(sizes) > 0  # batches were written to a WAL between restarts
    assert store.count() == summary.upserts.inserted


def test_full_record_beats_summary_only_whatever_the_dates(new_store: MakeStore) -> None:
    store = new_store()
    summary = seed_trial(summary_only=True, last_update_post_date=DateStruct("2030-01-01"), brief_title="csv")
    store.upsert_trials([StoredRecord(summary, b"csv")])
    store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    assert store.get_trial("NCT04184258").summary_only is False
    stats = store.upsert_trials([StoredRecord(summary, b"csv")])
    assert stats.skipped == 1 and store.get_trial("NCT04184258").summary_only is False


def test_unknown_trial_is_a_clear_error(new_store: MakeStore) -> None:
    store = new_store()
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


def test_unreachable_postgres_server_is_one_clear_sentence() -> None:
    with pytest.raises(StoreError) as error:
        open_store("postgresql://ts:secret@127.0.0.1:9/x")
    message = str(error.value)
    assert message.startswith("Cannot connect to the PostgreSQL store at postgresql://ts@127.0.0.1:9/x: ")
    assert "Connection refused" in message and "secret" not in message


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
    new_store: MakeStore, index: int, title: str, conditions: list[str], enrollment: int | None
) -> None:
    trial = parse_study(REAL_RECORDS[index])
    trial = dataclasses.replace(
        trial,
        brief_title=title or None,
        conditions=tuple(conditions),
        design=dataclasses.replace(trial.design, enrollment_count=enrollment),
    )
    store = new_store()  # the same store for every example: the trial is written anew
    store.remove_trials([trial.nct_id])
    store.upsert_trials([StoredRecord(trial, orjson.dumps(REAL_RECORDS[index]))])
    assert store.get_trial(trial.nct_id) == trial
    # Text columns hold the title too (PostgreSQL drops NUL characters there: it cannot hold them).
    assert store.select("trials", ("brief_title",), where={"nct_id": trial.nct_id}) == [
        ((title.replace("\x00", "") if store.dialect == "postgresql" else title) if title else None,)
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.builds(Trial, nct_id=st.from_regex(r"NCT\d{8}", fullmatch=True)))
def test_round_trip_of_generated_trials(new_store: MakeStore, trial: Trial) -> None:
    store = new_store()
    store.remove_trials([trial.nct_id])
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


def test_derived_indexes_read_the_change_log_and_resume_after_a_failure(new_store: MakeStore) -> None:
    from trialscope.store import is_current, refresh_indexes

    store = new_store()
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


def test_generic_operations_reach_any_table(new_store: MakeStore) -> None:
    store = new_store()
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


# --- the same answers on both backends ----------------------------------------------------


def test_nocase_columns_ignore_ascii_case_only_and_other_text_compares_bytewise(new_store: MakeStore) -> None:
    store = new_store()
    cities = ("Paris", "PARIS", "Évry", "évry", "Zagreb")
    trial = seed_trial(locations=tuple(Site(facility=f"site {i}", city=c) for i, c in enumerate(cities)))
    store.upsert_trials([StoredRecord(trial, SEED_RAW)])
    # SQLite's NOCASE folds ASCII letters only: "paris" finds both, "ÉVRY" finds Évry, not évry.
    assert store.select_in("sites", ("city",), "city", ["paris"]) == [("Paris",), ("PARIS",)]
    assert store.select_in("sites", ("city",), "city", ["ÉVRY"]) == [("Évry",)]
    assert store.select("sites", ("facility",), where={"city": "évry"}) == [("site 3",)]
    # Rows of a lookup come in the order the record lists them.
    assert [r[0] for r in store.select_in("sites", ("city",), "trial_id", [1])] == list(cities)
    # text_terms.term sorts bytewise: upper case before lower, accents after z.
    store.insert("text_terms", [(t, 1, 1, b"", b"") for t in ("b", "a", "é", "B", "z", "ab")])
    found = store.select_range("text_terms", ("term",), "term", "B", "{", limit=10)
    assert [r[0] for r in found] == ["B", "a", "ab", "b", "z"]
    assert [r[0] for r in store.select_range("text_terms", ("term",), "term", "a", "b", limit=10)] == [
        "a",
        "ab",
    ]


def test_bookkeeping_survives_pruning_and_copying_the_log(new_store: MakeStore) -> None:
    store = new_store()
    store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    store.remove_trials(["NCT04184258"])
    assert store.last_change() == 2 and store.changes_since(0).removed == (1,)
    store.set_derived_state("x", "1", 2)
    store.prune_changes()
    assert store.count_rows("changes") == 0 and store.last_change() == 2  # the head is kept
    store.set_last_change(40)
    assert store.content_version() == "40.2"
    store.set_derived_state("x", "1", 40)  # an index catching up changes what a reader sees too
    assert store.content_version() == "40.40"
    store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    assert store.last_change() == 41 and store.changes_since(40).changed == (1,)


# --- SQLite's own -------------------------------------------------------------------------


# --- PostgreSQL's own ---------------------------------------------------------------------


def _sql(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def test_postgres_store_of_another_schema_version_refuses_to_open(postgres_url: str) -> None:
    from trialscope.store import upgrade_store

    open_store(postgres_url).close()
    _sql(postgres_url, "UPDATE trialscope_state SET schema_version = 99")
    with pytest.raises(SchemaVersionError, match="schema version 99"):
        open_store(postgres_url)
    with pytest.raises(SchemaVersionError, match="cannot upgrade"):
        upgrade_store(postgres_url)


def test_postgres_readonly_store_needs_a_store_and_reads_only(postgres_url: str) -> None:
    with pytest.raises(StoreError, match="trialscope db init"):
        open_store(postgres_url, readonly=True)
    open_store(postgres_url).close()
    reader = open_store(postgres_url, readonly=True)
    with pytest.raises(Exception, match="read-only transaction"):
        reader.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    assert reader.count() == 0
    reader.close()


def test_postgres_db_init_and_upgrade_add_what_is_missing_and_drop_nothing(postgres_url: str) -> None:
    from trialscope.store import upgrade_store

    assert upgrade_store(postgres_url) == ["created a new store at schema version 2"]
    assert upgrade_store(postgres_url) == []
    store = open_store(postgres_url)
    store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    store.close()
    # An older store: a table and a column it lacks, a column of its own, a lower version.
    _sql(postgres_url, "DROP TABLE text_segments")
    _sql(postgres_url, "DROP VIEW ctgov.studies; ALTER TABLE trials DROP COLUMN ingested_at")
    _sql(
        postgres_url,
        "ALTER TABLE trials ADD COLUMN notes text; UPDATE trialscope_state SET schema_version = 1",
    )
    with pytest.raises(SchemaVersionError, match="cannot upgrade"):  # before PostgreSQL stores existed
        upgrade_store(postgres_url)
    _sql(postgres_url, "UPDATE trialscope_state SET schema_version = 2")
    steps = upgrade_store(postgres_url)
    assert "created the table text_segments" in steps
    assert "added the column trials.ingested_at" in steps
    assert any("kept the column trials.notes" in s for s in steps)
    store = open_store(postgres_url)
    assert store.get_trial("NCT04184258") == seed_trial() and store.count_rows("text_segments") == 0
    store.close()


def test_postgres_writers_on_many_connections_give_each_trial_one_id_and_log_in_order(
    postgres_url: str,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = open_store(postgres_url)

    def write(n: int) -> list[int]:
        batch = [StoredRecord(seed_trial(nct_id=f"NCT{n:04d}{k:04d}"), b"x") for k in range(20)]
        return store.upsert_trials(batch).changed

    with ThreadPoolExecutor(6) as pool:
        ids = [i for part in pool.map(write, range(12)) for i in part]
    assert sorted(ids) == list(range(1, 241))
    log = store.select("changes", ("seq", "trial_id"), order_by=("seq",))
    assert [s for s, _ in log] == list(range(1, 241)) and store.last_change() == 240
    store.close()


def test_aact_views_answer_aact_queries(postgres_url: str) -> None:
    import psycopg

    store = open_store(postgres_url)
    store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    store.close()
    with psycopg.connect(postgres_url) as conn:
        studies = conn.execute(
            "SELECT s.nct_id, s.brief_title, s.start_date, c.downcase_name FROM ctgov.studies s "
            "JOIN ctgov.conditions c ON c.nct_id = s.nct_id ORDER BY c.id"
        ).fetchall()
        sponsor = conn.execute("SELECT lead_or_collaborator, name FROM ctgov.sponsors ORDER BY id").fetchone()
        facilities = conn.execute("SELECT count(*) FROM ctgov.facilities").fetchone()[0]
    trial = seed_trial()
    assert [r[3] for r in studies] == [c.lower() for c in trial.conditions]
    assert studies[0][:2] == (trial.nct_id, trial.brief_title)
    assert str(studies[0][2]).startswith(trial.start_date.date[:7])  # type: ignore[union-attr]
    assert sponsor == ("lead", trial.lead_sponsor.name)  # type: ignore[union-attr]
    assert facilities == len(trial.locations)


def test_postgres_reads_survive_a_dropped_connection_and_a_lost_server_is_one_sentence(
    postgres_url: str,
) -> None:
    store = open_store(postgres_url)
    store.upsert_trials([StoredRecord(seed_trial(), SEED_RAW)])
    _sql(
        postgres_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    assert store.count() == 1  # the pooled connection was dropped: replaced, asked again
    with pytest.raises(StoreError, match="The PostgreSQL store at .* failed: "), store.transaction():
        _sql(
            postgres_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        store.count()  # inside a transaction nothing is asked twice
    assert store.get_trial("NCT04184258") == seed_trial()
    store.close()


def test_a_large_first_batch_trains_the_stores_dictionaries_and_every_value_reads_back(
    new_store: MakeStore,
) -> None:
    """Values written before a store had dictionaries stay zlib; the first batch of 500 or more
    trains them (kept in blob_dicts); later raw records are zstd frames smaller than zlib's;
    every parsed trial is compressed against its raw record (and, once trained, the trial
    dictionary), far smaller than compressed alone; and a store opened after another process
    trained them reads them (the dictionary is looked up)."""
    from trialscope.store.blobs import MIN_SAMPLES, compress, decompress, needs_base
    from trialscope.store.records import trial_json

    lines = (CTGOV / "v2_json/partrita__clinicaltrial-watch-tigit__snapshots.jsonl").read_bytes().splitlines()
    records = [orjson.loads(line) for line in lines if b"protocolSection" in line][: MIN_SAMPLES + 100]
    first = StoredRecord(parse_study(records[0]), orjson.dumps(records[0]))
    store = new_store()
    store.upsert_trials([first])  # one record: nothing to train on, zlib
    store.upsert_trials([StoredRecord(parse_study(r), orjson.dumps(r)) for r in records[1:]])
    assert {kind for (kind,) in store.select("blob_dicts", ("kind",))} == {"raw", "trial"}
    raws = {nct: bytes(b) for nct, _, b in store.select("trial_versions", ("nct_id", "hash", "raw"))}
    zstd = [nct for nct, blob in raws.items() if blob[:4] == b"\x28\xb5\x2f\xfd"]
    assert len(zstd) == len(raws) - 1 and first.trial.nct_id not in zstd
    stored = [raws[nct] for nct in zstd]
    assert sum(map(len, stored)) < 0.8 * sum(len(compress(decompress(b))) for b in stored)
    trials = {nct: bytes(b) for nct, b in store.select("trials", ("nct_id", "trial"))}
    assert all(needs_base(b) for b in trials.values())
    named = [nct for nct, b in trials.items() if b[1:5] != b"\0\0\0\0"]  # the dictionary's number
    assert len(named) == len(trials) - 1 and first.trial.nct_id not in named
    alone = sum(len(compress(trial_json(store.get_trial(nct))[0])) for nct in named)
    assert sum(len(trials[nct]) for nct in named) < 0.5 * alone
    later = StoredRecord(parse_study(records[1]), orjson.dumps(records[1]))
    assert len(store.get_raw(later.trial.nct_id).raw) == len(later.raw)
    # Another process's view: a store object opened afresh reads both formats.
    other = open_store(new_store.address, readonly=True)  # type: ignore[attr-defined]
    try:
        for record in (first, later):
            assert other.get_trial(record.trial.nct_id) == record.trial
            assert other.get_raw(record.trial.nct_id).raw == record.raw
    finally:
        other.close()
