"""A FHIR R4 Bundle -> :class:`~trialscope.patient.profile.Patient`, parsed with fhir.resources.

Read: Patient (birth date -> age, gender -> sex, address -> location), Condition (code ->
MeSH term by its display or text; clinicalStatus resolved/inactive/remission -> history,
verificationStatus refuted -> negated, unconfirmed/provisional/differential -> uncertain),
Observation (LOINC code -> catalogue variable, ``valueQuantity`` in UCUM -> canonical unit;
blood-pressure panels by their components; pregnancy status 82810-3), MedicationStatement
(medication -> MeSH drug, status -> current/negated, effective period -> dates) and Procedure.
The R4 resources are validated by fhir.resources' R4B models (R4B only adds resources to R4).

Every fact's evidence names the resource and field it came from
(``Observation/obs-1.valueQuantity``). Entries of other types are skipped; a bundle that is
not valid FHIR is one PatientError naming the first bad field.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any

import orjson

from trialscope.patient.profile import (
    Comparator,
    Condition,
    Evidence,
    Measurement,
    Patient,
    PatientError,
    Treatment,
)
from trialscope.patient.vocabulary import canonical_value, variable_for, with_concept

_LOINC_PREGNANCY = "82810-3"
_SNOMED_PREGNANT = frozenset({"77386006"})
_SNOMED_NOT_PREGNANT = frozenset({"60001007"})
_BP_PANELS = frozenset({"85354-9", "55284-4", "35094-2"})


@cache
def _loinc() -> dict[str, str]:
    text = resources.files("trialscope.patient").joinpath("loinc.tsv").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return {code: variable for code, variable in rows}


def patient_from_fhir(data: str | bytes | dict[str, Any], *, as_of: date | None = None) -> Patient:
    """Read a FHIR R4 Bundle (JSON text, bytes or a decoded object). ``as_of`` is the date the
    age is computed at (today when not given)."""
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    try:
        obj = data if isinstance(data, dict) else orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PatientError(f"The FHIR bundle is not valid JSON: {exc}.") from exc
    if not isinstance(obj, dict) or obj.get("resourceType") != "Bundle":
        raise PatientError(
            'The FHIR input is not a Bundle: give a JSON object with "resourceType": "Bundle".'
        )
    try:
        bundle = Bundle.model_validate(obj)
    except (ValidationError, ValueError, TypeError) as exc:
        raise PatientError(f"The FHIR bundle is not valid: {_first_error(exc)}.") from exc
    except (KeyError, ImportError, AttributeError) as exc:
        # fhir.resources looks a resource's class up by its resourceType and fails on an unknown one
        raise PatientError("The FHIR bundle is not valid: an entry has an unknown resourceType.") from exc
    reader = _Reader(as_of or date.today())
    for entry in bundle.entry or ():
        resource = entry.resource
        if resource is not None:
            reader.read(resource)
    return reader.patient()


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            return f"{first.get('msg', 'invalid value')} at {where}"
        except (IndexError, TypeError, KeyError):
            pass
    return str(exc).splitlines()[0]


def _text(concept: Any) -> str | None:
    """A CodeableConcept's words: its text, else its first coding's display."""
    if concept is None:
        return None
    if getattr(concept, "text", None):
        return str(concept.text)
    for coding in getattr(concept, "coding", None) or ():
        if coding.display:
            return str(coding.display)
    return None


def _codes(concept: Any, system_part: str = "") -> list[str]:
    if concept is None:
        return []
    return [
        str(c.code)
        for c in getattr(concept, "coding", None) or ()
        if c.code and system_part in (c.system or "")
    ]


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 4:
        try:
            return date.fromisoformat(value[:10]) if len(value) >= 10 else date(int(value[:4]), 1, 1)
        except ValueError:
            return None
    return None


class _Reader:
    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.fields: dict[str, Any] = {}
        self.evidence: dict[str, Evidence] = {}
        self.conditions: list[Condition] = []
        self.measurements: list[Measurement] = []
        self.medications: list[Treatment] = []
        self.procedures: list[Treatment] = []

    def read(self, resource: Any) -> None:
        kind = resource.get_resource_type()
        handler = getattr(self, f"_{kind.lower()}", None)
        if handler is not None:
            handler(resource, f"{kind}/{resource.id or '?'}")

    def _ev(self, where: str, text: str) -> Evidence:
        return Evidence(source="fhir", text=text, path=where)

    def _patient(self, r: Any, where: str) -> None:
        if r.birthDate is not None:
            born = _as_date(r.birthDate)
            if born is not None and born <= self.as_of:
                years = (self.as_of - born).days / 365.25
                self.fields["age"] = round(years, 2)
                self.evidence["age"] = self._ev(f"{where}.birthDate", born.isoformat())
        if r.gender in ("female", "male"):
            self.fields["sex"] = r.gender
            self.evidence["sex"] = self._ev(f"{where}.gender", r.gender)
        for address in r.address or ():
            parts = [p for p in (address.city, address.state, address.country) if p]
            if parts:
                self.fields["location"] = ", ".join(parts)
                self.evidence["location"] = self._ev(f"{where}.address", self.fields["location"])
                break

    def _condition(self, r: Any, where: str) -> None:
        name = _text(r.code)
        verification = set(_codes(r.verificationStatus))
        if not name or "entered-in-error" in verification:
            return
        clinical = set(_codes(r.clinicalStatus))
        condition = Condition(
            name=name,
            negated="refuted" in verification,
            history=bool(clinical & {"resolved", "inactive", "remission"}),
            uncertain=bool(verification & {"unconfirmed", "provisional", "differential"}),
            evidence=self._ev(f"{where}.code", name),
        )
        self.conditions.append(with_concept(condition, "condition"))

    def _observation(self, r: Any, where: str) -> None:
        from fhir.resources.R4B.quantity import Quantity

        if r.status in ("entered-in-error", "cancelled"):
            return
        when = _as_date(r.effectiveDateTime) or _as_date(getattr(r.effectivePeriod, "start", None))
        loinc = _codes(r.code, "loinc")
        if _LOINC_PREGNANCY in loinc and r.valueCodeableConcept is not None:
            answer = set(_codes(r.valueCodeableConcept))
            state = True if answer & _SNOMED_PREGNANT else False if answer & _SNOMED_NOT_PREGNANT else None
            if state is not None:
                self.fields["pregnant"] = state
                self.evidence["pregnant"] = self._ev(
                    f"{where}.valueCodeableConcept", _text(r.valueCodeableConcept) or ""
                )
            return
        if r.valueQuantity is not None:
            self._quantity(r.code, loinc, r.valueQuantity, when, f"{where}.valueQuantity")
        elif getattr(r, "valueInteger", None) is not None:  # scores: ECOG 89247-1, Karnofsky 89243-0
            score = Quantity.model_validate({"value": r.valueInteger})
            self._quantity(r.code, loinc, score, when, f"{where}.valueInteger")
        if set(loinc) & _BP_PANELS or r.valueQuantity is None:
            for i, component in enumerate(r.component or ()):
                if component.valueQuantity is not None:
                    codes = _codes(component.code, "loinc")
                    self._quantity(
                        component.code, codes, component.valueQuantity, when, f"{where}.component[{i}]"
                    )

    def _quantity(self, code: Any, loinc: list[str], quantity: Any, when: date | None, where: str) -> None:
        table = _loinc()
        variable = next((table[c] for c in loinc if c in table), None)
        var = variable_for(variable) if variable else None
        name = _text(code)
        if var is None and name:
            var = variable_for(name)
        if var is None or quantity.value is None:
            return
        unit = quantity.code or quantity.unit
        value = canonical_value(var, float(quantity.value), unit)
        if value is None:
            return  # a unit that does not convert: better unknown than wrong
        comparator: Comparator = quantity.comparator if quantity.comparator in ("<", "<=", ">", ">=") else "="
        written = f"{name or var.label} {quantity.comparator or ''}{float(quantity.value):g} {quantity.unit or unit or ''}"
        self.measurements.append(
            Measurement(
                var.id,
                value,
                var.unit,
                comparator=comparator,
                date=when,
                evidence=self._ev(where, written.strip()),
            )
        )

    def _medicationstatement(self, r: Any, where: str) -> None:
        name = _text(getattr(r, "medicationCodeableConcept", None))
        if not name or r.status == "entered-in-error":
            return
        period = r.effectivePeriod
        start = _as_date(getattr(period, "start", None)) or _as_date(r.effectiveDateTime)
        end = _as_date(getattr(period, "end", None))
        treatment = Treatment(
            name=name,
            negated=r.status == "not-taken",
            current=True
            if r.status in ("active", "intended")
            else False
            if r.status in ("completed", "stopped")
            else None,
            start=start,
            end=end if end is not None else (start if r.status == "completed" and start else None),
            evidence=self._ev(f"{where}.medicationCodeableConcept", name),
        )
        self.medications.append(with_concept(treatment, "drug"))

    def _procedure(self, r: Any, where: str) -> None:
        name = _text(r.code)
        if not name or r.status in ("entered-in-error", "not-done", "preparation"):
            return
        when = _as_date(r.performedDateTime) or _as_date(getattr(r.performedPeriod, "end", None))
        procedure = Treatment(
            name=name,
            category="procedure",
            current=True if r.status == "in-progress" else None,
            end=when,
            evidence=self._ev(f"{where}.code", name),
        )
        self.procedures.append(with_concept(procedure, "procedure", "drug"))

    def patient(self) -> Patient:
        return Patient(
            age=self.fields.get("age"),
            sex=self.fields.get("sex"),
            conditions=tuple(self.conditions),
            measurements=tuple(self.measurements),
            medications=tuple(self.medications),
            procedures=tuple(self.procedures),
            pregnant=self.fields.get("pregnant"),
            location=self.fields.get("location"),
            as_of=self.as_of,
            source="fhir",
            evidence=self.evidence,
        )
