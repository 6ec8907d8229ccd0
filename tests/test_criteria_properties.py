"""Properties of typed criteria over generated text: never raises, never drops a line, units agree."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from trialscope.criteria import TYPES, TypedCriterion, parse_criterion, typed_criteria
from trialscope.eligibility import split_criteria
from trialscope.model import Eligibility, Trial

# words the parser reacts to, so generated lines reach its branches and not only "other"
WORDS = [
    "ECOG",
    "Karnofsky",
    "≥",
    "<=",
    "\\>",
    "=<",
    "between",
    "and",
    "to",
    "-",
    "x",
    "×",
    "10^9/L",
    "109/L",
    "/mm3",
    "mg/dL",
    "µmol/L",
    "%",
    "ULN",
    "times the upper limit of normal",
    "within",
    "weeks",
    "at least",
    "days",
    "since",
    "prior to",
    "no",
    "not",
    "history of",
    "pregnant",
    "breast-feeding",
    "contraception",
    "age",
    "years",
    "older",
    "months",
    "creatinine",
    "ANC",
    "platelets",
    "HbA1c",
    "NYHA",
    "class",
    "III",
    "IV",
    "chemotherapy",
    "surgery",
    "diabetes",
    "informed consent",
    "HIV",
    "negative",
    "1,500",
    "1.5",
    "0",
    "1",
    "2",
    "100,000",
    "700",
    ",",
    ";",
    "(",
    ")",
    ":",
    "\n",
    "*",
    "é",
    "β",
    "⁹",
    "²",
    "–",
]
line_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(st.sampled_from(WORDS), st.integers(0, 10**6).map(str)), max_size=40).map(" ".join),
)


@settings(max_examples=400, deadline=None)
@given(text=line_text, kind=st.sampled_from(["inclusion", "exclusion", "unspecified"]))
def test_any_line_is_typed_without_raising(text: str, kind: str) -> None:
    c = parse_criterion(text, kind)  # type: ignore[arg-type]
    assert c.text == text and c.kind == kind and c.type in TYPES
    assert c.type == (c.facts[0].type if c.facts else "other")
    for fact in c.facts:
        if fact.upper is not None and fact.value is not None:
            assert fact.value <= fact.upper
    assert msgspec.json.decode(msgspec.json.encode(c), type=TypedCriterion) == c


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(line_text, max_size=12), headings=st.booleans())
def test_no_line_is_dropped(lines: list[str], headings: bool) -> None:
    body = "\n".join(f"* {line}" for line in lines)
    text = f"Inclusion Criteria:\n\n{body}\n\nExclusion Criteria:\n\n{body}" if headings else body
    trial = Trial(nct_id="NCT00000000", eligibility=Eligibility(criteria=text))
    split = split_criteria(text)
    typed = typed_criteria(trial)
    assert [c.text for c in typed] == [t.strip() for t in (*split.inclusion, *split.exclusion, *split.other)]


@settings(max_examples=200, deadline=None)
@given(mg=st.floats(min_value=0.2, max_value=15, allow_nan=False).map(lambda v: round(v, 2)))
def test_creatinine_units_agree(mg: float) -> None:
    in_mg = parse_criterion(f"Serum creatinine ≤ {mg} mg/dL").fact
    in_umol = parse_criterion(f"Serum creatinine ≤ {round(mg * 88.42, 1)} µmol/L").fact
    assert in_mg is not None and in_umol is not None
    assert in_mg.value is not None and in_umol.value is not None
    assert abs(in_mg.value - in_umol.value) <= 0.01 * mg + 0.001


@settings(max_examples=200, deadline=None)
@given(value=st.floats(min_value=0, max_value=10_000, allow_nan=False).map(lambda v: round(v, 1)))
def test_hba1c_outside_plausible_bounds_is_never_kept(value: float) -> None:
    fact = parse_criterion(f"HbA1c > {value}%").fact
    assert fact is not None and fact.variable == "hba1c"
    if 3 <= value <= 20:
        assert fact.value == value
    else:
        assert fact.value is None and fact.note
