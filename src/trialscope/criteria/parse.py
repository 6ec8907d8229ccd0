"""One criterion line -> its facts: variables with bounds, conditions, drugs, windows, negation.

The line is normalised once (:func:`~trialscope.criteria.values.normalise`), cut into word
tokens, and read left to right against one phrase index (catalogue variables and cue phrases,
learnt MeSH terms, the trial's own terms), longest phrase first; single words fall back to the
catalogue's cue words with wildcards. Numbers are found by :func:`~.values.find_values` and
tied to the variables named just before them. Each fact remembers where its first mention was,
for negation ("no history of", "HIV negative") and for the order of facts.

>>> [f.variable for f in parse_facts("AST, ALT ≥ 2.0 x ULN")]
['ast', 'alt']
"""

from __future__ import annotations

import re
from dataclasses import replace

from trialscope.criteria.bounds import CLAUSE_END, unnamed_bounds, variable_facts
from trialscope.criteria.catalogue import catalogue
from trialscope.criteria.scan import TOKEN, Mention, scan
from trialscope.criteria.terms import TermIndex
from trialscope.criteria.types import Concept, Fact
from trialscope.criteria.values import Value, find_values, find_windows, normalise, time_in_years

MAX_CHARS = 2000
"""Only the first characters of a very long line are read (its text is kept whole)."""

_NOT_NEGATION_NEXT = frozenset(
    [
        "more",
        "less",
        "greater",
        "exceed",
        "exceeding",
        "exceeds",
        "longer",
        "later",
        "only",
        "fewer",
        "higher",
        "lower",
        "older",
        "younger",
        "applicable",
        "earlier",
        "sooner",
        "below",
        "above",
    ]
)
_ROMAN = re.compile(
    r"\b(class(?:es)?|nyha|asa|stage|grade)\s+(iv|iii|ii|i)\b(?:\s?(-|to|or|and|/|,)\s?(iv|iii|ii|i)\b)?"
)
_ROMAN_DIGIT = {"i": "1", "ii": "2", "iii": "3", "iv": "4"}
_AGE_ANCHOR = re.compile(
    r"\b(?:age[ds]?|years? of age|years? old|yrs? old|y/?o|older|younger|adults? over|birthday|infants?|"
    r"children|child|neonates?|newborns?|adolescents?|men and women|ages)\b"
)
# "under age 60", "over the age of 18": the comparator is written before the word of age
_AGE_WORD_BEFORE = re.compile(
    r"\b(?:(?P<lt>under|below|younger than|less than)|(?P<gt>over|above|older than|greater than))"
    r"\s(?:the\s)?age\s(?:of\s)?$"
)
_AGE_NOT_AFTER = re.compile(
    r"\s?(?:since|ago|after|before|prior|of (?!age)|from|in duration|duration|post|follow|history|long|in length)"
)
_HEALTHY = re.compile(
    r"\bhealthy (?:adult |male |female |elderly |young |normal )?(?:volunteers?|subjects?|participants?|"
    r"individuals?|adults?|men|women|males?|females?|controls?|persons?|people|children|infants?|donors?)\b|"
    r"\bin good (?:general )?health\b|\bgenerally healthy\b|\bhealthy\b(?= *$)"
)
_SEX_ALL = re.compile(
    r"\b(?:both sexes|either sex|both genders|any gender|all genders|men and women|women and men|"
    r"males? (?:and|or) females?|females? (?:and|or) males?|male/female|female/male|boys and girls|girls and boys)\b"
)
_FEMALE = re.compile(r"\b(?:females?|women|woman|girls?)\b")
_MALE = re.compile(r"\b(?:males?|men|man|boys?)\b")
_HISTORY = re.compile(r"\b(?:history|previous|previously|prior|past|ever had|had been|has had|have had)\b")
_PRIOR_LINES = re.compile(
    r"(?:(?P<cmp>at least|≥|>|more than|no more than|≤|<|up to|a maximum of|maximum of|fewer than|less than)\s)?"
    r"(?P<n>\d|one|two|three|four|five)\s(?:or more\s|or fewer\s|or less\s)?(?:prior\s|previous\s|standard\s|"
    r"systemic\s|lines?\s)?(?:lines?|regimens?)\b"
)
_PREGNANCY_VARIABLE = (
    ("pregnan", "pregnancy"),
    ("hcg", "pregnancy"),
    ("β-hcg", "pregnancy"),
    ("conceive", "pregnancy"),
    ("lactat", "lactation"),
    ("breast", "lactation"),
    ("nursing", "lactation"),
    ("menopaus", "menopause"),
    ("postmenopaus", "menopause"),
    ("post-menopaus", "menopause"),
    ("childbearing", "childbearing_potential"),
    ("child-bearing", "childbearing_potential"),
    ("child bearing", "childbearing_potential"),
    ("wocbp", "childbearing_potential"),
    ("wcbp", "childbearing_potential"),
    ("fcbp", "childbearing_potential"),
    ("fertile", "childbearing_potential"),
)
PREGNANCY_ORDER = ("pregnancy", "lactation", "contraception", "childbearing_potential", "menopause")
_GENERIC_THERAPY = frozenset(
    [
        "therapy",
        "therapies",
        "treatment",
        "treatments",
        "treated",
        "medication",
        "medications",
        "medicine",
        "medicines",
        "drug",
        "drugs",
        "agent",
        "agents",
        "receiving",
        "received",
        "receive",
        "taking",
        "dose",
        "doses",
        "dosing",
        "regimen",
        "regimens",
        "prescribed",
        "prescription",
        "infusion",
        "infusions",
        "inhibitor",
        "inhibitors",
        "antibody",
        "antibodies",
    ]
)
_GENERIC_PROCEDURE = frozenset(
    ["procedure", "procedures", "intervention", "interventions", "injection", "operative"]
)
_TIER = {
    "age": 1,
    "performance_status": 1,
    "pregnancy": 1,
    "healthy_volunteers": 1,
    "lab": 1,
    "condition": 2,
    "therapy": 2,
    "procedure": 2,
    "sex": 3,
    "administrative": 3,
}
_NEGATABLE = frozenset(
    {"condition", "therapy", "procedure", "pregnancy", "administrative", "healthy_volunteers"}
)


def parse_facts(text: str, extra: TermIndex | None = None) -> list[Fact]:
    """The facts of one criterion line, main fact first (see the module docstring)."""
    norm = normalise(text[:MAX_CHARS])
    if "nyha" in norm or "class" in norm or "asa" in norm or "new york" in norm or "american society" in norm:
        norm = _ROMAN.sub(_roman_digits, norm)
    cat = catalogue()
    mentions, starts = scan(norm, extra)
    values = find_values(norm)
    windows = find_windows(norm)
    window = windows[0] if windows else None
    negations = [m for m in mentions if m.kind == "negation"]
    after_negations = [m for m in mentions if m.kind == "negation_after" or m.word.startswith("negativ")]

    placed: list[tuple[int, int, Fact]] = []  # (tier, position, fact)
    used_values: set[int] = set()
    var_mentions = [m for m in mentions if m.kind == "var"]
    for mention, fact in variable_facts(norm, var_mentions, values, used_values, cat):
        placed.append((1 if fact.value is not None or fact.category else 2, mention.start, fact))
    age = _age_fact(norm, values, used_values, windows)
    if age is not None:
        placed.append((1, age[0], age[1]))
    placed.extend(_pregnancy_facts(mentions))
    placed.extend(_presence_facts(norm, mentions, window, placed))
    placed.extend(unnamed_bounds(norm, values, used_values, windows, placed))
    healthy = _HEALTHY.search(norm) if "health" in norm else None
    if healthy:
        placed.append((1, healthy.start(), Fact(type="healthy_volunteers", category="healthy")))
    if (
        "male" in norm
        or "men" in norm
        or "girl" in norm
        or "boy" in norm
        or "sex" in norm
        or "gender" in norm
    ) and not any(f.type == "pregnancy" for _, _, f in placed):
        sex = _sex_fact(norm)
        if sex is not None:
            placed.append((3, sex[0], sex[1]))
    admin = next((m for m in mentions if m.kind == "administrative"), None)
    if admin is not None:
        placed.append((3, admin.start, Fact(type="administrative")))
    if any(f.type not in ("lab", "performance_status", "sex", "administrative") for _, _, f in placed):
        # a variable named with no value ("drugs that affect potassium") says less than the rest
        placed = [
            p
            for p in placed
            if not (
                p[2].variable
                and p[2].type in ("lab", "performance_status")
                and p[2].value is None
                and p[2].category is None
                and p[2].note is None
            )
        ]
    placed.sort(key=lambda p: (p[0], p[1]))
    facts = []
    for _, position, fact in placed:
        if fact.type in _NEGATABLE and _negated(position, norm, negations, after_negations, mentions, starts):
            fact = replace(fact, negated=True)
        facts.append(fact)
    return facts


def _roman_digits(m: re.Match[str]) -> str:
    out = f"{m.group(1)} {_ROMAN_DIGIT[m.group(2)]}"
    if m.group(4):
        out += f" {m.group(3)} {_ROMAN_DIGIT[m.group(4)]}"
    return out


# --- age, sex, pregnancy ----------------------------------------------------------------


def _age_fact(
    norm: str, values: list[Value], used: set[int], windows: list[tuple[str, float, int]]
) -> tuple[int, Fact] | None:
    anchors = (
        [m.span() for m in _AGE_ANCHOR.finditer(norm)]
        if "ag" in norm or "old" in norm or "year" in norm
        else []
    )
    lower: tuple[str, float] | None = None
    upper: tuple[str, float] | None = None
    where: dict[str, Value] = {}  # the value each bound was read from
    outside = False
    first = -1
    for vi, value in enumerate(values):
        if vi in used or value.unit not in (None, "year", "month", "week", "day"):
            continue
        near = any(abs(value.start - end) <= 30 or abs(start - value.end) <= 30 for start, end in anchors)
        if not near:
            if value.unit != "year" or value.comparator in (None, "=") and value.upper is None:
                continue
            if _AGE_NOT_AFTER.match(norm, value.end) or any(
                abs(pos - value.start) < 25 for _, _, pos in windows
            ):
                continue
        if value.unit is None and not near:
            continue
        comparator = value.comparator
        if comparator in (None, "=") and value.upper is None:
            before = _AGE_WORD_BEFORE.search(norm, max(0, value.start - 30), value.start)
            if before is not None:
                comparator = "<" if before.group("lt") else ">"
        low = time_in_years(value.value, value.unit)
        high = time_in_years(value.upper, value.unit) if value.upper is not None else None
        if low is None or not 0 <= low <= 120 or (high is not None and not low <= high <= 120):
            continue
        if value.unit is None and not 1 <= low <= 110:
            continue
        if not near and low < 12:
            continue  # "≥ 1 year" with no word of age is a duration, not an age
        if first < 0:
            first = value.start
        used.add(vi)
        if high is not None:
            outside = outside or value.outside
            lower = lower or (value.comparator or ">=", low)
            upper = upper or (value.upper_comparator or "<=", high)
        elif comparator in (">=", ">"):
            lower = lower or (comparator, low)
            where.setdefault("lower", value)
        elif comparator in ("<=", "<"):
            upper = upper or (comparator, low)
            where.setdefault("upper", value)
        elif comparator in (None, "=") and lower is None and upper is None:
            lower = ("=", low)
    if lower is None and upper is None:
        return None
    if lower is not None and upper is not None and lower[1] > upper[1]:
        if _either_bound(norm, where):  # "younger than 18 or older than 65": outside 18-65
            lower, upper, outside = (_INSIDE[upper[0]], upper[1]), (_INSIDE[lower[0]], lower[1]), True
        else:
            upper = None  # two bounds that cannot both hold: the first one read stands
    if lower is not None:
        fact = Fact(
            type="age",
            variable="age",
            comparator=lower[0],  # type: ignore[arg-type]
            value=round(lower[1], 4),
            upper_comparator=upper[0] if upper else None,  # type: ignore[arg-type]
            upper=round(upper[1], 4) if upper else None,
            unit="year",
            negated=outside,
        )
    else:
        assert upper is not None
        fact = Fact(type="age", variable="age", comparator=upper[0], value=round(upper[1], 4), unit="year")  # type: ignore[arg-type]
    return first, fact


# The bound of the range between two "outside" bounds: "< 18 or > 65" is outside 18 <= age <= 65.
_INSIDE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _either_bound(norm: str, where: dict[str, Value]) -> bool:
    """Whether the two bounds read are joined by "or" (either one holds), not two conditions.

    >>> from trialscope.criteria.values import find_values
    >>> low, high = find_values("age < 18 or > 65")
    >>> _either_bound("age < 18 or > 65", {"upper": low, "lower": high})
    True
    """
    if "lower" not in where or "upper" not in where:
        return False
    a, b = sorted((where["lower"], where["upper"]), key=lambda v: v.start)
    return re.search(r"\bor\b", norm[a.start : b.start + 1]) is not None


def _sex_fact(norm: str) -> tuple[int, Fact] | None:
    every = _SEX_ALL.search(norm)
    if every:
        return every.start(), Fact(type="sex", variable="sex", category="all")
    female, male = _FEMALE.search(norm), _MALE.search(norm)
    if female and not male:
        return female.start(), Fact(type="sex", variable="sex", category="female")
    if male and not female:
        return male.start(), Fact(type="sex", variable="sex", category="male")
    return None


def _pregnancy_facts(mentions: list[Mention]) -> list[tuple[int, int, Fact]]:
    first: dict[str, int] = {}
    for mention in mentions:
        if mention.kind != "pregnancy":
            continue
        variable = "contraception"
        for prefix, name in _PREGNANCY_VARIABLE:
            if mention.word.startswith(prefix):
                variable = name
                break
        first.setdefault(variable, mention.start)
    # the main one by meaning, not by position: "women of childbearing potential must not be pregnant"
    ordered = sorted(first.items(), key=lambda item: PREGNANCY_ORDER.index(item[0]))
    return [
        (1, first[name] if i == 0 else first[name] + 10_000, Fact(type="pregnancy", variable=name))
        for i, (name, _) in enumerate(ordered)
    ]


# --- conditions, drugs, procedures ------------------------------------------------------


def _presence_facts(
    norm: str,
    mentions: list[Mention],
    window: tuple[str, float, int] | None,
    placed: list[tuple[int, int, Fact]],
) -> list[tuple[int, int, Fact]]:
    groups: dict[str, list[Mention]] = {}
    for mention in mentions:
        kind = mention.word if mention.kind == "term" else mention.kind
        if mention.kind == "var" and mention.concept is not None:
            kind = "therapy" if mention.concept.category == "drug" else mention.concept.category
            if any(f.variable == mention.word for _, _, f in placed):
                continue
            mention = Mention("term", mention.start, mention.end, mention.tok, kind, concept=mention.concept)
        if kind in ("condition", "therapy", "procedure", "lab"):
            groups.setdefault(kind, []).append(mention)
    out: list[tuple[int, int, Fact]] = []
    for kind, found in groups.items():
        others = bool(placed) or any(k != kind and k != "lab" for k in groups)
        concepts = _concepts(found, kind, norm)
        if kind == "lab":
            if not any(_TIER.get(f.type) == 1 for _, _, f in placed):
                out.append((2, found[0].start, Fact(type="lab")))
            continue
        if not concepts and others and kind != "condition":
            continue  # "requiring treatment" beside a condition says nothing of its own
        at = found[0].start
        history = bool(_HISTORY.search(norm, 0, at + 1) or _HISTORY.search(norm, at, at + 40))
        bound: dict[str, object] = {}
        if kind == "therapy" and ("line" in norm or "regimen" in norm):
            lines = _PRIOR_LINES.search(norm)
            if lines:
                bound = _lines_bound(lines)
        fact = Fact(
            type=kind,  # type: ignore[arg-type]
            concepts=tuple(concepts),
            window=window[0] if window else None,  # type: ignore[arg-type]
            window_days=window[1] if window else None,
            history=history,
            **bound,  # type: ignore[arg-type]
        )
        out.append((2, found[0].start, fact))
    return out


# Words before a procedure that do not narrow it ("any prior surgery", "had a biopsy").
_NOT_QUALIFIER = frozenset(
    [
        "a",
        "an",
        "the",
        "any",
        "no",
        "not",
        "prior",
        "previous",
        "recent",
        "recently",
        "planned",
        "scheduled",
        "history",
        "of",
        "or",
        "and",
        "with",
        "without",
        "for",
        "to",
        "after",
        "before",
        "within",
        "since",
        "other",
        "than",
        "had",
        "has",
        "have",
        "underwent",
        "undergone",
        "undergo",
        "undergoing",
        "received",
        "receive",
        "requiring",
        "require",
        "required",
        "need",
        "needs",
        "needed",
        "candidate",
        "candidates",
        "eligible",
        "following",
        "post",
        "pre",
        "by",
        "on",
        "in",
        "at",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
    ]
)
_WORD_BEFORE = re.compile(r"([a-z][a-z-]{2,})\s$")


def qualified_procedure(norm: str, mention: Mention) -> str | None:
    """The procedure as the line narrows it: "excisional biopsy", "cardiac surgery"; None when
    the word stands alone ("prior surgery"), so a patient's plain "biopsy" decides only the
    plain one.

    >>> qualified_procedure("no excisional biopsy", Mention("procedure", 14, 20, 2, "biopsy"))
    'excisional biopsy'
    >>> qualified_procedure("no biopsy", Mention("procedure", 3, 9, 1, "biopsy")) is None
    True
    """
    before = _WORD_BEFORE.search(norm, max(0, mention.start - 24), mention.start)
    if before is None or before.group(1) in _NOT_QUALIFIER:
        return None
    return f"{before.group(1)} {mention.word}"


def _concepts(found: list[Mention], kind: str, norm: str) -> list[Concept]:
    concepts: dict[str, Concept] = {}
    category = "drug" if kind == "therapy" else kind
    for mention in found:
        if mention.concept is not None:
            concepts.setdefault(mention.concept.name.lower(), mention.concept)
        elif kind == "therapy" and mention.word not in _GENERIC_THERAPY:
            concepts.setdefault(mention.word, Concept(name=mention.word, category="drug"))
        elif kind == "procedure" and mention.word not in _GENERIC_PROCEDURE:
            qualified = qualified_procedure(norm, mention)
            concepts.setdefault(
                qualified or mention.word, Concept(name=mention.word, category="procedure", mention=qualified)
            )
    if kind == "condition":
        return [c for c in concepts.values() if c.mesh_id or c.category == category]
    return list(concepts.values())


def _lines_bound(m: re.Match[str]) -> dict[str, object]:
    words = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
    n = float(words.get(m.group("n"), 0) or m.group("n"))
    cmp_word = m.group("cmp") or ""
    tail = m.group(0)
    if cmp_word in ("at least", "≥") or "or more" in tail:
        comparator = ">="
    elif cmp_word in (">", "more than"):
        comparator = ">"
    elif (
        cmp_word in ("no more than", "≤", "up to", "a maximum of", "maximum of")
        or "or fewer" in tail
        or "or less" in tail
    ):
        comparator = "<="
    elif cmp_word in ("<", "fewer than", "less than"):
        comparator = "<"
    else:
        comparator = "="
    return {"variable": "prior_lines", "comparator": comparator, "value": n}


def _negated(
    position: int,
    norm: str,
    negations: list[Mention],
    after: list[Mention],
    mentions: list[Mention],
    starts: list[int],
) -> bool:
    """A negation word up to six tokens before the fact's first mention, in the same clause,
    or a "negative"/"free" within three tokens after it."""
    if position >= 10_000:
        position -= 10_000
    tok = next((i for i, s in enumerate(starts) if s >= position), len(starts))
    for neg in negations:
        if neg.start >= position or tok - neg.tok > (2 if neg.word.startswith("negativ") else 6):
            continue
        if any(ch in CLAUSE_END for ch in norm[neg.end : position]):
            continue
        following = TOKEN.match(norm, _skip_space(norm, neg.end))
        if following and following.group() in _NOT_NEGATION_NEXT:
            continue
        return True
    for neg in after:
        if (
            neg.start > position
            and neg.tok - tok <= 3
            and not any(ch in CLAUSE_END for ch in norm[position : neg.start])
        ):
            return True
    return False


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and not text[i].isalnum():
        i += 1
    return i
