"""What changed in the registry since a day: new trials, updated ones (with the fields that
changed), results first posted, and trials the registry removed.

    changes = changes_since(store, "2026-11-01")
    changes = changes_since(store, "2026-11-01", query=SearchQuery(conditions=("lupus",)))

Everything is judged by the registry's own dates, never by when TrialScope fetched a record:
a trial is *new* when the registry first posted it on or after the day, *updated* when its
last-update date is on or after it, *results* when its results were first posted then, and
*removed* when a sync found it no longer listed then. A history backfill that brings in last
year's versions today therefore changes nothing here. Each trial appears once, under the
first of removed, new, results, updated that applies; an update lists what changed from the
last version dated before the day to the current one.

A search (any :class:`~trialscope.search.SearchQuery`) narrows the list to the trials it
matches, removed ones included, so any search can be followed as a feed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Literal

import msgspec

from trialscope.diff import FieldChange
from trialscope.errors import QueryError
from trialscope.history import changed_since
from trialscope.search import SearchQuery, iter_all_hits
from trialscope.search.values import parse_iso_date
from trialscope.store import Store

Kind = Literal["removed", "new", "results", "updated"]
KINDS: tuple[Kind, ...] = ("new", "updated", "results", "removed")
KIND_WORDS = {
    "new": "New trial",
    "updated": "Updated",
    "results": "Results first posted",
    "removed": "Removed from the registry",
}
_AFTER_ALL = "~"  # sorts after every date


class ChangeEntry(msgspec.Struct, frozen=True):
    """One trial that changed: how, on which registry date, and the fields that changed."""

    kind: Kind
    nct_id: str
    title: str
    date: str
    status: str | None
    changes: list[FieldChange] = []
    note: str | None = None

    @property
    def summary(self) -> str:
        """What happened, in one line: the kind, then the changed fields or the note."""
        words = KIND_WORDS[self.kind]
        detail = "; ".join(c.line for c in self.changes) or self.note or ""
        return f"{words}: {detail}" if detail else words


class ChangeList(msgspec.Struct, frozen=True):
    """The changes since a day, newest first; ``counts`` has every kind, ``entries`` may stop at
    a limit (``total`` is how many there are in all)."""

    since: str
    total: int
    counts: dict[str, int]
    entries: list[ChangeEntry]


class _Candidate(msgspec.Struct):
    nct_id: str
    kind: Kind
    date: str
    title: str
    status: str | None
    note: str | None = None


def check_since(text: str | None, what: str = "since") -> str:
    """A day (2026-11-01), a month or a year, checked: QueryError with one sentence otherwise."""
    day = parse_iso_date(text, what)
    if day is None:
        raise QueryError(f"{what} needs a date like 2026-11-01.")
    return day


def _matching(store: Store, query: SearchQuery, nct_ids: Iterable[str]) -> set[str]:
    """The trials among ``nct_ids`` a search matches (removed trials too)."""
    ids = tuple(sorted(set(nct_ids)))
    if query.nct_ids:
        ids = tuple(sorted(set(ids) & set(query.nct_ids)))
    if not ids:
        return set()
    narrowed = replace(query, nct_ids=ids, include_removed=True, sort="relevance")
    return {hit.nct_id for hit in iter_all_hits(store, narrowed)}


def _candidates(store: Store, since: str) -> list[_Candidate]:
    found: dict[str, _Candidate] = {}
    for nct_id, removed_at in store.removed_since(since):
        found[nct_id] = _Candidate(nct_id, "removed", removed_at[:10], nct_id, None,
                                   "No longer listed by the registry (kept here).")  # fmt: skip
    rows = store.select_range(
        "trials",
        ("nct_id", "last_update", "first_post_date", "brief_title", "official_title", "overall_status",
         "has_results"),
        "last_update",
        since,
        _AFTER_ALL,
        limit=1 << 62,
    )  # fmt: skip
    updated = [r for r in rows if r[0] not in found]
    # Only a trial with results can have had them first posted: only those are read whole.
    trials = store.get_trials([r[0] for r in updated if r[6] and not (r[2] and r[2] >= since)], results=False)
    for nct_id, last_update, first_post, brief, official, status, _ in updated:
        trial = trials.get(nct_id)
        results = trial.results_first_post_date.date if trial and trial.results_first_post_date else None
        title = brief or official or nct_id
        if first_post and first_post >= since:
            found[nct_id] = _Candidate(nct_id, "new", first_post, title, status, "First posted.")
        elif results and results >= since:
            found[nct_id] = _Candidate(nct_id, "results", results, title, status)
        else:
            found[nct_id] = _Candidate(nct_id, "updated", last_update, title, status)
    for nct_id, candidate in found.items():
        if candidate.kind == "removed":
            rows = store.select("trials", ("brief_title", "official_title", "overall_status"),
                                where={"nct_id": nct_id})  # fmt: skip
            if rows:
                candidate.title = rows[0][0] or rows[0][1] or nct_id
                candidate.status = rows[0][2]
    return list(found.values())


def changes_since(
    store: Store, since: str, *, query: SearchQuery | None = None, limit: int | None = None
) -> ChangeList:
    """Every trial that changed on or after ``since`` (a registry date), newest first.

    ``query`` keeps the trials a search matches; ``limit`` keeps the newest entries (their
    changed fields are worked out for those only; the counts are of all).
    """
    since = check_since(since)
    candidates = _candidates(store, since)
    if query is not None:
        keep = _matching(store, query, (c.nct_id for c in candidates))
        candidates = [c for c in candidates if c.nct_id in keep]
    candidates.sort(key=lambda c: (c.date, c.nct_id), reverse=True)
    counts = Counter(c.kind for c in candidates)
    shown = candidates if limit is None else candidates[:limit]
    entries = []
    for c in shown:
        changes: list[FieldChange] = []
        note = c.note
        if c.kind in ("updated", "results"):
            changes, note = changed_since(store, c.nct_id, since)
        entries.append(ChangeEntry(c.kind, c.nct_id, c.title, c.date, c.status, changes, note))
    return ChangeList(since, len(candidates), {k: counts.get(k, 0) for k in KINDS}, entries)


def changes_csv(changes: ChangeList) -> Iterator[str]:
    """The changes as CSV rows: one per trial, the changed fields joined in one cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["kind", "nct_id", "date", "status", "title", "changes", "fields"])
    for e in changes.entries:
        writer.writerow(
            [
                e.kind,
                e.nct_id,
                e.date,
                e.status or "",
                e.title,
                e.summary,
                " ".join(c.field for c in e.changes),
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def changes_text(changes: ChangeList) -> Iterator[str]:
    """The changes for a person at a terminal, a block per trial."""
    c = changes.counts
    yield (
        f"Since {changes.since}: {c['new']:,} new, {c['updated']:,} updated, {c['results']:,} with results "
        f"first posted, {c['removed']:,} removed.\n"
    )
    if len(changes.entries) < changes.total:
        yield f"The newest {len(changes.entries):,} of {changes.total:,} shown.\n"
    for e in changes.entries:
        yield f"\n{e.date}  {e.nct_id}  {KIND_WORDS[e.kind]}  {e.title}\n"
        for change in e.changes:
            yield f"  {change.line}\n"
        if e.note and not e.changes:
            yield f"  {e.note}\n"


def default_since(store: Store, days: int = 30) -> str:
    """The day ``days`` before the newest registry date in the store (a feed's default window:
    the latest month of a store synced daily, and of one loaded once from files too)."""
    newest = store.max_of("trials", "last_update") or dt.date.today().isoformat()
    parts = (str(newest)[:10].split("-") + ["01", "01"])[:3]
    try:
        day = dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        day = dt.date.today()
    return (day - dt.timedelta(days=days)).isoformat()
