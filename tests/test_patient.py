"""Patient profiles from real published patient descriptions, a JSON profile and a FHIR R4 Bundle.

The notes are TREC 2021 Clinical Trials topics (../shared/eval/trec2021/queries.jsonl). Each
expectation is what a reader of the description finds in it (the age, the sex, what the patient
has and what the note rules out), not a copy of the extractor's output.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import msgspec
import orjson
import pytest
from conftest import EVAL

from trialscope.patient import (
    Patient,
    PatientError,
    describe,
    patient_from_fhir,
    patient_from_json,
    patient_from_note,
)

TOPICS = EVAL / "trec2021" / "queries.jsonl"


@cache
def topic(topic_id: str) -> str:
    for line in TOPICS.read_bytes().splitlines():
        if line.strip():
            obj = orjson.loads(line)
            if obj["_id"] == topic_id:
                return str(obj["text"])
    raise KeyError(topic_id)


@cache
def note(topic_id: str) -> Patient:
    return patient_from_note(topic(topic_id))


def present(p: Patient) -> set[str]:
    return {(c.term or c.name).lower() for c in p.conditions if c.present}


def ruled_out(p: Patient) -> set[str]:
    return {(c.term or c.name).lower() for c in p.conditions if c.negated}


def family(p: Patient) -> set[str]:
    return {(c.term or c.name).lower() for c in p.conditions if c.family}


def measured(p: Patient) -> dict[str, float]:
    return {m.variable: m.value for m in p.measurements}


# --- notes: age, sex ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic_id", "age", "sex"),
    [
        ("trec-20211", 45, "male"),  # "a 45-year-old man"
        ("trec-20212", 48, "male"),  # "48 M with a h/o HTN"
        ("trec-20213", 32, "female"),  # "A 32 yo woman"
        ("trec-20215", 74, "male"),  # "74M hx of CAD"
        ("trec-202132", 17, "male"),  # "A 17 year old boy"
    ],
)
def test_age_and_sex_as_written(topic_id: str, age: float, sex: str) -> None:
    p = note(topic_id)
    assert (p.age, p.sex) == (age, sex)
    ev = p.evidence["age"]
    assert ev.source == "note" and topic(topic_id)[ev.start : ev.end] == ev.text
    assert str(age) in ev.text


def test_infant_age_in_days_and_months() -> None:
    newborn = note("trec-202139")  # "A 3-day-old Asian female infant"
    assert newborn.age == pytest.approx(3 / 365.25, abs=1e-3)
    assert newborn.sex == "female"
    assert note("trec-202150").age == pytest.approx(5 / 12, abs=1e-3)  # "A 5 months old male"


# --- notes: conditions with their context --------------------------------------------------------


def test_history_of_astrocytoma_and_hypertension() -> None:
    p = note("trec-20211")
    assert {"astrocytoma", "hypertension"} <= present(p)
    astro = next(c for c in p.conditions if c.term == "Astrocytoma")
    assert astro.mesh_id is not None
    assert astro.evidence is not None
    assert topic("trec-20211")[astro.evidence.start : astro.evidence.end].lower() == "anaplastic astrocytoma"
    assert "temozolomide" in {(t.term or t.name).lower() for t in p.medications}


def test_abbreviations_and_denials() -> None:
    # "hx of CAD s/p CABG ... HTN ... no prior syncope ... Denies CP/SOB"
    p = note("trec-20215")
    assert {"coronary artery disease", "stroke"} <= present(p)
    assert "syncope" in ruled_out(p)
    assert "coronary artery bypass" in {(t.term or t.name).lower() for t in p.procedures}
    assert measured(p)["lvef"] == 60  # "EF 60%"


def test_family_history_is_not_the_patients() -> None:
    # "His family history is positive for type 2 diabetes (his father and sister)"
    p = note("trec-202121")
    assert "diabetes mellitus, type 2" in family(p)
    assert "diabetes mellitus, type 2" not in present(p)
    assert "pancreatitis" in present(p)


def test_ejection_fraction_and_aortic_stenosis() -> None:
    p = note("trec-20212")  # "EF was 25%" ... "critical aortic stenosis"
    assert measured(p)["lvef"] == 25
    assert "hypertension" in present(p)  # "h/o HTN"


# --- notes: measurements in canonical units -------------------------------------------------------


def test_labs_written_name_colon_value() -> None:
    # "Hemoglobin: 9.7 g/dL Platelet: 110,000 /cu.mm Creatinine: 3.6 mg/dL"
    values = measured(note("trec-202132"))
    assert values["hemoglobin"] == pytest.approx(9.7)
    assert values["platelets"] == pytest.approx(110)  # 10⁹/L, the catalogue's unit
    assert values["creatinine"] == pytest.approx(3.6)


def test_blood_pressure_split_in_systolic_and_diastolic() -> None:
    values = measured(note("trec-202142"))  # "BP of 146/99"
    assert (values["sbp"], values["dbp"]) == (146, 99)


def test_where_the_patient_is_from_and_units_written_without_a_space() -> None:
    p = note("trec-202153")  # "a 34-year-old woman from Jordan" ... "Phosphorus: 3.2mg/dl"
    assert p.location == "Jordan"
    assert measured(p)["phosphate"] == pytest.approx(3.2)


# --- notes: pregnancy ---------------------------------------------------------------------------


def test_pregnancy_from_weeks_of_gestation() -> None:
    assert note("trec-202142").pregnant is True  # "G1P1 at 32+ 6 weeks of gestational age"
    assert note("trec-202151").pregnant is True  # "G1 P1 pregnant woman"


def test_newborn_is_not_pregnant_whatever_the_note_says_of_the_mother() -> None:
    p = note("trec-202139")  # "born at 38w3d of gestation, after an uncomplicated pregnancy"
    assert p.pregnant is None


def test_negation_in_a_short_note() -> None:
    p = patient_from_note("58 yo F with diabetes. Not pregnant. Denies chest pain. Mother had breast cancer.")
    assert (p.age, p.sex, p.pregnant) == (58, "female", False)
    assert "chest pain" in ruled_out(p)
    assert "breast neoplasms" in family(p)
    assert "diabetes mellitus" in present(p)


def test_words_that_hold_a_negation_cue_but_deny_nothing() -> None:
    # topic trec-202158: "perforated appendicitis with free fluid" was read as no appendicitis
    note = patient_from_note("CT scan showed acute perforated appendicitis with free fluid in the pelvis.")
    assert [(c.name, c.negated) for c in note.conditions] == [("perforated appendicitis", False)]
    assert [c.negated for c in patient_from_note("He has been seizure free for a year.").conditions] == [True]
    # topic trec-202128: a ratio is not the volume it divides
    ratio = patient_from_note("Spirometry: post-bronchodilator FEV1/FVC = 60% of predicted.")
    assert [(m.variable, m.value) for m in ratio.measurements] == [("fev1_fvc", 60.0)]


def test_describe_shows_what_was_understood() -> None:
    text = describe(note("trec-20215"))
    assert "Age: 74 years" in text and "Sex: male" in text
    assert "syncope (ruled out)" in text
    assert "LVEF 60 %" in text


# --- JSON -----------------------------------------------------------------------------------------


def test_json_profile_converts_units_and_resolves_names() -> None:
    p = patient_from_json(
        {
            "age": 61,
            "sex": "F",
            "conditions": ["NSCLC", {"name": "diabetes", "negated": True}],
            "measurements": [
                {"variable": "serum creatinine", "value": 132.6, "unit": "umol/L", "date": "2021-03-01"},
                {"variable": "platelets", "value": 150000},
            ],
            "medications": [{"name": "pembrolizumab", "current": True}],
            "ecog": 1,
        }
    )
    assert p.sex == "female"
    assert p.conditions[0].term == "Carcinoma, Non-Small-Cell Lung"
    assert p.conditions[1].negated
    creatinine = p.measurement("creatinine")
    assert creatinine is not None and creatinine.value == pytest.approx(1.5, rel=1e-3)
    assert creatinine.date == date(2021, 3, 1) and creatinine.evidence is not None
    assert creatinine.evidence.path == "$.measurements[0]"
    assert p.measurement("platelets").value == pytest.approx(150)  # type: ignore[union-attr]
    assert p.measurement("ecog").value == 1  # type: ignore[union-attr]
    assert p.medications[0].mesh_id is not None


def test_profile_json_reads_back_as_the_same_profile() -> None:
    p = note("trec-20215")
    assert patient_from_json(msgspec.json.encode(p)) == p


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ('{"age": "forty"}', "$.age"),
        ('{"agee": 40}', "unknown field `agee`"),
        ('{"conditions": [{"a\\nb": 0}]}', "unknown field `a\\nb`"),  # one line, the break shown
        ('{"conditions": [3]}', "$.conditions[0]"),
        ('{"measurements": [{"variable": "zzz", "value": 1}]}', "'zzz' is not a lab"),
        (
            '{"measurements": [{"variable": "creatinine", "value": 1, "unit": "kg"}]}',
            "$.measurements[0].unit",
        ),
        ('{"sex": "q"}', "$.sex"),
        ('{"age": 400}', "age 400"),
        ("[1, 2]", "expected `object`"),
        ("{", "not valid JSON"),
    ],
)
def test_json_errors_name_the_field(data: str, words: str) -> None:
    with pytest.raises(PatientError) as caught:
        patient_from_json(data)
    message = str(caught.value)
    assert words in message
    assert "\n" not in message


# --- FHIR -----------------------------------------------------------------------------------------


def bundle(*resources: dict[str, object]) -> dict[str, object]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

FHIR_PATIENT = bundle(
    {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1961-04-02",
     "address": [{"city": "Boston", "state": "MA", "country": "US"}]},
    {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
     "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254637007", "display": "Non-small cell lung cancer"}]}},
    {"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"},
     "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "refuted"}]},
     "code": {"text": "Type 2 diabetes"}},
    {"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/p1"},
     "code": {"coding": [{"system": LOINC, "code": "2160-0", "display": "Creatinine [Mass/volume] in Serum or Plasma"}]},
     "effectiveDateTime": "2021-03-01",
     "valueQuantity": {"value": 97, "unit": "umol/L", "system": UCUM, "code": "umol/L"}},
    {"resourceType": "Observation", "id": "o2", "status": "final", "subject": {"reference": "Patient/p1"},
     "code": {"coding": [{"system": LOINC, "code": "777-3"}]},
     "valueQuantity": {"value": 210, "unit": "10*3/uL", "system": UCUM, "code": "10*3/uL"}},
    {"resourceType": "Observation", "id": "o3", "status": "final", "subject": {"reference": "Patient/p1"},
     "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}]},
     "component": [
         {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
          "valueQuantity": {"value": 128, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}},
         {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
          "valueQuantity": {"value": 82, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}}]},
    {"resourceType": "Observation", "id": "o4", "status": "final", "subject": {"reference": "Patient/p1"},
     "code": {"coding": [{"system": LOINC, "code": "89247-1", "display": "ECOG Performance Status score"}]},
     "valueInteger": 1},
    {"resourceType": "Observation", "id": "o5", "status": "final", "subject": {"reference": "Patient/p1"},
     "code": {"coding": [{"system": LOINC, "code": "10230-1"}]},
     "valueQuantity": {"value": 58, "unit": "%", "system": UCUM, "code": "%"}},
    {"resourceType": "MedicationStatement", "id": "m1", "status": "active", "subject": {"reference": "Patient/p1"},
     "medicationCodeableConcept": {"text": "pembrolizumab"}, "effectivePeriod": {"start": "2021-01-01"}},
    {"resourceType": "MedicationStatement", "id": "m2", "status": "completed", "subject": {"reference": "Patient/p1"},
     "medicationCodeableConcept": {"text": "carboplatin"}, "effectivePeriod": {"start": "2020-09-01", "end": "2020-12-01"}},
)  # fmt: skip


def test_fhir_bundle() -> None:
    p = patient_from_fhir(FHIR_PATIENT, as_of=date(2021, 6, 1))
    assert p.sex == "female" and p.age == pytest.approx(60.2, abs=0.05)
    assert p.location == "Boston, MA, US"
    lung = next(c for c in p.conditions if not c.negated)
    assert lung.term == "Carcinoma, Non-Small-Cell Lung"
    assert lung.evidence is not None and lung.evidence.path == "Condition/c1.code"
    assert [c.negated for c in p.conditions if "diabetes" in c.name.lower()] == [True]
    assert p.measurement("creatinine").value == pytest.approx(97 / 88.42, rel=1e-3)  # type: ignore[union-attr]
    assert p.measurement("platelets").value == pytest.approx(210)  # type: ignore[union-attr]
    assert (p.measurement("sbp").value, p.measurement("dbp").value) == (128, 82)  # type: ignore[union-attr]
    assert p.measurement("lvef").value == 58  # type: ignore[union-attr]
    pembro, carbo = p.medications
    assert pembro.current is True and pembro.start == date(2021, 1, 1)
    assert carbo.current is False and carbo.end == date(2020, 12, 1)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "not a Bundle"),
        (bundle({"resourceType": ""}), "unknown resourceType"),
        (bundle({"resourceType": "NoSuchThing"}), "not valid"),
        ({"resourceType": "Patient"}, "not a Bundle"),
        (bundle({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                 "valueQuantity": {"value": "abc"}}), "valueQuantity"),
    ],
)  # fmt: skip
def test_fhir_errors_are_one_sentence(data: bytes | dict[str, object], words: str) -> None:
    with pytest.raises(PatientError) as caught:
        patient_from_fhir(data)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)
