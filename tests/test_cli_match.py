"""`trialscope match`: a note, a JSON profile or a FHIR bundle against a store of real records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CTGOV, SEED

from trialscope.cli import main

PALLAS = "NCT02513394"  # adjuvant palbociclib in early breast cancer (the mCODE fixture)
NOTE = (
    "55-year-old woman with early breast cancer, hormone receptor positive, after surgery. "
    "ECOG performance status 1. ANC 2100/uL, platelets 180,000/uL, hemoglobin 12.1 g/dL. "
    "She is not pregnant. History of hypertension."
)
PROFILE = {
    "age": 55,
    "sex": "female",
    "conditions": ["breast cancer"],
    "measurements": [
        {"variable": "ecog", "value": 1},
        {"variable": "anc", "value": 2100, "unit": "/uL"},
        {"variable": "platelets", "value": 180000, "unit": "/uL"},
    ],
    "pregnant": False,
}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("match") / "trials.db")
    sources = [CTGOV / "v2_json/aact_fixtures", CTGOV / "v2_json/misc_fixtures", SEED / "NCT04184258.json"]
    assert main(["ingest", *map(str, sources), "--db", path, "--no-progress", "--quiet"]) == 0
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["match", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_note_finds_the_breast_cancer_trial_and_shows_the_patient_first(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["match", "--note", NOTE, "--db", db]) == 0
    out = capsys.readouterr().out
    understood, _, trials = out.partition("\n\n")
    assert understood.startswith("The patient as understood")
    assert (
        "Age: 55 years" in understood
        and "Sex: female" in understood
        and "breast cancer" in understood.lower()
    )
    assert "most telling words" in trials and PALLAS in trials
    pallas = trials[trials.index(PALLAS) :]
    assert "ECOG" in pallas and '← "ECOG performance status 1"' in pallas


def test_the_json_is_the_issues_shape(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--note", NOTE, "--db", db, "--limit", "3")
    assert {"trials", "patient"} <= set(data)
    assert data["patient"]["age"] == 55 and data["patient"]["sex"] == "female"
    assert 1 <= len(data["trials"]) <= 3
    for trial in data["trials"]:
        assert {"nct_id", "title", "verdict", "score", "criteria"} <= set(trial)
        assert trial["verdict"] in ("eligible", "maybe", "ineligible")
        for c in trial["criteria"]:
            assert {"kind", "text", "type", "verdict", "evidence"} <= set(c)
            assert c["kind"] in ("inclusion", "exclusion", "unspecified")
            assert c["verdict"] in ("met", "not_met", "unknown", "not_applicable")
    order = {"eligible": 0, "maybe": 1, "ineligible": 2}
    ranks = [order[t["verdict"]] for t in data["trials"]]
    assert ranks == sorted(ranks) or data["trials"][0]["score"] >= data["trials"][-1]["score"]


def test_a_json_profile_and_a_named_trial(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "patient.json"
    profile.write_text(json.dumps(PROFILE))
    data = run_json(capsys, "--patient", str(profile), "--nct", SEED_ID, "--limit", "1", "--db", db)
    ids = [t["nct_id"] for t in data["trials"]]
    assert SEED_ID in ids  # named: shown whatever its rank
    seed = next(t for t in data["trials"] if t["nct_id"] == SEED_ID)
    assert seed["verdict"] in ("ineligible", "maybe")  # a lupus trial, for a breast cancer patient
    data = run_json(capsys, "--patient", str(profile), "--candidates", "0", "--nct", PALLAS, "--db", db)
    assert [t["nct_id"] for t in data["trials"]] == [PALLAS] and data["screened"] == 1
    anc = [c for c in data["trials"][0]["criteria"] if c["type"] == "lab" and c["verdict"] == "met"]
    assert any(e["path"].startswith("$.measurements") for c in anc for e in c["evidence"])


SEED_ID = "NCT04184258"


def test_a_fhir_bundle_is_read_as_fhir(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "p1",
                    "gender": "female",
                    "birthDate": "1968-02-01",
                }
            },
            {
                "resource": {
                    "resourceType": "Condition",
                    "id": "c1",
                    "subject": {"reference": "Patient/p1"},
                    "code": {"text": "Breast cancer"},
                }
            },
        ],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    data = run_json(capsys, "--patient", str(path), "--db", db)
    assert data["patient"]["source"] == "fhir" and data["patient"]["sex"] == "female"
    assert PALLAS in [t["nct_id"] for t in data["trials"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--note", "   "], "The patient note is empty"),
        (["--note-file", "/nonexistent/note.txt"], "Cannot read the note file /nonexistent/note.txt"),
        (["--patient", "/nonexistent/p.json"], "Cannot read the patient file /nonexistent/p.json"),
        (["--note", NOTE, "--nct", "NCT99999999"], "No trial NCT99999999 in the store"),
        (["--note", NOTE, "--nct", "12345"], "is not a valid NCT id"),
        (["--note", NOTE, "--within", "10km"], "needs a place to measure from (--near)"),
        (["--note", NOTE, "--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_errors_are_one_sentence(
    db: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["match", *args, "--db", db]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "The patient document is not valid JSON"),
        (b'{"age": "old"}', "The patient profile is not valid"),
        (b'{"resourceType": "Patient"}', "The FHIR input is not a Bundle"),
        (b"[]", "is a JSON list, not an object"),
    ],
)
def test_bad_patient_files_are_one_sentence(
    db: str, tmp_path: Path, content: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(content)
    assert main(["match", "--patient", str(path), "--db", db]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_the_filters_apply_to_the_candidates(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    every = run_json(capsys, "--note", NOTE, "--limit", "50", "--db", db)
    recruiting = run_json(capsys, "--note", NOTE, "--limit", "50", "--status", "recruiting", "--db", db)
    assert recruiting["screened"] < every["screened"]
    assert "search filter" in recruiting["note"]
