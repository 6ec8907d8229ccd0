"""Saved searches that alert: a watch is a named search; checking it says what is new since.

    add_watch(store, "lupus stem cells", SearchQuery(text="mesenchymal", conditions=("lupus",)))
    for report in check_watches(store):           # after each daily sync
        print(report.name, [e.summary for e in report.events])

A watch keeps, for each trial its search matched at the last check, the version (content
hash), recruitment status and whether results were posted. A check runs the search again and
compares: a trial that matches for the first time is **new**; one whose status changed is a
**status** change (also when the change made it stop matching: a recruiting search whose
trial completed); one with results posted since is **results**; any other new version is
**updated**, with the fields that changed; one the registry dropped is **removed**; one that
no longer matches for another reason is **unmatched**. The check then keeps what it saw, so the
next one reports only what is newer; adding a watch records what its search matches then, so
the first check reports only what changed after it was added. What each check reported is kept
too (``watch_events``): a watch's Atom feed and its e-mail are made from it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

import msgspec
import orjson

from trialscope.diff import ARROW
from trialscope.errors import WatchError
from trialscope.history import changed_from
from trialscope.render.words import words_for
from trialscope.search import SearchQuery, iter_all_hits, normalize_query, query_from_params, query_to_params
from trialscope.store import Store

EventKind = Literal["new", "status", "results", "updated", "removed", "unmatched"]
EVENT_WORDS = {
    "new": "Now matches",
    "status": "Status changed",
    "results": "Results posted",
    "updated": "Updated",
    "removed": "Removed from the registry",
    "unmatched": "No longer matches",
}
NAME = re.compile(r"^[\w][\w .,+@()-]{0,79}$")
EVENTS_KEPT = 200  # events a watch's feed shows
# A saved search keeps its filters and words, not how a page of it was shown.
_PAGE_PARAMETERS = ("sort", "limit", "page", "cursor", "facets")


@dataclass(frozen=True, slots=True)
class Watch:
    """A saved search: its name, its search (URL parameters), where its alerts go, when it was
    made and last checked."""

    name: str
    params: dict[str, str | list[str]]
    email: str | None
    created_at: str
    checked_at: str | None

    @property
    def query(self) -> SearchQuery:
        return query_from_params(self.params)

    @property
    def search_url(self) -> str:
        """The watch's search as a URL query string (``?q=lupus&status=RECRUITING``)."""
        pairs = [(k, x) for k, v in self.params.items() for x in ([v] if isinstance(v, str) else v)]
        return "?" + urlencode(pairs) if pairs else ""


class WatchEvent(msgspec.Struct, frozen=True):
    """One thing a check found: which trial, what happened (in words), on which registry date."""

    kind: EventKind
    nct_id: str
    title: str
    date: str | None
    summary: str
    checked_at: str

    @property
    def line(self) -> str:
        return f"{EVENT_WORDS[self.kind]}: {self.summary}" if self.summary else EVENT_WORDS[self.kind]


class WatchReport(msgspec.Struct, frozen=True):
    """What one check of a watch found since the check before (``since``: None for a first check
    of a watch made before checks were kept)."""

    name: str
    since: str | None
    checked_at: str
    matches: int
    events: list[WatchEvent]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _saved_params(query: SearchQuery) -> dict[str, str | list[str]]:
    params = query_to_params(normalize_query(query))
    return {k: v for k, v in params.items() if k not in _PAGE_PARAMETERS}


def check_name(name: str) -> str:
    """A watch name, checked: 1-80 letters, digits, spaces and ``.,+@()-_``."""
    name = " ".join(name.split())
    if not NAME.match(name):
        raise WatchError(
            f"{name[:40]!r} cannot name a watch; use 1 to 80 letters, digits, spaces or .,+@()-_ "
            "(starting with a letter or digit)."
        )
    return name


def _row(row: tuple[Any, ...]) -> Watch:
    name, params, email, created_at, checked_at = row
    return Watch(name, orjson.loads(params), email, created_at, checked_at)


_COLUMNS = ("name", "params", "email", "created_at", "checked_at")


def list_watches(store: Store) -> list[Watch]:
    """Every watch, by name (none in a store made before watches were)."""
    if not store.has_table("watches"):
        return []
    return [_row(r) for r in store.select("watches", _COLUMNS, order_by=("name",))]


def get_watch(store: Store, name: str) -> Watch:
    """One watch by name (case does not matter); WatchError naming the watches there are."""
    rows = (
        store.select("watches", _COLUMNS, where={"name": name.strip()}) if store.has_table("watches") else []
    )
    if not rows:
        names = ", ".join(w.name for w in list_watches(store)) or "none yet"
        raise WatchError(f"No watch named {name.strip()[:80]!r} (watches: {names}).")
    return _row(rows[0])


def _snapshot(store: Store, query: SearchQuery) -> dict[str, tuple[Any, ...]]:
    """What the search matches now: nct id -> (content hash, status, has results, last update,
    removed, title)."""
    ids = [hit.nct_id for hit in iter_all_hits(store, query)]
    return _states(store, ids)


def _states(store: Store, nct_ids: list[str]) -> dict[str, tuple[Any, ...]]:
    rows = store.select_in(
        "trials",
        ("nct_id", "content_hash", "overall_status", "has_results", "last_update", "removed_at", "brief_title",
         "official_title"),
        "nct_id",
        nct_ids,
    )  # fmt: skip
    return {
        nct: (digest, status, int(results), last_update, int(removed is not None), brief or official or nct)
        for nct, digest, status, results, last_update, removed, brief, official in rows
    }


def _keep(store: Store, name: str, seen: dict[str, tuple[Any, ...]]) -> None:
    store.delete_in("watch_trials", "watch", [name])
    store.insert("watch_trials", [(name, nct, *state[:5]) for nct, state in seen.items()])


def add_watch(
    store: Store,
    name: str,
    query: SearchQuery,
    *,
    email: str | None = None,
    search_store: Store | None = None,
) -> tuple[Watch, int]:
    """Save a search under a name, recording what it matches now (the first check reports
    only what changes after this); the watch and how many trials it matches.

    ``search_store`` runs the search when given (a web server's shared search connection,
    whose search columns are loaded already); the watch is written to ``store``.
    """
    name = check_name(name)
    params = _saved_params(query)
    if email is not None and not re.fullmatch(r"[^@\s,]+@[^@\s,]+", email.strip()):
        raise WatchError(f"{email[:80]!r} is not an e-mail address.")
    existing = {w.name.lower() for w in list_watches(store)}
    if name.lower() in existing:
        raise WatchError(f"A watch named {name!r} exists already; remove it first or choose another name.")
    seen = _snapshot(search_store or store, query_from_params(params))
    now = _now()
    with store.transaction():
        store.insert("watches", [(name, orjson.dumps(params).decode(), email and email.strip(), now, now)])
        _keep(store, name, seen)
    return get_watch(store, name), len(seen)


def remove_watch(store: Store, name: str) -> Watch:
    """Forget a watch, what it saw and what it reported; the watch that was."""
    watch = get_watch(store, name)
    with store.transaction():
        for table, column in (("watches", "name"), ("watch_trials", "watch"), ("watch_events", "watch")):
            store.delete_in(table, column, [watch.name])
    return watch


def _status(code: str | None) -> str:
    return words_for("status", code) or "(none)"


def _compare(
    store: Store, nct: str, was: tuple[Any, ...] | None, now: tuple[Any, ...] | None, matches: bool
) -> tuple[EventKind, str] | None:
    """The event of one trial between two checks, if any: (kind, words)."""
    if was is None:
        assert now is not None
        return "new", f"{_status(now[1])}" + (", results posted" if now[2] else "")
    if now is None:
        return "removed", "no longer in the store"
    lines: list[str] = []
    if now[0] != was[0] and was[0]:
        changes, note = changed_from(store, nct, was[0])
        lines = [c.line for c in changes] or ([note] if note else [])
    status_line = f"Recruitment status: {_status(was[1])} {ARROW} {_status(now[1])}"
    if now[1] != was[1] and status_line not in lines:
        lines.insert(0, status_line)
    summary = "; ".join(lines)
    if now[4] and not was[4]:
        return "removed", summary or "no longer listed by the registry (kept here)"
    if now[2] and not was[2]:
        return "results", summary or "results posted"
    if now[1] != was[1]:
        return "status", summary + ("" if matches else " (no longer matches)")
    if not matches:
        return "unmatched", summary or "the search no longer finds it"
    if now[0] != was[0]:
        return "updated", summary or "a new version of the record"
    return None


Deliver = Callable[[Watch, "WatchReport"], None]


def check_watch(store: Store, name: str, *, deliver: Deliver | None = None) -> WatchReport:
    """Run a watch's search, say what is new or changed since its last check, and keep what it saw.

    ``deliver(watch, report)`` (an e-mail, say) runs before what the check saw is kept, when it
    found something: if it fails, nothing is kept, so the next check reports the same again and
    no alert is lost.
    """
    watch = get_watch(store, name)
    seen = _snapshot(store, watch.query)
    before = {
        nct: (digest, status, results, last_update, removed)
        for nct, digest, status, results, last_update, removed in store.select(
            "watch_trials",
            ("nct_id", "content_hash", "status", "has_results", "last_update", "removed"),
            where={"watch": watch.name},
        )
    }
    gone = [nct for nct in before if nct not in seen]
    current = {**_states(store, gone), **seen}
    now = _now()
    events = []
    for nct in sorted(set(before) | set(seen)):
        state = current.get(nct)
        found = _compare(store, nct, before.get(nct), state, nct in seen)
        if found is None:
            continue
        kind, summary = found
        title = state[5] if state else nct
        events.append(WatchEvent(kind, nct, title, state[3] if state else None, summary, now))
    with store.transaction():
        _keep(store, watch.name, seen)
        store.insert(
            "watch_events",
            [(None, watch.name, now, e.nct_id, e.kind, e.date, e.title, e.summary) for e in events],
        )
        store.update_in("watches", {"checked_at": now}, "name", [watch.name])
        report = WatchReport(watch.name, watch.checked_at, now, len(seen), events)
        if deliver is not None and events:
            deliver(watch, report)
    return report


def check_watches(
    store: Store, names: Iterable[str] | None = None, *, deliver: Deliver | None = None
) -> list[WatchReport]:
    """Check some watches (every one by default), in name order (see :func:`check_watch`)."""
    chosen = [get_watch(store, n).name for n in names] if names else [w.name for w in list_watches(store)]
    return [check_watch(store, name, deliver=deliver) for name in chosen]


def watch_events(store: Store, name: str, limit: int = EVENTS_KEPT) -> list[WatchEvent]:
    """What a watch's checks reported, newest first."""
    watch = get_watch(store, name)
    rows = store.select(
        "watch_events",
        ("kind", "nct_id", "title", "date", "summary", "checked_at"),
        where={"watch": watch.name},
        order_by=("seq DESC",),
        limit=limit,
    )
    return [
        WatchEvent(kind, nct, title or nct, date, summary, at) for kind, nct, title, date, summary, at in rows
    ]
