"""ClinicalTrials.gov website CSV exports -> the API v2 study dictionary, for summary-only trials.

Two header layouts exist, both with one study per row and the lists inside a cell joined by ``|``:

* the current site's ``ctg-studies.csv`` (2023+): ``NCT Number, Study Title, Study Status, ...``
  with API v2 enums (``PHASE1|PHASE2``, ``DRUG: Aspirin``) and ISO dates; the user picks the
  columns, so any of them may be missing;
* the classic site's ``SearchResults.csv``: ``Rank, NCT Number, Title, Status, ...`` with words
  (``Phase 1|Phase 2``, ``Drug: Aspirin``) and ``January 1, 2021`` dates.

A row carries a summary only (no eligibility text, no arm groups, no results), so every trial
is ``summary_only=True``. :func:`study_from_csv_row` turns a row into the API v2 dictionary that
:func:`trialscope.ctgov.parse.parse_study` reads, like every other shape; the classic export's
outcomes, which it does not sort into primary and secondary, go under the one key TrialScope
adds to that dictionary, ``outcomesModule.unspecifiedOutcomes``. Places come joined as
``Facility, City, State, Zip, Country`` with the empty parts left out, which
:func:`split_place` takes apart from the right.

>>> rows = ["NCT Number,Study Title,Phases", "NCT00000102,A study,PHASE1|PHASE2"]
>>> [t.design.phases for t in iter_csv_trials(rows)]
[('PHASE1', 'PHASE2')]
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import Any

from trialscope import vocab
from trialscope.ctgov.parse import parse_converted
from trialscope.ctgov.translate import compact, date, design_info, to_int
from trialscope.errors import NotAStudyError, ParseError
from trialscope.model import Trial

NEW_SITE = "ctg-studies"
CLASSIC_SITE = "search-results"

# Column names of each layout, by the meaning this module gives them: the ones both layouts
# share, then each layout's own.
_BOTH_LAYOUTS = {
    "nct_id": "NCT Number",
    "acronym": "Acronym",
    "results": "Study Results",
    "conditions": "Conditions",
    "interventions": "Interventions",
    "age": "Age",
    "phases": "Phases",
    "enrollment": "Enrollment",
    "study_type": "Study Type",
    "other_ids": "Other IDs",
    "start": "Start Date",
    "primary_completion": "Primary Completion Date",
    "completion": "Completion Date",
    "first_posted": "First Posted",
    "results_first_posted": "Results First Posted",
    "last_update_posted": "Last Update Posted",
    "locations": "Locations",
}
COLUMNS: dict[str, dict[str, str]] = {
    NEW_SITE: {
        **_BOTH_LAYOUTS,
        "title": "Study Title",
        "status": "Study Status",
        "summary": "Brief Summary",
        "primary_outcomes": "Primary Outcome Measures",
        "secondary_outcomes": "Secondary Outcome Measures",
        "other_outcomes": "Other Outcome Measures",
        "sponsor": "Sponsor",
        "collaborators": "Collaborators",
        "sex": "Sex",
        "funder_type": "Funder Type",
        "design": "Study Design",
    },
    CLASSIC_SITE: {
        **_BOTH_LAYOUTS,
        "title": "Title",
        "status": "Status",
        "outcomes": "Outcome Measures",
        "sponsors": "Sponsor/Collaborators",
        "sex": "Gender",
        "funder_type": "Funded Bys",
        "design": "Study Designs",
    },
}

# The new site's export writes some design values cut short ("Time Perspective: p"); only these count.
_KNOWN_DESIGN_VALUES = {
    "observationalModel": frozenset(
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
    "timePerspective": frozenset({"RETROSPECTIVE", "PROSPECTIVE", "CROSS_SECTIONAL", "OTHER"}),
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


def iter_csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, str, dict[str, Any]] | ParseError]:
    """``(row number, layout, row)`` for each row of a CSV export read as text lines.

    Row numbers count the header as row 1. A row the csv module cannot read ends the file with
    its ParseError. Raises NotAStudyError (before the first row) for a CSV that is no
    ClinicalTrials.gov export.
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
        yield number, layout, row


def iter_csv_trials(lines: Iterable[str]) -> Iterator[Trial | ParseError]:
    """Trials from a CSV export read as text lines, one per row; a bad row yields its ParseError.

    Row numbers in messages count the header as row 1. Raises NotAStudyError (before the first
    row) for a CSV that is no ClinicalTrials.gov export.
    """
    for item in iter_csv_rows(lines):
        if isinstance(item, ParseError):
            yield item
            continue
        number, layout, row = item
        try:
            yield parse_csv_row(row, layout)
        except ParseError as exc:
            yield type(exc)(f"row {number}: {exc}")


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    for index, line in enumerate(lines):
        yield line.lstrip("\ufeff") if index == 0 and isinstance(line, str) else line


def parse_csv_row(row: Mapping[str, str | None], layout: str = NEW_SITE) -> Trial:
    """One CSV row (as csv.DictReader gives it) of the given layout -> a summary-only Trial."""
    return parse_converted(row, partial(study_from_csv_row, layout=layout), "csv", summary_only=True)


# API v2's date structs, by the meaning of the column that holds their date.
_DATES = {
    "startDateStruct": "start",
    "primaryCompletionDateStruct": "primary_completion",
    "completionDateStruct": "completion",
    "studyFirstPostDateStruct": "first_posted",
    "resultsFirstPostDateStruct": "results_first_posted",
    "lastUpdatePostDateStruct": "last_update_posted",
}


def study_from_csv_row(row: Mapping[str, Any], layout: str = NEW_SITE) -> dict[str, Any]:
    """One CSV row of the given layout as the API v2 study dictionary."""
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

    other_ids = listed("other_ids")
    minimum, maximum, std_ages = parse_age(cell("age"))
    if not std_ages and (minimum or maximum):
        std_ages = vocab.derive_std_ages(vocab.age_to_days(minimum), vocab.age_to_days(maximum))
    identification = {
        "nctId": cell("nct_id"),
        "briefTitle": cell("title"),
        "acronym": cell("acronym"),
        "orgStudyIdInfo": {"id": other_ids[0]} if other_ids else None,
        "secondaryIdInfos": [{"id": i} for i in other_ids[1:]],
    }
    status = {key: {"date": date(text)} for key, column in _DATES.items() if (text := cell(column))}
    protocol = {
        "identificationModule": compact(identification),
        "statusModule": compact({"overallStatus": vocab.to_enum("status", cell("status")), **status}),
        "sponsorCollaboratorsModule": _sponsors(layout, cell, listed),
        "descriptionModule": compact({"briefSummary": cell("summary")}),
        "conditionsModule": {"conditions": listed("conditions")},
        "designModule": _design(cell("design"), listed("phases"), cell("study_type"), cell("enrollment")),
        "armsInterventionsModule": {
            "interventions": [parse_intervention(x) for x in listed("interventions")]
        },
        "outcomesModule": _outcomes(layout, listed),
        "eligibilityModule": compact(
            {
                "sex": vocab.to_enum("sex", cell("sex")),
                "minimumAge": minimum,
                "maximumAge": maximum,
                "stdAges": list(std_ages),
            }
        ),
        "contactsLocationsModule": {"locations": [split_place(p) for p in listed("locations")]},
    }
    has_results = (cell("results") or "").upper() in _HAS_RESULTS or cell("results_first_posted") is not None
    return {"protocolSection": protocol, "hasResults": has_results}


def _sponsors(layout: str, cell: _Cell, listed: _Listed) -> dict[str, Any]:
    """The lead sponsor (with its class) and the collaborators.

    The new site's "Funder Type" is the lead sponsor's class. The classic "Sponsor/Collaborators"
    lists the lead first and "Funded Bys" its class first, then other classes once each, so
    the classes of collaborators cannot be told apart and are left out.
    """
    classes = [vocab.to_enum("sponsor_class", c) for c in listed("funder_type")]
    if layout == NEW_SITE:
        lead_name, collaborators = cell("sponsor"), listed("collaborators")
    else:
        everyone = listed("sponsors")
        lead_name, collaborators = (everyone[0] if everyone else None), everyone[1:]
    lead = compact({"name": lead_name, "class": classes[0] if classes else None}) if lead_name else None
    return compact({"leadSponsor": lead, "collaborators": [{"name": name} for name in collaborators]})


def parse_intervention(text: str) -> dict[str, str]:
    """``"DRUG: Aspirin"`` or ``"Drug: Aspirin"`` -> ``{"name": "Aspirin", "type": "DRUG"}``."""
    kind, sep, name = text.partition(":")
    if sep and name.strip() and re.fullmatch(r"[A-Za-z_ /-]{2,40}", kind.strip()):
        return compact({"name": name.strip(), "type": vocab.to_enum("intervention_type", kind)})
    return {"name": text.strip()}


def _design(
    text: str | None, phases: list[str], study_type: str | None, enrollment: str | None
) -> dict[str, Any]:
    info = design_info(vocab.design_words((text or "").split("|")))
    for key, known in _KNOWN_DESIGN_VALUES.items():
        if info.get(key) not in known:
            info.pop(key, None)
    return compact(
        {
            "studyType": vocab.to_enum("study_type", study_type),
            "phases": list(vocab.phases_from_words(phases)),
            "designInfo": info,
            "enrollmentInfo": compact({"count": to_int(enrollment)}),
        }
    )


def _outcomes(layout: str, listed: _Listed) -> dict[str, list[dict[str, str]]]:
    if layout == CLASSIC_SITE:
        # The classic export lists the titles of all outcomes together, primary or not.
        return {"unspecifiedOutcomes": [{"measure": title} for title in listed("outcomes")]}
    return {
        f"{kind}Outcomes": [split_outcome(text) for text in listed(f"{kind}_outcomes")]
        for kind in ("primary", "secondary", "other")
    }


_SENTENCE_END = re.compile(r"[.?!][\"')\]]*\s*$")


def split_outcome(text: str) -> dict[str, str]:
    """``"Measure, Description, Time frame"`` (joined with ", " by the export) -> an API v2 outcome.

    The parts may hold commas themselves, so the cut is a best guess: the measure is the first
    part; the time frame starts at a part that begins with a capital or a digit (not at a
    continuation like ", and week 40"): the first such part after the last full stop of the
    description, or without a full stop the last such part, or else the last part.

    >>> split_outcome("IIEF, Change in score. Higher is better., Baseline, week 12")["timeFrame"]
    'Baseline, week 12'
    """
    parts = text.split(", ")
    if len(parts) == 1:
        return {"measure": text.strip()}
    if len(parts) == 2:
        return {"measure": parts[0].strip(), "timeFrame": parts[1].strip()}
    stops = [i for i in range(1, len(parts) - 1) if _SENTENCE_END.search(parts[i])]
    starts = [i for i in range(2, len(parts)) if parts[i][:1].isupper() or parts[i][:1].isdigit()]
    if stops:
        cut = next((i for i in starts if i > stops[-1]), stops[-1] + 1)
    else:
        cut = starts[-1] if starts else len(parts) - 1
    return compact(
        {
            "measure": parts[0].strip(),
            "description": ", ".join(parts[1:cut]).strip() or None,
            "timeFrame": ", ".join(parts[cut:]).strip() or None,
        }
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
        minimum = vocab.age_bound(match.group("low") or match.group("min"))
        maximum = vocab.age_bound(match.group("high") or match.group("max"))
        groups = match.group("groups") or ""
    else:
        minimum = maximum = None
        groups = clean
    std_ages = tuple(
        a for a in (vocab.to_enum("std_age", g) for g in groups.split(",")) if a in vocab.STD_AGES
    )
    return minimum, maximum, std_ages


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


def split_place(text: str) -> dict[str, str]:
    """``"Facility, City, State, Zip, Country"`` (empty parts left out) -> an API v2 location, read from the right.

    The country is last; a part with digits before it is the postal code; in the United States
    a known state name is the state. Elsewhere, of three or more parts left, the last is the
    state and the one before the city; of two, facility and city; of one, the city. A facility
    may hold commas itself: whatever is left on the left is the facility.
    """
    parts = [p.strip() for p in text.split(", ")]
    parts = [p for p in parts if p]
    if not parts:
        return {}
    country = parts.pop()
    postal = parts.pop() if parts and _POSTAL.match(parts[-1]) else None
    state = None
    if country == "United States":
        if parts and parts[-1] in US_STATES:
            state = parts.pop()
    elif len(parts) >= 3:
        state = parts.pop()
    city = parts.pop() if parts else None
    return compact(
        {
            "facility": ", ".join(parts) or None,
            "city": city,
            "state": state,
            "zip": postal,
            "country": country,
        }
    )
