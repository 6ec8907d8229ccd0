"""The page /match and POST /api/v1/match over the web test store of real records."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.testclient import TestClient
from web_fixtures import SEED_ID, parse_page

pytest_plugins = ["web_fixtures"]

PALLAS = "NCT02513394"  # adjuvant palbociclib in early breast cancer (in the web store's v2 records)
HOSTILE = '<script>alert("note")</script><img src=x onerror=alert(1)>'
NOTE = (
    "55-year-old woman with early breast cancer, hormone receptor positive, after surgery. "
    f"ECOG performance status 1. ANC 2100/uL, platelets 180,000/uL. {HOSTILE} She is not pregnant."
)
PROFILE = {
    "age": 55,
    "sex": "female",
    "conditions": ["breast cancer"],
    "measurements": [{"variable": "ecog", "value": 1}],
}


def shown(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-nct-id="(NCT\d{8})" data-verdict="(\w+)"', html)


def about_breast_cancer(html: str) -> bool:
    """Whether most trials shown are about breast cancer (as the patient's condition is)."""
    titles = re.findall(r'<h4><a href="/trials/NCT\d{8}">([^<]*)</a></h4>', html)
    return bool(titles) and sum("breast" in t.lower() for t in titles) >= len(titles) / 2


def alert(html: str) -> str:
    found = re.search(r'<div class="alert" role="alert">\s*<h2>[^<]*</h2>\s*<p>([^<]*)</p>', html)
    return found.group(1) if found else ""


def test_the_form_is_in_the_nav_and_names_every_filter(client: TestClient) -> None:
    assert '<a href="/match"' in client.get("/").text
    page = client.get("/match")
    assert page.status_code == 200
    html = page.text
    assert 'name="note"' in html and 'name="patient"' in html and 'name="patient_file"' in html
    for name in ("status", "phase", "near", "within", "country", "age", "sex"):
        assert f'name="{name}"' in html
    assert 'aria-current="page">Match a patient' in html


def test_a_note_shows_the_patient_understood_and_the_trials_by_verdict(client: TestClient) -> None:
    response = client.post("/match", data={"note": NOTE, "limit": "10", "nct": PALLAS})
    assert response.status_code == 200
    html = response.text
    assert "<script>alert" not in html and "<img src=x" not in html  # the note is escaped wherever it shows
    assert "&lt;script&gt;" in html
    understood = html[html.index('id="understood-h"') : html.index('id="results-h"')]
    assert "Age: 55 years" in understood and "Sex: female" in understood and "ECOG 1" in understood
    assert "&#34;age&#34;: 55" in understood or '"age": 55' in understood  # the profile, to correct
    trials = shown(html)
    assert len(trials) >= 10 and PALLAS in dict(trials)  # the ten best, and the trial named
    assert about_breast_cancer(html)
    order = {"eligible": 0, "maybe": 1, "ineligible": 2}
    assert [order[v] for _, v in trials] == sorted(order[v] for _, v in trials)
    pallas = html[html.index(f'data-nct-id="{PALLAS}"') :]
    pallas = pallas[: pallas.index("</li>\n")] if "</li>\n" in pallas else pallas
    assert "ECOG 0–1" in pallas and "<q>ECOG performance status 1</q>" in pallas
    if dict(trials)[PALLAS] == "maybe":
        assert "To decide it:" in pallas
    page = parse_page(html)
    assert not any(tag == "script" for tag, _ in page.tags)
    for attrs in page.inputs:
        if attrs.get("type") not in ("hidden", "submit"):
            assert attrs.get("id") in page.label_for


def test_a_profile_typed_or_uploaded_and_a_named_trial(client: TestClient) -> None:
    typed = client.post("/match", data={"patient": json.dumps(PROFILE), "nct": SEED_ID, "limit": "5"})
    assert typed.status_code == 200 and SEED_ID in dict(shown(typed.text))
    upload = client.post(
        "/match",
        data={"limit": "5"},
        files={"patient_file": ("patient.json", json.dumps(PROFILE).encode(), "application/json")},
    )
    assert upload.status_code == 200 and "Age: 55 years" in upload.text and about_breast_cancer(upload.text)


def test_form_errors_are_one_sentence_and_keep_what_was_typed(client: TestClient) -> None:
    empty = client.post("/match", data={"note": "  "})
    assert empty.status_code == 400 and alert(empty.text).startswith("Describe the patient")
    bad = client.post("/match", data={"patient": "{not json"})
    assert bad.status_code == 400 and "not valid JSON" in alert(bad.text)
    assert "{not json" in bad.text  # kept in the form to fix
    unknown = client.post("/match", data={"note": NOTE, "nct": "NCT99999999"})
    assert unknown.status_code == 400 and "No trial NCT99999999" in alert(unknown.text)
    place = client.post("/match", data={"note": NOTE, "within": "10km"})
    assert place.status_code == 400 and "(Near)" in alert(place.text)
    long = client.post("/match", data={"note": "lupus " * 5000})
    assert long.status_code == 400 and "at most 20,000" in alert(long.text)
    huge = client.post("/match", content=b"note=" + b"x" * 2_100_000,
                       headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert huge.status_code == 413


def test_api_match_is_the_issues_shape(client: TestClient) -> None:
    response = client.post("/api/v1/match", json={"note": NOTE, "limit": 3, "filters": {"sex": "female"}})
    assert response.status_code == 200
    data = response.json()
    assert data["patient"]["age"] == 55 and data["patient"]["sex"] == "female"
    assert 1 <= len(data["trials"]) <= 3 and "search filter" in data["note"]
    for trial in data["trials"]:
        assert {"nct_id", "title", "verdict", "score", "criteria"} <= set(trial)
        for criterion in trial["criteria"]:
            assert {"kind", "text", "type", "verdict", "evidence"} <= set(criterion)
    profile = client.post("/api/v1/match", json={"patient": PROFILE, "nct_ids": [PALLAS], "candidates": 0})
    assert [t["nct_id"] for t in profile.json()["trials"]] == [PALLAS]


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["message"]


def test_api_match_errors(client: TestClient) -> None:
    assert _error(client.post("/api/v1/match", json={}))[1].startswith("Describe the patient")
    assert "not both" in _error(client.post("/api/v1/match", json={"note": NOTE, "patient": PROFILE}))[1]
    assert (
        "unknown field `colour`" in _error(client.post("/api/v1/match", json={"note": NOTE, "colour": 1}))[1]
    )
    assert (
        "Unknown filter 'colour'"
        in _error(client.post("/api/v1/match", json={"note": NOTE, "filters": {"colour": "x"}}))[1]
    )
    status, message = _error(client.post("/api/v1/match", json={"note": NOTE, "nct_ids": ["NCT99999999"]}))
    assert status == 400 and "No trial NCT99999999" in message
    assert "not JSON" in _error(client.post("/api/v1/match", content=b"note=lupus"))[1]
    assert "FHIR" in _error(client.post("/api/v1/match", json={"patient": {"resourceType": "Patient"}}))[1]
    assert _error(client.post("/api/v1/match", json={"note": "x" * 20_001}))[0] == 400
    assert _error(client.post("/api/v1/match", content=b"x" * 2_100_000))[0] == 413


def test_openapi_lists_the_match_operation(client: TestClient) -> None:
    spec = client.get("/api/openapi.json").json()
    operation = spec["paths"]["/api/v1/match"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/MatchRequest")
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/MatchResult"
    )
    schemas = spec["components"]["schemas"]
    assert {"note", "patient", "filters", "nct_ids", "limit"} <= set(schemas["MatchRequest"]["properties"])
    assert {"trials", "patient"} <= set(schemas["MatchResult"]["required"])
    assert "POST /api/v1/match" in client.get("/api/docs").text
