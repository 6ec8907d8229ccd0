"""Matching: a patient profile held against trials' typed criteria, criterion by criterion.

    >>> from trialscope.criteria import parse_criterion
    >>> from trialscope.patient import patient_from_note
    >>> patient = patient_from_note("A 64-year-old man on hemodialysis; ECOG 1.")
    >>> verdict = screen([parse_criterion("ECOG performance status 0-2"),
    ...                   parse_criterion("Patients on dialysis", "exclusion")], patient)
    >>> verdict.verdict, [(c.verdict, c.evidence[0].text) for c in verdict.criteria]
    ('ineligible', [('met', 'ECOG 1'), ('met', 'hemodialysis')])

See :mod:`.screening` for the verdict rules and the JSON shape (msgspec Structs), :mod:`.facts` for
how one fact is held against the patient.
"""

from trialscope.match.find import find_candidates, find_matches, match_note
from trialscope.match.screening import (
    Candidate,
    CriterionVerdict,
    MatchResult,
    TrialVerdict,
    candidate_from_trial,
    match_patient,
    rank_score,
    screen,
    studied_criterion,
)

__all__ = [
    "Candidate",
    "CriterionVerdict",
    "MatchResult",
    "TrialVerdict",
    "candidate_from_trial",
    "find_candidates",
    "find_matches",
    "match_note",
    "match_patient",
    "rank_score",
    "screen",
    "studied_criterion",
]
