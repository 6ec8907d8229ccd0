"""API v2 parsing: real records, vocabulary, and garbage that must raise only our errors."""

from __future__ import annotations

import orjson
import pytest
from conftest import CTGOV, SEED
from hypothesis import given, settings
from hypothesis import strategies as st

from trialscope.ctgov.parse import parse_study
from trialscope.ctgov.sources import SourceRecord, iter_file_records, parse_source_record
from trialscope.errors import NotAStudyError, ParseError
from trialscope.vocab import age_to_days, iso_date, split_phases, to_enum


def test_seed_record_fields() -> None:
    t = parse_study(orjson.loads((SEED / "NCT04184258.json").read_bytes()))
    assert t.nct_id == "NCT04184258"
    assert t.official_title and t.official_title.startswith("Treatment of Systemic Lupus")
    assert t.design.enrollment_count == 7 and t.design.enrollment_type == "ACTUAL"
    assert t.eligibility.minimum_age_days == 18 * 365.25 and t.eligibility.healthy_volunteers is False
    assert [o.kind for o in t.outcomes] == ["primary", "secondary"]
    assert t.org_study_id is not None and t.org_study_id.id == "IBCE_MSC1(SLE)"
    assert t.lead_sponsor is not None and t.lead_sponsor.sponsor_class == "OTHER_GOV"
    assert "Lupus Erythematosus, Systemic" in {m.term for m in t.condition_mesh}


def _first(path):
    item = next(iter_file_records(path))
    assert isinstance(item, SourceRecord)
    return parse_source_record(item)


def test_record_with_results_has_all_four_parts() -> None:
    t = _first(CTGOV / "v2_json/aact_fixtures/NCT00763412.json")
    r = t.results
    assert t.has_results and r is not None
    assert r.outcome_measures and r.participant_flow and r.baseline and r.adverse_events
    bmi = r.outcome_measures[0]
    assert bmi.title == "BMI" and bmi.unit_of_measure == "Kg/m^2"
    values = [m.value for c in bmi.classes for cat in c.categories for m in cat.measurements]
    assert values == ["19.63", "21.19"]


def test_many_sites_with_geo_points() -> None:
    t = _first(CTGOV / "v2_json/misc_fixtures/mcode__clinical-trial-matching-service__NCT02513394.json")
    assert len(t.locations) == 437
    assert sum(1 for s in t.locations if s.geo) > 400


def test_ages_in_months_and_days() -> None:
    assert age_to_days("1 Month") == 30.4375
    assert age_to_days("6 Weeks") == 42
    assert age_to_days("N/A") is None and age_to_days(None) is None


@pytest.mark.parametrize(
    ("vocabulary", "word", "enum"),
    [
        ("status", "Active, not recruiting", "ACTIVE_NOT_RECRUITING"),
        ("status", "Unknown status", "UNKNOWN"),
        ("intervention_model", "Single Group Assignment", "SINGLE_GROUP"),
        ("masking", "None (Open Label)", "NONE"),
        ("allocation", "N/A", "NA"),
        ("sex", "Both", "ALL"),
        ("arm_type", "Active Comparator", "ACTIVE_COMPARATOR"),
        ("status", "RECRUITING", "RECRUITING"),
    ],
)
def test_vocabulary_words_map_onto_v2_enums(vocabulary: str, word: str, enum: str) -> None:
    assert to_enum(vocabulary, word) == enum


def test_phases_and_dates() -> None:
    assert split_phases("Phase 1/Phase 2") == ("PHASE1", "PHASE2")
    assert split_phases("N/A") == ("NA",)
    assert iso_date("December 31, 2020") == "2020-12-31"
    assert iso_date("Dec 2020") == "2020-12"
    assert iso_date("2021-01") == "2021-01"
    assert iso_date("February 30, 2020") is None


def test_not_a_study_and_no_id() -> None:
    with pytest.raises(NotAStudyError):
        parse_study({"status": "ok"})
    with pytest.raises(ParseError, match="NCT id"):
        parse_study({"protocolSection": {"identificationModule": {"nctId": "12345"}}})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
module_names = st.sampled_from(
    [
        "identificationModule",
        "statusModule",
        "designModule",
        "eligibilityModule",
        "armsInterventionsModule",
        "contactsLocationsModule",
        "conditionsModule",
        "sponsorCollaboratorsModule",
        "outcomesModule",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(module_names, json_values, max_size=6), json_values)
def test_garbage_raises_only_our_errors(modules: dict, results: object) -> None:
    study = {
        "protocolSection": {
            **modules,
            "identificationModule": modules.get("identificationModule", {"nctId": "NCT00000001"}),
        },
        "resultsSection": results,
    }
    try:
        trial = parse_study(study)
    except ParseError:
        return
    assert trial.nct_id.startswith("NCT")


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_any_json_value_is_rejected_cleanly(value: object) -> None:
    try:
        parse_study(value)
    except ParseError:
        return
    raise AssertionError("a value without protocolSection parsed as a study")
