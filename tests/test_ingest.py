"""Ingest of the real records: every format, rejects with reasons, resumable, idempotent."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import orjson
import pytest
from conftest import CTGOV, ROOT, SEED

from trialscope.ingest import ingest_paths, write_report
from trialscope.store import open_store

V2_DIR = CTGOV / "v2_json"
FULL_RECORD_IDS = 6239  # SOURCES.md: distinct NCT ids as full registry records (v2/v1/XML)


def test_every_full_record_is_stored(full_store) -> None:
    full = full_store.conn.execute("SELECT count(*) FROM trials WHERE summary_only = 0").fetchone()[0]
    assert full == FULL_RECORD_IDS
    formats = dict(
        full_store.conn.execute("SELECT source_format, count(*) FROM trials GROUP BY 1").fetchall()
    )
    assert {"v2", "v1", "v1-fields", "xml", "csv"} <= set(formats)


def test_csv_exports_are_summary_only_trials(full_store) -> None:
    rows = full_store.conn.execute(
        "SELECT count(*), min(source_format), max(source_format) FROM trials WHERE summary_only = 1"
    ).fetchone()
    assert rows[0] > 4000 and rows[1] == rows[2] == "csv"


def test_ingest_summary_lists_rejects_and_skipped_files(full_store_path: Path) -> None:
    summary = (full_store_path.parent / "summary.txt").read_text().splitlines()
    skipped = [line for line in summary if line.startswith("skipped ")]
    assert len(skipped) == 3 and all("TrialGPT" in line for line in skipped)
    rejected = [line for line in summary if line.startswith("rejected ")]
    assert any("snapshots.jsonl:1179" in line and "not a study record" in line for line in rejected)
    assert all(line.split(": ", 1)[1].strip() for line in rejected)


def test_seed_trial_from_its_v2_record_is_in_the_store(full_store) -> None:
    trial = full_store.get_trial("NCT04184258")
    assert trial.design.phases == ("PHASE1", "PHASE2")
    assert trial.source_format == "v2"


def test_reingest_changes_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "t.db")
    first = ingest_paths(store, [V2_DIR / "aact_fixtures"], progress=False, workers=1)
    second = ingest_paths(store, [V2_DIR / "aact_fixtures"], progress=False, workers=2)
    # 15 files, 14 trials: two fixtures are versions of one trial, and the newer one wins.
    assert first.records == 15 and first.stored == 14 == store.count()
    assert second.stored == 0 and second.upserts.skipped == 15


def test_zip_is_read_as_a_stream_and_a_truncated_zip_is_reported(tmp_path: Path) -> None:
    archive = tmp_path / "ctg-studies.json.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted((V2_DIR / "aact_fixtures").glob("*.json")):
            zf.write(path, f"shard/{path.name}")
    store = open_store(tmp_path / "t.db")
    summary = ingest_paths(store, [archive], progress=False)
    assert summary.records == 15 and summary.stored == 14 and not summary.rejected

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    summary = ingest_paths(open_store(tmp_path / "t2.db"), [truncated], progress=False)
    assert summary.stored == 0
    assert summary.rejected and "truncated or corrupt" in summary.rejected[0].reason


def test_bad_files_and_records_are_rejected_with_file_and_reason(tmp_path: Path) -> None:
    seed = orjson.loads((SEED / "NCT04184258.json").read_bytes())
    wrong_type = json.loads(json.dumps(seed))
    wrong_type["protocolSection"]["identificationModule"]["nctId"] = "NCT00000002"
    wrong_type["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = "seven"
    no_id = json.loads(json.dumps(seed))
    del no_id["protocolSection"]["identificationModule"]["nctId"]
    (tmp_path / "broken.json").write_text('{"protocolSection": {')
    (tmp_path / "mixed.jsonl").write_bytes(
        b"\n".join(
            [orjson.dumps(seed), b"{not json", orjson.dumps(no_id), orjson.dumps(wrong_type), b"[1, 2]"]
        )
    )
    (tmp_path / "bad.xml").write_text("<clinical_study><id_info>")
    store = open_store(tmp_path / "t.db")
    summary = ingest_paths(store, [tmp_path], progress=False)
    reasons = {r.source.rsplit("/", 1)[-1]: r.reason for r in summary.rejected}
    assert summary.stored == 1 and store.has_trial("NCT04184258")
    assert "malformed JSON" in reasons["broken.json"]
    assert "malformed JSON" in reasons["mixed.jsonl:2"]
    assert "NCT id" in reasons["mixed.jsonl:3"]
    assert "enrollment" in reasons["mixed.jsonl:4"]
    assert "not a study" in reasons["mixed.jsonl:5"]
    assert "bad.xml" in reasons
    report = tmp_path / "rejects.jsonl"
    with open(report, "wb") as stream:
        write_report(summary, stream)
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(rows) == len(summary.rejected) and all(r["reason"] and r["source"] for r in rows)


def _synthetic_file(path: Path, n: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from synth import load_real_studies, synthesize
    finally:
        sys.path.pop(0)
    with open(path, "wb") as stream:
        stream.writelines(
            orjson.dumps(study) + b"\n"
            for study in synthesize(load_real_studies(V2_DIR / "aact_fixtures"), n)
        )


def test_killed_ingest_leaves_a_consistent_store_and_a_rerun_completes_it(tmp_path: Path) -> None:
    source, db = tmp_path / "synthetic.jsonl", tmp_path / "t.db"
    _synthetic_file(source, 4000)
    cmd = [
        sys.executable,
        "-m",
        "trialscope.cli",
        "ingest",
        str(source),
        "--db",
        str(db),
        "--batch-size",
        "50",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(db, timeout=1) as conn:
                stored = conn.execute("SELECT count(*) FROM trials").fetchone()[0]
        except sqlite3.Error:
            stored = 0
        if stored >= 200:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 0 < stored < 4000, "the ingest should have been killed part way"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    trials = conn.execute("SELECT count(*) FROM trials").fetchone()[0]
    assert trials % 50 == 0  # whole batches only
    # Each stored trial is in the change log once, for the derived indexes to read.
    assert conn.execute("SELECT count(DISTINCT trial_id) FROM changes").fetchone()[0] == trials
    conn.close()
    store = open_store(db)
    summary = ingest_paths(store, [source], progress=False)
    assert store.count() == 4000 and summary.upserts.inserted == 4000 - trials


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    from trialscope.errors import TrialScopeError

    with pytest.raises(TrialScopeError, match="No such file"):
        ingest_paths(open_store(tmp_path / "t.db"), [tmp_path / "nope"], progress=False)
