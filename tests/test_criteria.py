"""Typed criteria on real criterion lines of the shared records.

Each test reads a real record, finds one of its criterion lines by a few of its words, and
checks the type and values a reader of that line would give it (the expectation is a judgement
made reading the line, not a copy of the parser's output).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import msgspec
import orjson
import pytest
from conftest import CTGOV

from trialscope.criteria import TYPES, TypedCriterion, parse_criterion, typed_criteria, vocabulary_version
from trialscope.criteria.catalogue import ULN, catalogue
from trialscope.ctgov.parse import parse_study
from trialscope.eligibility import split_criteria
from trialscope.model import Trial

SNAPSHOTS = CTGOV / "v2_json" / "partrita__clinicaltrial-watch-tigit__snapshots.jsonl"
MCODE = CTGOV / "v2_json" / "misc_fixtures" / "mcode__clinical-trial-matching-service__NCT02513394.json"
UMOL_PER_MG_DL_CREATININE = 88.42  # 10 dL/L x 1000 umol/mmol / 113.12 g/mol


@cache
def snapshot_trials() -> dict[str, Trial]:
    """Every study of the v2 snapshot file, by NCT id (the last snapshot of an id wins)."""
    trials: dict[str, Trial] = {}
    for raw in Path(SNAPSHOTS).read_bytes().splitlines():
        obj = orjson.loads(raw)
        if isinstance(obj, dict) and "protocolSection" in obj:
            trial = parse_study(obj)
            trials[trial.nct_id] = trial
    return trials


def record(nct_id: str) -> Trial:
    if nct_id == "NCT02513394":
        return parse_study(orjson.loads(MCODE.read_bytes()))
    return snapshot_trials()[nct_id]


def line(nct_id: str, words: str) -> TypedCriterion:
    """The one typed criterion of the trial whose text contains ``words``."""
    found = [c for c in typed_criteria(record(nct_id)) if c.source == "text" and words in c.text]
    assert len(found) == 1, f"{nct_id}: {len(found)} lines contain {words!r}"
    return found[0]


def facts_by_variable(criterion: TypedCriterion) -> dict[str, object]:
    return {f.variable: f for f in criterion.facts if f.variable}


# --- performance status, labs, units ---------------------------------------------------


def test_ecog_range() -> None:
    c = line("NCT02513394", "ECOG performance status 0-1")
    assert (c.kind, c.type, c.variable) == ("inclusion", "performance_status", "ecog")
    assert (c.fact.comparator, c.fact.value, c.fact.upper_comparator, c.fact.upper) == (">=", 0, "<=", 1)
    assert c.label == "ECOG 0–1"


def test_ecog_or_karnofsky_on_one_line() -> None:
    c = line("NCT02923180", "Karnofsky score")
    ecog, kps = facts_by_variable(c)["ecog"], facts_by_variable(c)["karnofsky"]
    assert (ecog.value, ecog.upper) == (0, 1)
    assert (kps.comparator, kps.value) == (">=", 70)


def test_karnofsky_range_written_high_to_low() -> None:
    c = line("NCT00554515", "Karnofsky PS 100-80%")
    kps = facts_by_variable(c)["karnofsky"]
    assert (kps.value, kps.upper) == (80, 100)


def test_neutrophils_per_microlitre_become_giga_per_litre() -> None:
    c = line("NCT02513394", "Absolute neutrophil count")
    assert (c.type, c.variable, c.fact.comparator) == ("lab", "anc", ">=")
    assert c.fact.value == pytest.approx(1.5)
    assert c.label.startswith("ANC ≥ 1.5")


def test_platelets_per_cubic_millimetre() -> None:
    c = line("NCT02513394", "Platelets ≥ 100,000")
    assert (c.variable, c.fact.comparator, c.fact.value) == ("platelets", ">=", pytest.approx(100.0))


def test_creatinine_in_mg_and_in_umol_agree() -> None:
    in_mg = line("NCT05551793", "Serum creatinine ≤ 1.5 mg/dL")
    assert (in_mg.variable, in_mg.fact.comparator, in_mg.fact.unit) == ("creatinine", "<=", "mg/dL")
    assert in_mg.fact.value == pytest.approx(1.5)
    in_umol = facts_by_variable(line("NCT05515185", "Creatinine ≤200 umol/L"))["creatinine"]
    assert in_umol.unit == "mg/dL"
    assert in_umol.value == pytest.approx(200 / UMOL_PER_MG_DL_CREATININE, rel=1e-3)


def test_one_line_with_many_labs_and_ocr_exponent() -> None:
    # "≥1.5×109/L" is 1.5 x 10^9/L with the superscript lost; haemoglobin is given in g/L
    facts = facts_by_variable(line("NCT05515185", "Creatinine ≤200 umol/L"))
    assert facts["anc"].value == pytest.approx(1.5)
    assert facts["platelets"].value == pytest.approx(80)
    assert (facts["hemoglobin"].value, facts["hemoglobin"].unit) == (pytest.approx(8.0), "g/dL")
    assert (facts["lvef"].comparator, facts["lvef"].value) == (">=", 40)
    assert (facts["bilirubin"].value, facts["bilirubin"].unit) == (2, ULN)
    assert facts["alt"].comparator == facts["ast"].comparator == "<="  # "ALT and AST 2.5 x ULN or less"


def test_multiple_of_upper_limit_of_normal() -> None:
    c = line("NCT02923180", "Serum bilirubin")
    assert (c.variable, c.fact.comparator, c.fact.value, c.fact.unit) == ("bilirubin", "<", 1.5, ULN)
    assert c.label == "Bilirubin < 1.5 × ULN"


def test_exclusion_bound_is_labelled_as_what_an_eligible_patient_meets() -> None:
    c = line("NCT01716312", "Serum creatinine")
    assert (c.kind, c.variable, c.fact.comparator, c.fact.value) == ("exclusion", "creatinine", ">", 2.0)
    assert c.label == "Creatinine ≤ 2 mg/dL"


def test_hba1c_percent_bmi_egfr_qtc() -> None:
    hba1c = line("NCT05596656", "HbA1c ≥6.5%")
    assert (hba1c.variable, hba1c.fact.comparator, hba1c.fact.value, hba1c.fact.unit) == (
        "hba1c",
        ">=",
        6.5,
        "percent",
    )
    bmi = line("NCT01852825", "(BMI) =\\< 30")  # Markdown escapes in the record: "=\<" is ≤
    assert (bmi.variable, bmi.fact.comparator, bmi.fact.value) == ("bmi", "<=", 30)
    egfr = facts_by_variable(line("NCT03033290", "eGFR"))["egfr"]
    assert (egfr.comparator, egfr.value) == ("<", 60)
    qtc = line("NCT04150965", "QTcF")
    assert (qtc.variable, qtc.fact.comparator, qtc.fact.value, qtc.fact.unit) == ("qtc", ">", 480, "ms")


# --- conditions, negation, therapy windows, pregnancy ----------------------------------


def test_negated_history_of_a_condition() -> None:
    c = line("NCT00584051", "No history of wheezing or allergies")
    assert c.type == "condition"
    assert c.fact.negated and c.fact.history
    assert not c.fact.required(c.kind)  # an eligible patient has neither
    assert c.label.startswith("No ")


def test_condition_carries_the_mesh_term_of_the_record() -> None:
    trial = record("NCT00267826")
    c = line("NCT00267826", "diagnosed with atopic dermatitis")
    assert c.type == "condition"
    mesh = {m.term: m.id for m in trial.condition_mesh}
    concept = c.fact.concepts[0]
    assert concept.name in mesh and concept.mesh_id == mesh[concept.name]


def test_washout_within_weeks() -> None:
    c = line("NCT00267202", "intra-articular corticosteroids within 4 weeks")
    assert (c.kind, c.type, c.fact.window, c.fact.window_days) == ("exclusion", "therapy", "within", 28)
    assert "corticosteroids" in c.fact.concepts[0].name.lower()
    assert c.label == "No corticosteroids within 4 weeks"


def test_washout_at_least_weeks_before() -> None:
    c = line("NCT00130234", "discontinued for at least 6 weeks before screening")
    assert c.type == "therapy"
    assert (c.fact.window, c.fact.window_days) == ("before", 42)
    names = {concept.name.lower() for concept in c.fact.concepts}
    assert {"cyclosporine", "methotrexate", "cyclophosphamide"} <= names


def test_pregnant_or_breastfeeding_excluded() -> None:
    c = line("NCT00267826", "currently pregnant or breast-feeding")
    assert c.type == "pregnancy"
    assert [f.variable for f in c.facts if f.type == "pregnancy"] == ["pregnancy", "lactation"]
    assert c.label == "No pregnancy, No breastfeeding"


def test_not_pregnant_in_an_inclusion_line_is_negated() -> None:
    c = line("NCT00676884", "not currently pregnant or breast feeding")
    pregnancy = facts_by_variable(c)["pregnancy"]
    assert pregnancy.negated and not pregnancy.required("inclusion")
    assert facts_by_variable(c)["contraception"].required("inclusion")


def test_age_in_text_and_in_fields() -> None:
    c = line("NCT00267826", "at least 18 years of age")
    assert (c.type, c.fact.comparator, c.fact.value, c.fact.unit) == ("age", ">=", 18, "year")
    fields = [c for c in typed_criteria(record("NCT00267202")) if c.source == "field"]
    age = next(c for c in fields if c.type == "age")
    assert (age.fact.value, age.fact.upper) == (pytest.approx(18, abs=0.01), pytest.approx(55, abs=0.01))
    assert age.label == "Age 18–55"
    assert {c.type for c in fields} == {"age", "sex", "healthy_volunteers"}


def test_comparator_written_before_the_word_age() -> None:
    facts = parse_criterion("Family history of AD diagnosed under age 60", "exclusion").facts
    age = next(f for f in facts if f.type == "age")
    assert (age.comparator, age.value) == ("<", 60)
    older = next(f for f in parse_criterion("over the age of 18 years", "inclusion").facts if f.type == "age")
    assert (older.comparator, older.value) == (">", 18)


@pytest.mark.parametrize(
    "text",
    [
        "Age less than 18 years or greater than 65 years",
        "age <18 or >65 years",
        "Patients aged over 65 or under 18",
        "younger than 18 or older than 65 years of age",
    ],
)
def test_two_age_bounds_joined_by_or_exclude_the_range_between(text: str) -> None:
    # "less than 18 years or greater" was read as "18 years or greater", and the bound after it
    # dropped: an exclusion of minors and the elderly excluded every adult.
    age = next(f for f in parse_criterion(text, "exclusion").facts if f.type == "age")
    assert (age.comparator, age.value, age.upper_comparator, age.upper, age.negated) == (
        ">=",
        18,
        "<=",
        65,
        True,
    )
    assert parse_criterion(text, "exclusion").label == "Age 18–65"  # what an eligible patient is
    assert parse_criterion(text, "inclusion").label == "Age outside 18–65"


def test_non_response_to_a_treatment_is_about_that_treatment() -> None:
    for text in ("Documented non-response to treatment with interferon.", "Did not respond to interferon"):
        fact = parse_criterion(text, "inclusion").facts[0]
        assert (fact.type, fact.negated, fact.concepts[0].name) == ("therapy", False, "Interferons")
    assert parse_criterion("No prior interferon", "inclusion").facts[0].negated


def test_a_postfix_comparator_still_reads_after_the_value() -> None:
    for text in ("18 years or older", "Age 18 years or greater", "men and women 18 years and older"):
        age = next(f for f in parse_criterion(text, "inclusion").facts if f.type == "age")
        assert (age.comparator, age.value, age.upper, age.negated) == (">=", 18, None, False)


def test_a_count_before_an_abbreviation_is_not_its_value() -> None:
    """The seed trial's "4 of 11 criteria by ACR" (American College of Rheumatology) is no urine
    albumin-to-creatinine ratio of 11."""
    c = parse_criterion("SLE diagnosis (4 of 11 criteria by ACR);", "inclusion")
    assert all(f.variable != "uacr" for f in c.facts)
    assert "UACR" not in c.label


def test_consent_is_administrative_and_not_decidable() -> None:
    c = line("NCT00267826", "Must give written informed consent")
    assert c.type == "administrative" and not c.decidable
    assert c.label == "Informed consent"


# --- plausibility, robustness, nothing dropped -----------------------------------------


def test_implausible_values_are_rejected() -> None:
    c = parse_criterion("HbA1c > 700%", "inclusion")
    assert (c.type, c.variable, c.fact.value) == ("lab", "hba1c", None)
    assert c.fact.note and "implausible" in c.fact.note
    assert parse_criterion("Haemoglobin ≥ 900 g/dL").fact.value is None


def test_every_line_of_every_snapshot_trial_is_kept_in_order() -> None:
    checked = 0
    for trial in snapshot_trials().values():
        split = split_criteria(trial.eligibility.criteria)
        typed = [c for c in typed_criteria(trial) if c.source == "text"]
        expected = [*split.inclusion, *split.exclusion, *split.other]
        assert [c.text for c in typed] == [text.strip() for text in expected]
        assert all(c.type in TYPES and c.label for c in typed)
        checked += len(typed)
    assert checked > 10_000
    # most lines of these (oncology) records get a type
    others = sum(1 for t in snapshot_trials().values() for c in typed_criteria(t) if c.type == "other")
    assert others / checked < 0.3


def test_json_round_trip() -> None:
    criteria = typed_criteria(record("NCT05515185"))
    data = msgspec.json.encode(criteria)
    assert msgspec.json.decode(data, type=tuple[TypedCriterion, ...]) == criteria


def test_vocabulary_version_is_stable_and_short() -> None:
    assert vocabulary_version() == vocabulary_version()
    assert len(vocabulary_version()) == 16 and int(vocabulary_version(), 16) >= 0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ECOG 0-1 " * 20_000,
        "≥" * 50_000,
        "1" * 10_000 + " mg/dL",
        "ＥＣＯＧ ０－１　ｏｒ　Ｋａｒｎｏｆｓｋｙ ≧ ７０％",
        "Créatinine ≤ 1,5 mg/dl; β-hCG négatif; 血小板 ≥ 100×10⁹/L",
        "\u202eecog\u202c 0\u20131 \u200b\u200d\ufeff",
        "between and to - ≥ ≤ < > = x 10^ /mm3 ULN",
        "((((((((((((((((((((((((((((((((",
    ],
)
def test_hostile_lines_never_raise(text: str) -> None:
    c = parse_criterion(text, "exclusion")
    assert c.text == text and c.type in TYPES and isinstance(c.label, str)


def test_catalogue_bounds_hold_their_own_canonical_units() -> None:
    cat = catalogue()
    for var in cat.variables.values():
        low, high = var.bounds
        assert low < high, var.id
        assert var.type in ("lab", "performance_status")
        assert var.aliases and all(alias == alias.lower() for alias in var.aliases), var.id
