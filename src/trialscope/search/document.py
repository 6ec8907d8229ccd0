"""A trial as search reads it: eleven text fields, each with its weight and length norm in ranking.

A word in the title or the conditions says more about what a trial is about than the same
word in its inclusion criteria, and a word in its exclusion criteria says the trial is *not*
about it: a trial for COVID-19 that excludes people with breast cancer is no breast cancer
trial. So each field's term counts are weighted before ranking (BM25F, see
:mod:`trialscope.search.rank`), the criteria are two fields, and each field's counts are
normalised by that field's own length, so a long field cannot win by length.
docs/PERFORMANCE.md records the TREC 2021 figures of these weights.

>>> FIELDS[0], WEIGHTS[FIELDS.index("inclusion")], WEIGHTS[FIELDS.index("exclusion")]
('title', 0.5, 0.1)
"""

from __future__ import annotations

from trialscope.eligibility import split_criteria
from trialscope.model import Trial

# field: (weight, b). b is how much a field's length discounts its counts (BM25F): long free
# text fully (0.75), short lists of names less (a title is short whatever it says).
FIELD_SPECS: dict[str, tuple[float, float]] = {
    "title": (10.0, 0.5),
    "conditions": (8.0, 0.5),
    "interventions": (5.0, 0.5),
    "keywords": (4.0, 0.5),
    "mesh": (4.0, 0.5),
    "summary": (2.0, 0.75),
    "description": (1.0, 0.75),
    "outcomes": (1.0, 0.75),
    "inclusion": (0.5, 0.75),
    "exclusion": (0.1, 0.75),
    "sponsors": (1.0, 0.5),
}
FIELDS: tuple[str, ...] = tuple(FIELD_SPECS)
WEIGHTS: tuple[float, ...] = tuple(w for w, _ in FIELD_SPECS.values())
B: tuple[float, ...] = tuple(b for _, b in FIELD_SPECS.values())
SUMMARY = FIELDS.index("summary")

# Field prefixes people type in a search -> the fields they search.
FIELD_PREFIXES: dict[str, tuple[str, ...]] = {
    "condition": ("conditions", "mesh"),
    "conditions": ("conditions", "mesh"),
    "cond": ("conditions", "mesh"),
    "disease": ("conditions", "mesh"),
    "intervention": ("interventions",),
    "interventions": ("interventions",),
    "intr": ("interventions",),
    "drug": ("interventions",),
    "treatment": ("interventions",),
    "sponsor": ("sponsors",),
    "sponsors": ("sponsors",),
    "title": ("title",),
    "keyword": ("keywords",),
    "keywords": ("keywords",),
    "mesh": ("mesh",),
    "summary": ("summary", "description"),
    "outcome": ("outcomes",),
    "outcomes": ("outcomes",),
    "eligibility": ("inclusion", "exclusion"),
    "criteria": ("inclusion", "exclusion"),
    "inclusion": ("inclusion",),
    "exclusion": ("exclusion",),
}


def field_texts(trial: Trial) -> tuple[str, ...]:
    """The text of each field of a trial, in :data:`FIELDS` order.

    Criteria lines under no heading count as inclusion criteria.
    """
    join = "\n".join
    criteria = split_criteria(trial.eligibility.criteria)
    return (
        join(filter(None, (trial.brief_title, trial.official_title, trial.acronym))),
        join(trial.conditions),
        join(part for i in trial.interventions for part in (i.name, *i.other_names) if part),
        join(trial.keywords),
        join(m.term for m in (*trial.condition_mesh, *trial.intervention_mesh, *trial.condition_ancestors)),
        trial.brief_summary or "",
        trial.detailed_description or "",
        join(f"{o.measure} {o.description or ''}" for o in trial.outcomes),
        join((*criteria.inclusion, *criteria.other)),
        join(criteria.exclusion),
        join(s.name for s in trial.sponsors),
    )
