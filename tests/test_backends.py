"""SQLite and PostgreSQL give the same answers on the same records: the same rows in every
table (so the same postings, and search ranks from those), the same searches — totals,
facet counts, top hits and their scores — the same trial pages byte for byte, the same
related trials, the same CLI output; and a change written by one process is seen by a
reader in another.

Both stores are built here through the real ingest and index refresh from a mix of the
shared records (API v2 downloads, legacy XML, CSV exports, the seed); the slow test does
the same with every shared record.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CTGOV, SEED

from trialscope.store import Store, StoredRecord, open_store

_DOWNLOADS = CTGOV / "v2_json" / "ctg_studies_downloads"
SOME_RECORDS = [
    SEED / "NCT04184258.json",
    _DOWNLOADS / "koy570__herniated_disc__ctg-studies.json",
    _DOWNLOADS / "vrinda2019__NSCLCBench__data_ctg-studies.json",
    _DOWNLOADS / "scampbe3__my-website__ctg-studies.json",
    CTGOV / "v2_json" / "aact_fixtures",
    CTGOV / "legacy_xml" / "aact_fixtures",
    CTGOV / "legacy_xml" / "misc_fixtures",
    CTGOV
    / "csv_exports"
    / "new_site_ctg_studies_csv"
    / "saravana87__Clinical-Trials-Graph-using-Neo4j__data_ctg-studies.csv",
]

QUERIES: list[dict[str, object]] = [
    {"text": "lupus"},
    {"text": "lupus nephritis", "statuses": ("recruiting",), "facets": ("status", "phase", "country")},
    {"text": "cancer", "phases": ("2", "3"), "facets": ("phase", "sponsor_class", "intervention_type")},
    {"text": '"heart failure"', "facets": ("country", "has_results")},
    {"text": "diabet*", "sort": "relevance", "limit": 10},
    {"text": "alzheimer OR dementia", "countries": ("United States",), "facets": ("country",)},
    {"text": "-placebo pain", "facets": ("study_type",)},
    {"conditions": ("Lupus",), "facets": ("status",)},
    {"cities": ("paris",), "facets": ("country",)},
    {"near": "Boston", "within_km": 100.0, "facets": ("status",)},
    {"age_years": 70, "sex": "female", "text": "breast"},
    {"sponsor_classes": ("industry",), "sort": "start_date", "facets": ("sponsor_class", "phase")},
    {"has_results": True, "sort": "last_update", "limit": 50},
    {"enrollment_min": 100, "enrollment_max": 500, "facets": ("status", "phase", "study_type")},
    {"text": "SLE", "facets": ("status",)},
    {
        "facets": (
            "status",
            "phase",
            "study_type",
            "intervention_type",
            "sponsor_class",
            "country",
            "has_results",
        )
    },
]


def _build(address: str, paths: list[Path]) -> None:
    from trialscope.indexes import refresh_all
    from trialscope.ingest import ingest_paths

    store = open_store(address)
    ingest_paths(store, paths, progress=False)
    refresh_all(store)
    store.close()


@pytest.fixture(scope="module")
def stores(postgres_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Store]]:
    """(SQLite, PostgreSQL) stores of the same records, ingested and indexed the same way."""
    from pg_server import create_database

    path = str(tmp_path_factory.mktemp("backends") / "trials.db")
    url = create_database(postgres_server, "backends")
    _build(path, SOME_RECORDS)
    _build(url, SOME_RECORDS)
    lite, pg = open_store(path, readonly=True), open_store(url, readonly=True)
    yield lite, pg
    lite.close()
    pg.close()


def _rows(store: Store, table: str) -> list[tuple[object, ...]]:
    from trialscope.store.schema import TABLES

    skip = {"ingested_at", "built_at", "checked_at", "seen_at"}  # times of day
    keep = [i for i, name in enumerate(TABLES[table].column_names) if name not in skip]
    rows = [tuple(row[i] for i in keep) for batch in store.iter_rows(table) for row in batch]
    if table == "similar_meta":  # when and how long the build took
        rows = [r for r in rows if r[0] not in ("build_seconds", "built_at")]
    return sorted(rows, key=repr)


def test_every_table_holds_the_same_rows(stores: tuple[Store, Store]) -> None:
    from trialscope.store.schema import TABLES

    lite, pg = stores
    assert lite.count() > 500
    for table in TABLES:
        assert _rows(lite, table) == _rows(pg, table), table
    assert lite.last_change() == pg.last_change()


def _summary(store: Store, spec: dict[str, object]) -> tuple[object, ...]:
    from trialscope.search import SearchQuery, search_trials

    results = search_trials(store, SearchQuery(**spec), timeout_s=60)  # type: ignore[arg-type]
    hits = list(results.hits)
    return results.total, hits, results.facets, results.next_cursor


def test_searches_give_the_same_totals_facets_and_ranked_hits(stores: tuple[Store, Store]) -> None:
    lite, pg = stores
    found = 0
    for spec in QUERIES:
        on_lite, on_pg = _summary(lite, spec), _summary(pg, spec)
        assert on_lite == on_pg, spec
        found += bool(on_lite[0])
    assert found >= len(QUERIES) - 3  # the searches find something


def test_trial_pages_and_related_trials_are_byte_for_byte_the_same(stores: tuple[Store, Store]) -> None:
    from trialscope.cli.core import related_for_page
    from trialscope.render import build_page, render_page

    lite, pg = stores
    ids = lite.nct_ids()
    chosen = ["NCT04184258", *ids[:: max(1, len(ids) // 40)]]
    for nct_id in chosen:
        pages = []
        for store in (lite, pg):
            trial = store.get_trial(nct_id)
            page = build_page(trial, related_for_page(store, nct_id))
            pages.append([render_page(page, f) for f in ("html", "json", "text")])
        assert pages[0] == pages[1], nct_id
    assert related_for_page(pg, "NCT04184258")  # the seed has related trials


def test_cli_commands_print_the_same_on_both(
    stores: tuple[Store, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    from trialscope.cli import main

    lite, pg = stores
    outputs = []
    for store in (lite, pg):
        for argv in (
            ["search", "lupus", "--facets", "status", "--limit", "5"],
            ["search", "cancer", "--format", "csv", "--all"],
            ["show", "NCT04184258", "--format", "markdown"],
            ["related", "NCT04184258"],
            ["stats"],
        ):
            assert main([*argv, "--db", store.path]) == 0, argv
        printed = capsys.readouterr().out.replace(store.name, "STORE")
        outputs.append(re.sub(r"\(\d+ ms\)", "(- ms)", printed))  # how long a search took
    assert outputs[0] == outputs[1]
    assert "NCT04184258" in outputs[1]


READER = """
import sys, time
from trialscope.search import SearchQuery, search_trials
from trialscope.store import open_store
store = open_store(sys.argv[1], readonly=True)
seen = None
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    version = store.content_version()
    if version != seen:
        seen = version
        total = search_trials(store, SearchQuery(text="zebrafishology")).total
        print(version, store.count(), total, flush=True)
        if total:
            break
    time.sleep(0.05)
"""


def test_a_write_by_one_process_is_seen_by_a_reader_in_another(postgres_server: str) -> None:
    """A web worker's way: compare the content version per request, reload when it moved.

    The writer here is this process; the reader another, on its own connections.
    """
    import dataclasses

    import orjson
    from pg_server import create_database

    from trialscope.ctgov.parse import parse_study
    from trialscope.indexes import refresh_all

    url = create_database(postgres_server, "two_processes")
    raw = (SEED / "NCT04184258.json").read_bytes()
    seed = parse_study(orjson.loads(raw))
    writer = open_store(url)
    writer.upsert_trials([StoredRecord(seed, raw)])
    refresh_all(writer)
    reader = subprocess.Popen([sys.executable, "-c", READER, url], stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None
    first = reader.stdout.readline().split()
    assert first[1:] == ["1", "0"]  # one trial, no zebrafishology yet
    started = time.monotonic()
    other = dataclasses.replace(seed, nct_id="NCT00000042", brief_title="Zebrafishology of lupus")
    writer.upsert_trials([StoredRecord(other, raw)])
    refresh_all(writer)
    lines = [line.split() for line in reader.stdout]
    seen_after = time.monotonic() - started
    reader.wait(timeout=30)
    writer.close()
    assert lines and lines[-1][1:] == ["2", "1"], lines  # both trials, and the new one is found
    assert lines[-1][0] != first[0]
    assert seen_after < 30


@pytest.mark.slow
def test_every_shared_record_gives_the_same_searches_and_pages(postgres_server: str, tmp_path: Path) -> None:
    from pg_server import create_database

    path = str(tmp_path / "all.db")
    url = create_database(postgres_server, "all_records")
    for address in (path, url):
        _build(address, [SEED / "NCT04184258.json", CTGOV])
    lite, pg = open_store(path, readonly=True), open_store(url, readonly=True)
    for spec in QUERIES:
        assert _summary(lite, spec) == _summary(pg, spec), spec
    for table in ("trials", "sites", "text_terms", "search_facts", "similar_trials"):
        assert _rows(lite, table) == _rows(pg, table), table


def test_db_copy_moves_a_store_to_postgres_and_back_with_every_row(
    stores: tuple[Store, Store], postgres_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pg_server import create_database

    from trialscope.cli import main
    from trialscope.store.schema import TABLES

    lite, _ = stores
    url = create_database(postgres_server, "copied")
    back = tmp_path / "back.db"
    assert main(["db", "copy", lite.path, url]) == 0
    assert main(["db", "copy", url, str(back)]) == 0
    assert f"Copied {lite.count():,} trials" in capsys.readouterr().out
    copied, returned = open_store(url, readonly=True), open_store(back, readonly=True)
    for table in TABLES:
        assert _rows(lite, table) == _rows(copied, table) == _rows(returned, table), table
    for store in (copied, returned):  # indexes came along: current, and searched as the source
        assert _summary(store, QUERIES[1]) == _summary(lite, QUERIES[1])
        assert store.last_change() == lite.last_change()
    copied.close()
    returned.close()
    # Nothing is overwritten, and a copy that cannot finish leaves nothing behind.
    assert main(["db", "copy", lite.path, url]) == 1
    assert main(["db", "copy", url, str(back)]) == 1
    errors = capsys.readouterr().err
    assert "is not empty" in errors and "exists already" in errors


def test_db_copy_that_fails_midway_leaves_the_destination_empty(
    stores: tuple[Store, Store], postgres_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import psycopg
    from pg_server import create_database

    from trialscope.cli import main

    lite, _ = stores
    url = create_database(postgres_server, "failed_copy")
    open_store(url).close()
    with psycopg.connect(url, autocommit=True) as conn:  # a table near the end fails to write
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'no room left (a test)'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON similar_trials FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    assert main(["db", "copy", lite.path, url]) == 1
    assert "failed and was undone: no room left (a test)" in capsys.readouterr().err
    target = open_store(url, readonly=True)
    assert target.count() == 0 and target.count_rows("text_terms") == 0  # rolled back whole
    target.close()
