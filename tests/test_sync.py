"""trialscope sync against a real HTTP server on loopback that speaks the API v2 protocol
(tests/ctgov_server.py): the bulk zip into an empty store, the daily changes, removed trials,
the registry's own history, faults, and a sync killed part way then run again."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from trialscope.cli import main
from trialscope.ctgov.client import CtgovClient
from trialscope.search import SearchQuery, search_trials
from trialscope.store import open_store
from trialscope.sync import sync

pytest_plugins = ["ctgov_server"]


def _client(server: object, **options: object) -> CtgovClient:
    return CtgovClient(server.url, rate=None, retries=4, backoff=0.05, backoff_max=0.2, **options)  # type: ignore[attr-defined, arg-type]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store synced once from an empty start (the bulk zip), kept as a file to copy."""
    from ctgov_server import CtgovStandIn

    path = tmp_path_factory.mktemp("sync") / "loaded.db"
    with CtgovStandIn() as server:
        store = open_store(path)
        with _client(server) as client:
            summary = sync(store, client)
        assert summary.mode == "bulk" and summary.upserts.inserted == len(server.nct_ids())
        store.close()
    return path


def _copy(path: Path, to: Path) -> Path:
    shutil.copy(path, to)
    return to


def _state(path: Path) -> tuple[set[tuple[str, str]], set[tuple[str, str]], set[tuple[str, str | None]]]:
    """What must come out the same: each trial's content hash, every version, removals."""
    conn = sqlite3.connect(path)
    try:
        trials = set(conn.execute("SELECT nct_id, content_hash FROM trials"))
        versions = set(conn.execute("SELECT nct_id, hash FROM trial_versions"))
        removed = set(conn.execute("SELECT nct_id, removed_at IS NOT NULL FROM trials"))
        return trials, versions, removed
    finally:
        conn.close()


def test_a_bulk_load_keeps_every_record_and_its_version(loaded: Path) -> None:
    store = open_store(loaded, readonly=True)
    nct_id = store.nct_ids()[0]
    [version] = store.versions(nct_id)
    assert version.origin == "bulk" and orjson.loads(version.raw)["protocolSection"]
    assert store.get_state("cursor") and store.get_state("data_timestamp") == "2026-11-03T09:00:05"


def test_the_daily_changes_update_new_and_changed_trials_only(
    loaded: Path, tmp_path: Path, ctgov_server: object
) -> None:
    server = ctgov_server
    store = open_store(_copy(loaded, tmp_path / "t.db"))
    changed = server.nct_ids()[:3]  # type: ignore[attr-defined]
    for nct_id in changed:
        server.revise(nct_id, last_update="2030-01-05", overall_status="COMPLETED")  # type: ignore[attr-defined]
    fresh = orjson.loads(server.study_bytes(changed[0]))  # type: ignore[attr-defined]
    fresh["protocolSection"]["identificationModule"]["nctId"] = "NCT99000001"
    fresh["protocolSection"]["statusModule"]["newlyAddedField"] = "x"  # a field no record had
    server.put_study(fresh)  # type: ignore[attr-defined]
    with _client(server) as client:
        summary = sync(store, client, stale=0)
    assert summary.mode == "changes"
    assert (summary.upserts.inserted, summary.upserts.replaced) == (1, 3)
    assert "protocolSection.statusModule.newlyAddedField" in summary.unknown_fields
    assert "1 unknown fields" in summary.line()
    for nct_id in changed:
        assert store.get_trial(nct_id).overall_status == "COMPLETED"
        assert len(store.versions(nct_id)) == 2  # the first one is kept as history
    # Nothing changed since: a second sync writes nothing.
    with _client(server) as client:
        again = sync(store, client, stale=0)
    assert again.upserts.inserted == again.upserts.replaced == 0


def test_removed_trials_are_marked_kept_and_left_out_of_search(
    loaded: Path, tmp_path: Path, ctgov_server: object
) -> None:
    server = ctgov_server
    store = open_store(_copy(loaded, tmp_path / "t.db"))
    gone = server.nct_ids()[5]  # type: ignore[attr-defined]
    server.remove_study(gone)  # type: ignore[attr-defined]
    with _client(server) as client:
        summary = sync(store, client, check_removed=True, stale=0)
    assert summary.removed == 1
    assert store.removed_at(gone) is not None and store.get_trial(gone).nct_id == gone  # kept
    everything = search_trials(store, SearchQuery(limit=1, nct_ids=(gone,)))
    assert everything.total == 0
    assert search_trials(store, SearchQuery(limit=1, nct_ids=(gone,), include_removed=True)).total == 1
    server.put_study(orjson.loads(store.get_raw(gone).raw))  # type: ignore[attr-defined]  # listed again
    with _client(server) as client:
        back = sync(store, client, check_removed=True, stale=0)
    assert back.back == 1 and store.removed_at(gone) is None


def test_the_registry_history_is_kept(loaded: Path, tmp_path: Path, ctgov_server: object) -> None:
    server = ctgov_server
    store = open_store(_copy(loaded, tmp_path / "t.db"))
    nct_id = server.nct_ids()[7]  # type: ignore[attr-defined]
    server.revise(nct_id, last_update="2030-02-01", overall_status="TERMINATED")  # type: ignore[attr-defined]
    with _client(server) as client:
        summary = sync(store, client, history=True, stale=0)
    versions = store.versions(nct_id)
    assert [v.registry_version for v in versions] == [0, 1]
    assert orjson.loads(versions[-1].raw)["protocolSection"]["statusModule"]["overallStatus"] == "TERMINATED"
    assert summary.touched == [nct_id]


def test_a_dry_run_says_what_would_change_and_writes_nothing(
    loaded: Path, tmp_path: Path, ctgov_server: object
) -> None:
    server = ctgov_server
    path = _copy(loaded, tmp_path / "t.db")
    before = _state(path)
    server.revise(server.nct_ids()[0], last_update="2030-01-05")  # type: ignore[attr-defined]
    store = open_store(path)
    with _client(server) as client:
        summary = sync(store, client, dry_run=True, stale=0, check_removed=True)
    assert summary.upserts.replaced == 1 and summary.line().startswith("Dry run, nothing written")
    store.close()
    assert _state(path) == before


def test_faults_are_ridden_out(loaded: Path, tmp_path: Path, ctgov_server: object) -> None:
    server = ctgov_server
    store = open_store(_copy(loaded, tmp_path / "t.db"))
    server.revise(server.nct_ids()[0], last_update="2030-01-05")  # type: ignore[attr-defined]
    server.fail("503", times=2, path="/api/v2/studies")  # type: ignore[attr-defined]
    server.fail("cut", times=1, path="/api/v2/studies")  # type: ignore[attr-defined]
    with _client(server) as client:
        summary = sync(store, client, stale=5)
    assert summary.upserts.replaced == 1 and summary.requests >= 4


def test_the_cli_syncs_and_says_what_it_did(
    loaded: Path, tmp_path: Path, ctgov_server: object, capsys: pytest.CaptureFixture[str]
) -> None:
    server = ctgov_server
    path = _copy(loaded, tmp_path / "t.db")
    server.revise(server.nct_ids()[0], last_update="2030-01-05")  # type: ignore[attr-defined]
    args = ["sync", "--api-url", server.url, "--db", str(path), "--no-progress", "--rate", "100"]  # type: ignore[attr-defined]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Sync (changes): 0 new, 1 updated" in out and "Index search:" in out
    assert main(["sync", "--since", "yesterday", "--db", str(path)]) == 1
    assert "--since takes a day" in capsys.readouterr().err


def test_a_sync_killed_part_way_and_run_again_ends_as_one_that_was_not(
    loaded: Path, tmp_path: Path, ctgov_server: object
) -> None:
    """kill -9 after the first page of changes is committed; the second run resumes from the
    next page. Both stores end with the same trials, versions and removals."""
    server = ctgov_server
    ids = server.nct_ids()  # type: ignore[attr-defined]
    for nct_id in ids[:1500]:  # two pages of changes (1,000 a page)
        server.revise(nct_id, last_update="2030-03-01")  # type: ignore[attr-defined]
    reference = _copy(loaded, tmp_path / "reference.db")
    store = open_store(reference)
    with _client(server) as client:
        sync(store, client, stale=0)
    store.close()

    killed = _copy(loaded, tmp_path / "killed.db")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    cmd = [sys.executable, "-m", "trialscope.cli", "sync", "--api-url", server.url, "--db", str(killed),  # type: ignore[attr-defined]
           "--no-progress", "--no-index", "--stale", "0", "--rate", "0.5"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    resumed_from = None
    while time.monotonic() < deadline and proc.poll() is None and resumed_from is None:
        try:
            with sqlite3.connect(killed, timeout=1) as conn:
                row = conn.execute("SELECT value FROM sync_state WHERE key = 'resume_token'").fetchone()
                resumed_from = row[0] if row else None
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert resumed_from, "the first page should have been committed with the page to resume from"
    store = open_store(killed)
    with _client(server) as client:
        sync(store, client, stale=0)
    store.close()
    assert _state(killed) == _state(reference)


def test_a_postgres_store_syncs_like_a_sqlite_one(postgres_url: str, ctgov_server: object) -> None:
    """The bulk load, the daily changes and removed trials, into a real PostgreSQL server."""
    server = ctgov_server
    store = open_store(postgres_url)
    try:
        with _client(server) as client:
            first = sync(store, client)
        assert first.mode == "bulk" and store.count() == len(server.nct_ids())  # type: ignore[attr-defined]
        changed, gone = server.nct_ids()[:2]  # type: ignore[attr-defined]
        server.revise(changed, last_update="2030-01-05", overall_status="COMPLETED")  # type: ignore[attr-defined]
        server.remove_study(gone)  # type: ignore[attr-defined]
        with _client(server) as client:
            summary = sync(store, client, check_removed=True, stale=0)
        assert (summary.upserts.replaced, summary.removed) == (1, 1)
        assert store.get_trial(changed).overall_status == "COMPLETED" and len(store.versions(changed)) == 2
        assert store.removed_at(gone) is not None and store.has_trial(gone)
        assert search_trials(store, SearchQuery(limit=1, nct_ids=(gone,))).total == 0
        assert (
            search_trials(store, SearchQuery(limit=1, nct_ids=(changed,), statuses=("COMPLETED",))).total == 1
        )
    finally:
        store.close()
