"""One criterion fact held against one patient: does the statement hold, and what says so.

A fact (:class:`~trialscope.criteria.types.Fact`) is a statement as written on a line, its
negation included ("no history of stroke" holds for a patient without stroke). :func:`holds`
answers ``True``/``False``, ``None`` when the patient data does not say, or ``NA`` when the
statement does not concern this patient (pregnancy for a man), with the evidence that decided it
and a question that would decide it when it could not.

The patient side is indexed once per patient (:class:`PatientFacts`), so screening thousands of
trials costs a few dictionary look-ups per fact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from trialscope.criteria.catalogue import LLN, ULN, catalogue
from trialscope.criteria.label import duration, number
from trialscope.criteria.types import Concept, Fact
from trialscope.patient.profile import Condition, Evidence, Measurement, Patient, Treatment

NA = "na"
"""The statement does not concern this patient (``not_applicable``)."""

State = bool | str | None
_T = TypeVar("_T", Condition, Treatment)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one fact says of the patient: ``state`` True/False/None/NA, the evidence, a reason
    in plain words, and for None the question whose answer would decide it."""

    state: State
    evidence: tuple[Evidence, ...] = ()
    reason: str = ""
    question: str | None = None


_CHILDBEARING_AGES = (10.0, 55.0)
"""Outside these ages a woman is taken as not able to become pregnant (pregnancy not applicable)."""

# ECOG grade <-> Karnofsky range (the published correspondence; a grade spans two Karnofsky steps)
_ECOG_TO_KARNOFSKY = {
    0: (90.0, 100.0),
    1: (70.0, 80.0),
    2: (50.0, 60.0),
    3: (30.0, 40.0),
    4: (10.0, 20.0),
    5: (0.0, 0.0),
}


def _key(text: str | None) -> str | None:
    return " ".join(text.lower().split()) if text else None


@dataclass(slots=True)
class PatientFacts:
    """The patient indexed for look-ups by concept (MeSH id, term, name) and by variable."""

    patient: Patient
    as_of: date = field(default_factory=date.today)
    conditions: dict[str, list[Condition]] = field(default_factory=dict)
    ruled_out: dict[str, list[Condition]] = field(default_factory=dict)
    family: dict[str, list[Condition]] = field(default_factory=dict)
    treatments: dict[str, list[Treatment]] = field(default_factory=dict)
    not_taken: dict[str, list[Treatment]] = field(default_factory=dict)
    measurements: dict[str, Measurement] = field(default_factory=dict)
    any_condition: Condition | None = None

    @classmethod
    def of(cls, patient: Patient) -> PatientFacts:
        facts = cls(patient, patient.as_of or date.today())
        for condition in patient.conditions:
            if condition.family:
                target = facts.family
            elif condition.negated:
                target = facts.ruled_out
            elif condition.uncertain:
                continue
            else:
                target = facts.conditions
                facts.any_condition = facts.any_condition or condition
            for key in _keys(condition.name, condition.term, condition.mesh_id):
                target.setdefault(key, []).append(condition)
        for treatment in (*patient.medications, *patient.procedures):
            target_t = facts.not_taken if treatment.negated else facts.treatments
            for key in _keys(treatment.name, treatment.term, treatment.mesh_id):
                target_t.setdefault(key, []).append(treatment)
        for m in patient.measurements:
            facts.measurements[m.variable] = patient.measurement(m.variable) or m
        return facts


def lookup(concept: Concept, index: dict[str, list[_T]]) -> list[_T]:
    """What the patient has that the concept names: the same MeSH id, term or name, or a name
    the concept's words end ("dialysis" finds "hemodialysis" and "peritoneal dialysis")."""
    keys = _concept_keys(concept)
    for key in keys:
        if key in index:
            return index[key]
    for key in keys:
        if len(key) >= 5 and not key[1:].isdigit():
            for known, items in index.items():
                if known.endswith(key) and (
                    len(known) == len(key) or known[-len(key) - 1] == " " or len(key) >= 7
                ):
                    return items
    return []


def _keys(*names: str | None) -> set[str]:
    return {k for k in (_key(n) for n in names) if k}


def _concept_keys(concept: Concept) -> set[str]:
    return _keys(concept.name, concept.mention, concept.mesh_id)


# --- the statement of one fact -----------------------------------------------------------------


def holds(fact: Fact, pf: PatientFacts, text: str) -> Outcome:
    """Whether the fact's statement (negation included) is true of the patient."""
    kind = fact.type
    if kind == "age":
        return _age(fact, pf)
    if kind == "sex":
        return _sex(fact, pf)
    if kind in ("lab", "performance_status"):
        return _measure(fact, pf)
    if kind == "pregnancy":
        return _pregnancy(fact, pf)
    if kind == "healthy_volunteers":
        return _healthy(fact, pf)
    if kind == "condition":
        return _condition(fact, pf, text)
    if kind in ("therapy", "procedure"):
        return _treatment(fact, pf)
    return Outcome(None, reason="not decidable from a patient record")


def _negate(outcome: Outcome, negated: bool) -> Outcome:
    if not negated or not isinstance(outcome.state, bool):
        return outcome
    return Outcome(not outcome.state, outcome.evidence, outcome.reason, outcome.question)


def _age(fact: Fact, pf: PatientFacts) -> Outcome:
    p = pf.patient
    if p.age is None:
        return Outcome(None, reason="the age is not given", question="How old is the patient?")
    state = _interval_state((p.age, False, p.age, False), fact)
    ev = (p.evidence["age"],) if "age" in p.evidence else ()
    return _negate(Outcome(state, ev, f"age {number(round(p.age, 1))}"), fact.negated)


def _sex(fact: Fact, pf: PatientFacts) -> Outcome:
    p = pf.patient
    if fact.category in (None, "all"):
        return Outcome(True, reason="any sex")
    if p.sex is None:
        return Outcome(None, reason="the sex is not given", question="Is the patient female or male?")
    ev = (p.evidence["sex"],) if "sex" in p.evidence else ()
    return Outcome(p.sex == fact.category, ev, f"sex {p.sex}")


def _healthy(fact: Fact, pf: PatientFacts) -> Outcome:
    sick = pf.any_condition
    ev = (sick.evidence,) if sick is not None and sick.evidence is not None else ()
    if fact.category == "accepted":
        return Outcome(True, reason="healthy volunteers and patients alike")
    if fact.category == "not accepted":
        if sick is not None:
            return Outcome(True, ev, f"a patient with {sick.term or sick.name}")
        return Outcome(None, reason="no condition is given")
    # "healthy volunteers" on a line: the statement is that the person is healthy
    if sick is not None:
        return _negate(Outcome(False, ev, f"has {sick.term or sick.name}"), fact.negated)
    return Outcome(
        None, reason="no condition is given", question="Is the person healthy (no medical condition)?"
    )


# --- measurements -----------------------------------------------------------------------------


def _measure(fact: Fact, pf: PatientFacts) -> Outcome:
    if not fact.variable or fact.variable == "prior_lines":
        return Outcome(None, reason="a bound on something the profile cannot give")
    var = catalogue().variables.get(fact.variable)
    label = var.label if var else fact.variable
    question = f"What is the patient's {label}?"
    m = pf.measurements.get(fact.variable)
    interval: Interval | None = None
    if m is not None:
        interval = _patient_interval(m)
    elif fact.variable in ("ecog", "karnofsky"):
        other = pf.measurements.get("karnofsky" if fact.variable == "ecog" else "ecog")
        if other is not None:
            m, interval = other, _converted_performance(other, fact.variable)
    if m is None or interval is None:
        return Outcome(None, reason=f"no {label} is given", question=question)
    ev = (m.evidence,) if m.evidence is not None else ()
    if fact.unit in (ULN, LLN):
        limit = "upper" if fact.unit == ULN else "lower"
        return Outcome(
            None,
            ev,
            f"the bound is relative to the {limit} limit of normal",
            question=f"Is the patient's {label} within {number(fact.value or 0)} × the {limit} limit of normal?",
        )
    if fact.category == "normal":
        return Outcome(
            None,
            ev,
            "the bound is the laboratory's normal range",
            question=f"Is the patient's {label} within normal limits?",
        )
    if fact.value is None or fact.comparator is None:
        return Outcome(None, ev, f"the line names {label} without a bound")
    state = _interval_state(interval, fact)
    return _negate(Outcome(state, ev, _value_text(m, label)), fact.negated)


def _value_text(m: Measurement, label: str) -> str:
    var = catalogue().variables.get(m.variable)
    unit = f" {var.display}" if var and var.display else ""
    cmp_ = "" if m.comparator == "=" else f"{m.comparator} "
    return f"{label if m.variable == (var.id if var else m.variable) else m.variable} {cmp_}{number(m.value)}{unit}"


Interval = tuple[float, bool, float, bool]
"""(low, low is open, high, high is open)."""


def _patient_interval(m: Measurement) -> Interval:
    if m.comparator in ("<", "<="):
        return (-math.inf, False, m.value, m.comparator == "<")
    if m.comparator in (">", ">="):
        return (m.value, m.comparator == ">", math.inf, False)
    return (m.value, False, m.value, False)


def _converted_performance(m: Measurement, wanted: str) -> Interval | None:
    if wanted == "karnofsky":  # the patient gave ECOG: a grade spans a Karnofsky range
        span = _ECOG_TO_KARNOFSKY.get(int(m.value)) if m.value == int(m.value) else None
        return (span[0], False, span[1], False) if span else None
    grades = [g for g, (low, high) in _ECOG_TO_KARNOFSKY.items() if low <= m.value <= high]
    return (float(grades[0]), False, float(grades[0]), False) if len(grades) == 1 else None


def _fact_interval(fact: Fact) -> Interval:
    assert fact.value is not None
    low, low_open, high, high_open = -math.inf, False, math.inf, False
    if fact.comparator in (">=", ">", "="):
        low, low_open = fact.value, fact.comparator == ">"
    if fact.comparator in ("<=", "<", "="):
        high, high_open = fact.value, fact.comparator == "<"
    if fact.upper is not None:
        high, high_open = fact.upper, fact.upper_comparator == "<"
    return (low, low_open, high, high_open)


def _interval_state(patient: Interval, fact: Fact) -> bool | None:
    """True when every value the patient may have is inside the bound, False when none is, None
    when it depends ("troponin < 0.1" against "troponin ≤ 0.04")."""
    plo, plo_open, phi, phi_open = patient
    clo, clo_open, chi, chi_open = _fact_interval(fact)
    eps = 1e-9 * max(1.0, abs(clo) if math.isfinite(clo) else 1.0, abs(chi) if math.isfinite(chi) else 1.0)
    above_low = plo > clo + eps or (abs(plo - clo) <= eps and (not clo_open or plo_open)) or clo == -math.inf
    below_high = phi < chi - eps or (abs(phi - chi) <= eps and (not chi_open or phi_open)) or chi == math.inf
    if above_low and below_high:
        return True
    if phi < clo - eps or (abs(phi - clo) <= eps and (phi_open or clo_open)):
        return False
    if plo > chi + eps or (abs(plo - chi) <= eps and (plo_open or chi_open)):
        return False
    return None


# --- pregnancy ----------------------------------------------------------------------------------


_PREGNANCY_QUESTIONS = {
    "pregnancy": "Is the patient pregnant?",
    "lactation": "Is the patient breastfeeding?",
    "childbearing_potential": "Can the patient become pregnant?",
    "contraception": "Will the patient use contraception?",
    "menopause": "Is the patient postmenopausal?",
}


def _pregnancy(fact: Fact, pf: PatientFacts) -> Outcome:
    p = pf.patient
    variable = fact.variable or "pregnancy"
    question = _PREGNANCY_QUESTIONS.get(variable)
    if variable == "contraception":
        return Outcome(None, reason="contraception is agreed at enrolment", question=None)
    sex_ev = (p.evidence["sex"],) if "sex" in p.evidence else ()
    if p.sex == "male":
        return Outcome(NA, sex_ev, "the patient is male")
    if variable in ("pregnancy", "lactation", "childbearing_potential") and p.age is not None:
        low, high = _CHILDBEARING_AGES
        if not low <= p.age < high:
            ev = sex_ev + ((p.evidence["age"],) if "age" in p.evidence else ())
            return Outcome(NA, ev, f"not of childbearing age ({number(round(p.age))})")
    value = {"pregnancy": p.pregnant, "lactation": p.lactating}.get(variable)
    if value is None:
        return Outcome(
            None, reason=f"the profile does not say ({variable.replace('_', ' ')})", question=question
        )
    field_name = "pregnant" if variable == "pregnancy" else "lactating"
    ev = (p.evidence[field_name],) if field_name in p.evidence else ()
    word = "pregnant" if variable == "pregnancy" else "breastfeeding"
    return _negate(Outcome(value, ev, word if value else f"not {word}"), fact.negated)


# --- conditions, drugs, procedures -------------------------------------------------------------


def _condition(fact: Fact, pf: PatientFacts, text: str) -> Outcome:
    if not fact.concepts:
        return Outcome(None, reason="the line names no condition the vocabulary knows")
    family = "family history" in text.lower()
    present = pf.family if family else pf.conditions
    found = [c for concept in fact.concepts for c in lookup(concept, present)]
    names = _names(fact.concepts)
    if found:
        first = found[0]
        if fact.window_days is not None and not family:
            return Outcome(
                None,
                _evidence(found),
                f"has {first.term or first.name}, date not given",
                question=f"When did the patient have {names}?",
            )
        return _negate(Outcome(True, _evidence(found), f"has {first.term or first.name}"), fact.negated)
    ruled_by = [lookup(concept, pf.ruled_out) for concept in fact.concepts]
    ruled = [c for found_by in ruled_by for c in found_by]
    if ruled and not family and all(ruled_by):
        return _negate(
            Outcome(False, _evidence(ruled), f"{ruled[0].term or ruled[0].name} is ruled out"), fact.negated
        )
    relative = "a relative of the patient" if family else "the patient"
    return Outcome(
        None, reason=f"the profile does not mention {names}", question=f"Does {relative} have {names}?"
    )


def _treatment(fact: Fact, pf: PatientFacts) -> Outcome:
    if fact.variable == "prior_lines":
        return Outcome(
            None,
            reason="the number of prior lines of therapy is not given",
            question="How many prior lines of therapy has the patient had?",
        )
    if not fact.concepts:
        return Outcome(None, reason="the line names no treatment the vocabulary knows")
    found = [t for concept in fact.concepts for t in lookup(concept, pf.treatments)]
    names = _names(fact.concepts)
    verb = "had" if fact.type == "procedure" else "received"
    question = f"Has the patient {verb} {names}"
    if fact.window_days is not None:
        question += f" in the last {duration(fact.window_days)}"
    question += "?"
    if any("dialysis" in (c.mention or c.name).lower() for c in fact.concepts):
        question = "Is the patient on dialysis?"
    narrower = [
        c.mention for c in fact.concepts if c.mention and c.category == "procedure" and c.mention != c.name
    ]
    if found and narrower and not any(lookup(Concept(name=m), pf.treatments) for m in narrower):
        # "no excisional biopsy", and the patient had "a biopsy": which one is not said
        return Outcome(
            None,
            _evidence(found),
            f"{verb} {found[0].term or found[0].name}, not said if {' or '.join(narrower)}",
            question=f"Has the patient {verb} {' or '.join(narrower)}?",
        )
    if found:
        ev = _evidence(found)
        first = found[0]
        if fact.window_days is None:
            return _negate(Outcome(True, ev, f"{verb} {first.term or first.name}"), fact.negated)
        days = [d for d in (_days_since(t, pf.as_of) for t in found) if d is not None]
        if not days:
            return Outcome(None, ev, f"{verb} {first.term or first.name}, date not given", question=question)
        latest = min(days)
        recent = latest <= fact.window_days
        if fact.window == "before":
            # "at least 28 days since X": the statement is that the last one was long enough ago
            return _negate(
                Outcome(not recent, ev, f"last {verb} {number(round(latest))} days ago"), fact.negated
            )
        return _negate(Outcome(recent, ev, f"last {verb} {number(round(latest))} days ago"), fact.negated)
    ruled_by = [lookup(concept, pf.not_taken) for concept in fact.concepts]
    ruled = [t for found_by in ruled_by for t in found_by]
    if ruled and all(ruled_by):
        return _negate(
            Outcome(False, _evidence(ruled), f"never {verb} {ruled[0].term or ruled[0].name}"), fact.negated
        )
    return Outcome(None, reason=f"the profile does not mention {names}", question=question)


def _days_since(t: Treatment, as_of: date) -> float | None:
    if t.current:
        return 0.0
    if t.days_ago is not None:
        return t.days_ago
    last = t.end or t.start
    return float((as_of - last).days) if last is not None else None


def _names(concepts: tuple[Concept, ...]) -> str:
    words = [c.mention or c.name for c in concepts[:3]]
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    return text + (" …" if len(concepts) > 3 else "")


def _evidence(items: list[Condition] | list[Treatment]) -> tuple[Evidence, ...]:
    out: list[Evidence] = []
    for item in items:
        if item.evidence is not None and item.evidence not in out:
            out.append(item.evidence)
    return tuple(out[:3])
