"""The pages and feeds of freshness: a record's history, saved searches, Atom feeds of changes.

    /trials/{nct_id}/history?a=1&b=3     every kept version; two of them side by side
    /feeds/changes.atom?<search>         what changed (new, updated, results, removed) in any search
    /watches                             the saved searches, their feeds and latest alerts
    POST /watches                        save the search in the form as a watch
    /feeds/watches/{name}.atom           what a watch's checks reported

They call :mod:`trialscope.history`, :mod:`trialscope.changes` and :mod:`trialscope.watch` and
never write SQL. The one write, saving a watch, opens a writable store on the same file for
that request; it refuses a form posted from another site.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from trialscope.changes import KIND_WORDS, changes_since, check_since, default_since
from trialscope.errors import QueryError, StoreError, WatchError
from trialscope.history import FORMAT_WORDS, ORIGIN_WORDS, compare_versions, record_history
from trialscope.render.words import words_for
from trialscope.search import query_from_params
from trialscope.watch import EVENT_WORDS, add_watch, list_watches, watch_events
from trialscope.web.common import canonical_nct_id, query_message, store_of
from trialscope.web.feeds import MEDIA_TYPE, AtomEntry, AtomFeed, atom_feed
from trialscope.web.params import SEARCH_KEYS, filters_only, first, search_params, url_with
from trialscope.web.responses import render
from trialscope.web.stores import lock_of
from trialscope.web.views import empty_page, error_page

FEED_ENTRIES = 200
CHANGE_KEYS = (*SEARCH_KEYS, "since")
TAG = "tag:trialscope,2026:"


def watch_path(name: str) -> str:
    """The feed of a watch (its name escaped for a URL path)."""
    return f"/feeds/watches/{quote(name, safe='')}.atom"


# --- the history of a record -------------------------------------------------------------


def _version_number(params: Any, key: str, default: int, count: int) -> int:
    raw = params.get(key, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= count:
        raise QueryError(f"Version {key} must be a number from 1 to {count}, not {raw[:20]!r}.")
    return int(raw)


def history_page(request: Request) -> Response:
    """``/trials/{nct_id}/history``: every kept version with what changed, and two side by side."""
    store = store_of(request)
    if store is None:
        return empty_page(request, status=404)
    nct_id = canonical_nct_id(request.path_params["nct_id"])
    history = record_history(store, nct_id)
    count = len(history.versions)
    pair = None
    if count >= 2:
        a = _version_number(request.query_params, "a", count - 1, count)
        b = _version_number(request.query_params, "b", count, count)
        pair = compare_versions(store, nct_id, a, b)
    context = {
        "history": history,
        "versions": list(reversed(history.versions)),
        "pair": pair,
        "status_words": lambda code: words_for("status", code),
        "format_words": FORMAT_WORDS,
        "origin_words": ORIGIN_WORDS,
        "api_url": f"/api/v1/trials/{nct_id}/history",
    }
    return render(request, "history.html", context)


# --- feeds ----------------------------------------------------------------------------------


def _absolute(request: Request, path: str) -> str:
    return str(request.base_url).rstrip("/") + path


class _TrialEvent(Protocol):
    """What happened to one trial: a change of the registry or what a watch's check found."""

    @property
    def kind(self) -> str: ...
    @property
    def nct_id(self) -> str: ...
    @property
    def title(self) -> str: ...


def _trial_entry(
    request: Request, event: _TrialEvent, id: str, words: Mapping[str, str], updated: str, summary: str
) -> AtomEntry:
    """A feed entry about one trial: titled by its NCT id, what happened and its title, linked
    to its page; both feeds' entries read alike."""
    return AtomEntry(
        id=id,
        title=f"{event.nct_id}: {words[event.kind]} – {event.title}",
        updated=updated,
        link=_absolute(request, f"/trials/{event.nct_id}"),
        summary=summary,
        category=event.kind,
    )


def changes_feed(request: Request) -> Response:
    """``/feeds/changes.atom``: the changes of any search (the search page's parameters and
    ``since``; the last 30 days of registry dates by default), newest first."""
    store = store_of(request)
    if store is None:
        return empty_page(request, status=503)
    params = search_params(request.query_params.multi_items(), CHANGE_KEYS)
    since = check_since(first(params, "since") or default_since(store), "since")
    search = filters_only({k: v for k, v in params.items() if k != "since"})
    query = query_from_params(search) if search else None
    shared = request.app.state.stores.search_store() or store
    with lock_of(shared):
        changes = changes_since(shared, since, query=query, limit=FEED_ENTRIES)
    entries = [
        _trial_entry(request, e, f"{TAG}change/{e.nct_id}/{e.kind}/{e.date}", KIND_WORDS, e.date, e.summary)
        for e in changes.entries
    ]
    described = " matching a search" if search else ""
    feed = AtomFeed(
        id=f"{TAG}changes{url_with({**search, 'since': since})}",
        title=f"TrialScope: changes{described} since {since}",
        self_url=_absolute(request, url_with(params, "/feeds/changes.atom")),
        html_url=_absolute(request, url_with(search, "/")),
        updated=changes.entries[0].date if changes.entries else since,
        entries=entries,
        subtitle=f"{changes.total:,} trials new, updated, with results first posted or removed since {since}.",
    )
    return Response(atom_feed(feed), media_type=MEDIA_TYPE)


def watch_feed(request: Request) -> Response:
    """``/feeds/watches/{name}.atom``: what a watch's checks reported, newest first."""
    store = store_of(request)
    if store is None:
        return empty_page(request, status=503)
    name = request.path_params["name"]
    try:
        events = watch_events(store, name, limit=FEED_ENTRIES)
    except WatchError as exc:
        return error_page(request, 404, "No such watch", str(exc))
    tag = f"{TAG}watch/{quote(name, safe='')}"
    entries = [
        _trial_entry(
            request, e, f"{tag}/{e.checked_at}/{e.nct_id}/{e.kind}", EVENT_WORDS, e.checked_at, e.line
        )
        for e in events
    ]
    feed = AtomFeed(
        id=tag,
        title=f"TrialScope watch: {name}",
        self_url=_absolute(request, watch_path(name)),
        html_url=_absolute(request, "/watches"),
        updated=events[0].checked_at if events else "1970-01-01T00:00:00Z",
        entries=entries,
        subtitle="What each check of this saved search found (`trialscope watch check`).",
    )
    return Response(atom_feed(feed), media_type=MEDIA_TYPE)


# --- saved searches -------------------------------------------------------------------------


def _watches_context(request: Request, error: str | None = None, name: str = "") -> dict[str, Any]:
    store = store_of(request)
    watches = list_watches(store) if store is not None else []
    return {
        "watches": [
            {
                "watch": w,
                "search": "/" + w.search_url,
                "feed": watch_path(w.name),
                "changes_feed": url_with(w.params, "/feeds/changes.atom"),
                "events": watch_events(store, w.name, limit=5) if store is not None else [],
            }
            for w in watches
        ],
        "saved": request.query_params.get("saved", "")[:80],
        "error": error,
        "name": name,
        "event_words": EVENT_WORDS,
    }


def watches_page(request: Request) -> Response:
    """``/watches``: every saved search with its feed and its latest alerts."""
    if store_of(request) is None:
        return empty_page(request)
    return render(request, "watches.html", _watches_context(request))


def _cross_site(request: Request) -> bool:
    """Whether a browser posted the form from another site (a page elsewhere making a
    visitor's browser save watches here)."""
    if request.headers.get("sec-fetch-site", "") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False  # not a browser's form post (a script, a test client)
    return origin == "null" or urlsplit(origin).netloc != request.url.netloc


async def save_watch(request: Request) -> Response:
    """``POST /watches``: save the search in the form (its name, and the search page's own
    parameters) as a watch, then show the watches."""
    if _cross_site(request):
        return error_page(request, 403, "Not saved", "A search can only be saved from this site's own pages.")
    form = await request.form()
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    name = next((v for k, v in items if k == "name"), "").strip()
    params = filters_only(search_params(items))
    stores = request.app.state.stores
    if stores.search_store() is None:
        return empty_page(request)
    try:
        query = query_from_params(params)
        shared = stores.search_store()
        with stores.writable() as store, lock_of(shared):
            watch, _ = add_watch(store, name, query, search_store=shared)
    except QueryError as exc:
        return render(
            request, "watches.html", _watches_context(request, query_message(exc), name), status=400
        )
    except WatchError as exc:
        return render(request, "watches.html", _watches_context(request, str(exc), name), status=400)
    except StoreError:
        message = "This server cannot save searches: its store cannot be written."
        return render(request, "watches.html", _watches_context(request, message, name), status=503)
    return RedirectResponse(url_with({"saved": watch.name}, "/watches"), status_code=303)
