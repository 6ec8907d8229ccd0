"""Registry vocabularies: the words of older shapes mapped onto the API v2 enums.

API v2 spells values as enums (``PHASE1``, ``NON_RANDOMIZED``); the retired v1 JSON and the
legacy XML spell them as words (``Phase 1``, ``Non-Randomized``). Most words become the enum
by upper-casing and joining with ``_``; the tables below hold the ones that do not.

>>> to_enum("allocation", "Non-Randomized")
'NON_RANDOMIZED'
>>> split_phases("Phase 1/Phase 2")
('PHASE1', 'PHASE2')
>>> age_to_days("6 Months")
182.625
"""

from __future__ import annotations

import re
from datetime import date

_NON_WORD = re.compile(r"[^A-Z0-9]+")

# Words whose enum is not their plain upper-cased spelling, per vocabulary.
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
    "masking": {"NONE_OPEN_LABEL": "NONE"},
    "sex": {"BOTH": "ALL"},
    "sponsor_class": {"U_S_FED": "FED"},
    "enrollment_type": {"ANTICIPATED": "ESTIMATED"},
    "date_type": {"ANTICIPATED": "ESTIMATED"},
    "study_type": {
        "OBSERVATIONAL_PATIENT_REGISTRY": "OBSERVATIONAL",
        "N_A": "NA",
    },
    "allocation": {"N_A": "NA"},
    "arm_type": {},
    "intervention_type": {},
    "primary_purpose": {},
    "official_role": {},
    "responsible_party": {},
    "observational_model": {},
    "time_perspective": {},
    "who_masked": {"SUBJECT": "PARTICIPANT"},
}

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
