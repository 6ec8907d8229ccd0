"""Numbers, comparators, units and time windows in criterion text.

Everything works on the *normalised* line (:func:`normalise`): lower case, Markdown escapes
removed, ``≥``/``≤`` for the many ways of writing them, ``u`` for the micro sign, ``10^9`` for a
superscript exponent. Positions returned are positions in that normalised string.

>>> [v.comparator for v in find_values(normalise("ANC ≥ 1,500/mm³ and platelets => 100 x 10^9/L"))]
['>=', '>=']
>>> find_windows(normalise("No chemotherapy within 4 weeks of enrolment"))[0][:2]
('within', 28.0)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trialscope.criteria.catalogue import LLN, ULN, catalogue

_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_CHARS = str.maketrans(
    {
        "µ": "u",
        "μ": "u",
        "≧": "≥",
        "⩾": "≥",
        "≦": "≤",
        "⩽": "≤",
        "–": "-",
        "—": "-",
        "−": "-",
        "‐": "-",
        "‑": "-",
        "×": "x",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "’": "'",
        "º": "°",
        "＞": ">",
        "＜": "<",
        "，": ",",
        "：": ":",
        "\t": " ",
    }
)
_ESCAPE = re.compile(r"\\([<>=*_\[\]()#+.\-~|!^&`'\"{}/$%@])")
_EXPONENT = re.compile(r"10([⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
_SYMBOLS = re.compile(
    r"&gt;|&lt;|>\s?or\s?=|<\s?or\s?=|>\s?/\s?=|<\s?/\s?=|>=|=>|<=|=<|≥\s?=|≤\s?=|>\s=|<\s="
)
_SYMBOL_MAP = {"&gt;": ">", "&lt;": "<"}


def fold_characters(text: str) -> str:
    """One character for another (µ -> u, – -> -, ≧ -> ≥, superscript digits -> digits), so every
    position is kept: what a patient note is read with, its evidence spans staying true."""
    return text.translate(_CHARS).translate(_SUPERSCRIPT)


def normalise(text: str) -> str:
    """The line as the value and cue finders read it (same length is NOT kept)."""
    out = _ESCAPE.sub(r"\1", text)
    if "10" in out:
        out = _EXPONENT.sub(lambda m: "10^" + m.group(1).translate(_SUPERSCRIPT), out)
    out = fold_characters(out).lower()
    return _SYMBOLS.sub(_symbol, out)


def _symbol(m: re.Match[str]) -> str:
    text = m.group(0)
    if text in _SYMBOL_MAP:
        return _SYMBOL_MAP[text]
    return "≥" if ">" in text else "≤"


_WORD_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "eighteen": 18,
    "twenty": 20,
    "thirty": 30,
    "sixty": 60,
    "ninety": 90,
    "a": 1,
    "an": 1,
}

_GE = (
    r"≥|greater than or equal to|greater or equal to|greater than or equal|more than or equal to|"
    r"equal to or greater than|equal or greater than|equal to or more than|equal or more than|"
    r"equal to or above|at least|no less than|not less than|no fewer than|not fewer than|"
    r"a minimum of|minimum of|minimum|min\.?|of at least"
)
_GT = (
    r">|greater than|more than|higher than|above|over|exceeding|exceeds|exceed|in excess of|older than|"
    r"superior to|larger than"
)
_LE = (
    r"≤|less than or equal to|less or equal to|less than or equal|equal to or less than|equal or less than|"
    r"equal to or below|lower than or equal to|at most|no more than|not more than|no greater than|"
    r"not greater than|not exceeding|not to exceed|does not exceed|do not exceed|up to|a maximum of|"
    r"maximum of|maximum|max\.?|no higher than|not higher than|no older than|not older than"
)
_LT = r"<|less than|lower than|below|under|younger than|fewer than|inferior to|smaller than"
_EQ = r"=|equal to|equals|of"
COMPARATOR_WORDS = {"ge": _GE, "gt": _GT, "le": _LE, "lt": _LT, "eq": _EQ}
_CMP = "|".join(f"(?P<{{p}}{name}>{pattern})" for name, pattern in COMPARATOR_WORDS.items())
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+,\d{1,2}(?=\s?(?:mg|g/|umol|mmol|%|x\s?uln|x\s?10|u/l|iu))|\d+)(?:\.\d+)?|\.\d+"
_EXP = r"\s?(?:x|\*)\s?10\s?(?:\^|\*\*|e\+?)?\s?\(?(?P<{p}exp>\d{{1,2}})\)?"
_ULN = (
    r"(?:x|times|fold|-fold)?\s?(?:the\s)?(?:institutional\s|site\s|laboratory\s|local\s)?"
    r"(?P<{p}rel>uln|unl|upper limits? of (?:the\s)?normal(?: range| limit)?|upper normal limits?|"
    r"normal upper limits?|upper limit normal|upper reference limit|upper limit|lln|lower limits? of (?:the\s)?normal)"
    r"(?:\s?\((?:uln|lln)\))?"
)


def _unit_alternation() -> str:
    keys = sorted(catalogue().units, key=len, reverse=True)
    parts = []
    for key in keys:
        pattern = re.escape(key).replace(r"\ ", r"\s?").replace("/", r"\s?/\s?")
        tail = r"(?![a-z0-9])" if key[-1].isalnum() else ""
        parts.append(pattern + tail)
    return "|".join(parts)


def _one_value(p: str, with_comparator: bool) -> str:
    cmp_ = _CMP.replace("{p}", p)
    return (
        (rf"(?:(?P<{p}cmp>{cmp_})\s?(?:to\s|than\s)?)?" if with_comparator else "")
        + rf"(?P<{p}num>(?<![\w.])(?<![a-z]-)(?:{_NUM}))"
        + rf"(?:{_EXP.format(p=p)})?"
        + rf"(?:\s?(?:{_ULN.format(p=p)}|(?P<{p}unit>{{units}})))?"
    )


# A value is read in two steps, both cheap: the number and what follows it, matched where a
# number starts; then the comparator, searched for only in the few words before the number.
_CORE_TEMPLATE = (
    _one_value("a", False)
    + r"(?:\s?(?:-|to|and|through|until)\s?"
    + _one_value("b", True)
    + r")?"
    # "18 years or older"; not "less than 18 or greater than 65", "over 65 or under 18" (the
    # words of the next value's comparator)
    + r"(?P<post>\s?\+|\s(?:or|and)\s(?:more|greater|higher|above|over|older|less|lower|below|younger|under|fewer)"
    + r"(?![a-z])(?!\s?(?:than|\d)))?"
)
_BEFORE_NUMBER = re.compile(
    r"(?:(?<![a-z])(?P<between>between\s|from\s)|(?<![a-z])(?:"
    + _CMP.replace("{p}", "a")
    + r")\s?(?:to\s|than\s)?)$"
)
_NUMBER_START = re.compile(r"(?<![\w.])(?<![a-z]-)(?:\d|\.\d)")


@dataclass(frozen=True, slots=True)
class Value:
    """A number (or range) found in a line, before it is tied to a variable."""

    start: int
    end: int
    comparator: str | None
    value: float
    upper_comparator: str | None = None
    upper: float | None = None
    unit: str | None = None
    """pint expression, ``x ULN`` / ``x LLN``, or None when no unit was written."""
    multiplier: float = 1.0
    upper_multiplier: float = 1.0
    outside: bool = False
    """ "< 1 month and > 36 months": the range is what is *outside* the two bounds."""


_CMP_SYMBOL = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<", "eq": "="}
_REGEX: list[re.Pattern[str]] = []


def _value_regex() -> re.Pattern[str]:
    if not _REGEX:
        _REGEX.append(re.compile(_CORE_TEMPLATE.replace("{units}", _unit_alternation())))
    return _REGEX[0]


def parse_number(text: str) -> float:
    """ "1,500" -> 1500.0, "1,5" -> 1.5, ".5" -> 0.5 (commas before three digits group thousands)."""
    if "," in text:
        head, _, tail = text.partition(",")
        if re.fullmatch(r"\d{1,2}", tail.split(".")[0]) and tail.count(",") == 0:
            return float(f"{head}.{tail}")
        text = text.replace(",", "")
    return float(text)


def _comparator(m: re.Match[str], p: str) -> str | None:
    for name, symbol in _CMP_SYMBOL.items():
        if m.group(p + name):
            return symbol
    return None


def _unit_of(m: re.Match[str], p: str) -> str | None:
    rel = m.group(p + "rel")
    if rel:
        return LLN if rel.startswith("l") else ULN
    written = m.group(p + "unit")
    return catalogue().unit_expr(written) if written else None


def find_values(norm: str) -> list[Value]:
    """Every number in the normalised line with its comparator, range and unit."""
    if not _DIGIT.search(norm):
        return []
    found: list[Value] = []
    core = _value_regex()
    done = 0
    for start in _NUMBER_START.finditer(norm):
        if start.start() < done:
            continue
        m = core.match(norm, start.start())
        if m is None:
            continue
        done = m.end()
        before = _BEFORE_NUMBER.search(norm, max(0, m.start() - 45), m.start())
        first = before.start() if before else m.start()
        try:
            low = parse_number(m.group("anum"))
            high = parse_number(m.group("bnum")) if m.group("bnum") else None
        except ValueError:
            continue
        mult_a = 10.0 ** int(m.group("aexp")) if m.group("aexp") else 1.0
        mult_b = 10.0 ** int(m.group("bexp")) if m.group("bexp") else 1.0
        cmp_a, cmp_b = (_comparator(before, "a") if before else None), _comparator(m, "b")
        unit_a, unit_b = _unit_of(m, "a"), _unit_of(m, "b")
        post = (m.group("post") or "").strip()
        if high is not None and cmp_a in ("<=", "<") and cmp_b in ("<=", "<", None):
            # "≤ 3 x ULN and ≤ 5 x ULN": an alternative bound, not a range; keep the first
            found.append(Value(first, m.start("bnum") - 1, cmp_a, low, unit=unit_a, multiplier=mult_a))
            continue
        if high is not None and high < low and cmp_a is None and cmp_b is None:
            low, high, mult_a, mult_b = high, low, mult_b, mult_a  # "Karnofsky 100-80%"
        if high is not None:
            outside = cmp_a in ("<=", "<") and cmp_b in (">=", ">")
            if outside:
                # the inside of "< 1 or > 36" is "≥ 1 and ≤ 36"
                cmp_a, cmp_b = (">" if cmp_a == "<=" else ">="), ("<" if cmp_b == ">=" else "<=")
            if unit_a is None and mult_a == 1.0:
                unit_a, mult_a = unit_b, mult_b
            found.append(
                Value(
                    first,
                    m.end(),
                    ">" if cmp_a == ">" else ">=",
                    low,
                    "<" if cmp_b == "<" else "<=",
                    high,
                    unit_a,
                    mult_a,
                    mult_b if unit_b is not None or m.group("bexp") else mult_a,
                    outside,
                )
            )
            continue
        if post:
            cmp_a = ">=" if post == "+" or post.split()[-1] in _GREATER else "<="
        found.append(Value(first, m.end(), cmp_a, low, unit=unit_a, multiplier=mult_a))
    return found


_DIGIT = re.compile(r"\d")
_TIME_WORD = re.compile(r"\b(?:years?|yrs?|months?|mos?|weeks?|wks?|days?|d|hours?|hrs?|h)\b")
_GREATER = frozenset({"more", "greater", "higher", "above", "over", "older"})

# --- time windows -----------------------------------------------------------------------

_DAYS = {"year": 365.25, "month": 30.4375, "week": 7.0, "day": 1.0, "hour": 1 / 24}
_TIME_UNIT = r"(?P<tu>years?|yrs?|months?|mos?|weeks?|wks?|days?|d|hours?|hrs?|h)(?![a-z])"
_COUNT = r"\b(?P<tn>\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|eighteen|twenty|thirty|sixty|ninety|an?)"
_BEFORE = re.compile(
    r"(?:at least|≥|>|more than|greater than|a minimum of|minimum of|minimum|longer than|over)\s?(?:the\s)?"
    + _COUNT
    + r"\s?(?:\(\d+\)\s?)?"
    + _TIME_UNIT
    + r"(?:\s(?:or more|or longer))?\s(?:since|from|after|before|prior|must have|have passed|has passed|elapsed|"
    r"between|washout|wash-out|ago|of washout|off|following)"
    r"|(?:washout|wash-out)(?:\speriod)?\s(?:of\s)?(?:at least\s|≥\s?)?"
    + _COUNT.replace("tn", "tn2")
    + r"\s?"
    + _TIME_UNIT.replace("tu", "tu2")
)
_WITHIN = re.compile(
    r"(?:within|in|during|over|for)\s(?:the\s)?(?:last|past|previous|preceding|prior|recent)\s(?:the\s)?"
    + _COUNT
    + r"?\s?"
    + _TIME_UNIT
    + r"|(?:within|≤|<|less than|in)\s(?:the\s)?"
    + _COUNT.replace("tn", "tn2")
    + r"\s?(?:\(\d+\)\s?)?"
    + _TIME_UNIT.replace("tu", "tu2")
    + r"|"
    + _COUNT.replace("tn", "tn3")
    + r"\s?(?:\(\d+\)\s?)?"
    + _TIME_UNIT.replace("tu", "tu3")
    + r"\s(?:prior to|before|preceding|of (?:screening|enrol|randomi|baseline|study|first|day|the first|the start|start|signing|visit))"
)


def _days(count: str | None, unit: str) -> float | None:
    if count is None:
        amount = 1.0
    elif count in _WORD_NUMBERS:
        amount = float(_WORD_NUMBERS[count])
    else:
        amount = float(count)
    base = unit.rstrip("s")
    for name, days in _DAYS.items():
        if name.startswith(base) or base in ("yr", "mo", "wk", "hr", "d", "h") and name[0] == base[0]:
            return amount * days
    return None


def find_windows(norm: str) -> list[tuple[str, float, int]]:
    """Time windows in the normalised line: (``within``/``before``, days, position)."""
    found: list[tuple[str, float, int]] = []
    if not _TIME_WORD.search(norm):
        return found
    spans: list[tuple[int, int]] = []
    for kind, regex in (("before", _BEFORE), ("within", _WITHIN)):
        for m in regex.finditer(norm):
            if any(m.start() < end and start < m.end() for start, end in spans):
                continue  # "at least 4 weeks prior to" is one window, not two
            groups = m.groupdict()
            for suffix in ("", "2", "3"):
                unit = groups.get("tu" + suffix)
                if unit:
                    days = _days(groups.get("tn" + suffix), unit)
                    if days is not None:
                        found.append((kind, round(days, 3), m.start()))
                        spans.append((m.start(), m.end()))
                    break
    found.sort(key=lambda w: w[2])
    return found


def time_in_years(value: float, unit: str | None) -> float | None:
    """A duration in years from a pint time unit name (``year``, ``month`` ...), or None."""
    if unit is None:
        return value
    days = _DAYS.get(unit)
    return value * days / 365.25 if days else None
