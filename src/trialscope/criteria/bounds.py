"""Variables and their bounds: tie the numbers of a line to the catalogue variables named before them.

"AST, ALT ≤ 3 x ULN" bounds both; "creatinine ≤ 1.5 mg/dL" is converted to the variable's
canonical unit; a value outside the variable's plausible range is dropped with a note; a
number written without a unit is read in the canonical unit, or in the catalogue's guesses
("platelets > 100,000" is per µL).

>>> from trialscope.criteria.catalogue import catalogue
>>> from trialscope.criteria.values import find_values, normalise
>>> from trialscope.criteria.scan import scan
>>> norm = normalise("AST, ALT ≤ 3 x ULN")
>>> mentions = [m for m in scan(norm)[0] if m.kind == "var"]
>>> [(m.word, f.value, f.unit) for m, f in variable_facts(norm, mentions, find_values(norm), set(), catalogue())]
[('ast', 3.0, 'x ULN'), ('alt', 3.0, 'x ULN')]
"""

from __future__ import annotations

import re

from trialscope.criteria.catalogue import LLN, ULN, Catalogue, Variable
from trialscope.criteria.scan import Mention
from trialscope.criteria.types import Fact
from trialscope.criteria.values import Value

CLAUSE_END = frozenset(";.:")
ORDINAL_LIST = re.compile(r"^[^0-9;.]{0,30}?(\d)((?:\s?(?:,|or|and|/)\s?(?:or\s|and\s)?\d)+)")
_COMPARATORS = {">=", ">", "<=", "<", "="}


def variable_facts(
    norm: str, mentions: list[Mention], values: list[Value], used: set[int], cat: Catalogue
) -> list[tuple[Mention, Fact]]:
    """Tie each value to the variables named since the previous value ("AST, ALT ≤ 3 x ULN")."""
    out: list[tuple[Mention, Fact]] = []
    done: set[str] = set()
    pending: list[Mention] = []
    mi = 0
    for vi, value in enumerate(values):
        while mi < len(mentions) and mentions[mi].end <= value.start:
            mention = mentions[mi]
            if pending and _gap_breaks(norm[pending[-1].end : mention.start]):
                pending = []
            if mention.var is not None and mention.var.id not in done:
                pending.append(mention)
            mi += 1
        if not pending or _gap_breaks(norm[pending[-1].end : value.start], limit=45):
            continue
        assigned = False
        for mention in pending:
            assert mention.var is not None
            fact = _bounded_fact(mention.var, value, norm, mention.end, cat)
            if fact is None:
                continue
            assigned = True
            if mention.var.id not in done:
                out.append((mention, fact))
                done.add(mention.var.id)
        if assigned:
            used.add(vi)
            pending = []
    # variables named with no value: "within normal limits", or a bare mention
    for mention in mentions:
        assert mention.var is not None
        if mention.var.id in done:
            continue
        done.add(mention.var.id)
        earlier = _value_before(norm, mention, values, used)
        if earlier is not None:
            fact = _bounded_fact(mention.var, values[earlier], norm, mention.end, cat)
            if fact is not None:
                used.add(earlier)
                out.append((mention, fact))
                continue
        tail = norm[mention.end : mention.end + 40]
        if re.match(
            r"[^;.]{0,20}?\b(?:within|in|inside)\s(?:the\s)?(?:institutional\s)?normal\s(?:limits?|range)|"
            r"[^;.]{0,12}?\b(?:normal|wnl)\b",
            tail,
        ):
            out.append((mention, _fact(mention.var, category="normal")))
        elif mention.var.ordinal and (listed := ORDINAL_LIST.match(tail)):
            digits = [int(d) for d in re.findall(r"\d", listed.group(0))]
            out.append((mention, _fact(mention.var, comparator=">=", value=min(digits), upper=max(digits))))
        elif mention.concept is None and len(mention.word) > 3:
            out.append((mention, _fact(mention.var)))
    return out


_VALUE_THEN_NAME = re.compile(r"\s?(?:points?\s)?(?:on|in|at|by|of)\s(?:the\s)?")


def _value_before(norm: str, mention: Mention, values: list[Value], used: set[int]) -> int | None:
    """An unused value written just before the variable: "a score of ≥ 18 on the HAM-D"."""
    for vi in range(len(values) - 1, -1, -1):
        value = values[vi]
        if value.end <= mention.start:
            if vi not in used and _VALUE_THEN_NAME.fullmatch(norm, value.end, mention.start):
                return vi
            return None
    return None


def unnamed_bounds(
    norm: str,
    values: list[Value],
    used: set[int],
    windows: list[tuple[str, float, int]],
    placed: list[tuple[int, int, Fact]],
) -> list[tuple[int, int, Fact]]:
    """A bound on something the catalogue does not name ("IQ-like score > 30"): a lab fact with no
    variable, kept so the line is typed; a matcher cannot decide it and says unknown."""
    if any(f.type in ("lab", "age", "performance_status", "therapy", "pregnancy") for _, _, f in placed):
        return []
    for vi, value in enumerate(values):
        if (
            vi in used
            or value.unit in _NOT_LAB_UNITS
            or value.comparator in (None, "=")
            and value.upper is None
        ):
            continue
        if any(abs(pos - value.start) < 25 for _, _, pos in windows):
            continue
        low = value.value * value.multiplier
        high = value.upper * value.upper_multiplier if value.upper is not None else None
        if high is not None and low > high:
            continue  # "1-0": not a range of anything
        fact = Fact(
            type="lab",
            comparator=value.comparator,  # type: ignore[arg-type]
            value=low,
            upper_comparator=value.upper_comparator,  # type: ignore[arg-type]
            upper=high,
            unit=value.unit,
            negated=value.outside,
        )
        return [(2, value.start, fact)]
    return []


# durations are windows or ages, and doses belong to the drug named beside them
_NOT_LAB_UNITS = frozenset(
    {"year", "month", "week", "day", "hour", "mg", "g", "mg/day", "g/day", "U", "mL", "L"}
)


def _gap_breaks(gap: str, limit: int = 60) -> bool:
    return len(gap) > limit or any(ch in CLAUSE_END for ch in gap)


def _fact(var: Variable, **fields: object) -> Fact:
    unit = fields.pop("unit", var.unit if fields.get("value") is not None else None)
    return Fact(type=var.type, variable=var.id, unit=unit, **fields)  # type: ignore[arg-type]


def _bounded_fact(var: Variable, value: Value, norm: str, after: int, cat: Catalogue) -> Fact | None:
    """The fact for ``var`` bounded by ``value``; None when the value's unit does not fit the variable."""
    if var.ordinal and value.upper is None:
        listed = ORDINAL_LIST.match(norm[after : after + 40])
        if listed and value.comparator in (None, "="):
            digits = [int(d) for d in re.findall(r"\d", listed.group(0))]
            return _fact(var, comparator=">=", value=min(digits), upper_comparator="<=", upper=max(digits))
    if value.unit in (ULN, LLN):
        if not (var.uln or value.unit == LLN):
            return None
        return _checked(var, value, value.value, value.upper, value.unit, (0.0, 100.0))
    if value.unit is not None:
        low = cat.convert(var, value.value, value.unit, value.multiplier)
        if low is None:
            return None
        high = None
        if value.upper is not None:
            high = cat.convert(var, value.upper, value.unit, value.upper_multiplier)
        return _checked(var, value, low, high, var.unit, var.bounds, raw=f"{_num(value.value)} {value.unit}")
    # no unit written: the canonical unit if plausible, else the catalogue's guesses
    low, high = value.value * value.multiplier, (value.upper or 0.0) * value.upper_multiplier
    if var.plausible(low) and (value.upper is None or var.plausible(high)):
        return _checked(var, value, low, high if value.upper is not None else None, var.unit, var.bounds)
    for guess in var.guess:
        g_low = cat.convert(var, value.value, guess, value.multiplier)
        g_high = (
            cat.convert(var, value.upper, guess, value.upper_multiplier) if value.upper is not None else None
        )
        if g_low is not None and var.plausible(g_low) and (g_high is None or var.plausible(g_high)):
            return _checked(var, value, g_low, g_high, var.unit, var.bounds)
    return _checked(var, value, low, None, var.unit, var.bounds, raw=_num(value.value))


def _checked(
    var: Variable,
    value: Value,
    low: float,
    high: float | None,
    unit: str,
    bounds: tuple[float, float],
    raw: str | None = None,
) -> Fact:
    """The fact with its bounds, or with a note and no bounds when a value is implausible."""
    if not bounds[0] <= low <= bounds[1] or (high is not None and not bounds[0] <= high <= bounds[1]):
        written = raw or _num(value.value)
        return _fact(var, note=f"implausible value {written} for {var.label}")
    comparator = value.comparator if value.comparator in _COMPARATORS else "="
    return _fact(
        var,
        negated=value.outside,
        comparator=comparator,
        value=round(low, 6),
        upper_comparator=value.upper_comparator if high is not None else None,
        upper=round(high, 6) if high is not None else None,
        unit=unit,
    )


def _num(value: float) -> str:
    return f"{value:g}"
