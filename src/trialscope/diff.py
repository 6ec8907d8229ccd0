"""What changed between two versions of a record: field by field in plain words, and the JSON paths.

Two versions are compared twice over, from their raw records (so a parser fix re-diffs without
refetching):

- **in words**, from the two parsed trials, through one table of fields (:data:`FIELDS`): each
  says how to show a field's value and how a change reads ("Recruitment status: Recruiting →
  Completed", "Enrollment: 40 → 7 (actual)", "Sites: 3 added (…), 1 removed (…)");
- **as JSON paths**, from the two raw records themselves, when both are JSON
  (``protocolSection.statusModule.overallStatus``); each field lists the paths behind it, and
  paths no field covers are named under "Other fields", so no change is silently left out.

Versions read from two different shapes (legacy XML then API v2, say) are compared on the
fields both give: a field one shape does not carry is not reported as added or removed.

>>> from trialscope.model import Trial
>>> old = Trial(nct_id="NCT00000001", overall_status="RECRUITING", conditions=("Lupus",))
>>> new = Trial(nct_id="NCT00000001", overall_status="COMPLETED", conditions=("Lupus", "SLE"))
>>> [c.line for c in field_changes(old, new)]
['Recruitment status: Recruiting → Completed', 'Conditions: 1 added (SLE)']
>>> [(p.path, p.change) for p in json_paths({"a": {"b": 1, "c": [1, 2]}}, {"a": {"b": 2, "c": [1, 2, 3]}})]
[('a.b', 'changed'), ('a.c[2]', 'added')]
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import orjson

from trialscope.model import DateStruct, Site, Trial
from trialscope.render.words import words_for

MAX_NAMED = 5  # items named in "3 added (a; b; c)" before the rest is counted
MAX_PATHS = 1000  # JSON paths kept per pair of versions
ARROW = "→"


class PathChange(msgspec.Struct, frozen=True):
    """A place in the raw record that differs: ``added``, ``removed`` or ``changed``."""

    path: str
    change: Literal["added", "removed", "changed"]


class FieldChange(msgspec.Struct, frozen=True):
    """One field that changed, in words; ``paths`` are the raw record's JSON paths behind it."""

    field: str
    label: str
    text: str
    paths: list[str] = []

    @property
    def line(self) -> str:
        return f"{self.label}: {self.text}"


@dataclass(frozen=True, slots=True)
class Field:
    """A field of the table: how its value shows, and how a change of it reads.

    ``show`` gives the value in words (a list of lines for the side-by-side view); ``change``
    gives the words of a change, or None when there is none; ``paths`` are the raw JSON
    paths (API v2) the field is read from.
    """

    name: str
    label: str
    show: Callable[[Trial], list[str]]
    change: Callable[[Trial, Trial, bool], str | None]
    paths: tuple[str, ...] = ()


# --- values in words -------------------------------------------------------------------


def _date(d: DateStruct | None) -> str:
    if d is None or not d.date:
        return ""
    return f"{d.date} ({d.type.lower()})" if d.type else d.date


def _enrollment(t: Trial) -> str:
    count = t.design.enrollment_count
    if count is None:
        return ""
    kind = t.design.enrollment_type
    return f"{count:,} ({kind.lower()})" if kind else f"{count:,}"


def _site(s: Site) -> str:
    place = ", ".join(p for p in (s.city, s.state, s.country) if p)
    name = s.facility or "(no name)"
    return f"{name}, {place}" if place else name


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "Yes" if value else "No"


def _lines(text: str | None) -> list[str]:
    return [line.rstrip() for line in (text or "").splitlines() if line.strip()]


def _one(text: str) -> list[str]:
    return [text] if text else []


# --- how a change reads ------------------------------------------------------------------


def _some(items: Sequence[str]) -> str:
    shown = "; ".join(items[:MAX_NAMED])
    return shown + (f"; and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def _scalar(get: Callable[[Trial], str]) -> Callable[[Trial, Trial, bool], str | None]:
    def change(old: Trial, new: Trial, partial: bool) -> str | None:
        before, after = get(old), get(new)
        if before == after or (partial and not (before and after)):
            return None
        return f"{before or '(none)'} {ARROW} {after or '(none)'}"

    return change


def _listed(
    get: Callable[[Trial], Sequence[str]], status: Callable[[Trial], dict[str, str]] | None = None
) -> Callable[[Trial, Trial, bool], str | None]:
    """Items added and removed (by their words); with ``status``, items whose status changed."""

    def change(old: Trial, new: Trial, partial: bool) -> str | None:
        before, after = list(dict.fromkeys(get(old))), list(dict.fromkeys(get(new)))
        if partial and not (before and after):
            return None
        kept = set(before)
        added = [x for x in after if x not in kept]
        gone = set(after)
        removed = [x for x in before if x not in gone]
        parts = []
        if added:
            parts.append(f"{len(added)} added ({_some(added)})")
        if removed:
            parts.append(f"{len(removed)} removed ({_some(removed)})")
        if status is not None:
            was, now = status(old), status(new)
            moved = [
                f"{name}: {was[name] or '(none)'} {ARROW} {now[name] or '(none)'}"
                for name in now
                if name in was and was[name] != now[name] and not (partial and not (was[name] and now[name]))
            ]
            if moved:
                parts.append(f"{len(moved)} changed status ({_some(moved)})")
        return ", ".join(parts) or None

    return change


def _described(
    get: Callable[[Trial], Sequence[tuple[str, str]]],
) -> Callable[[Trial, Trial, bool], str | None]:
    """Named items (name, details): added, removed, and those whose details changed."""
    listed = _listed(lambda t: [name for name, _ in get(t)])

    def change(old: Trial, new: Trial, partial: bool) -> str | None:
        words = listed(old, new, partial)
        was = dict(get(old))
        edited = [name for name, details in get(new) if name in was and was[name] != details]
        if edited:
            more = f"{len(edited)} changed ({_some(edited)})"
            words = f"{words}, {more}" if words else more
        return words

    return change


def _text(get: Callable[[Trial], str | None]) -> Callable[[Trial, Trial, bool], str | None]:
    def change(old: Trial, new: Trial, partial: bool) -> str | None:
        before, after = (get(old) or "").strip(), (get(new) or "").strip()
        if " ".join(before.split()) == " ".join(after.split()):
            return None
        if not before:
            return None if partial else "added"
        if not after:
            return None if partial else "removed"
        was, now = _lines(before), _lines(after)
        added = len([x for x in now if x not in set(was)])
        removed = len([x for x in was if x not in set(now)])
        if added or removed:
            return f"changed ({added} {'line' if added == 1 else 'lines'} added, {removed} removed)"
        return "changed (the same lines, reworded or reordered)"

    return change


def _enrollment_change(old: Trial, new: Trial, partial: bool) -> str | None:
    a, b = old.design, new.design
    if (a.enrollment_count, a.enrollment_type) == (b.enrollment_count, b.enrollment_type):
        return None
    if partial and (a.enrollment_count is None or b.enrollment_count is None):
        return None
    before = f"{a.enrollment_count:,}" if a.enrollment_count is not None else "(none)"
    if a.enrollment_type and a.enrollment_type != b.enrollment_type:
        before += f" ({a.enrollment_type.lower()})"
    return f"{before} {ARROW} {_enrollment(new) or '(none)'}"


def _results_change(old: Trial, new: Trial, partial: bool) -> str | None:
    if new.has_results and not old.has_results:
        posted = _date(new.results_first_post_date)
        return f"first posted {posted}" if posted else "first posted"
    if old.has_results and not new.has_results:
        return None if partial else "no longer posted"
    if old.has_results and old.results is not None and new.results is not None and old.results != new.results:
        return "updated"
    return None


def _site_status(t: Trial) -> dict[str, str]:
    return {_site(s): words_for("site_status", s.status) for s in t.locations}


def _word(vocabulary: str, get: Callable[[Trial], str | None]) -> Callable[[Trial], str]:
    return lambda t: words_for(vocabulary, get(t))


def _intervention(t: Trial) -> list[tuple[str, str]]:
    out = []
    for i in t.interventions:
        kind = words_for("intervention_type", i.type)
        out.append((f"{i.name} ({kind})" if kind else i.name, " ".join((i.description or "").split())))
    return out


def _arms(t: Trial) -> list[tuple[str, str]]:
    return [
        (a.label, f"{a.type}|{' '.join((a.description or '').split())}|{a.intervention_names}")
        for a in t.arms
    ]


def _outcomes(kind: str) -> Callable[[Trial], list[tuple[str, str]]]:
    return lambda t: [
        (o.measure, f"{o.time_frame}|{' '.join((o.description or '').split())}")
        for o in t.outcomes
        if o.kind == kind
    ]


def _shown(get: Callable[[Trial], Sequence[tuple[str, str]]]) -> Callable[[Trial], list[str]]:
    return lambda t: [name for name, _ in get(t)]


_STATUS = "protocolSection.statusModule"
_IDENT = "protocolSection.identificationModule"
_DESIGN = "protocolSection.designModule"
_ELIG = "protocolSection.eligibilityModule"
_ARMS = "protocolSection.armsInterventionsModule"
_PEOPLE = "protocolSection.contactsLocationsModule"
_SPONSORS = "protocolSection.sponsorCollaboratorsModule"


def _scalar_field(name: str, label: str, get: Callable[[Trial], str], *paths: str) -> Field:
    return Field(name, label, lambda t: _one(get(t)), _scalar(get), paths)


FIELDS: tuple[Field, ...] = (
    _scalar_field("brief_title", "Title", lambda t: t.brief_title or "", f"{_IDENT}.briefTitle"),
    _scalar_field("official_title", "Official title", lambda t: t.official_title or "", f"{_IDENT}.officialTitle"),
    _scalar_field("acronym", "Acronym", lambda t: t.acronym or "", f"{_IDENT}.acronym"),
    _scalar_field("overall_status", "Recruitment status", _word("status", lambda t: t.overall_status),
                  f"{_STATUS}.overallStatus"),
    _scalar_field("why_stopped", "Why stopped", lambda t: t.why_stopped or "", f"{_STATUS}.whyStopped"),
    _scalar_field("phases", "Phase", _word("phase", lambda t: t.phase_label), f"{_DESIGN}.phases"),
    _scalar_field("study_type", "Study type", _word("study_type", lambda t: t.design.study_type),
                  f"{_DESIGN}.studyType"),
    Field("enrollment", "Enrollment", lambda t: _one(_enrollment(t)), _enrollment_change,
          (f"{_DESIGN}.enrollmentInfo",)),
    _scalar_field("start_date", "Start date", lambda t: _date(t.start_date), f"{_STATUS}.startDateStruct"),
    _scalar_field("primary_completion_date", "Primary completion", lambda t: _date(t.primary_completion_date),
                  f"{_STATUS}.primaryCompletionDateStruct"),
    _scalar_field("completion_date", "Completion date", lambda t: _date(t.completion_date),
                  f"{_STATUS}.completionDateStruct"),
    Field("results", "Results",
          lambda t: _one(f"posted {_date(t.results_first_post_date)}".strip() if t.has_results else "not posted"),
          _results_change, ("resultsSection", "hasResults", f"{_STATUS}.resultsFirstSubmitDate",
                            f"{_STATUS}.resultsFirstSubmitQcDate", f"{_STATUS}.resultsFirstPostDateStruct")),
    Field("conditions", "Conditions", lambda t: list(t.conditions), _listed(lambda t: t.conditions),
          ("protocolSection.conditionsModule.conditions",)),
    Field("keywords", "Keywords", lambda t: list(t.keywords), _listed(lambda t: t.keywords),
          ("protocolSection.conditionsModule.keywords",)),
    Field("interventions", "Interventions", _shown(_intervention), _described(_intervention),
          (f"{_ARMS}.interventions",)),
    Field("arms", "Study groups", lambda t: [a.label for a in t.arms], _described(_arms), (f"{_ARMS}.armGroups",)),
    Field("primary_outcomes", "Primary outcomes", _shown(_outcomes("primary")), _described(_outcomes("primary")),
          ("protocolSection.outcomesModule.primaryOutcomes",)),
    Field("secondary_outcomes", "Secondary outcomes", _shown(_outcomes("secondary")),
          _described(_outcomes("secondary")), ("protocolSection.outcomesModule.secondaryOutcomes",)),
    Field("eligibility", "Eligibility criteria", lambda t: _lines(t.eligibility.criteria),
          _text(lambda t: t.eligibility.criteria), (f"{_ELIG}.eligibilityCriteria",)),
    _scalar_field("minimum_age", "Minimum age", lambda t: t.eligibility.minimum_age or "", f"{_ELIG}.minimumAge"),
    _scalar_field("maximum_age", "Maximum age", lambda t: t.eligibility.maximum_age or "", f"{_ELIG}.maximumAge"),
    _scalar_field("sex", "Sex", _word("sex", lambda t: t.eligibility.sex), f"{_ELIG}.sex"),
    _scalar_field("healthy_volunteers", "Healthy volunteers", lambda t: _yes_no(t.eligibility.healthy_volunteers),
                  f"{_ELIG}.healthyVolunteers"),
    _scalar_field("allocation", "Allocation", _word("allocation", lambda t: t.design.allocation),
                  f"{_DESIGN}.designInfo.allocation"),
    _scalar_field("intervention_model", "Intervention model",
                  _word("intervention_model", lambda t: t.design.intervention_model),
                  f"{_DESIGN}.designInfo.interventionModel"),
    _scalar_field("primary_purpose", "Primary purpose", _word("primary_purpose", lambda t: t.design.primary_purpose),
                  f"{_DESIGN}.designInfo.primaryPurpose"),
    _scalar_field("masking", "Masking", _word("masking", lambda t: t.design.masking),
                  f"{_DESIGN}.designInfo.maskingInfo"),
    _scalar_field("lead_sponsor", "Lead sponsor", lambda t: t.lead_sponsor.name if t.lead_sponsor else "",
                  f"{_SPONSORS}.leadSponsor"),
    Field("collaborators", "Collaborators", lambda t: [c.name for c in t.collaborators],
          _listed(lambda t: [c.name for c in t.collaborators]), (f"{_SPONSORS}.collaborators",)),
    Field("officials", "Investigators", lambda t: [o.name for o in t.officials],
          _listed(lambda t: [o.name for o in t.officials]), (f"{_PEOPLE}.overallOfficials",)),
    Field("contacts", "Contacts", lambda t: [c.name or c.email or "" for c in t.central_contacts],
          _listed(lambda t: [c.name or c.email or "" for c in t.central_contacts]), (f"{_PEOPLE}.centralContacts",)),
    Field("sites", "Sites", lambda t: [_site(s) for s in t.locations],
          _listed(lambda t: [_site(s) for s in t.locations], _site_status), (f"{_PEOPLE}.locations",)),
    Field("brief_summary", "Brief summary", lambda t: _lines(t.brief_summary), _text(lambda t: t.brief_summary),
          ("protocolSection.descriptionModule.briefSummary",)),
    Field("detailed_description", "Detailed description", lambda t: _lines(t.detailed_description),
          _text(lambda t: t.detailed_description), ("protocolSection.descriptionModule.detailedDescription",)),
    Field("references", "References", lambda t: [r.citation or r.pmid or "" for r in t.references],
          _listed(lambda t: [r.pmid or (r.citation or "")[:80] for r in t.references]),
          ("protocolSection.referencesModule",)),
    Field("identifiers", "Other identifiers", lambda t: [i.id for i in t.secondary_ids],
          _listed(lambda t: [i.id for i in t.secondary_ids]), (f"{_IDENT}.secondaryIdInfos",)),
)  # fmt: skip
FIELD_NAMES = tuple(f.name for f in FIELDS)

# Paths every new version changes (or that the registry derives): listed with the JSON paths,
# never reported as "Other fields".
BOOKKEEPING = (
    f"{_STATUS}.lastUpdatePostDateStruct",
    f"{_STATUS}.lastUpdateSubmitDate",
    f"{_STATUS}.statusVerifiedDate",
    "derivedSection",
)


# --- comparing -------------------------------------------------------------------------


def _under(path: str, prefix: str) -> bool:
    return path == prefix or (path.startswith(prefix) and path[len(prefix)] in ".[")


def field_changes(
    old: Trial, new: Trial, paths: Sequence[PathChange] = (), *, partial: bool = False
) -> list[FieldChange]:
    """Each field that differs between two parsed versions, in the table's order.

    ``paths`` (from :func:`json_paths`) are shared out to the fields they fall under; those
    under no field (bookkeeping dates aside) make one "Other fields" change. ``partial``
    compares only the fields both versions give (versions of two different shapes).
    """
    out = []
    claimed: set[str] = set()
    for spec in FIELDS:
        words = spec.change(old, new, partial)
        mine = [p.path for p in paths if any(_under(p.path, prefix) for prefix in spec.paths)]
        claimed.update(mine)
        if words is not None:
            out.append(FieldChange(spec.name, spec.label, words, mine))
    rest = [
        p.path
        for p in paths
        if p.path not in claimed and not any(_under(p.path, prefix) for prefix in BOOKKEEPING)
    ]
    if rest:
        shown = list(dict.fromkeys(_short(p) for p in rest))
        out.append(FieldChange("other", "Other fields", _some(shown), rest))
    return out


def _short(path: str) -> str:
    """A raw path without its section and list positions: ``oversightModule.isFdaRegulatedDrug``."""
    parts = [p.split("[")[0] for p in path.split(".")]
    if parts and parts[0] == "protocolSection":
        parts = parts[1:]
    return ".".join(parts[:2])


def _key(item: Any) -> bytes:
    return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)


def json_paths(old: Any, new: Any, path: str = "") -> list[PathChange]:
    """Every place two JSON values differ, as paths (``a.b[2].c``); at most :data:`MAX_PATHS`.

    Lists are aligned item by item (as a text diff aligns lines): a site added first does not
    move every site after it; an item changed where it stands is compared inside; removed
    items are named by their old position, added ones by their new.
    """
    out: list[PathChange] = []
    for change in _walk(old, new, path):
        out.append(change)
        if len(out) >= MAX_PATHS:
            break
    return out


def _walk(old: Any, new: Any, path: str) -> Iterator[PathChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in (*old, *(k for k in new if k not in old)):
            where = f"{path}.{key}" if path else str(key)
            if key not in new:
                yield PathChange(where, "removed")
            elif key not in old:
                yield PathChange(where, "added")
            else:
                yield from _walk(old[key], new[key], where)
    elif isinstance(old, list) and isinstance(new, list):
        if old == new:
            return
        matcher = difflib.SequenceMatcher(a=[_key(x) for x in old], b=[_key(x) for x in new], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
            for k in range(paired):  # an item changed where it stands: compared inside
                yield from _walk(old[i1 + k], new[j1 + k], f"{path}[{j1 + k}]")
            for i in range(i1 + paired, i2):
                yield PathChange(f"{path}[{i}]", "removed")
            for j in range(j1 + paired, j2):
                yield PathChange(f"{path}[{j}]", "added")
    elif old != new or type(old) is not type(new):
        yield PathChange(path, "changed")


# --- side by side ----------------------------------------------------------------------


class SideLine(msgspec.Struct, frozen=True):
    """A line of one side of a field: ``mark`` is "" (the same on both sides), "removed" (left
    only) or "added" (right only)."""

    text: str
    mark: str = ""


class SideBySide(msgspec.Struct, frozen=True):
    """A field of two versions side by side, line by line."""

    field: str
    label: str
    changed: bool
    before: list[SideLine]
    after: list[SideLine]


def side_by_side(old: Trial, new: Trial, *, partial: bool = False) -> list[SideBySide]:
    """Every field either version gives, both values in words, the lines that differ marked."""
    out = []
    for spec in FIELDS:
        before, after = spec.show(old), spec.show(new)
        if not before and not after:
            continue
        left: list[SideLine] = []
        right: list[SideLine] = []
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            same = tag == "equal"
            left.extend(SideLine(x, "" if same else "removed") for x in before[i1:i2])
            right.extend(SideLine(x, "" if same else "added") for x in after[j1:j2])
        changed = spec.change(old, new, partial) is not None
        out.append(SideBySide(spec.name, spec.label, changed, left, right))
    return out
