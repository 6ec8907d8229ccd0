"""The criteria vocabulary seen from the patient's side: names to variables and MeSH terms, units
to canonical units. One vocabulary for trials and patients (``criteria/catalogue.toml`` and
``criteria/mesh_terms.tsv``), so what a profile says can be compared with what a criterion says.

>>> variable_for("serum creatinine").id, variable_for("EF").id
('creatinine', 'lvef')
>>> round(canonical_value(variable_for("creatinine"), 132.6, "umol/L"), 2)
1.5
>>> concept_for("type 2 diabetes", "condition").name
'Diabetes Mellitus, Type 2'
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import TypeVar

import msgspec

from trialscope.criteria.catalogue import Variable, catalogue, tokens
from trialscope.criteria.scan import scan
from trialscope.criteria.types import Concept
from trialscope.patient.profile import Condition, Treatment

Named = TypeVar("Named", Condition, Treatment)

# UCUM (FHIR's units) written the way the catalogue's [units] table or pint reads them
_UCUM = {
    "%": "percent",
    "10*9/l": "1e9/L",
    "10*3/ul": "1e3/uL",
    "10*3/mm3": "1e3/mm^3",
    "10*6/ul": "1e6/uL",
    "10*12/l": "1e12/L",
    "10^9/l": "1e9/L",
    "x10^9/l": "1e9/L",
    "x10*9/l": "1e9/L",
    "10^3/ul": "1e3/uL",
    "x10^3/ul": "1e3/uL",
    "[iu]/l": "U/L",
    "[iu]/ml": "U/mL",
    "m[iu]/ml": "U/L",
    "u[iu]/ml": "mU/L",
    "mm[hg]": "mmHg",
    "kg/m2": "kg/m^2",
    "ml/min/{1.73_m2}": "mL/min",
    "ml/min/1.73.m2": "mL/min",
    "ml/min/{1.73m2}": "mL/min",
    "cel": "degC",
    "[degf]": "degF",
    "/min": "1/min",
    "{beats}/min": "1/min",
    "{breaths}/min": "1/min",
    "a": "year",
    "mo": "month",
    "wk": "week",
    "d": "day",
    "{score}": "",
    "{copies}/ml": "1/mL",
    "1": "",
}
_NUMBER_UNIT = re.compile(r"^\s*(?:x\s?)?10\s?[*^]\s?(\d{1,2})\s?/\s?(l|ul|mm3)\s*$")


def variable_for(name: str) -> Variable | None:
    """The catalogue variable a name means: its id, or any of its aliases (case-insensitive)."""
    key = name.strip().lower()
    cat = catalogue()
    if key in cat.variables:
        return cat.variables[key]
    return _aliases().get(tokens(key))


@cache
def _aliases() -> dict[tuple[str, ...], Variable]:
    out: dict[tuple[str, ...], Variable] = {}
    for var in catalogue().variables.values():
        for alias in (var.id, var.label, *var.aliases):
            out.setdefault(tokens(alias), var)
    # words a note or a profile uses that criteria rarely do
    for alias, var_id in _EXTRA_ALIASES.items():
        if var_id in catalogue().variables:
            out.setdefault(tokens(alias), catalogue().variables[var_id])
    return out


_EXTRA_ALIASES = {
    "ef": "lvef",
    "ejection fraction": "lvef",
    "a1c": "hba1c",
    "hemoglobin a1c": "hba1c",
    "o2 sat": "spo2",
    "oxygen saturation": "spo2",
    "sat": "spo2",
    "pulse": "heart_rate",
    "hr": "heart_rate",
    "bp": "blood_pressure",
    "systolic": "sbp",
    "diastolic": "dbp",
    "temp": "temperature",
    "plt": "platelets",
    "cr": "creatinine",
    "k": "potassium",
    "na": "sodium",
}


def unit_expression(written: str | None) -> str | None:
    """A unit as written (catalogue spelling, UCUM, or pint) -> the pint expression, or None."""
    if written is None:
        return None
    key = re.sub(r"\s+", "", written.strip().lower().replace("µ", "u").replace("μ", "u"))
    if not key:
        return ""
    if written.strip() in _canonical_units():
        return written.strip()  # a profile's own JSON: already the canonical unit
    if key in _UCUM:
        return _UCUM[key]
    found = _NUMBER_UNIT.match(key)
    if found:
        return f"1e{found.group(1)}/{'mm^3' if found.group(2) == 'mm3' else found.group(2).replace('l', 'L')}"
    return catalogue().unit_expr(written) or catalogue().unit_expr(key)


@cache
def _canonical_units() -> frozenset[str]:
    return frozenset(var.unit for var in catalogue().variables.values() if var.unit)


def canonical_value(var: Variable, value: float, unit: str | None) -> float | None:
    """``value`` written in ``unit`` as the variable's canonical value, or None when the unit does
    not convert. No unit: the canonical unit when plausible, else the catalogue's guesses
    ("platelets 150000" is per µL), as for a criterion."""
    cat = catalogue()
    expr = unit_expression(unit)
    if unit and unit.strip() and expr is None:
        return None
    if expr is None or expr == "" or expr == var.unit:
        if expr == var.unit or var.plausible(value) or not var.guess:
            return round(value, 6)
        for guess in var.guess:
            converted = cat.convert(var, value, guess)
            if converted is not None and var.plausible(converted):
                return round(converted, 6)
        return round(value, 6)
    converted = cat.convert(var, value, expr)
    return None if converted is None else round(converted, 6)


@cache
def abbreviations() -> dict[str, tuple[str, Concept]]:
    """Clinical abbreviations (``abbreviations.tsv``, case-sensitive): abbr -> (category, concept);
    the concept is the MeSH term of the meaning, or the meaning itself when no term matched."""
    text = resources.files("trialscope.patient").joinpath("abbreviations.tsv").read_text(encoding="utf-8")
    table: dict[str, tuple[str, Concept]] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            abbr, category, meaning = line.split("\t")
            concept = _longest_concept(meaning, category)
            table[abbr] = (category, concept or Concept(meaning, category))  # type: ignore[arg-type]
    return table


def concept_for(name: str, category: str) -> Concept | None:
    """The MeSH term a name means (the longest one found in it, of the wanted category); a
    clinical abbreviation ("NSCLC") is read as what it stands for."""
    known = abbreviations().get(name.strip())
    if known is not None and known[0] == category:
        return known[1]
    return _longest_concept(name, category)


def with_concept(item: Named, *categories: str) -> Named:
    """The condition or treatment with the MeSH term its name means (of the first category that
    has one), unless it already says its own; how every kind of profile names what it holds.

    >>> with_concept(Condition(name="type 2 diabetes"), "condition").term
    'Diabetes Mellitus, Type 2'
    """
    if item.term is not None or item.mesh_id is not None:
        return item
    concept = next(filter(None, (concept_for(item.name, category) for category in categories)), None)
    if concept is None:
        return item
    return msgspec.structs.replace(item, term=concept.name, mesh_id=concept.mesh_id)


def _longest_concept(name: str, category: str) -> Concept | None:
    text = name.lower()
    best: Concept | None = None
    best_len = 0
    for mention in scan(text)[0]:
        concept = mention.concept
        if concept is None or concept.category != category:
            continue
        if mention.end - mention.start > best_len:
            best, best_len = concept, mention.end - mention.start
    return best
