"""The JSON API (``/api/v1``): the same page context, searches and related trials as the pages.

Every answer is one of the typed structs of :mod:`trialscope.web.schemas`, which the OpenAPI
description (:mod:`trialscope.web.openapi`) is generated from. Errors are
``{"error": {"status": ..., "message": ..., "parameters": [...]}}`` with status 400 for a bad
query and 404 for an unknown trial. The trial endpoint serves the page context of
``render.jsonout`` - the JSON is the page, not a second path to the data.

This module imports :mod:`trialscope.web.common`, never the HTML views.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from trialscope import __version__
from trialscope.changes import changes_since, check_since, default_since
from trialscope.errors import QueryError, StoreError, TrialNotFoundError
from trialscope.history import record_history
from trialscope.patient import PatientError
from trialscope.search import FACETS, FacetValue, SearchHit, iter_all_hits, query_from_params
from trialscope.search.geo import canonical_country
from trialscope.search.hits import csv_lines, jsonl_lines
from trialscope.similar import related_trials
from trialscope.store import Store
from trialscope.web import openapi
from trialscope.web.common import canonical_nct_id, run_search, store_of, trial_answer
from trialscope.web.matching import MatchInput, MatchRequest, read_body, run_match
from trialscope.web.params import (
    SEARCH_KEYS,
    Params,
    facet_label,
    filters_only,
    first,
    safe_snippet,
    search_params,
    truthy,
    url_with,
    values,
)
from trialscope.web.responses import JSONResponse, error_json, render
from trialscope.web.schemas import (
    ApiHit,
    ChangesLinks,
    ChangesResponse,
    FacetCount,
    Health,
    HistoryLinks,
    HistoryResponse,
    RelatedItem,
    RelatedResponse,
    SearchLinks,
    SearchResponse,
    StatsLinks,
    StatsResponse,
    TrialDocument,
    TrialLinks,
)
from trialscope.web.stats import registry_extras
from trialscope.web.stores import lock_of

RELATED_KEYS = ("limit", "status", "phase", "has_results", "country")
MAX_RELATED = 100


def _store_or_error(request: Request) -> Store | Response:
    store = store_of(request)
    if store is None:
        return error_json(
            503,
            "The store holds no trials yet; load records with `trialscope ingest PATH`.",
            headers={"retry-after": "30"},
        )
    return store


def health(request: Request) -> Response:
    """``/healthz``: whether the store holds trials, and how many."""
    store = store_of(request)
    trials = store.count() if store is not None else 0
    return JSONResponse(Health(status="ok" if trials else "empty", trials=trials, version=__version__))


# --- trials -----------------------------------------------------------------------------


async def trial(request: Request) -> Response:
    """``/api/v1/trials/{nct_id}``: the trial page context and the parsed trial.

    On the event loop, like the HTML trial page (see ``views.trial_page``).
    """
    return _trial(request)


def _trial(request: Request) -> Response:
    store = _store_or_error(request)
    if isinstance(store, Response):
        return store
    nct_id = canonical_nct_id(request.path_params["nct_id"])
    answer = trial_answer(request, store, nct_id)
    if isinstance(answer, Response):
        return answer
    body = TrialDocument(
        nct_id=nct_id,
        links=TrialLinks(html=f"/trials/{nct_id}", related=f"/api/v1/trials/{nct_id}/related"),
        page=answer.page,
        trial=answer.trial,
    )
    return JSONResponse(body, headers=answer.headers)


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
    nct_id = canonical_nct_id(request.path_params["nct_id"])
    args = _related_args(search_params(request.query_params.multi_items(), RELATED_KEYS))
    if not store.has_trial(nct_id):
        raise TrialNotFoundError(nct_id)
    try:
        found = list(related_trials(store, nct_id, **args))
    except StoreError as exc:
        # No similarity index yet (or not for this trial): an empty list that says why.
        return JSONResponse(RelatedResponse(nct_id=nct_id, related=[], note=str(exc)))
    items = [
        RelatedItem(
            nct_id=r.nct_id,
            title=r.title,
            status=r.status,
            phase=r.phase,
            score=float(r.score),
            reasons=list(r.reasons),
            has_results=bool(r.has_results),
            countries=list(dict.fromkeys(canonical_country(c) for c in r.countries)),
            url=f"/trials/{r.nct_id}",
        )
        for r in found
    ]
    return JSONResponse(RelatedResponse(nct_id=nct_id, related=items))


def history(request: Request) -> Response:
    """``/api/v1/trials/{nct_id}/history``: every kept version of the record, each with what
    changed since the one before, in words and as the raw record's JSON paths."""
    store = _store_or_error(request)
    if isinstance(store, Response):
        return store
    nct_id = canonical_nct_id(request.path_params["nct_id"])
    found = record_history(store, nct_id)
    links = HistoryLinks(html=f"/trials/{nct_id}/history", trial=f"/api/v1/trials/{nct_id}")
    fields = {f: getattr(found, f) for f in found.__struct_fields__}
    return JSONResponse(HistoryResponse(**fields, links=links))


MAX_CHANGES = 1000


def changes(request: Request) -> Response:
    """``/api/v1/changes``: trials new, updated, with results first posted or removed since a day
    (``since``; 30 days before the newest registry date by default), in any search."""
    store = _store_or_error(request)
    if isinstance(store, Response):
        return store
    params = search_params(request.query_params.multi_items(), (*SEARCH_KEYS, "since"))
    since = check_since(first(params, "since") or default_since(store), "since")
    raw_limit = first(params, "limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_CHANGES:
        raise QueryError(f"limit must be a whole number from 1 to {MAX_CHANGES}, not {raw_limit[:40]!r}.")
    search = filters_only({k: v for k, v in params.items() if k != "since"})
    query = query_from_params(search) if search else None
    shared = request.app.state.stores.search_store() or store
    with lock_of(shared):
        found = changes_since(shared, since, query=query, limit=int(raw_limit))
    with_since = {**search, "since": since}
    links = ChangesLinks(
        self=url_with({**with_since, "limit": raw_limit}, "/api/v1/changes"),
        atom=url_with(with_since, "/feeds/changes.atom"),
        search=url_with(search, "/"),
    )
    fields = {f: getattr(found, f) for f in found.__struct_fields__}
    return JSONResponse(ChangesResponse(**fields, links=links))


# --- search -----------------------------------------------------------------------------


def api_hit(hit: SearchHit) -> ApiHit:
    """A hit in the API's shape: its link, and its snippet checked once more to hold no
    markup but ``<mark>``."""
    fields = {f: getattr(hit, f) for f in hit.__struct_fields__}
    fields["snippet"] = safe_snippet(hit.snippet)
    return ApiHit(**fields, url=hit.url)


def facet_counts(facets: Mapping[str, Sequence[FacetValue]]) -> dict[str, list[FacetCount]]:
    """Each facet's values with their counts and their words."""
    return {
        name: [FacetCount(value=str(fv.value), count=int(fv.count), label=facet_label(name, str(fv.value)))
               for fv in items]
        for name, items in facets.items()
    }  # fmt: skip


async def search(request: Request) -> Response:
    """``/api/v1/search``: ranked hits with snippets, facet counts and links to the next page
    (on the event loop, like the search page: see ``views.search_page``)."""
    return _search(request)


def _search(request: Request) -> Response:
    store = _store_or_error(request)
    if isinstance(store, Response):
        return store
    params = search_params(request.query_params.multi_items())
    results = run_search(request, store, params, facets=None)
    last_page = results.page * results.limit >= results.total
    filters = filters_only(params)
    sort = first(params, "sort") or None
    links = SearchLinks(
        self=url_with(params, "/api/v1/search"),
        next=None
        if last_page
        else url_with(params, "/api/v1/search", page=str(results.page + 1), cursor=None),
        prev=None
        if results.page <= 1
        else url_with(params, "/api/v1/search", page=str(results.page - 1), cursor=None),
        html=url_with(params, "/"),
        export_csv=url_with(filters, "/api/v1/search/export", format="csv", sort=sort),
        export_jsonl=url_with(filters, "/api/v1/search/export", format="jsonl", sort=sort),
    )
    body = SearchResponse(
        total=results.total,
        page=results.page,
        limit=results.limit,
        next_cursor=results.next_cursor,
        elapsed_ms=round(results.elapsed_ms, 2),
        place=results.place,
        hits=[api_hit(h) for h in results.hits],
        facets=facet_counts(results.facets),
        links=links,
    )
    return JSONResponse(body)


# --- matching ---------------------------------------------------------------------------


async def match(request: Request) -> Response:
    """``POST /api/v1/match``: a patient (a note, or a JSON profile or FHIR R4 Bundle) screened
    against the trials the search finds for them and those named; the trials ranked eligible,
    maybe, ineligible, each criterion with its verdict and evidence, and the patient as read."""
    store = _store_or_error(request)
    if isinstance(store, Response):
        return store
    body = await read_body(request)
    try:
        asked = msgspec.json.decode(body, type=MatchRequest)
    except msgspec.ValidationError as exc:
        return error_json(400, f"The request body is not valid: {_sentence(str(exc))}")
    except msgspec.DecodeError:
        return error_json(
            400, 'The request body is not JSON; send an object like {"note": "A 58-year-old woman with ..."}.'
        )
    given = MatchInput(
        note=asked.note,
        document=asked.patient,
        filters=asked.filters,
        nct_ids=tuple(asked.nct_ids),
        limit=asked.limit,
        candidates=asked.candidates,
    )
    try:
        result = await run_in_threadpool(run_match, request, given)
    except PatientError as exc:
        return error_json(400, str(exc), parameters=["patient" if asked.patient is not None else "note"])
    except TrialNotFoundError as exc:
        return error_json(400, str(exc), parameters=["nct_ids"])
    return JSONResponse(result)


def _sentence(message: str) -> str:
    """A msgspec message as the end of a sentence: ``Expected `int`, got `str` - at `$.limit```."""
    message = message.replace("Object contains unknown field", "unknown field")
    return message[:1].lower() + message[1:] + ("" if message.endswith(".") else ".")


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
    results = run_search(request, store, params, facets=tuple(wanted) or FACETS, limit=1)
    extras = registry_extras(request, store, params, results.total)
    body = StatsResponse(
        total=results.total,
        facets=facet_counts(results.facets),
        without_phase=extras.without_phase,
        summary_only=extras.summary_only,
        links=StatsLinks(html=url_with(params, "/stats"), search=url_with(params, "/api/v1/search")),
    )
    return JSONResponse(body)


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


# --- routes ---------------------------------------------------------------------------------

# The handler of each operation of the OpenAPI description, by its operationId: the routes are
# made from the description, so the API serves every path it describes and no other.
HANDLERS = {
    "searchTrials": search,
    "exportSearch": export,
    "registryStats": stats,
    "matchPatient": match,
    "getTrial": trial,
    "relatedTrials": related,
    "trialHistory": history,
    "registryChanges": changes,
    "health": health,
}


def routes() -> list[Route]:
    """The API's routes: its description's operations, then the description itself and its docs."""
    described = [
        Route(path, HANDLERS[op["operationId"]], methods=[method.upper()], name=op["operationId"])
        for path, methods in openapi.OPENAPI["paths"].items()
        for method, op in methods.items()
    ]
    return [
        *described,
        Route("/api", lambda request: RedirectResponse("/api/docs"), name="api_root"),
        Route("/api/docs", docs, name="api_docs"),
        Route("/api/openapi.json", openapi_json, name="openapi"),
    ]
