"""Values people give search, read and checked: vocabularies, numbers, dates, ages, distances.

Every parser takes what a person typed (a CLI flag, a URL parameter, a Python value) and
returns it in the registry's spelling or a number, or raises
:class:`~trialscope.errors.QueryError` with one sentence that names what to write instead.
The filter table (:mod:`trialscope.search.filters`) says which parser reads which filter.

>>> to_enums("phase", ["2", "phase 3"]), parse_distance_km("300mi"), parse_age_years("18 months")
(('PHASE2', 'PHASE3'), 482.8032, 1.5)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date

from trialscope.errors import QueryError
from trialscope.vocab import ENUMS, enum_of_word

# The vocabularies people filter on, by name (each enum with the words people type for it).
STATUSES = ENUMS["status"]
PHASES = ENUMS["phase"]
STUDY_TYPES = ENUMS["study_type"]
INTERVENTION_TYPES = ENUMS["intervention_type"]
SPONSOR_CLASSES = ENUMS["sponsor_class"]
SEXES = ENUMS["sex"]

MAX_LIMIT = 1000
MAX_TEXT_CHARS = 20_000
DEFAULT_WITHIN_KM = 100.0
KM_PER_MILE = 1.609344
DAYS_PER_YEAR = 365.25

_YES = {"1", "true", "yes", "y", "on", "with"}
_NO = {"0", "false", "no", "n", "off", "without"}
_NON_WORD = re.compile(r"[^A-Z0-9]+")
_NCT = re.compile(r"^NCT\d{8}$")
_ISO = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
_DISTANCE = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)\s*(km|kms|kilometers?|kilometres?|mi|mile|miles)?\s*$", re.IGNORECASE
)
_KM = {"": 1.0, "km": 1.0, "kms": 1.0, "kilometer": 1.0, "kilometers": 1.0, "kilometre": 1.0,
       "kilometres": 1.0, "mi": KM_PER_MILE, "mile": KM_PER_MILE, "miles": KM_PER_MILE}  # fmt: skip
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_AGE_UNITS = {"": 1.0, "y": 1.0, "yr": 1.0, "yrs": 1.0, "year": 1.0, "years": 1.0,
              "m": 1 / 12, "mo": 1 / 12, "month": 1 / 12, "months": 1 / 12,
              "w": 7 / DAYS_PER_YEAR, "wk": 7 / DAYS_PER_YEAR, "week": 7 / DAYS_PER_YEAR,
              "weeks": 7 / DAYS_PER_YEAR, "d": 1 / DAYS_PER_YEAR, "day": 1 / DAYS_PER_YEAR,
              "days": 1 / DAYS_PER_YEAR}  # fmt: skip


def _key(word: str) -> str:
    return _NON_WORD.sub("_", word.strip().upper()).strip("_")


def to_enum(vocabulary: str, word: str) -> str:
    """The API v2 enum for a word of ``vocabulary`` (see :data:`trialscope.vocab.ENUMS`);
    QueryError naming the choices if unknown.

    >>> to_enum("phase", "Phase II"), to_enum("status", "active, not recruiting")
    ('PHASE2', 'ACTIVE_NOT_RECRUITING')
    """
    enum = enum_of_word(vocabulary.replace(" ", "_"), word)
    if enum is None:
        choices = ", ".join(e.lower() for e in ENUMS[vocabulary.replace(" ", "_")])
        raise QueryError(f"Unknown {vocabulary} {word!r}; use one of: {choices}.")
    return enum


def to_enums(vocabulary: str, words: str | Iterable[str]) -> tuple[str, ...]:
    """Each word as its enum, in order, without repeats; ``"1/2"`` counts as two phases.

    A value is split at commas unless it is a known word as a whole ("active, not recruiting").
    """
    found: dict[str, None] = {}
    name = vocabulary.replace(" ", "_")
    for word in split_values(words, keep=lambda w: enum_of_word(name, w) is not None):
        parts = re.split(r"\s*/\s*", word) if vocabulary == "phase" else [word]
        if vocabulary == "phase" and len(parts) == 2 and parts[0].lower().startswith("phase"):
            parts[1] = parts[1] if parts[1].lower().startswith("phase") else f"phase {parts[1]}"
        for part in parts:
            if part:
                found.setdefault(to_enum(vocabulary, part), None)
    return tuple(found)


def split_values(values: str | Iterable[str], keep: Callable[[str], bool] | None = None) -> list[str]:
    """Comma lists and repeated values alike: ``["a,b", "c"]`` -> ``["a", "b", "c"]``; a value
    that ``keep`` accepts whole is not split.

    >>> split_values(["Korea, Republic of", "France,Spain"], keep=lambda v: v.startswith("Korea"))
    ['Korea, Republic of', 'France', 'Spain']
    """
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        text = str(value).strip()
        if keep is not None and text and keep(text):
            out.append(text)
        else:
            out.extend(part.strip() for part in text.split(",") if part.strip())
    return out


def parse_bool(word: object, what: str) -> bool | None:
    """``yes``/``no``, ``true``/``false``, ``1``/``0``; None for an empty value."""
    if word is None or isinstance(word, bool):
        return word
    text = str(word).strip().lower()
    if not text:
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise QueryError(f"{what} must be yes or no, not {word!r}.")


def _quantity(
    text: str | float | None, kind: tuple[re.Pattern[str], dict[str, float], str, str]
) -> float | None:
    """A number and its unit in the units' base (no unit: the first); None for nothing given."""
    if text is None or text == "":
        return None
    if isinstance(text, int | float):
        return float(text)
    pattern, units, what, like = kind
    match = pattern.match(text)
    factor = units.get((match.group(2) or "").lower()) if match else None
    if match is None or factor is None:
        raise QueryError(f"Cannot read the {what} {text!r}; write it like {like}.")
    return float(match.group(1)) * factor


def parse_distance_km(text: str | float | None) -> float | None:
    """``"500km"``, ``"300mi"``, ``"25"`` (kilometres) -> kilometres.

    >>> parse_distance_km("300 miles")
    482.8032
    """
    km = _quantity(text, (_DISTANCE, _KM, "distance", "500km or 300mi"))
    if km is not None and not 0 < round(km, 6) <= 20_050:
        raise QueryError("The distance must be more than 0 and at most 20,050 km (half the Earth).")
    return None if km is None else round(km, 6)


def parse_age_years(text: str | float | None) -> float | None:
    """A patient's age in years from ``45``, ``"45y"``, ``"18 months"``, ``"3 weeks"``.

    >>> parse_age_years("18 months")
    1.5
    """
    years = _quantity(text, (_AGE, _AGE_UNITS, "age", "45, 45y, 18 months or 3 weeks"))
    if years is not None and not 0 <= years <= 150:
        raise QueryError("The age must be between 0 and 150 years.")
    return years


def parse_int(text: object, what: str, *, minimum: int = 0, maximum: int | None = None) -> int | None:
    if text is None or text == "":
        return None
    try:
        value = int(str(text).strip()) if not isinstance(text, int) else text
    except ValueError:
        raise QueryError(f"{what} must be a whole number, not {text!r}.") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum:,}" if maximum is not None else ""
        raise QueryError(f"{what} must be at least {minimum}{upper}, not {value}.")
    return value


def parse_iso_date(text: str | None, what: str) -> str | None:
    """A date bound as ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, checked, as written."""
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    match = _ISO.match(text)
    try:
        if match is None:
            raise ValueError
        year, month, day = match.groups()
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise QueryError(f"{what} must be a date like 2021, 2021-06 or 2021-06-30, not {text!r}.") from None
    return text


def date_upper_bound(text: str) -> tuple[str, bool]:
    """The bound to compare stored dates against for a ``*_to`` date: (value, inclusive).

    A year or a month means all of it: ``2021`` -> (``"2022"``, exclusive).

    >>> date_upper_bound("2021"), date_upper_bound("2021-12"), date_upper_bound("2021-06-30")
    (('2022', False), ('2022-01', False), ('2021-06-30', True))
    """
    parts = text.split("-")
    if len(parts) == 1:
        return f"{int(parts[0]) + 1:04d}", False
    if len(parts) == 2:
        year, month = int(parts[0]), int(parts[1])
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return f"{year:04d}-{month:02d}", False
    return text, True


def parse_nct_ids(values: Iterable[str]) -> tuple[str, ...]:
    ids: dict[str, None] = {}
    for value in split_values(values):
        nct = value.upper()
        if not _NCT.match(nct):
            raise QueryError(f"{value!r} is not an NCT id; they look like NCT04184258.")
        ids.setdefault(nct, None)
    return tuple(ids)


def _distinct(values: str | Iterable[str]) -> tuple[str, ...]:
    items = [values] if isinstance(values, str) else values
    return tuple(dict.fromkeys(v.strip() for v in items if v and v.strip()))


def is_country(name: str) -> bool:
    """Whether a name is a known country (so "Korea, Republic of" is not split at its comma)."""
    from trialscope.search.geo import country_code

    return country_code(name) is not None
