"""A trial's typed criteria: every criteria line, plus the structured age, sex and volunteer fields.

>>> from trialscope.model import Eligibility, Trial
>>> trial = Trial(nct_id="NCT0", eligibility=Eligibility(
...     criteria="Inclusion Criteria:\\n\\n* ECOG 0-1\\n\\nExclusion Criteria:\\n\\n* Pregnant",
...     minimum_age="18 Years", minimum_age_days=6574.5, maximum_age="75 Years", maximum_age_days=27393.75))
>>> [c.label for c in typed_criteria(trial)]
['Age 18–75', 'ECOG 0–1', 'No pregnancy']
"""

from __future__ import annotations

from cachetools import LRUCache

from trialscope.criteria.catalogue import tokens
from trialscope.criteria.label import criterion_label
from trialscope.criteria.parse import MAX_CHARS, parse_facts
from trialscope.criteria.scan import known_term
from trialscope.criteria.terms import TermIndex
from trialscope.criteria.types import Fact, Kind, TypedCriterion
from trialscope.criteria.values import normalise
from trialscope.eligibility import split_criteria
from trialscope.model import Trial

_DAYS_PER_YEAR = 365.25
_DRUG_TYPES = frozenset({"DRUG", "BIOLOGICAL", "DIETARY_SUPPLEMENT", "GENETIC", "COMBINATION_PRODUCT"})


def parse_criterion(
    text: str, kind: Kind = "inclusion", *, terms: TermIndex | None = None, line: int = -1
) -> TypedCriterion:
    """Type one criterion line; never raises, and an unknown line comes back as type ``other``.

    >>> c = parse_criterion("Absolute neutrophil count ≥ 1,500/mm³")
    >>> c.type, c.variable, c.fact.comparator, c.fact.value, c.label
    ('lab', 'anc', '>=', 1.5, 'ANC ≥ 1.5 10⁹/L')
    """
    facts, labels = _cached(text, terms)
    label = labels.get(kind)
    if label is None:
        label = labels[kind] = criterion_label(facts, kind, text)
    return TypedCriterion(
        kind=kind, text=text, type=facts[0].type if facts else "other", label=label, facts=facts, line=line
    )


# Criterion lines repeat across trials (boilerplate, and every copy of a record in a synthetic
# corpus), so a line's facts are kept by its text. A trial's own terms can only change a line's
# facts when one of the line's words starts one of those terms; then the line is read afresh.
CACHE_SIZE = 200_000
_CACHE: LRUCache[str, tuple[frozenset[str], tuple[Fact, ...], dict[str, str]]] = LRUCache(maxsize=CACHE_SIZE)


def _cached(text: str, terms: TermIndex | None) -> tuple[tuple[Fact, ...], dict[str, str]]:
    own = terms.index if terms is not None and terms.index else None
    hit = _CACHE.get(text)
    if hit is not None:
        if own is None or hit[0].isdisjoint(own):
            return hit[1], hit[2]
        return tuple(parse_facts(text, terms)), {}
    words = frozenset(tokens(normalise(text[:MAX_CHARS])))
    if own is not None and not words.isdisjoint(own):
        return tuple(parse_facts(text, terms)), {}
    entry: tuple[frozenset[str], tuple[Fact, ...], dict[str, str]] = (
        words,
        tuple(parse_facts(text, None)),
        {},
    )
    _CACHE[text] = entry
    return entry[1], entry[2]


def trial_terms(trial: Trial) -> TermIndex:
    """The trial's own names for its conditions and drugs, for finding them in its lines; only
    those the packaged vocabulary does not already know with the same meaning."""
    index = TermIndex(known=known_term)
    mesh = trial.condition_mesh
    for term in mesh:
        index.add_term(term.term, "condition", term.id)
    for name in trial.conditions:
        # a trial with one condition and one MeSH term names the same thing twice
        only = mesh[0] if len(mesh) == 1 and len(trial.conditions) == 1 else None
        index.add_term(only.term if only else name, "condition", only.id if only else None, names=[name])
    for term in trial.intervention_mesh:
        index.add_term(term.term, "drug", term.id)
    for intervention in trial.interventions:
        if (intervention.type or "").upper() in _DRUG_TYPES and "placebo" not in intervention.name.lower():
            for name in (intervention.name, *intervention.other_names):
                if 3 <= len(name) <= 60 and len(tokens(name)) <= 6:
                    index.add_term(name, "drug", None)
    return index


def structured_criteria(trial: Trial) -> tuple[TypedCriterion, ...]:
    """The eligibility fields as criteria: age bounds, sex, healthy volunteers."""
    el = trial.eligibility
    out: list[TypedCriterion] = []
    low = el.minimum_age_days / _DAYS_PER_YEAR if el.minimum_age_days else None
    high = el.maximum_age_days / _DAYS_PER_YEAR if el.maximum_age_days else None
    if low is not None or high is not None:
        if low is not None:
            fact = Fact(
                type="age",
                variable="age",
                comparator=">=",
                value=round(low, 4),
                unit="year",
                upper_comparator="<=" if high is not None else None,
                upper=round(high, 4) if high is not None else None,
            )
        else:
            assert high is not None
            fact = Fact(type="age", variable="age", comparator="<=", value=round(high, 4), unit="year")
        text = " to ".join(
            t
            for t in (
                el.minimum_age and f"minimum age {el.minimum_age}",
                el.maximum_age and f"maximum age {el.maximum_age}",
            )
            if t
        )
        out.append(_field("Age: " + text, (fact,), _age_label(el.minimum_age, el.maximum_age)))
    if el.sex:
        category = {"FEMALE": "female", "MALE": "male"}.get(el.sex.upper(), "all")
        out.append(_field(f"Sex: {el.sex}", (Fact(type="sex", variable="sex", category=category),)))
    if el.healthy_volunteers is not None:
        category = "accepted" if el.healthy_volunteers else "not accepted"
        fact = Fact(type="healthy_volunteers", variable="healthy_volunteers", category=category)
        out.append(_field(f"Accepts healthy volunteers: {'yes' if el.healthy_volunteers else 'no'}", (fact,)))
    return tuple(out)


def _field(text: str, facts: tuple[Fact, ...], label: str | None = None) -> TypedCriterion:
    return TypedCriterion(
        kind="inclusion",
        text=text,
        type=facts[0].type,
        label=label or criterion_label(facts, "inclusion", text),
        facts=facts,
        source="field",
    )


def _age_label(minimum: str | None, maximum: str | None) -> str:
    """ "Age 18–75" from the registry's own words ("18 Years"), keeping other units ("6 Months")."""

    def short(text: str | None) -> str | None:
        if not text:
            return None
        words = text.split()
        if len(words) == 2 and words[1].lower().startswith("year"):
            return words[0]
        return text.lower()

    low, high = short(minimum), short(maximum)
    if low and high:
        return f"Age {low}–{high}"
    return f"Age ≥ {low}" if low else f"Age ≤ {high}"


def typed_criteria(trial: Trial) -> tuple[TypedCriterion, ...]:
    """Every criterion of a trial, typed: the structured fields first, then every line of the
    criteria text in order (inclusion, exclusion, then lines under no heading). Nothing is dropped:
    ``len(result) == len(fields) + len(all split lines)``."""
    out = list(structured_criteria(trial))
    split = split_criteria(trial.eligibility.criteria)
    if not (split.inclusion or split.exclusion or split.other):
        return tuple(out)
    terms = trial_terms(trial)
    for kind, lines in (
        ("inclusion", split.inclusion),
        ("exclusion", split.exclusion),
        ("unspecified", split.other),
    ):
        for i, line in enumerate(lines):
            out.append(parse_criterion(line.strip(), kind, terms=terms, line=i))  # type: ignore[arg-type]
    return tuple(out)
