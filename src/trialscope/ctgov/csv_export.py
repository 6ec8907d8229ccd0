"""ClinicalTrials.gov website CSV exports -> summary-only :class:`~trialscope.model.Trial` objects.

Two header layouts exist, both with one study per row and the lists inside a cell joined by ``|``:

* the current site's ``ctg-studies.csv`` (2023+): ``NCT Number, Study Title, Study Status, ...``
  with API v2 enums (``PHASE1|PHASE2``, ``DRUG: Aspirin``) and ISO dates; the user picks the
  columns, so any of them may be missing;
* the classic site's ``SearchResults.csv``: ``Rank, NCT Number, Title, Status, ...`` with words
  (``Phase 1|Phase 2``, ``Drug: Aspirin``) and ``January 1, 2021`` dates.

A row carries a summary only (no eligibility text, no arm groups, no results), so every trial
is ``summary_only=True``. Places come joined as ``Facility, City, State, Zip, Country`` with the
empty parts left out, which :func:`split_place` takes apart from the right.

>>> rows = ["NCT Number,Study Title,Phases", "NCT00000102,A study,PHASE1|PHASE2"]
>>> [t.design.phases for t in iter_csv_trials(rows)]
[('PHASE1', 'PHASE2')]
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Mapping

from trialscope import vocab
from trialscope.ctgov.translate import to_int
from trialscope.vocab import age_bound, derive_std_ages, parse_masking, phases_from_words
from trialscope.vocab import to_enum as enum_word

NCT_ID = re.compile(r"^NCT\d{8}$")


def valid_nct_id(text: str | None) -> str:
    nct_id = (text or "").strip().upper()
    if not NCT_ID.match(nct_id):
        raise ParseError(f"study has no valid NCT id (got {nct_id or 'none'!r})")
    return nct_id
from trialscope.errors import NotAStudyError, ParseError
from trialscope.model import (
    DateStruct,
    Design,
    Eligibility,
    Identifier,
    Intervention,
    Outcome,
    Site,
    Sponsor,
    Trial,
)

NEW_SITE = "ctg-studies"
CLASSIC_SITE = "search-results"

# Column names of each layout, by the meaning this module gives them.
COLUMNS: dict[str, dict[str, str]] = {
    NEW_SITE: {
        "nct_id": "NCT Number",
        "title": "Study Title",
        "acronym": "Acronym",
        "status": "Study Status",
        "summary": "Brief Summary",
        "results": "Study Results",
        "conditions": "Conditions",
        "interventions": "Interventions",
        "primary_outcomes": "Primary Outcome Measures",
        "secondary_outcomes": "Secondary Outcome Measures",
        "other_outcomes": "Other Outcome Measures",
        "sponsor": "Sponsor",
        "collaborators": "Collaborators",
        "sex": "Sex",
        "age": "Age",
        "phases": "Phases",
        "enrollment": "Enrollment",
        "funder_type": "Funder Type",
        "study_type": "Study Type",
        "design": "Study Design",
        "other_ids": "Other IDs",
        "start": "Start Date",
        "primary_completion": "Primary Completion Date",
        "completion": "Completion Date",
        "first_posted": "First Posted",
        "results_first_posted": "Results First Posted",
        "last_update_posted": "Last Update Posted",
        "locations": "Locations",
    },
    CLASSIC_SITE: {
        "nct_id": "NCT Number",
        "title": "Title",
        "acronym": "Acronym",
        "status": "Status",
        "results": "Study Results",
        "conditions": "Conditions",
        "interventions": "Interventions",
        "outcomes": "Outcome Measures",
        "sponsors": "Sponsor/Collaborators",
        "sex": "Gender",
        "age": "Age",
        "phases": "Phases",
        "enrollment": "Enrollment",
        "funder_type": "Funded Bys",
        "study_type": "Study Type",
        "design": "Study Designs",
        "other_ids": "Other IDs",
        "start": "Start Date",
        "primary_completion": "Primary Completion Date",
        "completion": "Completion Date",
        "first_posted": "First Posted",
        "results_first_posted": "Results First Posted",
        "last_update_posted": "Last Update Posted",
        "locations": "Locations",
    },
}

# "Study Design" keys, by the Design field and the vocabulary of their values.
_DESIGN_KEYS = {
    "allocation": "allocation",
    "intervention model": "intervention_model",
    "primary purpose": "primary_purpose",
    "masking": "masking",
    "observational model": "observational_model",
    "time perspective": "time_perspective",
}

# The new site's export writes some design values cut short ("Time Perspective: p"); only these count.
_KNOWN_DESIGN_VALUES = {
    "observational_model": frozenset(
        {
            "COHORT",
            "CASE_CONTROL",
            "CASE_ONLY",
            "CASE_CROSSOVER",
            "ECOLOGIC_OR_COMMUNITY",
            "FAMILY_BASED",
            "DEFINED_POPULATION",
            "NATURAL_HISTORY",
            "OTHER",
        }
    ),
    "time_perspective": frozenset({"RETROSPECTIVE", "PROSPECTIVE", "CROSS_SECTIONAL", "OTHER"}),
}

_HAS_RESULTS = frozenset({"YES", "HAS RESULTS"})

_Cell = Callable[[str], "str | None"]  # a cell of the row by meaning, stripped, None when empty
_Listed = Callable[[str], "list[str]"]  # a cell split at "|"


_NEW_SITE_ONLY = set(COLUMNS[NEW_SITE].values()) - set(COLUMNS[CLASSIC_SITE].values()) | {"Study URL"}
_CLASSIC_SITE_ONLY = set(COLUMNS[CLASSIC_SITE].values()) - set(COLUMNS[NEW_SITE].values()) | {"Rank", "URL"}


def detect_layout(fieldnames: Iterable[str] | None) -> str:
    """Which export a header is: :data:`NEW_SITE` or :data:`CLASSIC_SITE`.

    Raises NotAStudyError for a CSV that is no ClinicalTrials.gov export (no ``NCT Number``).
    """
    names = {(name or "").strip() for name in fieldnames or ()}
    if "NCT Number" not in names:
        shown = ", ".join(sorted(n for n in names if n)[:4]) or "no header"
        raise NotAStudyError(f"not a ClinicalTrials.gov CSV export: no 'NCT Number' column (found {shown})")
    if names & _NEW_SITE_ONLY:
        return NEW_SITE
    if names & _CLASSIC_SITE_ONLY:
        return CLASSIC_SITE
    return NEW_SITE


def iter_csv_trials(lines: Iterable[str]) -> Iterator[Trial | ParseError]:
    """Trials from a CSV export read as text lines, one per row; a bad row yields its ParseError.

    Row numbers in messages count the header as row 1. Raises NotAStudyError (before the first
    row) for a CSV that is no ClinicalTrials.gov export.
    """
    reader = csv.DictReader(_without_bom(lines))
    try:
        layout = detect_layout(reader.fieldnames)
    except csv.Error as exc:
        raise ParseError(f"unreadable CSV header: {exc}") from exc
    number = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield ParseError(f"row {number + 1}: unreadable CSV ({exc}); the rest of the file is skipped")
            return
        number += 1
        try:
            yield parse_csv_row(row, layout)
        except ParseError as exc:
            yield type(exc)(f"row {number}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad row must cost that row only
            yield ParseError(f"row {number}: unexpected {type(exc).__name__} while reading the row: {exc}")


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    for index, line in enumerate(lines):
        yield line.lstrip("\ufeff") if index == 0 and isinstance(line, str) else line


def parse_csv_row(row: Mapping[str, str | None], layout: str = NEW_SITE) -> Trial:
    """One CSV row (as csv.DictReader gives it) of the given layout -> a summary-only Trial."""
    names = COLUMNS.get(layout)
    if names is None:
        raise ParseError(f"unknown CSV layout {layout!r}; expected {NEW_SITE!r} or {CLASSIC_SITE!r}")

    def cell(key: str) -> str | None:
        value = row.get(names.get(key, "")) if key in names else None
        if not isinstance(value, str):
            return None
        value = value.strip()
        return value or None

    def listed(key: str) -> list[str]:
        return [part.strip() for part in (cell(key) or "").split("|") if part.strip()]

    nct_id = valid_nct_id(cell("nct_id"))
    other_ids = listed("other_ids")
    lead, collaborators = _sponsors(layout, cell, listed)
    minimum, maximum, std_ages = parse_age(cell("age"))
    minimum_days, maximum_days = vocab.age_to_days(minimum), vocab.age_to_days(maximum)
    return Trial(
        nct_id=nct_id,
        brief_title=cell("title"),
        acronym=cell("acronym"),
        org_study_id=Identifier(other_ids[0], source="org_study_id") if other_ids else None,
        secondary_ids=tuple(Identifier(i, source="secondary_id") for i in other_ids[1:]),
        overall_status=enum_word("status", cell("status")),
        start_date=_date(cell("start")),
        primary_completion_date=_date(cell("primary_completion")),
        completion_date=_date(cell("completion")),
        first_post_date=_date(cell("first_posted")),
        results_first_post_date=_date(cell("results_first_posted")),
        last_update_post_date=_date(cell("last_update_posted")),
        lead_sponsor=lead,
        collaborators=collaborators,
        brief_summary=cell("summary"),
        conditions=tuple(listed("conditions")),
        design=_design(cell("design"), listed("phases"), cell("study_type"), cell("enrollment")),
        interventions=tuple(parse_intervention(x) for x in listed("interventions")),
        outcomes=_outcomes(layout, listed),
        eligibility=Eligibility(
            sex=enum_word("sex", cell("sex")),
            minimum_age=minimum,
            maximum_age=maximum,
            minimum_age_days=minimum_days,
            maximum_age_days=maximum_days,
            std_ages=std_ages or (derive_std_ages(minimum_days, maximum_days) if minimum or maximum else ()),
        ),
        locations=tuple(split_place(p) for p in listed("locations")),
        has_results=(cell("results") or "").upper() in _HAS_RESULTS
        or cell("results_first_posted") is not None,
        source_format="csv",
        summary_only=True,
    )


def _date(text: str | None) -> DateStruct | None:
    return DateStruct(vocab.iso_date(text) or text) if text else None


def _sponsors(layout: str, cell: _Cell, listed: _Listed) -> tuple[Sponsor | None, tuple[Sponsor, ...]]:
    """The lead sponsor (with its class) and the collaborators.

    The new site's "Funder Type" is the lead sponsor's class. The classic "Sponsor/Collaborators"
    lists the lead first and "Funded Bys" its class first, then other classes once each, so
    the classes of collaborators cannot be told apart and are left out.
    """
    classes = [enum_word("sponsor_class", c) for c in listed("funder_type")]
    if layout == NEW_SITE:
        lead_name, collaborators = cell("sponsor"), listed("collaborators")
    else:
        everyone = listed("sponsors")
        lead_name, collaborators = (everyone[0] if everyone else None), everyone[1:]
    lead = Sponsor(lead_name, classes[0] if classes else None, "lead") if lead_name else None
    return lead, tuple(Sponsor(name, None, "collaborator") for name in collaborators)


def parse_intervention(text: str) -> Intervention:
    """``"DRUG: Aspirin"`` or ``"Drug: Aspirin"`` -> Intervention(name="Aspirin", type="DRUG")."""
    kind, sep, name = text.partition(":")
    if sep and name.strip() and re.fullmatch(r"[A-Za-z_ /-]{2,40}", kind.strip()):
        return Intervention(name=name.strip(), type=enum_word("intervention_type", kind))
    return Intervention(name=text.strip())


def _design(text: str | None, phases: list[str], study_type: str | None, enrollment: str | None) -> Design:
    words: dict[str, str] = {}
    for part in (text or "").split("|"):
        key, _, value = part.partition(":")
        field = _DESIGN_KEYS.get(" ".join(key.lower().split()))
        if field and value.strip():
            words[field] = value.strip()
    masking, who = parse_masking(words.get("masking"))
    found: dict[str, str | None] = {}
    for field in _DESIGN_KEYS.values():
        if field == "masking":
            continue
        value = enum_word(field, words.get(field))
        known = _KNOWN_DESIGN_VALUES.get(field)
        found[field] = value if known is None or value in known else None
    return Design(
        study_type=enum_word("study_type", study_type),
        phases=phases_from_words(phases),
        masking=masking,
        who_masked=who,
        enrollment_count=to_int(enrollment),
        **found,  # type: ignore[arg-type]
    )


def _outcomes(layout: str, listed: _Listed) -> tuple[Outcome, ...]:
    if layout == CLASSIC_SITE:
        # The classic export lists the titles of all outcomes together, primary or not.
        return tuple(Outcome(measure=title, kind="unspecified") for title in listed("outcomes"))
    return tuple(
        split_outcome(text, kind)
        for kind in ("primary", "secondary", "other")
        for text in listed(f"{kind}_outcomes")
    )


_SENTENCE_END = re.compile(r"[.?!][\"')\]]*\s*$")


def split_outcome(text: str, kind: str = "primary") -> Outcome:
    """``"Measure, Description, Time frame"`` (joined with ", " by the export) -> an Outcome.

    The parts may hold commas themselves, so the cut is a best guess: the measure is the first
    part; the time frame starts at a part that begins with a capital or a digit (not at a
    continuation like ", and week 40"): the first such part after the last full stop of the
    description, or without a full stop the last such part, or else the last part.

    >>> split_outcome("IIEF, Change in score. Higher is better., Baseline, week 12").time_frame
    'Baseline, week 12'
    """
    parts = text.split(", ")
    if len(parts) == 1:
        return Outcome(measure=text.strip(), kind=kind)
    if len(parts) == 2:
        return Outcome(measure=parts[0].strip(), kind=kind, time_frame=parts[1].strip())
    stops = [i for i in range(1, len(parts) - 1) if _SENTENCE_END.search(parts[i])]
    starts = [i for i in range(2, len(parts)) if parts[i][:1].isupper() or parts[i][:1].isdigit()]
    if stops:
        cut = next((i for i in starts if i > stops[-1]), stops[-1] + 1)
    else:
        cut = starts[-1] if starts else len(parts) - 1
    return Outcome(
        measure=parts[0].strip(),
        kind=kind,
        description=", ".join(parts[1:cut]).strip() or None,
        time_frame=", ".join(parts[cut:]).strip() or None,
    )


_AGE_RANGE = re.compile(
    r"^\s*(?:(?P<low>\d+(?:\.\d+)?\s+[A-Za-z]+)\s+to\s+(?P<high>\d+(?:\.\d+)?\s+[A-Za-z]+)"
    r"|(?P<min>\d+(?:\.\d+)?\s+[A-Za-z]+)\s+and\s+older"
    r"|up\s+to\s+(?P<max>\d+(?:\.\d+)?\s+[A-Za-z]+))"
    r"\s*(?:\((?P<groups>[^)]*)\))?\s*$",
    re.IGNORECASE,
)


def parse_age(text: str | None) -> tuple[str | None, str | None, tuple[str, ...]]:
    """``"18 Years to 75 Years (Adult, Older Adult)"`` -> ``("18 Years", "75 Years", ("ADULT", ...))``.

    Also ``"18 Years and older (...)"``, ``"up to 18 Years (...)"`` and bare age groups
    (``"Child, Adult"`` or ``"CHILD, ADULT"``).
    """
    if not text or not text.strip():
        return None, None, ()
    clean = " ".join(text.replace("\xa0", " ").split())
    match = _AGE_RANGE.match(clean)
    if match:
        minimum = age_bound(match.group("low") or match.group("min"))
        maximum = age_bound(match.group("high") or match.group("max"))
        groups = match.group("groups") or ""
    else:
        minimum = maximum = None
        groups = clean
    std_ages = tuple(a for a in (enum_word("std_age", g) for g in groups.split(",")) if a in _STD_AGES)
    return minimum, maximum, std_ages


_STD_AGES = frozenset({"CHILD", "ADULT", "OLDER_ADULT"})

# US states and territories as ClinicalTrials.gov spells them, to tell a state from a city.
US_STATES = frozenset(
    [
        "Alabama",
        "Alaska",
        "Arizona",
        "Arkansas",
        "California",
        "Colorado",
        "Connecticut",
        "Delaware",
        "Florida",
        "Georgia",
        "Hawaii",
        "Idaho",
        "Illinois",
        "Indiana",
        "Iowa",
        "Kansas",
        "Kentucky",
        "Louisiana",
        "Maine",
        "Maryland",
        "Massachusetts",
        "Michigan",
        "Minnesota",
        "Mississippi",
        "Missouri",
        "Montana",
        "Nebraska",
        "Nevada",
        "Ohio",
        "Oklahoma",
        "Oregon",
        "Pennsylvania",
        "Tennessee",
        "Texas",
        "Utah",
        "Vermont",
        "Virginia",
        "Washington",
        "Wisconsin",
        "Wyoming",
        "Guam",
    ]
) | frozenset(
    {
        "New Hampshire",
        "New Jersey",
        "New Mexico",
        "New York",
        "North Carolina",
        "North Dakota",
        "Rhode Island",
        "South Carolina",
        "South Dakota",
        "West Virginia",
        "District of Columbia",
        "Puerto Rico",
        "Virgin Islands",
        "American Samoa",
        "Northern Mariana Islands",
    }
)

_POSTAL = re.compile(r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9 -]{1,9}$")


def split_place(text: str) -> Site:
    """``"Facility, City, State, Zip, Country"`` (empty parts left out) -> a Site, read from the right.

    The country is last; a part with digits before it is the postal code; in the United States
    a known state name is the state. Elsewhere, of three or more parts left, the last is the
    state and the one before the city; of two, facility and city; of one, the city. A facility
    may hold commas itself: whatever is left on the left is the facility.
    """
    parts = [p.strip() for p in text.split(", ")]
    parts = [p for p in parts if p]
    if not parts:
        return Site()
    country = parts.pop()
    postal = parts.pop() if parts and _POSTAL.match(parts[-1]) else None
    state = None
    if country == "United States":
        if parts and parts[-1] in US_STATES:
            state = parts.pop()
    elif len(parts) >= 3:
        state = parts.pop()
    city = parts.pop() if parts else None
    return Site(facility=", ".join(parts) or None, city=city, state=state, zip=postal, country=country)
