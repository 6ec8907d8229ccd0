"""A JSON patient profile -> :class:`~trialscope.patient.profile.Patient`, with clear errors.

The schema is the profile's own JSON (what ``msgspec.json.encode(patient)`` writes, so a
profile read from a note can be edited and given back), with shortcuts a person writing one
by hand will want::

    {
      "age": 45,                                  # years
      "sex": "male",                              # "female" | "male" (also "F", "M", "woman", "man")
      "conditions": ["anaplastic astrocytoma",    # a name, or an object:
                     {"name": "diabetes", "negated": true}],   # + term, mesh_id, history, family, uncertain
      "measurements": [{"variable": "creatinine", "value": 1.8, "unit": "mg/dL", "date": "2021-03-01"}],
      "medications": ["temozolomide", {"name": "bevacizumab", "current": true, "end": "2021-02-01"}],
      "procedures": ["radiation therapy"],
      "pregnant": false, "lactating": false,
      "ecog": 1, "karnofsky": 80,                 # shortcuts for measurements
      "location": "Boston, MA",
      "as_of": "2021-06-01"                       # the date the profile describes
    }

A measurement's ``variable`` is a catalogue id or any of its names ("serum creatinine", "EF",
"HbA1c"); its ``unit`` any spelling the catalogue or UCUM uses; the value is converted to the
variable's canonical unit. Names of conditions and drugs are looked up in the MeSH term list.
Wrong types, unknown fields, unknown lab names and units that do not convert are each reported
in one sentence that names the field (``$.measurements[0].unit``).

>>> p = patient_from_json('{"age": 61, "sex": "F", "measurements": [{"variable": "serum creatinine", "value": 132.6, "unit": "umol/L"}]}')
>>> p.sex, p.measurements[0].variable, round(p.measurements[0].value, 2), p.measurements[0].unit
('female', 'creatinine', 1.5, 'mg/dL')
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import msgspec

from trialscope.patient.profile import (
    Comparator,
    Condition,
    Evidence,
    Measurement,
    Patient,
    PatientError,
    Source,
    Treatment,
)
from trialscope.patient.vocabulary import canonical_value, variable_for, with_concept

_SEX = {"f": "female", "female": "female", "woman": "female", "w": "female", "m": "male", "male": "male"}
_SEX |= {"man": "male"}


class _Measurement(msgspec.Struct, forbid_unknown_fields=True):
    variable: str
    value: float
    unit: str | None = None
    comparator: Comparator = "="
    date: date | None = None
    evidence: Evidence | None = None


class _Profile(msgspec.Struct, forbid_unknown_fields=True):
    age: float | None = None
    sex: str | None = None
    conditions: list[str | Condition] = []
    measurements: list[_Measurement] = []
    medications: list[str | Treatment] = []
    procedures: list[str | Treatment] = []
    pregnant: bool | None = None
    lactating: bool | None = None
    ecog: float | None = None
    karnofsky: float | None = None
    location: str | None = None
    as_of: date | None = None
    source: Source = "json"
    evidence: dict[str, Evidence] = {}


def patient_from_json(data: str | bytes | dict[str, Any]) -> Patient:
    """Read a JSON profile (text, bytes or an already decoded object); PatientError when invalid."""
    try:
        if isinstance(data, dict):
            raw = msgspec.convert(data, type=_Profile)
        else:
            raw = msgspec.json.decode(data, type=_Profile)
    except msgspec.ValidationError as exc:
        raise PatientError(f"The patient profile is not valid: {_sentence(str(exc))}") from exc
    except msgspec.DecodeError as exc:
        raise PatientError(f"The patient profile is not valid JSON: {_sentence(str(exc))}") from exc
    return resolve_profile(raw)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _sentence(message: str) -> str:
    """msgspec's message as one line of our sentence (a field name may hold a line break).

    >>> _sentence("Object contains unknown field `a\\nb` - at `$.x`")
    'unknown field `a\\\\nb` - at `$.x`.'
    """
    message = message.replace("Object contains unknown field", "unknown field")
    message = _CONTROL.sub(lambda m: repr(m.group())[1:-1], message)
    return message[:1].lower() + message[1:] + ("" if message.endswith(".") else ".")


def resolve_profile(raw: _Profile) -> Patient:
    """Names to vocabulary terms, values to canonical units, shortcuts to measurements."""
    source = raw.source
    if raw.age is not None and not 0 <= raw.age <= 130:
        raise PatientError(
            f"The patient profile is not valid: age {raw.age:g} is not an age in years (0-130)."
        )
    sex = None
    if raw.sex is not None:
        sex = _SEX.get(raw.sex.strip().lower())
        if sex is None:
            raise PatientError(
                f"The patient profile is not valid: sex {raw.sex!r} is not one of female, male - at `$.sex`."
            )
    measurements = [_measurement(m, i) for i, m in enumerate(raw.measurements)]
    for name in ("ecog", "karnofsky"):
        value = getattr(raw, name)
        if value is not None:
            shortcut = _Measurement(variable=name, value=value)
            measurements.append(_measurement(shortcut, -1, path=f"$.{name}"))
    return Patient(
        age=raw.age,
        sex=sex,  # type: ignore[arg-type]
        conditions=tuple(_condition(c, i, source) for i, c in enumerate(raw.conditions)),
        measurements=tuple(measurements),
        medications=tuple(
            _treatment(t, "drug", f"$.medications[{i}]", source) for i, t in enumerate(raw.medications)
        ),
        procedures=tuple(
            _treatment(t, "procedure", f"$.procedures[{i}]", source) for i, t in enumerate(raw.procedures)
        ),
        pregnant=raw.pregnant,
        lactating=raw.lactating,
        location=raw.location,
        as_of=raw.as_of,
        source=source,
        evidence=raw.evidence or _field_evidence(raw),
    )


def _field_evidence(raw: _Profile) -> dict[str, Evidence]:
    out = {}
    for name in ("age", "sex", "pregnant", "lactating", "location"):
        value = getattr(raw, name)
        if value is not None:
            out[name] = Evidence(
                source="json",
                text=str(value).lower() if isinstance(value, bool) else f"{value}",
                path=f"$.{name}",
            )
    return out


def _measurement(m: _Measurement, index: int, path: str | None = None) -> Measurement:
    where = path or f"$.measurements[{index}]"
    var = variable_for(m.variable)
    if var is None:
        raise PatientError(
            f"The patient profile is not valid: {m.variable!r} is not a lab or measurement TrialScope knows "
            f"(use a name such as creatinine, egfr, hba1c, anc, platelets, ecog) - at `{where}.variable`."
        )
    value = canonical_value(var, m.value, m.unit)
    if value is None:
        raise PatientError(
            f"The patient profile is not valid: the unit {m.unit!r} does not convert to {var.label}'s unit "
            f"({var.display or 'no unit'}) - at `{where}.unit`."
        )
    evidence = m.evidence or Evidence(
        source="json", text=f"{m.variable} {m.value:g}{' ' + m.unit if m.unit else ''}", path=where
    )
    return Measurement(var.id, value, var.unit, comparator=m.comparator, date=m.date, evidence=evidence)


def _condition(item: str | Condition, index: int, source: Source) -> Condition:
    where = f"$.conditions[{index}]"
    if isinstance(item, str):
        item = Condition(name=item)
    if not item.name.strip():
        raise PatientError(f"The patient profile is not valid: a condition has no name - at `{where}`.")
    item = with_concept(item, "condition")
    if item.evidence is None:
        item = msgspec.structs.replace(item, evidence=Evidence(source=source, text=item.name, path=where))
    return item


def _treatment(item: str | Treatment, category: str, where: str, source: Source) -> Treatment:
    if isinstance(item, str):
        item = Treatment(name=item, category=category)  # type: ignore[arg-type]
    if not item.name.strip():
        raise PatientError(f"The patient profile is not valid: a {category} has no name - at `{where}`.")
    item = with_concept(item, "drug", "procedure")
    if item.evidence is None:
        item = msgspec.structs.replace(item, evidence=Evidence(source=source, text=item.name, path=where))
    return item
