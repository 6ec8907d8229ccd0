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
    # A zip cut off in its middle: see test_cut_off_zip_keeps_its_whole_members_and_names_the_cut_one.


def _real_zip(path: Path) -> list[tuple[zipfile.ZipInfo, str]]:
    """A zip of real records in shard folders (as the bulk file is), with a folder entry and a
    member that is no record; returns its record members with their NCT ids, in file order."""
    records = sorted((V2_DIR / "aact_fixtures").glob("*.json"))
    records += sorted((CTGOV / "legacy_xml" / "bst-mug__trec-pm").glob("*.xml"))[:4]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("shard-0/", b"")
        zf.writestr("shard-0/README.txt", b"not a record\n" * 50)
        for index, record in enumerate(records):
            zf.write(record, f"shard-{index % 3}/{record.name}")
    members = []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.endswith((".json", ".xml")):
                data = zf.read(info)
                nct_id = data[data.index(b"NCT0") :][:11].decode()
                members.append((info, nct_id))
    return members


def _data_start(archive: bytes, info: zipfile.ZipInfo) -> int:
    """Where a member's compressed data begins: after its local header, name and extra field."""
    name_length, extra_length = (
        int.from_bytes(archive[info.header_offset + 26 : info.header_offset + 28], "little"),
        int.from_bytes(archive[info.header_offset + 28 : info.header_offset + 30], "little"),
    )
    return info.header_offset + 30 + name_length + extra_length


def test_cut_off_zip_keeps_its_whole_members_and_names_the_cut_one(tmp_path: Path) -> None:
    archive = tmp_path / "ctg-studies.json.zip"
    members = _real_zip(archive)
    data = archive.read_bytes()
    directory = data.index(b"PK\x01\x02")  # the central directory, after every member
    assert len(members) == 19 and len({nct for _, nct in members}) == 18  # two versions of one trial
    cuts = {
        "inside the first record's data": (_data_start(data, members[0][0]) + 40, 0, True),
        "inside a middle record's data": (_data_start(data, members[7][0]) + 100, 7, True),
        "inside an XML member's data": (_data_start(data, members[16][0]) + 10, 16, True),
        "at the start of a member": (members[11][0].header_offset, 11, False),
        "inside a member's local header": (members[12][0].header_offset + 12, 12, False),
        "inside the central directory": (directory + 30, len(members), False),
    }
    for label, (cut, whole, in_member) in cuts.items():
        part = tmp_path / f"cut-{cut}.zip"
        part.write_bytes(data[:cut])
        store = open_store(tmp_path / f"cut-{cut}.db")
        summary = ingest_paths(store, [part], progress=False, workers=1)
        stored = {row[0] for row in store.conn.execute("SELECT nct_id FROM trials")}
        assert stored == {nct for _, nct in members[:whole]}, label
        assert summary.records == whole, label
        if whole == len(members):
            assert not summary.rejected, label
            continue
        [reject] = summary.rejected
        if in_member:
            assert reject.source == f"{part}::{members[whole][0].filename}", label
            assert "cut off inside this member" in reject.reason, label
        else:
            assert reject.source == str(part), label
            assert f"cut off after {whole + 2:,} whole members" in reject.reason, label  # + folder, README
        assert "interrupted download" in reject.reason, label


def test_damaged_zip_member_is_named_and_the_members_before_it_are_kept(tmp_path: Path) -> None:
    archive = tmp_path / "damaged.zip"
    members = _real_zip(archive)
    data = bytearray(archive.read_bytes())
    start = _data_start(bytes(data), members[5][0])
    data[start + 50 : start + 60] = bytes(10)  # ten bytes of the sixth record's compressed data zeroed
    archive.write_bytes(bytes(data))
    store = open_store(tmp_path / "t.db")
    summary = ingest_paths(store, [archive], progress=False, workers=1)
    stored = {row[0] for row in store.conn.execute("SELECT nct_id FROM trials")}
    assert stored == {nct for _, nct in members[:5]}
    [reject] = summary.rejected
    assert reject.source.endswith("::" + members[5][0].filename)
    assert reject.reason.startswith("this member is damaged")
    assert "the 7 whole members before it were read" in reject.reason  # with the folder and the README

    not_zip = tmp_path / "page.zip"
    not_zip.write_bytes(b"<html>Service unavailable</html>")
    [reject] = ingest_paths(open_store(tmp_path / "t2.db"), [not_zip], progress=False).rejected
    assert reject.reason == "not a zip file: it does not start with a zip member"


def test_reject_reasons_say_what_is_wrong_in_plain_words(tmp_path: Path) -> None:
    seed = (SEED / "NCT04184258.json").read_bytes()
    head = b"<clinical_study><id_info><nct_id>NCT00000102</nct_id></id_info><brief_title>"
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(f'<!ENTITY {n} "{("&" + p + ";") * 10}">'.encode() for p, n in zip("abcdefgh", "bcdefghi"))
        + b"]>"
        + head
        + b"&i;</brief_title></clinical_study>"
    )
    (tmp_path / "bomb.xml").write_bytes(laughs)
    (tmp_path / "entity.xml").write_bytes(
        b'<!DOCTYPE c [<!ENTITY x "y">]>' + head + b"&x;</brief_title></clinical_study>"
    )
    bad_xml = head + "Caf\u00e9 ".encode("latin-1") + b"</brief_title></clinical_study>"
    (tmp_path / "latin.xml").write_bytes(bad_xml)
    bad_json = seed.replace(b"Lupus", "L\u00fcpus".encode("latin-1"), 1)
    (tmp_path / "latin.json").write_bytes(bad_json)
    (tmp_path / "lines.jsonl").write_bytes(
        b"\n".join([seed.replace(b"\n", b""), bad_json.replace(b"\n", b"")])
    )
    (tmp_path / "cut.xml").write_bytes(head + b"A title")
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + seed)
    store = open_store(tmp_path / "t.db")
    summary = ingest_paths(store, [tmp_path], progress=False, workers=1)
    reasons = {r.source.rsplit("/", 1)[-1]: r.reason for r in summary.rejected}
    assert set(reasons) == {"bomb.xml", "entity.xml", "latin.xml", "latin.json", "lines.jsonl:2", "cut.xml"}
    assert reasons["bomb.xml"].startswith("XML entity expansion refused")
    assert reasons["entity.xml"].startswith("XML entity declarations refused")
    xml_byte, json_byte = bad_xml.index(b"\xe9"), bad_json.index(b"\xfc")
    assert reasons["latin.xml"].startswith(f"invalid UTF-8 at byte {xml_byte} (0xe9)")
    assert reasons["latin.json"] == f"invalid UTF-8 at byte {json_byte} (0xfc)"
    line_byte = bad_json.replace(b"\n", b"").index(b"\xfc")  # counted from the start of its line
    assert reasons["lines.jsonl:2"] == f"invalid UTF-8 at byte {line_byte} (0xfc)"
    assert "ends before its elements are closed" in reasons["cut.xml"]
    assert not any("xmlCtxt" in r or "surrogates" in r or "<string>" in r for r in reasons.values())
    assert store.has_trial("NCT04184258")  # a UTF-8 file that starts with a byte order mark is read


def test_a_record_that_is_not_a_study_is_reported_and_the_batch_goes_on(tmp_path: Path) -> None:
    lines = [
        line
        for line in (V2_DIR / "partrita__clinicaltrial-watch-tigit__snapshots.jsonl")
        .read_bytes()
        .splitlines()
        if line.strip()
    ]
    stray = next(number for number, line in enumerate(lines, start=1) if b"protocolSection" not in line)
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes(b"\n".join([lines[stray - 1], *lines[:3], b'{"status": "ok", "count": 3}', lines[3]]))
    store = open_store(tmp_path / "t.db")
    summary = ingest_paths(store, [mixed], progress=False, workers=1)
    assert [(r.source.rsplit("/", 1)[-1], r.reason) for r in summary.rejected] == [
        ("mixed.jsonl:1", "not a study record (an object with status)"),
        ("mixed.jsonl:5", "not a study record (an object with count, status)"),
    ]
    assert summary.stored == 4 == store.count()


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
