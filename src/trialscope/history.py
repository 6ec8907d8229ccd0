"""The history of a record: every version the store kept, and what changed from each to the next.

The store keeps every distinct raw version of a record it has seen (a file, the bulk zip, a
sync, the registry's own history: ``trial_versions``). Here each is parsed again and compared
with the one before (:mod:`trialscope.diff`), so the words of a change always come from the
current parser.

    history = record_history(store, "NCT04184258")
    for version in history.versions:
        print(version.last_update, [c.line for c in version.changes])
    compare_versions(store, "NCT04184258", 1, 3)      # two versions, field by field, side by side

Versions are ordered as the registry dated them (last-update date, then the registry's own
version number, then when they were seen). Two versions of one registry date read from two
shapes (an XML file and an API v2 page) are compared on the fields both give, with a note.
"""

from __future__ import annotations

import msgspec
import orjson

from trialscope.ctgov.sources import SourceRecord, parse_source_record
from trialscope.diff import FieldChange, PathChange, SideBySide, field_changes, json_paths, side_by_side
from trialscope.errors import ParseError, TrialNotFoundError, TrialScopeError
from trialscope.model import Trial
from trialscope.store import Store
from trialscope.store.records import KeptVersion, Version

FORMAT_WORDS = {
    "v2": "API v2 JSON",
    "v1": "classic v1 JSON",
    "v1-fields": "classic v1 StudyFields",
    "xml": "legacy XML",
    "csv": "a CSV export",
}
ORIGIN_WORDS = {
    "file": "a file",
    "bulk": "the registry's bulk download",
    "sync": "a sync",
    "history": "the registry's own history",
}


class VersionEntry(KeptVersion, frozen=True):
    """One kept version and what changed since the version before it (nothing for the first).

    ``number`` counts the kept versions from 1 (oldest); ``registry_version`` is the
    registry's own number where known; ``origin`` says how it came: file, bulk, sync or history.
    """

    source_format: str
    status: str | None
    changes: list[FieldChange]
    paths: list[PathChange]
    note: str | None = None

    @property
    def summary(self) -> str:
        """The change in one line: its fields' words, or what the note says."""
        if self.changes:
            return "; ".join(c.line for c in self.changes)
        return self.note or "No field shown here changed."


class RecordHistory(msgspec.Struct, frozen=True):
    """Every kept version of a record, oldest first; ``removed_at`` when the registry dropped it."""

    nct_id: str
    title: str
    removed_at: str | None
    versions: list[VersionEntry]

    @property
    def latest(self) -> VersionEntry | None:
        """The newest version that changed something (None when only one version is kept)."""
        return next((v for v in reversed(self.versions) if v.number > 1), None)


class VersionPair(msgspec.Struct, frozen=True):
    """Two versions of a record compared: what changed, and every field side by side."""

    nct_id: str
    before: VersionEntry
    after: VersionEntry
    changes: list[FieldChange]
    paths: list[PathChange]
    fields: list[SideBySide]
    note: str | None = None


def parse_version(raw: bytes, source: str | None = None) -> Trial:
    """A kept raw record parsed again, whatever its shape (API v2 or v1 JSON, XML, a CSV row).

    >>> parse_version(b'{"protocolSection": {"identificationModule": {"nctId": "NCT00000102"}}}').nct_id
    'NCT00000102'
    """
    body = raw.removeprefix(b"\xef\xbb\xbf").lstrip()
    where = source or "a kept version"
    if body.startswith(b"<"):
        return parse_source_record(SourceRecord(where, "xml", None, raw))
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"a kept version cannot be read again: {exc}") from None
    if isinstance(obj, dict) and "csv_row" in obj and "layout" in obj:
        payload = {"layout": obj["layout"], "row": obj["row"]}
        return parse_source_record(SourceRecord(where, "csv", payload, raw))
    return parse_source_record(SourceRecord(where, "json", None, body))


def _json(raw: bytes) -> object | None:
    body = raw.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not body.startswith((b"{", b"[")):
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


class _Parsed:
    """A kept version with its trial parsed (None when it no longer parses) and its JSON."""

    def __init__(self, version: Version) -> None:
        self.version = version
        try:
            self.trial: Trial | None = parse_version(version.raw, version.source)
        except ParseError:
            self.trial = None
        self.json = _json(version.raw)

    @property
    def shape(self) -> str:
        if self.trial is None:
            return "unreadable"
        return self.trial.source_format


def compare(old: _Parsed, new: _Parsed) -> tuple[list[FieldChange], list[PathChange], str | None, bool]:
    """(changes, JSON paths, note, partial) from one kept version to another."""
    if old.trial is None or new.trial is None:
        return [], [], "One of the two versions can no longer be read; nothing is compared.", False
    partial = old.shape != new.shape or old.trial.summary_only or new.trial.summary_only
    paths = (
        json_paths(old.json, new.json)
        if old.json is not None and new.json is not None and not partial
        else []
    )
    changes = field_changes(old.trial, new.trial, paths, partial=partial)
    note = None
    if partial:
        note = (
            f"Compared across formats ({FORMAT_WORDS.get(old.shape, old.shape)} → "
            f"{FORMAT_WORDS.get(new.shape, new.shape)}): only the fields both give."
        )
    if not changes and not paths and note is None:
        note = "No field changed (the record was posted again as it was)."
    return changes, paths, note, partial


def _entry(parsed: _Parsed, previous: _Parsed | None) -> VersionEntry:
    v = parsed.version
    if previous is None:
        changes: list[FieldChange] = []
        paths: list[PathChange] = []
        note: str | None = "The first version kept."
    else:
        changes, paths, note, _ = compare(previous, parsed)
    return VersionEntry(
        number=v.number,
        hash=v.hash,
        last_update=v.last_update,
        seen_at=v.seen_at,
        origin=v.origin,
        source=v.source,
        registry_version=v.registry_version,
        source_format=parsed.shape,
        status=parsed.trial.overall_status if parsed.trial else None,
        changes=changes,
        paths=paths,
        note=note,
    )


def _parsed_versions(store: Store, nct_id: str) -> list[_Parsed]:
    """Every kept version parsed; none for a trial stored before versions were kept (a store
    upgraded from schema 1); TrialNotFoundError when there is no such trial at all."""
    versions = store.versions(nct_id)
    if not versions and not store.has_trial(nct_id):
        raise TrialNotFoundError(nct_id)
    return [_Parsed(v) for v in versions]


def record_history(store: Store, nct_id: str) -> RecordHistory:
    """Every kept version of a record, each with what changed since the one before."""
    nct_id = nct_id.strip().upper()
    parsed = _parsed_versions(store, nct_id)
    entries = [_entry(p, parsed[i - 1] if i else None) for i, p in enumerate(parsed)]
    newest = next((p.trial for p in reversed(parsed) if p.trial is not None), None)
    if newest is None and store.has_trial(nct_id):
        newest = store.get_trial(nct_id)
    title = newest.title if newest is not None else nct_id
    return RecordHistory(nct_id, title, store.removed_at(nct_id), entries)


def compare_versions(store: Store, nct_id: str, first: int, second: int) -> VersionPair:
    """Two kept versions (numbered from 1, oldest first) compared field by field."""
    nct_id = nct_id.strip().upper()
    parsed = _parsed_versions(store, nct_id)
    for number in (first, second):
        if not 1 <= number <= len(parsed):
            raise TrialScopeError(
                f"{nct_id} has {len(parsed)} kept version{'s' if len(parsed) != 1 else ''}; "
                f"there is no version {number}."
            )
    old, new = parsed[first - 1], parsed[second - 1]
    changes, paths, note, partial = compare(old, new)
    fields = side_by_side(old.trial, new.trial, partial=partial) if old.trial and new.trial else []
    return VersionPair(
        nct_id,
        _entry(old, parsed[first - 2] if first > 1 else None),
        _entry(new, parsed[second - 2] if second > 1 else None),
        changes,
        paths,
        fields,
        note,
    )


def diff_raw(old_raw: bytes, new_raw: bytes) -> tuple[list[FieldChange], list[PathChange], str | None]:
    """What changed between two raw records of one trial (for callers holding the raw bytes)."""
    nct = "NCT00000000"
    old = _Parsed(Version(1, "", None, "", "", None, None, nct, old_raw))
    new = _Parsed(Version(2, "", None, "", "", None, None, nct, new_raw))
    changes, paths, note, _ = compare(old, new)
    return changes, paths, note


class LatestChange(msgspec.Struct, frozen=True):
    """How many versions of a record are kept, and the newest one with what it changed."""

    versions: int
    latest: VersionEntry | None


def latest_change(store: Store, nct_id: str) -> LatestChange:
    """The newest kept version compared with the one before it (the trial page's one line);
    only those two are parsed, however long the history."""
    versions = store.versions(nct_id)
    if len(versions) < 2:
        return LatestChange(len(versions), None)
    before, after = _Parsed(versions[-2]), _Parsed(versions[-1])
    return LatestChange(len(versions), _entry(after, before))


def _current(store: Store, versions: list[Version], nct_id: str) -> Version | None:
    rows = store.select("trials", ("content_hash",), where={"nct_id": nct_id})
    current = rows[0][0] if rows else None
    return next((v for v in versions if v.hash == current), versions[-1] if versions else None)


def changed_since(store: Store, nct_id: str, since: str) -> tuple[list[FieldChange], str | None]:
    """What changed in a record from the last version the registry dated before ``since`` to
    the current one: (changes, note). Among versions of that date the one of the current
    version's shape is compared, so a change of format is not taken for a change of content."""
    versions = store.versions(nct_id)
    current = _current(store, versions, nct_id)
    older = [v for v in versions if (v.last_update or "") < since and v is not current]
    if current is None or not older:
        return [], "No version from before then is kept, so what changed is not known."
    newest = older[-1].last_update
    candidates = [_Parsed(v) for v in older if v.last_update == newest]
    now = _Parsed(current)
    before = next((p for p in reversed(candidates) if p.shape == now.shape), candidates[-1])
    changes, _, note, _ = compare(before, now)
    return changes, note


def changed_from(store: Store, nct_id: str, content_hash: str) -> tuple[list[FieldChange], str | None]:
    """What changed in a record from the kept version with this content hash to the current one."""
    versions = store.versions(nct_id)
    current = _current(store, versions, nct_id)
    then = next((v for v in versions if v.hash == content_hash), None)
    if current is None or then is None:
        return [], "The version seen then is not kept, so what changed is not known."
    if then is current:
        return [], None
    changes, _, note, _ = compare(_Parsed(then), _Parsed(current))
    return changes, note
