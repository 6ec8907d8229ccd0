"""The trial page: the seed reproduced, golden pages of real records, every format escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import orjson
import pytest
from conftest import CTGOV, SEED

from trialscope.criteria import typed_criteria
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
    # The page as `show` prints it: with each criterion line's typed label (the store's derived index).
    page = render_page(build_page(trial, criteria=typed_criteria(trial)), "text")
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


# --- the HTML page: words for people, the text page as the registry writes it ---------------


def _with(trial, **changes):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(trial, **changes)


def test_html_says_codes_in_words_and_text_keeps_the_registry_codes() -> None:
    related = (RelatedTrial("NCT00000001", "Another", "NOT_YET_RECRUITING", "PHASE1/PHASE2", 0.8,
                            ("same phase: PHASE1/PHASE2",)),)  # fmt: skip
    page = build_page(seed_trial(), related)
    html, text = render_page(page, "html"), render_page(page, "text")
    sponsors = html[html.index('<section id="sponsors"') : html.index('<section id="party"')]
    assert "<p>Other organization (university, hospital, foundation)</p>" in sponsors
    assert "<p>OTHER</p>" not in sponsors
    assert "same phase: Phase 1 / Phase 2" in html and "same phase: PHASE1/PHASE2" not in html
    assert '<span class="status">Not yet recruiting</span>' in html
    # The text page is the reference page's: raw codes, as the seed shows them.
    assert "\n\nOTHER\n\n" in text and "same phase: PHASE1/PHASE2" in text


def test_results_types_are_words_on_the_html_page() -> None:
    page = build_page(_trial_of("NCT00763412"))
    html, text = render_page(page, "html"), render_page(page, "text")
    assert "Type: PRIMARY" in text and "Measure Type: MEAN" in text
    assert re.search(r'<span class="label">Type</span>: <span title="PRIMARY">Primary outcome</span>', html)
    assert re.search(r'<span class="label">Measure Type</span>: <span title="MEAN">Mean</span>', html)


def test_empty_fields_say_not_provided_on_the_html_page_only() -> None:
    trial = _with(seed_trial(), last_update_post_date=None, last_update_submit_date=None)
    page = build_page(trial)
    html, text = render_page(page, "html"), render_page(page, "text")
    assert '<span class="label">Last Updated:</span> <span class="missing">Not provided</span>' in html
    description = html[html.index('<section id="description"') : html.index('<section id="conditions"')]
    assert '<p class="missing">Not provided.</p>' in description
    assert not re.search(r"<dd>\s*</dd>", html), "no label is left with nothing after it"
    assert not re.search(r'<span class="label">[^<]*</span>:?\s*</p>', html)
    assert "\n\nLast Updated:\n\n" in "\n\n" + text and "Not provided" not in text


def test_codes_outside_their_vocabulary_read_as_unknown_values() -> None:
    raw = orjson.loads((SEED / "NCT04184258.json").read_bytes())
    raw["protocolSection"]["statusModule"]["overallStatus"] = "ON_FIRE"
    raw["protocolSection"]["designModule"]["phases"] = ["PHASE7"]
    html = render_page(build_page(parse_study(raw)), "html")
    assert "Unknown value (ON_FIRE)" in html and "Unknown value (PHASE7)" in html
    assert "On fire" not in html and "Phase7" not in html


def test_every_code_search_accepts_has_words() -> None:
    from trialscope.render.words import words_for
    from trialscope.search import values

    for vocabulary, codes in (("status", values.STATUSES), ("phase", values.PHASES),
                              ("study_type", values.STUDY_TYPES), ("sex", values.SEXES),
                              ("intervention_type", values.INTERVENTION_TYPES),
                              ("sponsor_class", values.SPONSOR_CLASSES)):  # fmt: skip
        for code in codes:
            words = words_for(vocabulary, code)
            assert words and not words.startswith("Unknown value") and words != code, (vocabulary, code)


def test_standalone_page_links_related_trials_to_clinicaltrials_gov() -> None:
    related = (RelatedTrial("NCT00000001", "Another lupus trial", "RECRUITING", "PHASE2", 0.8, ("x",)),)
    html = render_page(build_page(seed_trial(), related), "html")
    assert '<a href="https://clinicaltrials.gov/study/NCT00000001">' in html
    assert 'href="/' not in html, "a page opened from disk has no links relative to a server"


def test_one_name_per_country_on_the_html_page() -> None:
    raw = orjson.loads((SEED / "NCT04184258.json").read_bytes())
    site = raw["protocolSection"]["contactsLocationsModule"]["locations"][0]
    site["country"] = "Korea, Republic of"
    trial = parse_study(raw)
    page = build_page(trial)
    html, text = render_page(page, "html"), render_page(page, "text")
    assert page.countries == ("South Korea",)
    assert "Korea, Republic of" not in html and "Minsk, South Korea" in html
    assert "Minsk, , Korea, Republic of" in text  # the text page keeps the record's spelling


def test_charts_write_numbers_with_thousands_and_text_at_its_own_size() -> None:
    from trialscope.render.svg import bar_chart, column_chart

    bars = bar_chart("Trials", [("Completed", 1234567.0), ("Recruiting", 500.0)])
    columns = column_chart("Years", [("2019", 25000.0), ("2020", 3.0)])
    assert ">1,234,567<" in bars and ">25,000<" in columns
    # No viewBox: a chart is not scaled down to a phone's width, so its text keeps its size.
    assert "viewBox" not in bars and "viewBox" not in columns
