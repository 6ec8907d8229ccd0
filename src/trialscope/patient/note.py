"""A free-text patient note -> a typed :class:`~trialscope.patient.profile.Patient`, offline.

The note is read with the criteria vocabulary, so a profile and a trial's criteria name things
the same way:

- conditions, drugs and procedures: the learnt MeSH terms and the catalogue's cue words
  (``criteria/mesh_terms.tsv``, ``criteria/catalogue.toml``), plus the clinical abbreviations
  of ``abbreviations.tsv`` ("HTN", "CABG"), each with its context from medspaCy's ConText
  (negated, history, family, uncertain);
- measurements: the catalogue's variables and the numbers tied to them, converted to the
  variable's canonical unit exactly as a criterion's threshold is ("creatinine 1.8 mg/dL",
  "EF was 25%", "ECOG 1", "BP 150/95");
- age ("a 45-year-old man", "58 yo F", "48 M", "6-month-old"), sex (words, then pronouns),
  pregnancy and breastfeeding (with their negation), where the patient lives.

Every fact keeps the span of the note it came from.

>>> p = patient_from_note("58 yo F with HTN, denies chest pain. Creatinine 1.8 mg/dL.")
>>> p.age, p.sex, [(c.term, c.negated) for c in p.conditions]
(58.0, 'female', [('Hypertension', False), ('Chest Pain', True)])
>>> [(m.variable, m.value, m.unit) for m in p.measurements]
[('creatinine', 1.8, 'mg/dL')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

from trialscope.criteria.bounds import variable_facts
from trialscope.criteria.catalogue import catalogue
from trialscope.criteria.parse import qualified_procedure
from trialscope.criteria.scan import Mention, scan
from trialscope.criteria.types import Concept
from trialscope.criteria.values import find_values, fold_characters
from trialscope.patient.context import MAX_NOTE_CHARS, MentionContext, mention_context
from trialscope.patient.profile import Condition, Evidence, Measurement, Patient, Treatment
from trialscope.patient.vocabulary import abbreviations


def fold(text: str) -> str:
    """Lower case, with the criteria's character folding, keeping every position."""
    out = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in fold_characters(text))
    return out if len(out) == len(text) else text.lower()[: len(text)].ljust(len(text))


# --- age, sex -------------------------------------------------------------------------------

_AGE_PATTERNS = (
    re.compile(
        r"\b(?P<n>\d{1,3}(?:\.\d)?)[\s-]*(?P<u>years?|yrs?|months?|mos?|weeks?|wks?|days?)[\s-]*old\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?P<n>\d{1,3})[\s-]*(?:yo|y/o|y\.o\.?|yr\.? old)(?![a-z])", re.IGNORECASE),
    re.compile(r"(?:^|[.;]\s*)(?:a\s|an\s)?(?P<n>\d{1,3})\s?(?:[MF]|yo[MF])\b"),
    re.compile(r"\b(?:aged?|age of)\s*:?\s*(?P<n>\d{1,3})\b", re.IGNORECASE),
)
_UNIT_YEARS = {"y": 1.0, "m": 1 / 12, "w": 7 / 365.25, "d": 1 / 365.25}
_SEX_WORDS = (
    (
        "female",
        re.compile(
            r"\b(?:woman|women|female|girl|lady|mother|wife|daughter|she|her|hers|herself)\b", re.IGNORECASE
        ),
    ),
    (
        "male",
        re.compile(
            r"\b(?:man|men|male|boy|gentleman|father|husband|son|he|him|his|himself)\b", re.IGNORECASE
        ),
    ),
)
_SEX_AFTER_AGE = re.compile(r"\d\s?(?:yo\s?|y/o\s?|-year-old\s)?(?P<s>[MF])\b")
_STRONG_SEX = re.compile(r"\b(?:woman|female|girl|lady|man|male|boy|gentleman)\b", re.IGNORECASE)


def _age(text: str) -> tuple[float, Evidence] | None:
    best: re.Match[str] | None = None
    for pattern in _AGE_PATTERNS:
        for m in pattern.finditer(text[:2000]):
            if best is None or m.start() < best.start():
                best = m
            break
    if best is None:
        return None
    number = float(best.group("n"))
    unit = (best.groupdict().get("u") or "y").lower()[0]
    years = number * _UNIT_YEARS.get(unit, 1.0)
    if not 0 <= years <= 120:
        return None
    return round(years, 3), _span_evidence(text, best.start(), best.end())


def _sex(text: str) -> tuple[str, Evidence] | None:
    head = text[:1500]
    letter = _SEX_AFTER_AGE.search(head[:200])
    if letter:
        sex = "female" if letter.group("s") == "F" else "male"
        return sex, _span_evidence(text, letter.start("s"), letter.end("s"))
    strong = _STRONG_SEX.search(head)
    if strong:
        word = strong.group(0).lower()
        sex = "female" if word in ("woman", "female", "girl", "lady") else "male"
        return sex, _span_evidence(text, strong.start(), strong.end())
    counts = {sex: len(pattern.findall(head)) for sex, pattern in _SEX_WORDS}
    if counts["female"] == counts["male"]:
        return None
    sex = max(counts, key=lambda s: counts[s])
    first = _SEX_WORDS[0 if sex == "female" else 1][1].search(head)
    assert first is not None
    return sex, _span_evidence(text, first.start(), first.end())


def _span_evidence(text: str, start: int, end: int) -> Evidence:
    return Evidence(source="note", text=text[start:end], start=start, end=end)


# --- mentions ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Found:
    """A mention of a condition, drug, procedure or pregnancy state, before its context is read."""

    kind: str  # condition, drug, procedure, pregnancy, lactation
    start: int
    end: int
    name: str
    concept: Concept | None = None


@cache
def _abbreviation_pattern() -> re.Pattern[str]:
    table = abbreviations()
    words = "|".join(re.escape(a) for a in sorted(table, key=len, reverse=True))
    return re.compile(r"(?<![\w/-])(" + words + r")(?![\w-])")


# cue words too general to be a condition, a drug or a procedure by themselves
_GENERIC = frozenset(
    """disease diseases disorder disorders syndrome syndromes cancer cancers tumor tumors tumour tumours
    malignancy malignant lesion lesions infection infections infected infectious failure insufficiency
    dysfunction deficiency injury injuries trauma condition conditions illness illnesses comorbidity
    comorbidities abnormality abnormalities impairment impaired symptom symptoms symptomatic asymptomatic
    diagnosis diagnosed history of cardiac cardiovascular renal hepatic pulmonary lung heart liver kidney
    mental cognitive substance carrier mutation mutations pain bleeding abuse dependence drinking smoke
    prognosis hypothesis emphasis basis therapy therapies treatment treatments treated medication
    medications medicine medicines drug drugs agent agents receiving received receive taking dose doses
    dosing regimen regimens prescribed prescription infusion infusions inhibitor inhibitors antibody
    antibodies procedure procedures intervention interventions injection operative examination
    examinations exam admission admitted hospitalization hospitalized repair imaging delivery art coma
    stoma aroma diploma""".split()  # noqa: SIM905
)
_PREGNANT = re.compile(
    r"\b(?:pregnan(?:t|cy)|gravid|(?:\d{1,2}|twenty|thirty)[\s-]weeks?(?:'|’)?\s(?:of\s)?(?:gestation|pregnant)|"
    r"weeks? (?:of )?gestation(?:al age)?)\b"
)
_LACTATING = re.compile(r"\b(?:breast[\s-]?feeding|lactating|nursing (?:her|an?) (?:infant|baby))\b")


def _mentions(text: str, folded: str) -> tuple[list[_Found], list[Mention]]:
    """Conditions, drugs, procedures and pregnancy words of the note, and the variable mentions."""
    found: list[_Found] = []
    variables: list[Mention] = []
    mentions, _ = scan(folded)
    for mention in mentions:
        a, b = mention.start, mention.end
        if mention.kind == "var":
            variables.append(mention)
        elif mention.kind == "term" and mention.concept is not None:
            found.append(_Found(mention.concept.category, a, b, text[a:b], mention.concept))
        elif mention.kind == "procedure" and _specific(mention.word):
            # "an excisional biopsy" is that biopsy: a trial's "no excisional biopsy" asks for it
            narrowed = qualified_procedure(folded, mention)
            a = a - len(narrowed) + len(mention.word) if narrowed else a
            found.append(_Found("procedure", a, b, text[a:b]))
        elif mention.kind in ("condition", "therapy") and _specific(mention.word):
            found.append(_Found("drug" if mention.kind == "therapy" else mention.kind, a, b, text[a:b]))
    table = abbreviations()
    taken = [(f.start, f.end) for f in found] + [(v.start, v.end) for v in variables]
    for m in _abbreviation_pattern().finditer(text):
        if any(m.start() < end and start < m.end() for start, end in taken):
            continue
        category, concept = table[m.group(1)]
        found.append(_Found(category, m.start(), m.end(), m.group(1), concept))
    for state, regex in (("pregnancy", _PREGNANT), ("lactation", _LACTATING)):
        for m in regex.finditer(folded):
            # "32 weeks of gestational age" is the patient's pregnancy, not the MeSH term it holds
            found = [f for f in found if not (m.start() < f.end and f.start < m.end())]
            found.append(_Found(state, m.start(), m.end(), text[m.start() : m.end()]))
    found.sort(key=lambda f: f.start)
    return _without_overlaps(found), variables


def _specific(word: str) -> bool:
    return len(word) >= 5 and word not in _GENERIC and " " not in word


def _without_overlaps(found: list[_Found]) -> list[_Found]:
    out: list[_Found] = []
    for item in found:
        if out and item.start < out[-1].end:
            if item.end - item.start > out[-1].end - out[-1].start:
                out[-1] = item
            continue
        out.append(item)
    return out


# --- measurements -----------------------------------------------------------------------------

_BLOOD_PRESSURE = re.compile(
    r"\b(?:bp|blood pressure|b/p)\s*(?:of|was|is|:|=|at)?\s*(?P<s>\d{2,3})\s?/\s?(?P<d>\d{2,3})\b"
)


def _measurements(text: str, folded: str, variables: list[Mention]) -> list[Measurement]:
    # "Creatinine: 3.6 mg/dL": a colon ties a name to its value in a note, where a criterion's
    # colon ends a clause; a space keeps every position
    folded = folded.replace(":", " ")
    values = find_values(folded)
    out: list[Measurement] = []
    seen: set[str] = set()
    for bp in _BLOOD_PRESSURE.finditer(folded):
        evidence = _span_evidence(text, bp.start(), bp.end())
        for variable, group in (("sbp", "s"), ("dbp", "d"), ("blood_pressure", "s")):
            if variable not in seen:
                out.append(Measurement(variable, float(bp.group(group)), "mmHg", evidence=evidence))
                seen.add(variable)
    for mention, fact in variable_facts(folded, variables, values, set(), catalogue()):
        if fact.value is None or fact.comparator is None or fact.note or fact.variable in seen:
            continue
        if fact.upper is not None or fact.variable is None:
            continue  # a range is a criterion's way of speaking, not a measured value
        end = next((v.end for v in values if v.start >= mention.end), mention.end)
        end = max(end, mention.end)
        comparator = fact.comparator if fact.comparator in ("<", "<=", ">", ">=") else "="
        out.append(
            Measurement(
                fact.variable,
                fact.value,
                fact.unit or "",
                comparator=comparator,
                evidence=_span_evidence(text, mention.start, end),
            )
        )
        seen.add(fact.variable)
    return out


# --- when -------------------------------------------------------------------------------------

_AGO = re.compile(
    r"\b(?P<n>\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|few)\s"
    r"(?P<u>days?|weeks?|months?|years?)\s(?:ago|prior|before)\b"
)
_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_COUNTS |= {"eight": 8, "nine": 9, "ten": 10, "several": 3, "few": 3}
_DAYS = {"d": 1.0, "w": 7.0, "m": 30.4375, "y": 365.25}


def _days_ago(folded: str, start: int, end: int) -> float | None:
    """ "...temozolomide 3 weeks ago": a time ago in the same sentence, just after the mention."""
    stop = min((i for i in (folded.find(".", end), folded.find(";", end)) if i >= 0), default=len(folded))
    m = _AGO.search(folded, end, min(stop, end + 80))
    if m is None:
        return None
    n = _COUNTS.get(m.group("n"))
    amount = float(n) if n is not None else float(m.group("n"))
    return amount * _DAYS[m.group("u")[0]]


_CURRENT = re.compile(
    r"\b(?:currently (?:on|taking|receiving)|on|taking|receiving|maintained on)\s(?:\w+\s){0,2}$"
)


def _current(folded: str, start: int) -> bool | None:
    return True if _CURRENT.search(folded, max(0, start - 40), start) else None


# --- the profile ------------------------------------------------------------------------------

_LIVES = re.compile(
    r"\b(?:lives|living|resides|residing|resident of|from)\s(?:in\s)?(?P<place>[A-Z][A-Za-z.'-]+(?:[ ,]+[A-Z][A-Za-z.'-]+){0,3})"
)


def patient_from_note(text: str) -> Patient:
    """Read a patient note (any length, any characters: never raises on text)."""
    text = text[:MAX_NOTE_CHARS] if isinstance(text, str) else ""
    folded = fold(text)
    evidence: dict[str, Evidence] = {}
    age = _age(text)
    if age is not None:
        evidence["age"] = age[1]
    sex = _sex(text)
    if sex is not None:
        evidence["sex"] = sex[1]
    found, variables = _mentions(text, folded)
    contexts = mention_context(text, [(f.start, f.end) for f in found])
    conditions: list[Condition] = []
    medications: list[Treatment] = []
    procedures: list[Treatment] = []
    pregnant: bool | None = None
    lactating: bool | None = None
    for item, ctx in zip(found, contexts, strict=True):
        ev = _span_evidence(text, item.start, item.end)
        if item.kind in ("pregnancy", "lactation"):
            if ctx.family or ctx.uncertain or ctx.history and not ctx.negated:
                continue
            state = not ctx.negated
            if item.kind == "pregnancy" and pregnant is not True:
                pregnant, evidence["pregnant"] = state, ev
            elif item.kind == "lactation" and lactating is not True:
                lactating, evidence["lactating"] = state, ev
        elif item.kind == "condition":
            conditions.append(_condition(item, ctx, ev))
        elif item.kind in ("drug", "procedure"):
            treatment = Treatment(
                name=item.name,
                category="drug" if item.kind == "drug" else "procedure",
                term=item.concept.name if item.concept else None,
                mesh_id=item.concept.mesh_id if item.concept else None,
                negated=ctx.negated,
                current=None if ctx.negated or ctx.history else _current(folded, item.start),
                days_ago=_days_ago(folded, item.start, item.end),
                evidence=ev,
            )
            (medications if item.kind == "drug" else procedures).append(treatment)
    if (sex is not None and sex[0] == "male") or (age is not None and age[0] < 10):
        # a boy's or a newborn's note speaks of the mother's pregnancy ("born at 38 weeks of gestation")
        pregnant = lactating = None
        evidence.pop("pregnant", None)
        evidence.pop("lactating", None)
    place = _LIVES.search(text)
    if place:
        evidence["location"] = _span_evidence(text, place.start("place"), place.end("place"))
    return Patient(
        age=age[0] if age else None,
        sex=sex[0] if sex else None,  # type: ignore[arg-type]
        conditions=tuple(_unique(conditions)),
        measurements=tuple(_measurements(text, folded, variables)),
        medications=tuple(_unique(medications)),
        procedures=tuple(_unique(procedures)),
        pregnant=pregnant,
        lactating=lactating,
        location=place.group("place").strip(" ,") if place else None,
        source="note",
        evidence=evidence,
    )


def _condition(item: _Found, ctx: MentionContext, ev: Evidence) -> Condition:
    concept = item.concept
    return Condition(
        name=item.name,
        term=concept.name if concept else None,
        mesh_id=concept.mesh_id if concept else None,
        negated=ctx.negated,
        history=ctx.history,
        family=ctx.family,
        uncertain=ctx.uncertain,
        evidence=ev,
    )


_Item = TypeVar("_Item", Condition, Treatment)


def _unique(items: list[_Item]) -> Iterator[_Item]:
    """One entry per thing and context: the first mention of "astrocytoma" stands for the rest."""
    seen: set[tuple[object, ...]] = set()
    for item in items:
        key: tuple[object, ...] = (
            (item.term or item.name).lower(),
            item.negated,
            getattr(item, "family", False),
            getattr(item, "uncertain", False),
        )
        if key not in seen:
            seen.add(key)
            yield item
