"""The trial page: the seed reproduced, golden pages of real records, every format escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest
from conftest import CTGOV, SEED

from trialscope.ctgov.parse import parse_study
from trialscope.ctgov.sources import SourceRecord, iter_file_records, parse_source_record
from trialscope.render import build_page, render_page
from trialscope.render.page import RelatedTrial

GOLDEN = Path(__file__).parent / "golden"

# Real records chosen for their quirks: results, withdrawn, no sites, ages in months.
GOLDEN_RECORDS = {
    "NCT00763412": CTGOV / "v2_json/aact_fixtures/NCT00763412.json",  # with results
    "NCT00973089": CTGOV / "v2_json/aact_fixtures/NCT00973089.json",  # withdrawn
    "NCT00465816": CTGOV / "v2_json/aact_fixtures/NCT00465816.json",  # no sites
    "NCT04184258": SEED / "NCT04184258.json",  # the seed
    "NCT00005736": CTGOV
    / "legacy_xml/reesewang25__enrollment_and_studylength/NCT00005736.xml",  # XML only, no criteria
    "NCT00462917": CTGOV
    / "legacy_xml/reesewang25__enrollment_and_studylength/NCT00462917.xml",  # XML with results
    "NCT00006150": CTGOV / "v2_json/partrita__clinicaltrial-watch-tigit__snapshots.jsonl",  # ages in months
}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def seed_trial():
    return parse_study(orjson.loads((SEED / "NCT04184258.json").read_bytes()))


def test_text_page_reproduces_the_seed_document() -> None:
    expected = (SEED / "000_02baf3a22c3ac0c0.txt").read_text()
    assert _norm(render_page(build_page(seed_trial()), "text")) == _norm(expected)


def test_seed_sections_keep_their_order_and_captions() -> None:
    page = build_page(seed_trial())
    titles = [s.title for s in page.sections]
    assert titles == [
        "Study Results",
        "Basic Information",
        "Brief Summary",
        "Detailed Description",
        "Conditions",
        "Study Design",
        "Study Groups",
        "Interventions",
        "Eligibility Criteria",
        "Sponsors",
        "Responsible Party",
        "Principal Investigators",
        "Locations",
        "Countries",
        "Other Identifiers",
        "More Related Trials",
    ]
    assert all(s.caption for s in page.sections if s.key != "results")


def _trial_of(nct_id: str):
    path = GOLDEN_RECORDS[nct_id]
    for item in iter_file_records(path):
        if isinstance(item, SourceRecord) and (item.shape != "json" or nct_id.encode() in item.raw):
            trial = parse_source_record(item)
            if trial.nct_id == nct_id:
                return trial
    raise AssertionError(f"no record of {nct_id} in {path}")


@pytest.mark.parametrize("nct_id", sorted(GOLDEN_RECORDS))
def test_golden_model_and_page(nct_id: str, update_golden: bool) -> None:
    import msgspec

    trial = _trial_of(nct_id)
    model = json.dumps(msgspec.to_builtins(trial), indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    page = render_page(build_page(trial), "text")
    model_file, page_file = GOLDEN / f"{nct_id}.model.json", GOLDEN / f"{nct_id}.page.txt"
    if update_golden or not model_file.exists():
        model_file.write_text(model)
        page_file.write_text(page)
    assert model == model_file.read_text()
    assert page == page_file.read_text()


def test_results_section_shows_measures_flow_baseline_and_events() -> None:
    trial = _trial_of("NCT00763412")
    assert trial.has_results and trial.results is not None
    text = render_page(build_page(trial), "text")
    for heading in ("Outcome Measures", "Participant Flow", "Baseline Characteristics", "Adverse Events"):
        assert heading in text
    measure = trial.results.outcome_measures[0]
    assert measure.title in text
    assert "Results pending" not in text


def test_withdrawn_trial_without_results_says_results_pending() -> None:
    trial = _trial_of("NCT00973089")
    assert trial.overall_status == "WITHDRAWN"
    text = render_page(build_page(trial), "text")
    assert "Results pending" in text


def test_related_trials_are_listed_with_reasons() -> None:
    related = (
        RelatedTrial(
            "NCT00000001",
            "Another lupus trial",
            "RECRUITING",
            "PHASE2",
            0.8,
            ("same condition: Lupus Erythematosus, Systemic",),
        ),
    )
    page = build_page(seed_trial(), related)
    for fmt in ("text", "markdown", "html"):
        out = render_page(page, fmt)
        assert "Another lupus trial" in out and "same condition: Lupus Erythematosus, Systemic" in out


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def hostile_trial():
    raw = orjson.loads((SEED / "NCT04184258.json").read_bytes())
    raw["protocolSection"]["descriptionModule"]["briefSummary"] = HOSTILE
    raw["protocolSection"]["identificationModule"]["briefTitle"] = HOSTILE
    raw["protocolSection"]["conditionsModule"]["conditions"] = [HOSTILE]
    return parse_study(raw)


def test_html_escapes_hostile_record_text() -> None:
    html = render_page(build_page(hostile_trial()), "html")
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_markdown_escapes_hostile_record_text() -> None:
    md = render_page(build_page(hostile_trial()), "markdown")
    assert "<script>" not in md
    assert "\\<script\\>" in md


def test_json_page_is_the_page_context() -> None:
    data = json.loads(render_page(build_page(seed_trial()), "json"))
    assert data["nct_id"] == "NCT04184258"
    basic = next(s for s in data["sections"] if s["key"] == "basic")
    fields = {b["label"]: b["value"] for b in basic["blocks"] if b["kind"] == "field"}
    assert fields["Clinical Phase"] == "PHASE1/PHASE2"
    assert fields["Total Enrollment"] == "7 participants"


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render_page(build_page(seed_trial()), "pdf")
