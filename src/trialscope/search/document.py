"""A trial as search reads it: ten text fields, each with its weight in ranking.

A word in the title or the conditions says more about what a trial is about than the same
word in its eligibility criteria, so each field's term counts are weighted before BM25
(see :mod:`trialscope.search.rank`). The weights are what search has used since its first
version; docs/PERFORMANCE.md records their TREC 2021 figures.

>>> FIELDS[0], WEIGHTS[FIELDS.index("eligibility")]
('title', 0.5)
"""

from __future__ import annotations

from trialscope.model import Trial

FIELD_WEIGHTS: dict[str, float] = {
    "title": 10.0,
    "conditions": 8.0,
    "interventions": 5.0,
    "keywords": 4.0,
    "mesh": 4.0,
    "summary": 2.0,
    "description": 1.0,
    "outcomes": 1.0,
    "eligibility": 0.5,
    "sponsors": 1.0,
}
FIELDS: tuple[str, ...] = tuple(FIELD_WEIGHTS)
WEIGHTS: tuple[float, ...] = tuple(FIELD_WEIGHTS.values())
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
    "eligibility": ("eligibility",),
    "criteria": ("eligibility",),
}


def field_texts(trial: Trial) -> tuple[str, ...]:
    """The text of each field of a trial, in :data:`FIELDS` order."""
    join = "\n".join
    return (
        join(filter(None, (trial.brief_title, trial.official_title, trial.acronym))),
        join(trial.conditions),
        join(part for i in trial.interventions for part in (i.name, *i.other_names) if part),
        join(trial.keywords),
        join(m.term for m in (*trial.condition_mesh, *trial.intervention_mesh, *trial.condition_ancestors)),
        trial.brief_summary or "",
        trial.detailed_description or "",
        join(f"{o.measure} {o.description or ''}" for o in trial.outcomes),
        trial.eligibility.criteria or "",
        join(s.name for s in trial.sponsors),
    )
