"""Short human labels for typed criteria, phrased as what an eligible patient has or meets.

An exclusion line "Pregnant or breast-feeding" becomes "No pregnancy, no breastfeeding"; an
exclusion "AST > 2.5 x ULN" becomes "AST ≤ 2.5 × ULN"; an inclusion "ECOG 0-1" is "ECOG 0–1".
So a label reads the same under either heading, and a list of labels is a checklist.

>>> from trialscope.criteria.types import Fact
>>> fact_label(Fact(type="lab", variable="egfr", comparator=">=", value=30.0, unit="mL/min"), "inclusion")
'eGFR ≥ 30 mL/min/1.73m²'
"""

from __future__ import annotations

from collections.abc import Callable

from trialscope.criteria.catalogue import LLN, ULN, catalogue
from trialscope.criteria.types import NEGATED, Fact

_SYMBOL = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "=", "≠": "≠"}
_PREGNANCY_WORDS = {
    "pregnancy": ("Pregnancy", "No pregnancy"),
    "lactation": ("Breastfeeding", "No breastfeeding"),
    "contraception": ("Contraception", "No contraception"),
    "childbearing_potential": ("Childbearing potential", "No childbearing potential"),
    "menopause": ("Postmenopausal", "Not postmenopausal"),
}
MAX_LABEL = 60


def number(value: float) -> str:
    """A number as a person writes it: 30, 1.5, 0.25 (three significant digits at most)."""
    if value == int(value) and abs(value) < 1e7:
        return str(int(value))
    text = f"{value:.3g}"
    return text if "e" not in text else f"{value:g}"


def duration(days: float) -> str:
    """A window in the unit it was most likely written in: 28 -> '4 weeks', 182.6 -> '6 months'."""
    for unit, size in (("year", 365.25), ("month", 30.4375), ("week", 7.0)):
        count = days / size
        if count >= 1 and abs(count - round(count)) < 0.02:
            n = round(count)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    if days < 1:
        hours = round(days * 24)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    n = round(days)
    return f"{n} day{'s' if n != 1 else ''}"


def age_text(years: float) -> str:
    if years < 2 and years > 0:
        months = years * 12
        if abs(months - round(months)) < 0.05:
            return f"{round(months)} months"
        return f"{round(years * 52.18)} weeks"
    return number(years)


def fact_label(fact: Fact, kind: str, text: str = "") -> str:
    """The short label of one fact under a heading of ``kind``."""
    required = fact.required(kind)
    if fact.type in ("lab", "performance_status", "age") and fact.variable:
        return _bound_label(fact, required) or _short(text)
    if fact.type == "sex":
        return {"female": "Female", "male": "Male"}.get(fact.category or "", "All sexes")
    if fact.type == "healthy_volunteers":
        if fact.category in ("accepted", "not accepted"):
            return "Healthy volunteers accepted" if fact.category == "accepted" else "No healthy volunteers"
        return "Healthy" if required else "Not healthy"
    if fact.type == "pregnancy":
        yes, no = _PREGNANCY_WORDS.get(fact.variable or "", ("Pregnancy", "No pregnancy"))
        return yes if required else no
    if fact.type in ("condition", "therapy", "procedure"):
        if fact.variable == "prior_lines" and fact.comparator and fact.value is not None:
            return f"Prior lines of therapy {_SYMBOL[fact.comparator]} {number(fact.value)}"
        if not fact.concepts:
            return _short(text)
        names = ", ".join(_concept_name(c.mention or c.name) for c in fact.concepts[:2])
        names += " …" if len(fact.concepts) > 2 else ""
        if fact.window_days is not None:
            span = duration(fact.window_days)
            if fact.window == "before":
                # "at least 28 days since X", "non-smoker for at least 1 year": none in the last N days
                return f"No {names} within {span}" if kind != "exclusion" else f"{names} within {span}"
            return f"{names} within {span}" if required else f"No {names} within {span}"
        return names if required else f"No {names}"
    if fact.type == "administrative":
        lowered = text.lower()
        if "consent" in lowered or "assent" in lowered:
            return "Informed consent"
        return _short(text)
    return _short(text)


def _bound_label(fact: Fact, required: bool) -> str | None:
    if fact.variable == "age":
        name, display = "Age", ""
    else:
        var = catalogue().variables.get(fact.variable or "")
        if var is None:
            return None
        name, display = var.label, var.display
    if fact.category == "normal":
        return f"{name} within normal limits" if required else f"{name} not within normal limits"
    if fact.comparator is None or fact.value is None:
        return name
    if fact.unit in (ULN, LLN):
        display = "× ULN" if fact.unit == ULN else "× LLN"
    value_text: Callable[[float], str] = number
    unit = f" {display}" if display else ""
    if fact.variable == "age":
        value_text = age_text
        if fact.value < 2 and (fact.upper is None or fact.upper <= 5):
            value_text, unit = (lambda years: number(round(years * 12, 1))), " months"
    if fact.upper is not None and fact.upper_comparator is not None:
        span = f"{value_text(fact.value)}–{value_text(fact.upper)}{unit}"
        if required:
            return f"{name} {span}"
        var = catalogue().variables.get(fact.variable or "")
        if var is not None and var.ordinal:
            # the rest of an ordinal scale: "NYHA III-IV" excluded leaves NYHA 1-2
            if fact.value > var.bounds[0] and fact.upper >= var.bounds[1]:
                return f"{name} {_span(var.bounds[0], fact.value - 1)}"
            if fact.value <= var.bounds[0] and fact.upper < var.bounds[1]:
                return f"{name} {_span(fact.upper + 1, var.bounds[1])}"
        return f"{name} outside {span}"
    comparator = fact.comparator if required else NEGATED[fact.comparator]
    if comparator == "=" and fact.type == "performance_status":
        return f"{name} {value_text(fact.value)}"
    return f"{name} {_SYMBOL[comparator]} {value_text(fact.value)}{unit}"


def _concept_name(name: str) -> str:
    """An abbreviation read from the lower-cased line back in capitals ("hiv" -> "HIV")."""
    return name.upper() if len(name) <= 4 and name.isalpha() and name.islower() else name


def _span(low: float, high: float) -> str:
    return number(low) if low == high else f"{number(low)}–{number(high)}"


def _short(text: str) -> str:
    clean = " ".join(text.replace("\\", "").split()).strip(" -*•;,.") or " ".join(text.split())
    if len(clean) <= MAX_LABEL:
        return clean[:1].upper() + clean[1:]
    cut = clean[:MAX_LABEL].rsplit(" ", 1)[0]
    return cut[:1].upper() + cut[1:] + "…"


_LISTED = frozenset({"lab", "performance_status", "age", "pregnancy"})


def criterion_label(facts: tuple[Fact, ...], kind: str, text: str) -> str:
    """The label of a line: its main fact's label, followed by the labels of further bounds or
    pregnancy facts when the main fact is one too ("ANC ≥ 1.5 10⁹/L, Platelets ≥ 100 10⁹/L"),
    up to three; the line's own words when nothing was understood."""
    if not facts:
        return _short(text)
    labels = [fact_label(facts[0], kind, text)]
    if facts[0].type in _LISTED:
        for fact in facts[1:]:
            if fact.type not in _LISTED:
                continue
            label = fact_label(fact, kind, text)
            if label and label not in labels:
                labels.append(label)
            if len(labels) == 3:
                break
    if len(labels) > 1 and len(", ".join(labels)) > 90:
        labels = labels[:2] if len(", ".join(labels[:2])) <= 90 else labels[:1]
    label = ", ".join(labels)
    return label[:1].upper() + label[1:]
