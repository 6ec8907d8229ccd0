"""Registry vocabularies: the words of older shapes mapped onto the API v2 enums, in one place.

API v2 spells values as enums (``PHASE1``, ``NON_RANDOMIZED``); the retired v1 JSON, the legacy
XML and the classic CSV export spell them as words (``Phase 1``, ``Non-Randomized``, ``Double
Blind (Subject, Caregiver)``). Most words become the enum by upper-casing and joining with
``_``; the tables below hold the ones that do not, one table per vocabulary. Every converter
of an older shape reads its words through this module, and the API v2 parser passes enums
through it unchanged.

>>> to_enum("allocation", "Non-Randomized")
'NON_RANDOMIZED'
>>> split_phases("Phase 1/Phase 2")
('PHASE1', 'PHASE2')
>>> age_to_days("6 Months")
182.625
>>> parse_masking("Double Blind (Subject, Caregiver)")
('DOUBLE', ('PARTICIPANT', 'CARE_PROVIDER'))
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

_NON_WORD = re.compile(r"[^A-Z0-9]+")

# Words whose enum is not their plain upper-cased spelling, per vocabulary. A key is the word
# upper-cased with every run of other characters made one "_" ("Open Label" -> OPEN_LABEL).
EXCEPTIONS: dict[str, dict[str, str]] = {
    "status": {
        "UNKNOWN_STATUS": "UNKNOWN",
        "AVAILABLE_FOR_EXPANDED_ACCESS": "AVAILABLE",
    },
    "intervention_model": {
        "SINGLE_GROUP_ASSIGNMENT": "SINGLE_GROUP",
        "PARALLEL_ASSIGNMENT": "PARALLEL",
        "CROSSOVER_ASSIGNMENT": "CROSSOVER",
        "FACTORIAL_ASSIGNMENT": "FACTORIAL",
        "SEQUENTIAL_ASSIGNMENT": "SEQUENTIAL",
    },
    "masking": {
        "NONE_OPEN_LABEL": "NONE",
        "OPEN_LABEL": "NONE",
        "NO_MASKING": "NONE",
        "SINGLE_BLIND": "SINGLE",
        "DOUBLE_BLIND": "DOUBLE",
        "TRIPLE_BLIND": "TRIPLE",
        "QUADRUPLE_BLIND": "QUADRUPLE",
    },
    "sex": {"BOTH": "ALL"},
    "sponsor_class": {"U_S_FED": "FED"},
    "enrollment_type": {"ANTICIPATED": "ESTIMATED", "ESTIMATE": "ESTIMATED"},
    "date_type": {"ANTICIPATED": "ESTIMATED", "ESTIMATE": "ESTIMATED"},
    "study_type": {
        "OBSERVATIONAL_PATIENT_REGISTRY": "OBSERVATIONAL",
        "N_A": "NA",
    },
    "allocation": {"N_A": "NA"},
    "primary_purpose": {"EDUCATIONAL_COUNSELING_TRAINING": "ECT"},
    "who_masked": {
        "SUBJECT": "PARTICIPANT",
        "CAREGIVER": "CARE_PROVIDER",
        "OUTCOMES_ASSESSORS": "OUTCOMES_ASSESSOR",
    },
    "secondary_id_type": {
        "OTHER_IDENTIFIER": "OTHER",
        "U_S_NIH_GRANT_CONTRACT": "NIH",
        "U_S_FDA_GRANT_CONTRACT": "FDA",
        "OTHER_GRANT_FUNDING_NUMBER": "OTHER_GRANT",
        "REGISTRY_IDENTIFIER": "REGISTRY",
    },
}

# The API v2 enums of the vocabularies people filter on, each with the friendly words people
# type for it. With EXCEPTIONS (the registry's own older words), this is the one table of
# each vocabulary: ingest checks values against it, search reads people's words with it.
ENUMS: dict[str, dict[str, tuple[str, ...]]] = {
    "status": {
        "RECRUITING": ("open", "recruiting now"),
        "NOT_YET_RECRUITING": ("not yet", "not yet recruiting"),
        "ACTIVE_NOT_RECRUITING": ("active", "active not recruiting"),
        "COMPLETED": ("complete", "finished"),
        "ENROLLING_BY_INVITATION": ("by invitation", "invitation"),
        "SUSPENDED": (),
        "TERMINATED": ("stopped",),
        "WITHDRAWN": (),
        "UNKNOWN": ("unknown status",),
        "AVAILABLE": ("available for expanded access",),
        "NO_LONGER_AVAILABLE": (),
        "TEMPORARILY_NOT_AVAILABLE": (),
        "APPROVED_FOR_MARKETING": (),
        "WITHHELD": (),
    },
    "phase": {
        "EARLY_PHASE1": ("0", "phase 0", "early 1", "early phase 1", "early phase1", "early"),
        "PHASE1": ("1", "i", "phase 1", "phase i", "ph1", "ph 1", "p1"),
        "PHASE2": ("2", "ii", "phase 2", "phase ii", "ph2", "ph 2", "p2"),
        "PHASE3": ("3", "iii", "phase 3", "phase iii", "ph3", "ph 3", "p3"),
        "PHASE4": ("4", "iv", "phase 4", "phase iv", "ph4", "ph 4", "p4"),
        "NA": ("n/a", "not applicable", "none"),
    },
    "study_type": {
        "INTERVENTIONAL": ("clinical trial", "trial"),
        "OBSERVATIONAL": ("observational patient registry", "registry"),
        "EXPANDED_ACCESS": ("ea",),
        "NA": ("n/a", "not applicable"),  # older records: a study type not given
    },
    "intervention_type": {
        "DRUG": ("drugs", "medicine", "medication"),
        "DEVICE": ("devices",),
        "BIOLOGICAL": ("biologic", "biologics", "vaccine", "biological product"),
        "PROCEDURE": ("surgery", "procedure/surgery"),
        "RADIATION": ("radiotherapy",),
        "BEHAVIORAL": ("behavioural", "behavior", "behaviour"),
        "GENETIC": ("gene",),
        "DIETARY_SUPPLEMENT": ("supplement", "diet", "dietary"),
        "COMBINATION_PRODUCT": ("combination",),
        "DIAGNOSTIC_TEST": ("diagnostic", "test"),
        "OTHER": (),
    },
    "sponsor_class": {
        "INDUSTRY": ("company", "pharma", "commercial"),
        "NIH": ("national institutes of health",),
        "FED": ("u.s. fed", "us fed", "federal", "u s fed"),
        "OTHER_GOV": ("government", "other government", "gov"),
        "INDIV": ("individual",),
        "NETWORK": (),
        "AMBIG": ("ambiguous",),
        "OTHER": ("academic", "university", "hospital"),
        "UNKNOWN": (),
    },
    "sex": {
        "FEMALE": ("f", "woman", "women", "girl", "girls"),
        "MALE": ("m", "man", "men", "boy", "boys"),
        "ALL": ("any", "both", "everyone"),
    },
}
_WORDS: dict[str, dict[str, str]] = {
    name: {
        **{key: enum for key, enum in EXCEPTIONS.get(name, {}).items() if enum in table},
        **{_NON_WORD.sub("_", e.upper()).strip("_"): e for e in table},
        **{_NON_WORD.sub("_", w.upper()).strip("_"): e for e, words in table.items() for w in words},
    }
    for name, table in ENUMS.items()
}
_PHASE_ENUMS = ENUMS["phase"]


def enum_of_word(vocabulary: str, word: str) -> str | None:
    """The enum of a word people or older records use, in one of :data:`ENUMS`; None if unknown.

    >>> enum_of_word("status", "Unknown status"), enum_of_word("sex", "women"), enum_of_word("phase", "7")
    ('UNKNOWN', 'FEMALE', None)
    """
    return _WORDS[vocabulary].get(_NON_WORD.sub("_", word.strip().upper()).strip("_"))


def unknown_values(
    status: str | None, phases: Iterable[str], study_type: str | None
) -> list[tuple[str, str]]:
    """(vocabulary, value) of each value a record gives that its vocabulary does not know.

    >>> unknown_values("ON_FIRE", ["PHASE2", "PHASE7"], "INTERVENTIONAL")
    [('status', 'ON_FIRE'), ('phase', 'PHASE7')]
    """
    found = []
    if status and status not in ENUMS["status"]:
        found.append(("status", status))
    found.extend(("phase", p) for p in phases if p not in _PHASE_ENUMS)
    if study_type and study_type not in ENUMS["study_type"]:
        found.append(("study_type", study_type))
    return found


def unknown_label(value: str) -> str:
    """How a value no vocabulary knows is shown: never as if it were a real one.

    >>> unknown_label("ON_FIRE")
    'Unknown value (ON_FIRE)'
    """
    return f"Unknown value ({value})"


_PHASE_WORDS = {
    "EARLY_PHASE_1": "EARLY_PHASE1",
    "EARLY_PHASE1": "EARLY_PHASE1",
    "PHASE_0": "EARLY_PHASE1",
    "PHASE_1": "PHASE1",
    "PHASE1": "PHASE1",
    "PHASE_2": "PHASE2",
    "PHASE2": "PHASE2",
    "PHASE_3": "PHASE3",
    "PHASE3": "PHASE3",
    "PHASE_4": "PHASE4",
    "PHASE4": "PHASE4",
    "N_A": "NA",
    "NA": "NA",
    "NOT_APPLICABLE": "NA",
}


def to_enum(vocabulary: str, word: str | None) -> str | None:
    """The API v2 enum for a registry word of ``vocabulary``; enums pass through unchanged."""
    if word is None:
        return None
    text = word.strip()
    if not text:
        return None
    key = _NON_WORD.sub("_", text.upper()).strip("_")
    return EXCEPTIONS.get(vocabulary, {}).get(key, key)


def split_phases(text: str | None) -> tuple[str, ...]:
    """``"Phase 1/Phase 2"`` -> ``("PHASE1", "PHASE2")``; unknown words are kept upper-cased."""
    if not text:
        return ()
    if text.strip().upper() in {"N/A", "NA", "NOT APPLICABLE"}:
        return ("NA",)
    phases = []
    for part in re.split(r"[/|,]", text):
        key = _NON_WORD.sub("_", part.strip().upper()).strip("_")
        if key:
            phases.append(_PHASE_WORDS.get(key, key))
    return tuple(phases)


def phase_enum(word: str) -> str:
    key = _NON_WORD.sub("_", word.strip().upper()).strip("_")
    return _PHASE_WORDS.get(key, key)


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)")
_DAYS_PER_UNIT = {
    "year": 365.25,
    "month": 30.4375,
    "week": 7.0,
    "day": 1.0,
    "hour": 1 / 24,
    "minute": 1 / 1440,
}


def age_to_days(text: str | None) -> float | None:
    """Days in an age as the registry writes it (``"18 Years"``); None for no bound (``"N/A"``)."""
    if not text:
        return None
    match = _AGE.match(text)
    if not match:
        return None
    unit = match.group(2).lower().rstrip("s")
    per = _DAYS_PER_UNIT.get(unit)
    if per is None:
        return None
    return float(match.group(1)) * per


_MONTHS = {
    name: i
    for i, name in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
_WORD_DATE = re.compile(r"^\s*([A-Za-z]+)\.?\s+(?:(\d{1,2}),\s*)?(\d{4})\s*$")
_ISO_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?\s*$")


def iso_date(text: str | None) -> str | None:
    """``"December 31, 2020"`` -> ``"2020-12-31"``, ``"December 2020"`` -> ``"2020-12"``; ISO stays.

    Text that is no date gives None rather than an error: dates are never worth a rejected record.
    """
    if not text:
        return None
    match = _ISO_DATE.match(text)
    if match:
        year, month, day = match.groups()
        try:
            if day:
                return date(int(year), int(month), int(day)).isoformat()
            if month:
                return f"{int(year):04d}-{int(month):02d}" if 1 <= int(month) <= 12 else None
            return f"{int(year):04d}"
        except ValueError:
            return None
    match = _WORD_DATE.match(text)
    if match:
        name, day, year = match.groups()
        month = _MONTHS.get(name.lower()) or next(
            (n for full, n in _MONTHS.items() if full.startswith(name.lower()) and len(name) >= 3), None
        )
        if month is None:
            return None
        try:
            if day:
                return date(int(year), month, int(day)).isoformat()
        except ValueError:
            return None
        return f"{int(year):04d}-{month:02d}"
    return None


def parse_bool(text: object) -> bool | None:
    """Registry yes/no in any shape: ``True``, ``"Yes"``, ``"Accepts Healthy Volunteers"``."""
    if isinstance(text, bool):
        return text
    if not isinstance(text, str):
        return None
    word = text.strip().lower()
    if word in {"yes", "true", "y", "accepts healthy volunteers"}:
        return True
    if word in {"no", "false", "n"}:
        return False
    return None


# --- words of the older shapes that hold more than one value ---------------------------------

WHO_MASKED = frozenset({"PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"})
STD_AGES = frozenset({"CHILD", "ADULT", "OLDER_ADULT"})

# The registry's age groups, in days (age_to_days spelling): child < 18 years <= adult < 65.
_ADULT_DAYS = 18 * 365.25
_OLDER_DAYS = 65 * 365.25

_NOT_APPLICABLE = re.compile(r"\bN\s*/\s*A\b", re.IGNORECASE)
_MASKING = re.compile(r"^\s*([^()]*?)\s*(?:\((.*)\))?\s*$")


def phases_from_words(words: Iterable[str]) -> tuple[str, ...]:
    """``["Phase 1/Phase 2"]`` or ``["Phase 1", "Phase 2"]`` -> ``("PHASE1", "PHASE2")``, each once."""
    phases: list[str] = []
    for word in words:
        # split_phases splits on "/", which would make "N/A" two phases.
        for phase in split_phases(_NOT_APPLICABLE.sub("NA", word)):
            if phase not in phases:
                phases.append(phase)
    return tuple(phases)


def parse_masking(text: str | None) -> tuple[str | None, tuple[str, ...]]:
    """``"Double (Participant, Investigator)"`` -> ``("DOUBLE", ("PARTICIPANT", "INVESTIGATOR"))``.

    The words in parentheses count only when they name who is masked: ``None (Open Label)``
    is masking NONE with nobody masked.
    """
    if not text or not text.strip():
        return None, ()
    match = _MASKING.match(text)
    level, inside = (match.group(1), match.group(2)) if match else (text, None)
    who: list[str] = []
    for word in (inside or "").split(","):
        role = to_enum("who_masked", word)
        if role in WHO_MASKED and role not in who:
            who.append(role)
    return to_enum("masking", level or text), tuple(who)


def derive_std_ages(minimum_days: float | None, maximum_days: float | None) -> tuple[str, ...]:
    """The registry's age groups (CHILD, ADULT, OLDER_ADULT) an age range overlaps."""
    low = minimum_days or 0.0
    groups: list[str] = []
    if low < _ADULT_DAYS:
        groups.append("CHILD")
    if low < _OLDER_DAYS and (maximum_days is None or maximum_days >= _ADULT_DAYS):
        groups.append("ADULT")
    if maximum_days is None or maximum_days >= _OLDER_DAYS:
        groups.append("OLDER_ADULT")
    return tuple(groups)


def age_bound(text: str | None) -> str | None:
    """An age as the registry writes it, with the no-bound words (``N/A``, ``None``) as None."""
    if not text or not text.strip():
        return None
    return text.strip() if age_to_days(text) is not None else None


# The facts of a study design as the older shapes name them in one line ("Allocation: Randomized,
# Masking: Double Blind ...", the classic XML's <study_design> and the CSV's "Study Design"),
# by the name of the fact in the model.
DESIGN_KEYS = {
    "allocation": "allocation",
    "intervention model": "intervention_model",
    "primary purpose": "primary_purpose",
    "masking": "masking",
    "observational model": "observational_model",
    "time perspective": "time_perspective",
}


def design_words(pairs: Iterable[str]) -> dict[str, str]:
    """``["Allocation: Randomized", "Masking: None (Open Label)"]`` -> the words of each known fact."""
    found: dict[str, str] = {}
    for pair in pairs:
        key, _, value = pair.partition(":")
        name = DESIGN_KEYS.get(" ".join(key.lower().split()))
        if name and value.strip():
            found[name] = value.strip()
    return found
