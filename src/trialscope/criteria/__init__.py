"""Typed eligibility criteria: every criterion line of a trial with a type and its values.

    >>> from trialscope.criteria import parse_criterion
    >>> c = parse_criterion("ECOG performance status 0-1")
    >>> c.type, c.variable, c.fact.value, c.fact.upper, c.label
    ('performance_status', 'ecog', 0.0, 1.0, 'ECOG 0–1')

Types: age, sex, healthy_volunteers, condition (with MeSH term), lab (labs, vital signs, body
measures and scores, with comparator, threshold and canonical unit), performance_status,
pregnancy (pregnancy, lactation, contraception, childbearing potential, menopause), therapy
(drugs and drug classes, prior lines, washout windows), procedure, administrative (consent,
compliance: not decidable from a record) and other (kept, never dropped).

The vocabulary is data: ``catalogue.toml`` (variables, aliases, units, plausible bounds, cue
words) and ``mesh_terms.tsv`` (MeSH terms learnt from registry records by :mod:`.learn`).
"""

from trialscope.criteria.catalogue import vocabulary_version
from trialscope.criteria.trial import parse_criterion, structured_criteria, trial_terms, typed_criteria
from trialscope.criteria.types import TYPES, Concept, Fact, TypedCriterion

__all__ = [
    "TYPES",
    "Concept",
    "Fact",
    "TypedCriterion",
    "parse_criterion",
    "structured_criteria",
    "trial_terms",
    "typed_criteria",
    "vocabulary_version",
]
