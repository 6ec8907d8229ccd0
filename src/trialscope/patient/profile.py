"""The typed patient profile: what a matcher knows about one person, each fact with its evidence.

A profile comes from a free-text note (:func:`~trialscope.patient.note.patient_from_note`), a JSON
profile (:func:`~trialscope.patient.jsonprofile.patient_from_json`) or a FHIR R4 Bundle
(:func:`~trialscope.patient.fhir.patient_from_fhir`). Whatever the way in, the facts use the
criteria package's vocabulary: measurements are keyed by catalogue variable ids (``egfr``,
``ecog``) in the variable's canonical unit, conditions and drugs carry their MeSH term when one
matched. So a profile and a trial's typed criteria speak the same words.

Every fact keeps its :class:`Evidence`: the span of the note, or the JSON/FHIR field it came
from, so a verdict can point at what decided it and a user can correct what was misread. The
JSON of a profile (``msgspec.json.encode(patient)``) is itself a valid JSON profile: edit it
and read it back.

>>> p = Patient(age=45.0, sex="male", conditions=(Condition(name="Hypertension", history=True),))
>>> print(describe(p))
Age: 45 years
Sex: male
Conditions: Hypertension (history)
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import msgspec

from trialscope.errors import TrialScopeError

Source = Literal["note", "json", "fhir"]
Sex = Literal["female", "male"]
Comparator = Literal["=", "<", "<=", ">", ">="]


class PatientError(TrialScopeError):
    """A patient profile that cannot be read: wrong types, unknown fields, unknown lab names or units."""


class Evidence(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """Where a fact came from: a span of the note (``start``/``end`` are character offsets in it)
    or a field of a JSON profile or FHIR resource (``path``, e.g. ``$.measurements[0]`` or
    ``Observation/obs-1.valueQuantity``). ``text`` is what was written there."""

    source: Source
    text: str
    start: int | None = None
    end: int | None = None
    path: str | None = None

    def quote(self) -> str:
        """The evidence as a reader sees it: the note's words in quotes, or the field."""
        if self.source == "note":
            return f'"{self.text}"'
        return f"{self.path}: {self.text}" if self.path else self.text


class Condition(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """A diagnosis, finding or problem; ``term``/``mesh_id`` when it matched a MeSH term.

    ``negated`` (the note rules it out), ``history`` (spoken of as past), ``family`` (a relative's,
    not the patient's) and ``uncertain`` ("possible", "rule out") come from the note's context."""

    name: str
    term: str | None = None
    mesh_id: str | None = None
    negated: bool = False
    history: bool = False
    family: bool = False
    uncertain: bool = False
    evidence: Evidence | None = None

    @property
    def present(self) -> bool:
        """The patient has (or had) it: stated, not negated, not a relative's, not a maybe."""
        return not (self.negated or self.family or self.uncertain)


class Measurement(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """A lab value, vital sign, body measure or score (ECOG, Karnofsky) in the catalogue's
    canonical unit of ``variable`` (see ``criteria/catalogue.toml``)."""

    variable: str
    value: float
    unit: str = ""
    comparator: Comparator = "="
    date: date | None = None
    evidence: Evidence | None = None


class Treatment(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """A medication or therapy (``category`` drug) or a procedure (surgery, dialysis, radiation is
    a drug-like therapy here as in the criteria). ``days_ago`` is when the note says it was last
    given ("3 weeks ago"); ``start``/``end`` are dates when a profile gives them."""

    name: str
    category: Literal["drug", "procedure"] = "drug"
    term: str | None = None
    mesh_id: str | None = None
    negated: bool = False
    current: bool | None = None
    start: date | None = None
    end: date | None = None
    days_ago: float | None = None
    evidence: Evidence | None = None


class Patient(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """One person as a matcher sees them. Absent means unknown, never "no".

    ``evidence`` holds the evidence of the single-valued facts, by field name (``age``, ``sex``,
    ``pregnant``, ``lactating``, ``location``); list items carry their own. ``as_of`` is the
    date the profile describes (for "within 4 weeks" windows); today when not given."""

    age: float | None = None
    sex: Sex | None = None
    conditions: tuple[Condition, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    medications: tuple[Treatment, ...] = ()
    procedures: tuple[Treatment, ...] = ()
    pregnant: bool | None = None
    lactating: bool | None = None
    location: str | None = None
    as_of: date | None = None
    source: Source = "json"
    evidence: dict[str, Evidence] = {}

    def measurement(self, variable: str) -> Measurement | None:
        """The latest value of a variable (by date when dated, else the last one given)."""
        found = [m for m in self.measurements if m.variable == variable]
        if not found:
            return None
        dated = [m for m in found if m.date is not None]
        return max(dated, key=lambda m: m.date or date.min) if dated else found[-1]


# --- the plain-text rendering ---------------------------------------------------------------


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _age(years: float) -> str:
    if years < 2:
        months = years * 12
        return f"{_number(round(months, 1))} months" if months >= 1 else f"{_number(round(years * 365))} days"
    return f"{_number(round(years, 1))} years"


def _flags(item: Condition | Treatment) -> str:
    words = []
    if item.negated:
        words.append("ruled out")
    if isinstance(item, Condition):
        if item.family:
            words.append("family")
        if item.uncertain:
            words.append("uncertain")
        if item.history:
            words.append("history")
    else:
        if item.current:
            words.append("current")
        if item.days_ago is not None:
            words.append(f"{_number(round(item.days_ago))} days ago")
        if item.end is not None:
            words.append(f"until {item.end.isoformat()}")
    name = item.name
    if item.term and item.term.lower() != item.name.lower():
        name += f" [{item.term}]"
    return f"{name} ({', '.join(words)})" if words else name


def measurement_text(m: Measurement) -> str:
    """ "Creatinine 1.8 mg/dL", "ECOG 1": the catalogue's label and display unit."""
    from trialscope.criteria.catalogue import catalogue

    var = catalogue().variables.get(m.variable)
    label = var.label if var else m.variable
    display = var.display if var else m.unit
    value = m.value  # canonical values are in display units already (ANC 1.5 means 1.5 10⁹/L)
    cmp_ = "" if m.comparator == "=" else f"{m.comparator} "
    text = f"{label} {cmp_}{_number(round(value, 4))}"
    if display:
        text += f" {display}"
    if m.date is not None:
        text += f" ({m.date.isoformat()})"
    return text


def describe(patient: Patient) -> str:
    """The profile in plain lines, as shown back to the user to check and correct."""
    lines = []
    if patient.age is not None:
        lines.append(f"Age: {_age(patient.age)}")
    if patient.sex is not None:
        lines.append(f"Sex: {patient.sex}")
    present = [c for c in patient.conditions if c.present]
    if present:
        lines.append("Conditions: " + "; ".join(_flags(c) for c in present))
    absent = [c for c in patient.conditions if not c.present]
    if absent:
        lines.append(
            "Not the patient's (ruled out, a relative's or uncertain): "
            + "; ".join(_flags(c) for c in absent)
        )
    if patient.measurements:
        lines.append("Measurements: " + "; ".join(measurement_text(m) for m in patient.measurements))
    for label, items in (("Medications", patient.medications), ("Procedures", patient.procedures)):
        if items:
            lines.append(f"{label}: " + "; ".join(_flags(t) for t in items))
    for label, value in (("Pregnant", patient.pregnant), ("Breastfeeding", patient.lactating)):
        if value is not None:
            lines.append(f"{label}: {'yes' if value else 'no'}")
    if patient.location:
        lines.append(f"Location: {patient.location}")
    if patient.as_of is not None:
        lines.append(f"As of: {patient.as_of.isoformat()}")
    return "\n".join(lines) if lines else "Nothing was understood about the patient."
