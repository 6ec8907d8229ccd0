"""Registry codes in plain words, one table per vocabulary, for the pages people read.

The text page keeps the registry's enums as the reference page shows them (``PHASE1/PHASE2``,
``OTHER``); the HTML page, the search facets and the statistics say them in words through
:func:`words_for`. A code outside its vocabulary (a status ``ON_FIRE`` stored raw from a
record) is never passed off as a real value: it reads "Unknown value (ON_FIRE)".

The search vocabularies (status, phase, study type, intervention type, sponsor class, sex)
are the ones :mod:`trialscope.search.values` accepts; ``tests/test_page.py`` checks that each
of their codes has words here.

>>> words_for("phase", "PHASE1/PHASE2"), words_for("sponsor_class", "OTHER_GOV")
('Phase 1 / Phase 2', 'Other government agency')
>>> words_for("status", "ON_FIRE"), words_for("status", None)
('Unknown value (ON_FIRE)', '')
>>> reason_words("same phase: PHASE2/PHASE3")
'same phase: Phase 2 / Phase 3'
"""

from __future__ import annotations

import re

_STATUS = {
    "RECRUITING": "Recruiting",
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "COMPLETED": "Completed",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "SUSPENDED": "Suspended",
    "TERMINATED": "Terminated",
    "WITHDRAWN": "Withdrawn",
    "UNKNOWN": "Unknown status",
    "AVAILABLE": "Available (expanded access)",
    "NO_LONGER_AVAILABLE": "No longer available",
    "TEMPORARILY_NOT_AVAILABLE": "Temporarily not available",
    "APPROVED_FOR_MARKETING": "Approved for marketing",
    "WITHHELD": "Withheld",
}

# Every vocabulary a page shows in words: code -> words.
VOCABULARIES: dict[str, dict[str, str]] = {
    "status": _STATUS,
    "site_status": _STATUS,
    "phase": {
        "EARLY_PHASE1": "Early phase 1",
        "PHASE1": "Phase 1",
        "PHASE2": "Phase 2",
        "PHASE3": "Phase 3",
        "PHASE4": "Phase 4",
        "NA": "Not applicable",
    },
    "study_type": {
        "INTERVENTIONAL": "Interventional",
        "OBSERVATIONAL": "Observational",
        "EXPANDED_ACCESS": "Expanded access",
        "NA": "Not given",
    },
    "intervention_type": {
        "DRUG": "Drug",
        "DEVICE": "Device",
        "BIOLOGICAL": "Biological",
        "PROCEDURE": "Procedure",
        "RADIATION": "Radiation",
        "BEHAVIORAL": "Behavioral",
        "GENETIC": "Genetic",
        "DIETARY_SUPPLEMENT": "Dietary supplement",
        "COMBINATION_PRODUCT": "Combination product",
        "DIAGNOSTIC_TEST": "Diagnostic test",
        "OTHER": "Other",
    },
    "sponsor_class": {
        "INDUSTRY": "Industry",
        "NIH": "US National Institutes of Health",
        "FED": "US federal agency",
        "OTHER_GOV": "Other government agency",
        "INDIV": "Individual",
        "NETWORK": "Network",
        "AMBIG": "Not clear",
        "OTHER": "Other organization (university, hospital, foundation)",
        "UNKNOWN": "Not known",
    },
    "sex": {"FEMALE": "Female", "MALE": "Male", "ALL": "All"},
    "sponsor_role": {"lead": "Lead sponsor", "collaborator": "Collaborator"},
    "allocation": {"RANDOMIZED": "Randomized", "NON_RANDOMIZED": "Non-randomized", "NA": "Not applicable"},
    "intervention_model": {
        "SINGLE_GROUP": "Single group",
        "PARALLEL": "Parallel groups",
        "CROSSOVER": "Crossover",
        "FACTORIAL": "Factorial",
        "SEQUENTIAL": "Sequential",
    },
    "primary_purpose": {
        "TREATMENT": "Treatment",
        "PREVENTION": "Prevention",
        "DIAGNOSTIC": "Diagnosis",
        "ECT": "Educational, counseling or training",
        "SUPPORTIVE_CARE": "Supportive care",
        "SCREENING": "Screening",
        "HEALTH_SERVICES_RESEARCH": "Health services research",
        "BASIC_SCIENCE": "Basic science",
        "DEVICE_FEASIBILITY": "Device feasibility",
        "OTHER": "Other",
    },
    "masking": {
        "NONE": "None (open label)",
        "SINGLE": "Single blind",
        "DOUBLE": "Double blind",
        "TRIPLE": "Triple blind",
        "QUADRUPLE": "Quadruple blind",
    },
    "who_masked": {
        "PARTICIPANT": "Participant",
        "CARE_PROVIDER": "Care provider",
        "INVESTIGATOR": "Investigator",
        "OUTCOMES_ASSESSOR": "Outcomes assessor",
    },
    "observational_model": {
        "COHORT": "Cohort",
        "CASE_CONTROL": "Case-control",
        "CASE_ONLY": "Case-only",
        "CASE_CROSSOVER": "Case-crossover",
        "ECOLOGIC_OR_COMMUNITY": "Ecologic or community",
        "FAMILY_BASED": "Family-based",
        "DEFINED_POPULATION": "Defined population",
        "NATURAL_HISTORY": "Natural history",
        "OTHER": "Other",
    },
    "time_perspective": {
        "RETROSPECTIVE": "Retrospective",
        "PROSPECTIVE": "Prospective",
        "CROSS_SECTIONAL": "Cross-sectional",
        "OTHER": "Other",
    },
    "arm_group_type": {
        "EXPERIMENTAL": "Experimental",
        "ACTIVE_COMPARATOR": "Active comparator",
        "PLACEBO_COMPARATOR": "Placebo comparator",
        "SHAM_COMPARATOR": "Sham comparator",
        "NO_INTERVENTION": "No intervention",
        "OTHER": "Other",
    },
    "official_role": {
        "PRINCIPAL_INVESTIGATOR": "Principal investigator",
        "STUDY_DIRECTOR": "Study director",
        "STUDY_CHAIR": "Study chair",
        "SUB_INVESTIGATOR": "Sub-investigator",
    },
    "responsible_party": {
        "SPONSOR": "Sponsor",
        "PRINCIPAL_INVESTIGATOR": "Principal investigator",
        "SPONSOR_INVESTIGATOR": "Sponsor-investigator",
    },
    "outcome_type": {
        "PRIMARY": "Primary outcome",
        "SECONDARY": "Secondary outcome",
        "OTHER_PRE_SPECIFIED": "Other pre-specified outcome",
        "POST_HOC": "Post-hoc outcome",
    },
    "param_type": {
        "MEAN": "Mean",
        "MEDIAN": "Median",
        "GEOMETRIC_MEAN": "Geometric mean",
        "GEOMETRIC_LEAST_SQUARES_MEAN": "Geometric least squares mean",
        "LEAST_SQUARES_MEAN": "Least squares mean",
        "LOG_MEAN": "Log mean",
        "NUMBER": "Number",
        "COUNT_OF_PARTICIPANTS": "Count of participants",
        "COUNT_OF_UNITS": "Count of units",
    },
}

_CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def unknown_value(code: str) -> str:
    """How a code outside its vocabulary reads: it is shown, never taken for a real value."""
    return f"Unknown value ({code})"


def words_for(vocabulary: str, code: str | None) -> str:
    """A code of ``vocabulary`` in plain words; phases joined by ``/`` are said one by one.

    A value written in words already (older record shapes) stays as written; a code the
    vocabulary does not hold reads "Unknown value (CODE)".
    """
    if not code:
        return ""
    table = VOCABULARIES[vocabulary]
    if code in table:
        return table[code]
    if vocabulary == "phase" and "/" in code:
        return " / ".join(words_for("phase", part) for part in code.split("/"))
    if _CODE.match(code):
        return unknown_value(code)
    return code


def is_known(vocabulary: str, code: str) -> bool:
    """Whether a code belongs to the vocabulary (a facet option people can filter on)."""
    parts = code.split("/") if vocabulary == "phase" else [code]
    return all(part in VOCABULARIES[vocabulary] for part in parts)


def reason_words(reason: str) -> str:
    """A related-trial reason with the registry code in it said in words."""
    head, sep, value = reason.partition(": ")
    if sep and head == "same phase":
        return f"{head}: {words_for('phase', value)}"
    return reason
