"""Properties over hostile input: reading a patient never raises (a note) or raises only PatientError
(JSON, FHIR); screening gives every criterion exactly one verdict of the four, and a trial one of three."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialscope.criteria import parse_criterion
from trialscope.match import match_patient, screen
from trialscope.match.screening import Candidate
from trialscope.patient import (
    Patient,
    PatientError,
    describe,
    patient_from_fhir,
    patient_from_json,
    patient_from_note,
)

# words the readers react to, so generated text reaches their branches
NOTE_WORDS = [
    "45-year-old", "58 yo", "M", "F", "man", "woman", "she", "he", "no", "denies", "history of", "h/o",
    "mother", "had", "HTN", "CAD", "diabetes", "breast cancer", "pregnant", "not", "breastfeeding",
    "creatinine", "1.8", "mg/dL", ":", "EF", "25%", "ECOG", "1", "BP", "150/95", "platelets", "85,000",
    "on", "hemodialysis", "chemotherapy", "3 weeks ago", "lives in", "Boston", "weeks of gestation",
    ".", ",", ";", "\n", "µmol/L", "≥", "<", "x ULN", "10^9/L", "ʼ", "İ", "\u0000", "🙂", "(", ")",
]  # fmt: skip
CRITERION_WORDS = [
    "ECOG", "0-1", "Karnofsky", "≥", "70", "age", "18", "years", "older", "female", "male", "pregnant",
    "breastfeeding", "contraception", "no", "history of", "stroke", "diabetes", "dialysis", "chemotherapy",
    "within", "4 weeks", "creatinine", "≤", "1.5", "mg/dL", "x ULN", "ANC", "1,500/mm3", "healthy volunteers",
    "informed consent", "or", "and", "breast cancer", "hemoglobin", "9", "g/dL", "HIV", "negative",
]  # fmt: skip

notes = st.lists(st.one_of(st.sampled_from(NOTE_WORDS), st.text(max_size=12)), max_size=40).map(" ".join)
lines = st.lists(st.sampled_from(CRITERION_WORDS), min_size=1, max_size=12).map(" ".join)
kinds = st.sampled_from(["inclusion", "exclusion", "unspecified"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notes)
def test_a_note_never_raises_and_its_evidence_is_the_note(text: str) -> None:
    patient = patient_from_note(text)
    assert isinstance(describe(patient), str)
    for item in (*patient.conditions, *patient.measurements, *patient.medications, *patient.procedures):
        ev = item.evidence
        assert ev is not None and ev.start is not None and ev.end is not None
        assert text[ev.start : ev.end] == ev.text
    assert patient_from_json(msgspec.json.encode(patient)) == patient


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
profile_fields = st.sampled_from(
    [
        "age",
        "sex",
        "conditions",
        "measurements",
        "medications",
        "procedures",
        "pregnant",
        "ecog",
        "as_of",
        "zzz",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(profile_fields, json_values, max_size=5))
def test_a_json_profile_is_read_or_refused_in_one_sentence(data: dict[str, object]) -> None:
    try:
        patient = patient_from_json(msgspec.json.encode(data))
    except PatientError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("The patient profile")
    else:
        assert isinstance(patient, Patient)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["resourceType", "id", "code", "valueQuantity", "gender",
                                                   "birthDate", "status"]), json_values, max_size=4),
                max_size=4))  # fmt: skip
def test_a_fhir_bundle_is_read_or_refused(resources: list[dict[str, object]]) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    try:
        patient = patient_from_fhir(bundle)
    except PatientError as exc:
        assert "\n" not in str(exc)
    else:
        assert patient.source == "fhir"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(lines, kinds), max_size=8), notes)
def test_every_criterion_gets_one_verdict(texts: list[tuple[str, str]], note: str) -> None:
    criteria = [parse_criterion(text, kind) for text, kind in texts]  # type: ignore[arg-type]
    patient = patient_from_note(note)
    verdict = screen(criteria, patient)
    assert len(verdict.criteria) == len(criteria)
    assert {c.verdict for c in verdict.criteria} <= {"met", "not_met", "unknown", "not_applicable"}
    assert verdict.verdict in ("eligible", "maybe", "ineligible")
    failed = any(
        (c.kind == "inclusion" and c.verdict == "not_met") or (c.kind == "exclusion" and c.verdict == "met")
        for c in verdict.criteria
    )
    assert (verdict.verdict == "ineligible") == failed
    for c in verdict.criteria:
        assert (c.question is None) or c.verdict == "unknown"
    ranked = match_patient([Candidate("NCT0", "t", tuple(criteria), 1.0)], patient)
    assert ranked.trials[0].criteria == verdict.criteria
