"""Screening real trials' criteria against patients: verdicts, evidence, questions, ranking.

The trials are real records of the shared data; each expectation is what a coordinator reading
the criterion and the patient would decide (and which patient fact decides it).
"""

from __future__ import annotations

from datetime import date

import msgspec
import pytest
from test_criteria import record

from trialscope.criteria import parse_criterion
from trialscope.match import (
    Candidate,
    CriterionVerdict,
    MatchResult,
    TrialVerdict,
    candidate_from_trial,
    match_patient,
    screen,
)
from trialscope.match.retrieval import condition_phrases
from trialscope.model import Trial
from trialscope.patient import Patient, patient_from_json, patient_from_note

PALLAS = "NCT02513394"  # adjuvant palbociclib in early breast cancer (mCODE fixture)
CAR_T = "NCT05515185"  # B7-H3 CAR-T cells in advanced solid tumours


def breast_cancer_patient(**changes: object) -> Patient:
    profile: dict[str, object] = {
        "age": 55,
        "sex": "female",
        "conditions": ["breast cancer"],
        "measurements": [
            {"variable": "ecog", "value": 1},
            {"variable": "anc", "value": 2100, "unit": "/uL"},
            {"variable": "platelets", "value": 180000, "unit": "/uL"},
            {"variable": "hemoglobin", "value": 12.1, "unit": "g/dL"},
        ],
        "pregnant": False,
        "as_of": "2021-06-01",
    }
    profile.update(changes)
    return patient_from_json(profile)


def verdict_of(trial: TrialVerdict, words: str) -> CriterionVerdict:
    found = [c for c in trial.criteria if words in c.text]
    assert len(found) == 1, f"{len(found)} criteria contain {words!r}"
    return found[0]


def screened(nct_id: str, patient: Patient) -> TrialVerdict:
    result = match_patient([candidate_from_trial(record(nct_id), 1.0)], patient)
    return result.trials[0]


def test_labs_and_performance_met_with_the_facts_that_decide_them() -> None:
    trial = screened(PALLAS, breast_cancer_patient())
    ecog = verdict_of(trial, "ECOG performance status 0-1")
    assert ecog.verdict == "met"
    assert [e.text for e in ecog.evidence] == ["ecog 1"]
    anc = verdict_of(trial, "Absolute neutrophil count")
    assert anc.verdict == "met" and anc.evidence[0].path == "$.measurements[1]"
    assert verdict_of(trial, "Condition studied: Breast Cancer").verdict == "met"


def test_a_lab_below_the_threshold_makes_the_trial_ineligible() -> None:
    low = [
        {"variable": "ecog", "value": 1},
        {"variable": "hemoglobin", "value": 92, "unit": "g/L"},  # 9.2 g/dL, the line wants >= 10
    ]
    trial = screened(PALLAS, breast_cancer_patient(measurements=low))
    hb = verdict_of(trial, "Hemoglobin ≥ 10g/dL")
    assert hb.verdict == "not_met" and "9.2" in hb.reason
    assert trial.verdict == "ineligible"
    assert trial.questions == ()


def test_exclusion_naming_the_studied_condition_stays_unknown() -> None:
    # "Patients with Stage I or IV breast cancer are not eligible": having breast cancer does not decide it
    trial = screened(PALLAS, breast_cancer_patient())
    stage = verdict_of(trial, "Stage I or IV breast cancer")
    assert stage.verdict == "unknown"
    assert stage.question is not None and "Stage I or IV" in stage.question


def test_unknown_inclusions_leave_maybe_with_questions() -> None:
    trial = screened(PALLAS, breast_cancer_patient())
    assert trial.verdict == "maybe"
    assert verdict_of(trial, "Absolute neutrophil count").verdict == "met"
    creatinine = verdict_of(trial, "Serum creatinine below the upper limit")
    assert creatinine.verdict == "unknown"
    assert trial.questions and all(q.endswith("?") for q in trial.questions)
    assert len(trial.questions) == len(set(trial.questions))


def test_pregnancy_exclusions_do_not_apply_to_a_man() -> None:
    man = patient_from_note("A 64-year-old man with advanced solid tumor, ECOG 1, not on dialysis.")
    trial = screened(CAR_T, man)
    assert verdict_of(trial, "pregnant or lactating women").verdict == "not_applicable"
    assert verdict_of(trial, "Aged 18-70").verdict == "met"
    # "The ECOG score is 0-2, and the expected survival time is more than 12 weeks": ECOG 1 meets
    # the first half, the note does not say the second
    both = verdict_of(trial, "The ECOG score is 0-2")
    assert both.verdict == "unknown"
    assert both.question == "What is the patient's Life expectancy?"
    assert [e.text for e in both.evidence] == ["ECOG 1"]


def test_age_over_the_maximum_is_not_met_from_the_structured_field() -> None:
    old = patient_from_note("A 74-year-old woman with an advanced solid tumor.")
    trial = screened(CAR_T, old)
    age = verdict_of(trial, "Age: minimum age 18 Years to maximum age 70 Years")
    assert age.verdict == "not_met"
    assert age.evidence[0].text == "74-year-old"
    assert trial.verdict == "ineligible"


def test_windowed_therapy_exclusion_uses_the_date() -> None:
    recent = breast_cancer_patient(medications=[{"name": "chemotherapy", "end": "2021-05-30"}])
    trial = screened(CAR_T, recent)
    chemo = verdict_of(trial, "Chemotherapy or radiotherapy was used within 3 days")
    assert chemo.verdict == "met" and "2 days ago" in chemo.reason
    earlier = breast_cancer_patient(medications=[{"name": "chemotherapy", "end": "2021-03-01"}])
    assert verdict_of(screened(CAR_T, earlier), "radiotherapy was used within 3 days").verdict == "not_met"


def test_dialysis_question_and_negated_line() -> None:
    lines = [parse_criterion("ECOG 0-2"), parse_criterion("Patients on dialysis", "exclusion")]
    on = screen(lines, patient_from_note("A 64-year-old man on hemodialysis three times a week. ECOG 1."))
    assert on.verdict == "ineligible"
    assert on.criteria[1].evidence[0].text == "hemodialysis"
    unknown = screen(lines, patient_from_note("A 64-year-old man, ECOG 1."))
    assert unknown.verdict == "eligible"  # an exclusion left unknown does not block eligibility
    assert unknown.questions == ("Is the patient on dialysis?",)
    denied = screen(
        [parse_criterion("No history of stroke")], patient_from_note("58 yo F, no history of stroke.")
    )
    assert denied.criteria[0].verdict == "met"


def test_a_narrower_procedure_is_not_decided_by_the_plain_one() -> None:
    # "No excisional biopsy" against a note that says only "biopsy": which kind is not said
    lines = [
        parse_criterion("No excisional biopsy"),
        parse_criterion("Major surgery within 4 weeks", "exclusion"),
    ]
    plain = screen(
        lines, patient_from_note("A 52-year-old woman. A biopsy of the left breast showed cancer.")
    )
    assert plain.criteria[0].verdict == "unknown"
    assert plain.criteria[0].evidence[0].text == "biopsy"
    assert plain.criteria[0].question == "Has the patient had excisional biopsy?"
    assert plain.verdict != "ineligible"
    named = screen(
        lines, patient_from_note("A 52-year-old woman after an excisional biopsy of the left breast.")
    )
    assert named.criteria[0].verdict == "not_met" and named.verdict == "ineligible"
    assert parse_criterion("Prior surgery within 4 weeks").facts[0].concepts[0].mention is None


def test_a_line_under_no_heading_left_unknown_keeps_the_trial_maybe() -> None:
    # "Creatinine ≤ 1.5 mg/dL" under no heading may be an inclusion: not knowing it, the trial is not eligible
    patient = patient_from_note("A 64-year-old man with lung cancer, ECOG 1.")
    lines = [parse_criterion("ECOG 0-2"), parse_criterion("Serum creatinine ≤ 1.5 mg/dL", "unspecified")]
    open_line = screen(lines, patient)
    assert [c.verdict for c in open_line.criteria] == ["met", "unknown"]
    assert open_line.verdict == "maybe"
    assert open_line.questions == (open_line.criteria[1].question,)
    known = screen(
        lines, patient_from_note("A 64-year-old man with lung cancer, ECOG 1, creatinine 1.0 mg/dL.")
    )
    assert [c.verdict for c in known.criteria] == ["met", "met"]
    assert known.verdict == "eligible"


def test_age_and_sex_alone_do_not_make_a_trial_eligible() -> None:
    patient = patient_from_json({"age": 40, "sex": "female", "conditions": ["asthma"]})
    adult = [parse_criterion("Age 18 years or older"), parse_criterion("Women and men")]
    assert screen(adult, patient).verdict == "maybe"
    with_asthma = [*adult, parse_criterion("Diagnosis of asthma")]
    assert [c.verdict for c in screen(with_asthma, patient).criteria][-1] == "met"
    assert screen(with_asthma, patient).verdict == "eligible"


def test_ecog_given_as_karnofsky() -> None:
    patient = patient_from_json({"age": 50, "karnofsky": 90})
    assert screen([parse_criterion("ECOG performance status 0-1")], patient).criteria[0].verdict == "met"
    assert screen([parse_criterion("ECOG 2-3")], patient).criteria[0].verdict == "not_met"


def test_a_trial_without_criteria_is_maybe() -> None:
    assert screen([], Patient(age=40.0)).verdict == "maybe"


def test_ranking_eligible_maybe_ineligible_then_less_relevant() -> None:
    patient = patient_from_json({"age": 40, "sex": "female", "conditions": ["asthma"]})
    adult = (parse_criterion("Age 18 years or older"), parse_criterion("Diagnosis of asthma"))
    child = (parse_criterion("Age under 12 years"),)
    unsure = (parse_criterion("FEV1 ≥ 60% predicted"),)
    candidates = [
        Candidate("NCT1", "child", child, 10.0),
        Candidate("NCT2", "unsure", unsure, 9.0),
        Candidate("NCT3", "adult", adult, 8.0),
        Candidate("NCT4", "adult but barely relevant", adult, 1.0),
    ]
    result = match_patient(candidates, patient)
    assert [t.nct_id for t in result.trials] == ["NCT3", "NCT2", "NCT1", "NCT4"]
    assert [t.verdict for t in result.trials] == ["eligible", "maybe", "ineligible", "eligible"]
    everyone = match_patient(candidates, patient, min_relevance=0.0, limit=2)
    assert [t.nct_id for t in everyone.trials] == ["NCT3", "NCT4"]


def test_json_shape_of_a_match() -> None:
    result = match_patient([candidate_from_trial(record(CAR_T), 3.5)], breast_cancer_patient())
    data = msgspec.json.decode(msgspec.json.encode(result))
    trial = data["trials"][0]
    assert {"nct_id", "title", "verdict", "score", "criteria"} <= set(trial)
    assert {"kind", "text", "type", "verdict", "evidence"} <= set(trial["criteria"][0])
    assert data["patient"]["age"] == 55
    assert msgspec.json.decode(msgspec.json.encode(result), type=MatchResult) == result
    schema = msgspec.json.schema(MatchResult)
    assert "TrialVerdict" in schema["$defs"] and "Patient" in schema["$defs"]


def test_condition_phrases_for_retrieval() -> None:
    patient = patient_from_note("48 M with HTN and severe aortic valve stenosis; denies chest pain.")
    assert condition_phrases(patient) == ['"Hypertension"', '"Aortic Valve Stenosis"']


@pytest.mark.parametrize("as_of", [date(2021, 6, 1), None])
def test_summary_only_record_is_read_for_its_title(as_of: date | None) -> None:
    trial = Trial(nct_id="NCT9", brief_title="Temozolomide in Treating Patients With Anaplastic Astrocytoma",
                  summary_only=True)  # fmt: skip
    candidate = candidate_from_trial(trial, 1.0)
    assert candidate.criteria == ()
    assert candidate.studied is not None
    patient = patient_from_json(
        {"age": 45, "conditions": ["anaplastic astrocytoma"], "as_of": as_of and as_of.isoformat()}
    )
    verdict = match_patient([candidate], patient).trials[0]
    assert verdict.criteria[0].verdict == "met"
    assert verdict.verdict == "maybe"  # the studied condition alone never makes a trial eligible
