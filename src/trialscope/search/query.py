"""What a user asks search for: the :class:`SearchQuery`, its vocabularies and its validation.

A query arrives from Python (``SearchQuery(statuses=("recruiting",))``), from the CLI or from
URL parameters (:func:`query_from_params`). Every way in ends in :func:`normalize_query`, which
turns friendly words into the registry's API v2 enums (``"phase 2"`` -> ``PHASE2``,
``"recruiting"`` -> ``RECRUITING``), checks numbers, dates and sizes, and raises
:class:`~trialscope.errors.QueryError` with one sentence a user can act on.

>>> q = normalize_query(SearchQuery(text="lupus", statuses=("recruiting",), phases=("2", "phase 3")))
>>> q.statuses, q.phases
(('RECRUITING',), ('PHASE2', 'PHASE3'))
>>> query_from_params({"q": "lupus", "status": "completed,recruiting", "within": "300mi", "near": "Minsk"}).within_km
482.8032
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date

from trialscope.errors import QueryError

FACETS = (
    "status",
    "phase",
    "study_type",
    "intervention_type",
    "country",
    "sponsor_class",
    "start_year",
    "has_results",
)
SORTS = ("relevance", "last_update", "start_date", "enrollment")

MAX_LIMIT = 1000
MAX_TEXT_CHARS = 20_000
DEFAULT_WITHIN_KM = 100.0
KM_PER_MILE = 1.609344
DAYS_PER_YEAR = 365.25

# Registry vocabularies: the API v2 enum, then friendly spellings people type.
STATUSES: dict[str, tuple[str, ...]] = {
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
}
PHASES: dict[str, tuple[str, ...]] = {
    "EARLY_PHASE1": ("0", "phase 0", "early 1", "early phase 1", "early phase1", "early"),
    "PHASE1": ("1", "i", "phase 1", "phase i", "ph1", "ph 1", "p1"),
    "PHASE2": ("2", "ii", "phase 2", "phase ii", "ph2", "ph 2", "p2"),
    "PHASE3": ("3", "iii", "phase 3", "phase iii", "ph3", "ph 3", "p3"),
    "PHASE4": ("4", "iv", "phase 4", "phase iv", "ph4", "ph 4", "p4"),
    "NA": ("n/a", "not applicable", "none"),
}
STUDY_TYPES: dict[str, tuple[str, ...]] = {
    "INTERVENTIONAL": ("clinical trial", "trial"),
    "OBSERVATIONAL": ("observational patient registry", "registry"),
    "EXPANDED_ACCESS": ("ea",),
}
INTERVENTION_TYPES: dict[str, tuple[str, ...]] = {
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
}
SPONSOR_CLASSES: dict[str, tuple[str, ...]] = {
    "INDUSTRY": ("company", "pharma", "commercial"),
    "NIH": ("national institutes of health",),
    "FED": ("u.s. fed", "us fed", "federal", "u s fed"),
    "OTHER_GOV": ("government", "other government", "gov"),
    "INDIV": ("individual",),
    "NETWORK": (),
    "AMBIG": ("ambiguous",),
    "OTHER": ("academic", "university", "hospital"),
    "UNKNOWN": (),
}
SEXES: dict[str, tuple[str, ...]] = {
    "FEMALE": ("f", "woman", "women", "girl", "girls"),
    "MALE": ("m", "man", "men", "boy", "boys"),
    "ALL": ("any", "both", "everyone"),
}

_YES = {"1", "true", "yes", "y", "on", "with"}
_NO = {"0", "false", "no", "n", "off", "without"}
_NON_WORD = re.compile(r"[^A-Z0-9]+")
_NCT = re.compile(r"^NCT\d{8}$")
_ISO = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
_DISTANCE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(km|kms|kilometers?|kilometres?|mi|mile|miles)?\s*$", re.IGNORECASE
)
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)
_AGE_UNITS = {"": 1.0, "y": 1.0, "yr": 1.0, "yrs": 1.0, "year": 1.0, "years": 1.0,
              "m": 1 / 12, "mo": 1 / 12, "month": 1 / 12, "months": 1 / 12,
              "w": 7 / DAYS_PER_YEAR, "wk": 7 / DAYS_PER_YEAR, "week": 7 / DAYS_PER_YEAR,
              "weeks": 7 / DAYS_PER_YEAR, "d": 1 / DAYS_PER_YEAR, "day": 1 / DAYS_PER_YEAR,
              "days": 1 / DAYS_PER_YEAR}  # fmt: skip


@dataclass(frozen=True)
class SearchQuery:
    """A search: free text plus any combination of filters, a sort, a page and facets.

    Every field is optional; the empty query matches every trial. Values may be API v2 enums
    or friendly words; :func:`normalize_query` settles them.

    >>> SearchQuery(text="anaplastic astrocytoma", limit=20, page=3).page
    3
    """

    text: str = ""
    statuses: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    study_types: tuple[str, ...] = ()
    intervention_types: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    sponsor: str | None = None
    sponsor_classes: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    near: str | None = None
    within_km: float | None = None
    age_years: float | None = None
    sex: str | None = None
    healthy_volunteers: bool | None = None
    has_results: bool | None = None
    start_from: str | None = None
    start_to: str | None = None
    completion_from: str | None = None
    completion_to: str | None = None
    updated_from: str | None = None
    updated_to: str | None = None
    enrollment_min: int | None = None
    enrollment_max: int | None = None
    nct_ids: tuple[str, ...] = ()
    sort: str = "relevance"
    limit: int = 20
    page: int = 1
    cursor: str | None = None
    facets: tuple[str, ...] = ()

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


def _alias_table(vocabulary: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for enum, words in vocabulary.items():
        table[_key(enum)] = enum
        for word in words:
            table[_key(word)] = enum
    return table


def _key(word: str) -> str:
    return _NON_WORD.sub("_", word.strip().upper()).strip("_")


_TABLES = {
    "status": _alias_table(STATUSES),
    "phase": _alias_table(PHASES),
    "study type": _alias_table(STUDY_TYPES),
    "intervention type": _alias_table(INTERVENTION_TYPES),
    "sponsor class": _alias_table(SPONSOR_CLASSES),
    "sex": _alias_table(SEXES),
}
_CHOICES = {
    "status": STATUSES,
    "phase": PHASES,
    "study type": STUDY_TYPES,
    "intervention type": INTERVENTION_TYPES,
    "sponsor class": SPONSOR_CLASSES,
    "sex": SEXES,
}


def to_enum(vocabulary: str, word: str) -> str:
    """The API v2 enum for a word of ``vocabulary``; QueryError naming the choices if unknown.

    >>> to_enum("phase", "Phase II"), to_enum("status", "active, not recruiting")
    ('PHASE2', 'ACTIVE_NOT_RECRUITING')
    """
    enum = _TABLES[vocabulary].get(_key(word))
    if enum is None:
        choices = ", ".join(e.lower() for e in _CHOICES[vocabulary])
        raise QueryError(f"Unknown {vocabulary} {word!r}; use one of: {choices}.")
    return enum


def to_enums(vocabulary: str, words: str | Iterable[str]) -> tuple[str, ...]:
    """Each word as its enum, in order, without repeats; ``"1/2"`` counts as two phases.

    A value is split at commas unless it is a known word as a whole ("active, not recruiting").
    """
    found: dict[str, None] = {}
    known = _TABLES[vocabulary]
    for word in split_values(words, keep=lambda w: _key(w) in known):
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


def parse_distance_km(text: str | float | None) -> float | None:
    """``"500km"``, ``"300mi"``, ``"25"`` (kilometres) -> kilometres.

    >>> parse_distance_km("300 miles")
    482.8032
    """
    if text is None or text == "":
        return None
    if isinstance(text, int | float):
        km = float(text)
    else:
        match = _DISTANCE.match(text)
        if not match:
            raise QueryError(f"Cannot read the distance {text!r}; write it like 500km or 300mi.")
        km = float(match.group(1))
        if (match.group(2) or "km").lower().startswith("mi"):
            km = round(km * KM_PER_MILE, 6)
    if not 0 < km <= 20_050:
        raise QueryError("The distance must be more than 0 and at most 20,050 km (half the Earth).")
    return km


def parse_age_years(text: str | float | None) -> float | None:
    """A patient's age in years from ``45``, ``"45y"``, ``"18 months"``, ``"3 weeks"``.

    >>> parse_age_years("18 months")
    1.5
    """
    if text is None or text == "":
        return None
    if isinstance(text, int | float):
        years = float(text)
    else:
        match = _AGE.match(text)
        unit = _AGE_UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None:
            raise QueryError(f"Cannot read the age {text!r}; write it like 45, 45y, 18 months or 3 weeks.")
        years = float(match.group(1)) * unit
    if not 0 <= years <= 150:
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


def normalize_query(query: SearchQuery) -> SearchQuery:
    """The same query with every value checked and spelled the registry's way.

    >>> normalize_query(SearchQuery(sex="women", sort="Last-Update")).sex
    'FEMALE'
    """
    text = query.text or ""
    if len(text) > MAX_TEXT_CHARS:
        raise QueryError(
            f"The search text is {len(text):,} characters long; at most {MAX_TEXT_CHARS:,} are allowed."
        )
    sort = _key(query.sort or "relevance").lower()
    if sort not in SORTS:
        raise QueryError(f"Unknown sort {query.sort!r}; use one of: {', '.join(SORTS)}.")
    facets: dict[str, None] = {}
    for name in split_values(query.facets):
        key = _key(name).lower()
        key = {
            "type": "study_type",
            "year": "start_year",
            "results": "has_results",
            "class": "sponsor_class",
        }.get(key, key)
        if key not in FACETS:
            raise QueryError(f"Unknown facet {name!r}; use any of: {', '.join(FACETS)}.")
        facets.setdefault(key, None)
    near = (query.near or "").strip() or None
    within = parse_distance_km(query.within_km)
    if within is not None and near is None:
        raise QueryError("A distance (--within) needs a place to measure from (--near).")
    if near is not None and within is None:
        within = DEFAULT_WITHIN_KM
    sex = to_enum("sex", query.sex) if query.sex and query.sex.strip() else None
    enrollment_min = parse_int(query.enrollment_min, "The minimum enrollment")
    enrollment_max = parse_int(query.enrollment_max, "The maximum enrollment")
    if enrollment_min is not None and enrollment_max is not None and enrollment_min > enrollment_max:
        raise QueryError("The minimum enrollment is larger than the maximum; swap them.")
    dates = {
        name: parse_iso_date(getattr(query, name), name.replace("_", " ").capitalize())
        for name in (
            "start_from",
            "start_to",
            "completion_from",
            "completion_to",
            "updated_from",
            "updated_to",
        )
    }
    for low, high in (
        ("start_from", "start_to"),
        ("completion_from", "completion_to"),
        ("updated_from", "updated_to"),
    ):
        start, end = dates[low], dates[high]
        if start and end and start > end:
            raise QueryError(f"The {low.split('_')[0]} date range ends before it starts; swap the dates.")
    return replace(
        query,
        text=text,
        statuses=to_enums("status", query.statuses),
        phases=to_enums("phase", query.phases),
        study_types=to_enums("study type", query.study_types),
        intervention_types=to_enums("intervention type", query.intervention_types),
        conditions=_distinct(query.conditions),
        sponsor=(query.sponsor or "").strip() or None,
        sponsor_classes=to_enums("sponsor class", query.sponsor_classes),
        countries=tuple(dict.fromkeys(split_values(query.countries, keep=_is_country))),
        cities=_distinct(query.cities),
        near=near,
        within_km=within,
        age_years=parse_age_years(query.age_years),
        sex=sex,
        healthy_volunteers=parse_bool(query.healthy_volunteers, "Healthy volunteers"),
        has_results=parse_bool(query.has_results, "Has results"),
        enrollment_min=enrollment_min,
        enrollment_max=enrollment_max,
        nct_ids=parse_nct_ids(query.nct_ids),
        sort=sort,
        limit=parse_int(query.limit, "The limit", minimum=1, maximum=MAX_LIMIT) or 20,
        page=parse_int(query.page, "The page", minimum=1, maximum=1_000_000) or 1,
        cursor=(query.cursor or "").strip() or None,
        facets=tuple(facets),
        **dates,
    )


def _distinct(values: str | Iterable[str]) -> tuple[str, ...]:
    items = [values] if isinstance(values, str) else values
    return tuple(dict.fromkeys(v.strip() for v in items if v and v.strip()))


def _is_country(name: str) -> bool:
    from trialscope.search.geo import country_code

    return country_code(name) is not None


# URL parameter -> (SearchQuery field, kind). Lists accept comma lists and repeats.
_PARAMS: dict[str, tuple[str, str]] = {
    "q": ("text", "text"),
    "text": ("text", "text"),
    "status": ("statuses", "list"),
    "phase": ("phases", "list"),
    "type": ("study_types", "list"),
    "study_type": ("study_types", "list"),
    "intervention_type": ("intervention_types", "list"),
    "condition": ("conditions", "list"),
    "sponsor": ("sponsor", "text"),
    "sponsor_class": ("sponsor_classes", "list"),
    "country": ("countries", "list"),
    "city": ("cities", "list"),
    "near": ("near", "text"),
    "within": ("within_km", "text"),
    "age": ("age_years", "text"),
    "sex": ("sex", "text"),
    "healthy_volunteers": ("healthy_volunteers", "text"),
    "has_results": ("has_results", "text"),
    "start_from": ("start_from", "text"),
    "start_to": ("start_to", "text"),
    "completion_from": ("completion_from", "text"),
    "completion_to": ("completion_to", "text"),
    "updated_from": ("updated_from", "text"),
    "updated_to": ("updated_to", "text"),
    "enrollment_min": ("enrollment_min", "text"),
    "enrollment_max": ("enrollment_max", "text"),
    "nct": ("nct_ids", "list"),
    "nct_id": ("nct_ids", "list"),
    "sort": ("sort", "text"),
    "limit": ("limit", "text"),
    "page": ("page", "text"),
    "cursor": ("cursor", "text"),
    "facets": ("facets", "list"),
}
# Conditions and cities may hold commas ("Lupus Erythematosus, Systemic"): only repeats
# separate them. Other lists are split at commas by normalize_query.
_NO_COMMA_SPLIT = {"conditions", "cities"}


def query_from_params(params: Mapping[str, str | list[str]]) -> SearchQuery:
    """A checked SearchQuery from URL query parameters (``q``, ``status``, ``phase``, ...).

    Unknown parameter names are ignored (a web form may carry its own); bad values raise
    QueryError with a clear sentence.

    >>> query_from_params({"q": "sle", "phase": ["2", "3"], "limit": "50"}).phases
    ('PHASE2', 'PHASE3')
    """
    values: dict[str, object] = {}
    for name, raw in params.items():
        spec = _PARAMS.get(name.strip().lower())
        if spec is None:
            continue
        field_name, kind = spec
        items = [raw] if isinstance(raw, str) else [str(v) for v in raw]
        if kind == "list":
            kept = [i.strip() for i in items if i.strip()]
            values[field_name] = (*values.get(field_name, ()), *kept)  # type: ignore[misc]
        else:
            text = next((i for i in reversed(items) if i.strip()), "")
            if text:
                values[field_name] = text.strip() if field_name != "text" else text
    known = {f.name for f in fields(SearchQuery)}
    return normalize_query(SearchQuery(**{k: v for k, v in values.items() if k in known}))  # type: ignore[arg-type]


def query_to_params(query: SearchQuery) -> dict[str, str | list[str]]:
    """URL parameters that :func:`query_from_params` reads back into the same query.

    >>> query_to_params(SearchQuery(text="lupus", phases=("PHASE2",), page=2))
    {'q': 'lupus', 'phase': 'PHASE2', 'page': '2'}
    """
    out: dict[str, str | list[str]] = {}
    for name, (field_name, kind) in _PARAMS.items():
        if name in {"text", "study_type", "nct_id"} or name in out:
            continue
        value = getattr(query, field_name)
        default = next(f.default for f in fields(SearchQuery) if f.name == field_name)
        if value == default or value is None or value == ():
            continue
        if kind == "list":
            out[name] = list(value) if field_name in _NO_COMMA_SPLIT else ",".join(value)
        elif isinstance(value, bool):
            out[name] = "yes" if value else "no"
        elif field_name == "within_km":
            out[name] = f"{value:.10g}km"
        else:
            out[name] = str(value)
    return out
