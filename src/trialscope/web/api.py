"""The JSON API (``/api/v1``): the same page context, searches and related trials as the pages.

Each response has one documented shape (see :mod:`trialscope.web.openapi`); errors are
``{"error": {"status": ..., "message": ...}}`` with status 400 for a bad query and 404 for
an unknown trial. The trial endpoint serves the page context of ``render.jsonout`` - the
JSON is the page, not a second path to the data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from trialscope import __version__
from trialscope.errors import QueryError, StoreError, TrialNotFoundError
from trialscope.render.jsonout import page_dict
from trialscope.render.page import build_page
from trialscope.search import FACETS, SearchHit, iter_all_hits, query_from_params
from trialscope.search.hits import csv_lines, hit_data, jsonl_lines
from trialscope.similar import related_trials
from trialscope.store import Store
from trialscope.web import openapi, views
from trialscope.web.params import (
    SEARCH_KEYS,
    Params,
    filters_only,
    first,
    safe_snippet,
    search_params,
    truthy,
    url_with,
    values,
)
from trialscope.web.responses import JSONResponse, error_json, etag_for, not_modified, render
from trialscope.web.stores import lock_of

RELATED_KEYS = ("limit", "status", "phase", "has_results", "country")
MAX_RELATED = 100


def _store_or_error(request: Request) -> Store | Response:
    store = views.store_of(request)
    if store is None:
        return error_json(
            503,
            "The store holds no trials yet; load records with `trialscope ingest PATH`.",
            headers={"retry-after": "30"},
        )
    return store


def health(request: Request) -> Response:
    """``/healthz``: whether the store holds trials, and how many."""
    store = views.store_of(request)
    trials = store.count() if store is not None else 0
    return JSONResponse({"status": "ok" if trials else "empty", "trials": trials, "version": __version__})


# --- trials -----------------------------------------------------------------------------


def _nct_id(request: Request) -> str:
    raw = request.path_params["nct_id"]
    nct_id = raw.strip().upper()
    if not views.NCT_ID.match(nct_id):
        raise TrialNotFoundError(raw[:100])
    return nct_id


async def trial(request: Request) -> Response:
    """``/api/v1/trials/{nct_id}``: the trial page context and the parsed trial.

    On the event loop, like the HTML trial page (see ``views.trial_page``).
    """
    return _trial(request)


def _trial(request: Request) -> Response:
    store = _store_or_error(request)
    if isinstance(store, Response):
        return store
    nct_id = _nct_id(request)
    etag = etag_for(request)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    record = store.get_trial(nct_id)
    page = build_page(record, views.related_for(store, nct_id))
    body = {
        "nct_id": nct_id,
        "links": {"html": f"/trials/{nct_id}", "related": f"/api/v1/trials/{nct_id}/related"},
        "page": page_dict(page),
        "trial": msgspec.to_builtins(record),
    }
    return JSONResponse(body, headers={"etag": etag, "cache-control": "no-cache"})


def _related_args(params: Params) -> dict[str, Any]:
    raw_limit = first(params, "limit", "10")
    try:
        limit = int(raw_limit)
    except ValueError:
        raise QueryError(
            f"limit must be a whole number from 1 to {MAX_RELATED}, not {raw_limit[:40]!r}."
        ) from None
    if not 1 <= limit <= MAX_RELATED:
        raise QueryError(f"limit must be from 1 to {MAX_RELATED}, not {limit}.")
    has_results = None
    if first(params, "has_results"):
        has_results = truthy(first(params, "has_results"))
        if has_results is None:
            raise QueryError("has_results must be true or false.")
    return {
        "limit": limit,
        "statuses": tuple(v.upper() for v in values(params, "status")),
        "phases": tuple(v.upper() for v in values(params, "phase")),
        "has_results": has_results,
        "countries": tuple(values(params, "country")),
    }


def related(request: Request) -> Response:
    """``/api/v1/trials/{nct_id}/related``: the most similar trials, each with its reasons."""
    store = _store_or_error(request)
    if isinstance(store, Response):
        return store
    nct_id = _nct_id(request)
    args = _related_args(search_params(request.query_params.multi_items(), RELATED_KEYS))
    if not store.has_trial(nct_id):
        raise TrialNotFoundError(nct_id)
    try:
        found = list(related_trials(store, nct_id, **args))
    except StoreError as exc:
        # No similarity index yet (or not for this trial): an empty list that says why.
        return JSONResponse({"nct_id": nct_id, "related": [], "note": str(exc)})
    return JSONResponse({"nct_id": nct_id, "related": [_related_dict(r) for r in found]})


def _related_dict(r: Any) -> dict[str, Any]:
    return {
        "nct_id": r.nct_id,
        "title": r.title,
        "status": r.status,
        "phase": r.phase,
        "score": float(r.score),
        "reasons": list(r.reasons),
        "has_results": bool(r.has_results),
        "countries": list(r.countries),
        "url": f"/trials/{r.nct_id}",
    }


# --- search -----------------------------------------------------------------------------


def hit_dict(hit: SearchHit) -> dict[str, Any]:
    """One search hit in the API's documented shape (the one shape of :mod:`trialscope.search.hits`),
    its snippet checked once more to hold no markup but ``<mark>``."""
    data = hit_data(hit)
    data["snippet"] = safe_snippet(hit.snippet)
    return data


def facets_dict(facets: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [{"value": str(fv.value), "count": int(fv.count)} for fv in items]
        for name, items in facets.items()
    }


async def search(request: Request) -> Response:
    """``/api/v1/search``: ranked hits with snippets, facet counts and links to the next page
    (on the event loop, like the search page: see ``views.search_page``)."""
    return _search(request)


def _search(request: Request) -> Response:
    store = _store_or_error(request)
    if isinstance(store, Response):
        return store
    params = search_params(request.query_params.multi_items())
    results = views.run_search(request, store, params, facets=None)
    last_page = results.page * results.limit >= results.total
    filters = filters_only(params)
    sort = first(params, "sort") or None
    links = {
        "self": url_with(params, "/api/v1/search"),
        "next": None
        if last_page
        else url_with(params, "/api/v1/search", page=str(results.page + 1), cursor=None),
        "prev": None
        if results.page <= 1
        else url_with(params, "/api/v1/search", page=str(results.page - 1), cursor=None),
        "html": url_with(params, "/"),
        "export_csv": url_with(filters, "/api/v1/search/export", format="csv", sort=sort),
        "export_jsonl": url_with(filters, "/api/v1/search/export", format="jsonl", sort=sort),
    }
    body = {
        "total": int(results.total),
        "page": int(results.page),
        "limit": int(results.limit),
        "next_cursor": results.next_cursor,
        "elapsed_ms": float(results.elapsed_ms),
        "hits": [hit_dict(h) for h in results.hits],
        "facets": facets_dict(results.facets),
        "links": links,
    }
    return JSONResponse(body)


def stats(request: Request) -> Response:
    """``/api/v1/stats``: facet counts of the registry, or of a search."""
    store = _store_or_error(request)
    if isinstance(store, Response):
        return store
    params = filters_only(search_params(request.query_params.multi_items()))
    wanted = [
        f.strip()
        for v in values(search_params(request.query_params.multi_items()), "facets")
        for f in v.split(",")
        if f.strip()
    ]
    unknown = [f for f in wanted if f not in FACETS]
    if unknown:
        raise QueryError(f"Unknown facet {unknown[0][:40]!r}; choose from {', '.join(FACETS)}.")
    results = views.run_search(request, store, params, facets=tuple(wanted) or FACETS, limit=1)
    return JSONResponse(
        {
            "total": int(results.total),
            "facets": facets_dict(results.facets),
            "links": {"html": url_with(params, "/stats"), "search": url_with(params, "/api/v1/search")},
        }
    )


def _close(iterator: Iterator[Any]) -> None:
    """Finish a generator early, so its clean-up (dropping its temporary table) runs now."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def export(request: Request) -> Response:
    """``/api/v1/search/export``: every hit of a search (not one page) as CSV or JSON Lines, streamed."""
    store = _store_or_error(request)
    if isinstance(store, Response):
        return store
    all_params = search_params(request.query_params.multi_items(), (*SEARCH_KEYS, "format"))
    fmt = first(all_params, "format", "csv").lower()
    if fmt not in ("csv", "jsonl"):
        raise QueryError(f"format must be csv or jsonl, not {fmt[:40]!r}.")
    params = filters_only(all_params)
    params.pop("format", None)
    if first(all_params, "sort"):
        params["sort"] = first(all_params, "sort")
    query = query_from_params(params)
    # The stream is read on whichever pool thread is free: it uses the search store, whose
    # lock search takes around each chunk it reads.
    shared = request.app.state.stores.search_store() or store
    hits = iter_all_hits(shared, query)
    try:
        # Run the first step now, so a query that cannot run is a 400 and not a broken download.
        with lock_of(shared):
            head = [next(hits)]
    except StopIteration:
        head = []
    except BaseException:
        _close(hits)
        raise

    def chained() -> Iterator[Any]:
        try:
            yield from head
            yield from hits
        finally:
            _close(hits)

    name = "trialscope-search"
    if fmt == "csv":
        return StreamingResponse(
            csv_lines(chained()),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}.csv"'},
        )
    return StreamingResponse(
        jsonl_lines(chained()),
        media_type="application/x-ndjson",
        headers={"content-disposition": f'attachment; filename="{name}.jsonl"'},
    )


# --- description ------------------------------------------------------------------------


def openapi_json(request: Request) -> Response:
    """``/api/openapi.json``: the OpenAPI 3.1 description of this API."""
    return JSONResponse(openapi.OPENAPI)


def docs(request: Request) -> Response:
    """``/api/docs``: the API's endpoints and parameters as a plain page, from the OpenAPI description."""
    return render(
        request,
        "api_docs.html",
        {
            "endpoints": openapi.endpoints(),
            "info": openapi.OPENAPI["info"],
            "schema_text": openapi.schema_text,
        },
    )
