"""The HTML pages: search, trial, statistics, and the pages for errors and an empty store.

Views read the query string, call ``search``, ``similar`` and ``render``, and hand the
results to a template; they never write SQL. Handlers are plain functions, so Starlette
runs them in its thread pool - except the two most visited pages, the trial page and the
search page, which run on the event loop (see :func:`trial_page` and :func:`search_page`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from trialscope.errors import QueryError, StoreError, TrialNotFoundError
from trialscope.render.html import render_html_body
from trialscope.render.markdown import render_markdown
from trialscope.render.page import RelatedTrial, build_page, plain_words
from trialscope.render.text import render_text
from trialscope.search import FACETS, query_from_params, search_trials
from trialscope.similar import related_for_page
from trialscope.store import Store
from trialscope.web import charts, places
from trialscope.web.cache import SearchCache
from trialscope.web.params import (
    FacetGroup,
    Params,
    active_filters,
    facet_groups,
    filters_only,
    first,
    pagination,
    safe_snippet,
    search_params,
    url_with,
    values,
    without,
)
from trialscope.web.responses import etag_for, not_modified, render
from trialscope.web.stores import StoreHolder, lock_of

NCT_ID = re.compile(r"^NCT\d{8}$")
SORTS = (
    ("relevance", "Best match"),
    ("last_update", "Recently updated"),
    ("start_date", "Start date"),
    ("enrollment", "Enrollment"),
)
LIMITS = (("10", "10"), ("20", "20"), ("50", "50"), ("100", "100"))
SEX_CHOICES = (("", "Any"), ("FEMALE", "Female"), ("MALE", "Male"))
RELATED_ON_PAGE = 10
# The search page's filters; start years are charted on /stats instead.
SEARCH_PAGE_FACETS = tuple(f for f in FACETS if f != "start_year")


def plain_filter(value: object) -> str:
    """Jinja filter: a registry code in plain words (``PHASE1/PHASE2`` -> ``Phase 1 / Phase 2``)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(plain_words(str(v)) for v in value)
    return plain_words(None if value is None else str(value))


def store_of(request: Request) -> Store | None:
    return request.app.state.stores.get()  # type: ignore[no-any-return]


def _timeout(request: Request) -> float:
    return float(request.app.state.settings.query_timeout)


def _params(request: Request) -> Params:
    return search_params(request.query_params.multi_items())


def empty_page(request: Request, status: int = 200) -> Response:
    """The first-start page: no trials yet, and the command that loads them."""
    return render(request, "empty.html", {"db": request.app.state.settings.db}, status=status)


def error_page(
    request: Request, status: int, title: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "message": message},
        status=status,
        headers=headers,
    )


def not_found_page(request: Request, message: str) -> Response:
    """The 404 page: what was not found, and a search box to look for it another way."""
    guess = request.path_params.get("nct_id", "") if request.url.path.startswith("/trials/") else ""
    return render(request, "not_found.html", {"message": message, "guess": guess[:100]}, status=404)


# --- search -----------------------------------------------------------------------------


def run_search(
    request: Request,
    store: Store,
    params: Params,
    *,
    facets: Sequence[str] | None,
    limit: int | None = None,
) -> Any:
    """Run a search from query-string parameters, through the per-process cache.

    ``facets`` None keeps the facets the parameters ask for. Facet counts depend on the
    filters only - not on the page, the sort or the page size - and they cost most of a
    search, so they are cached on their own: the next page of a search, or the same search
    sorted another way, counts nothing again.
    """
    query = query_from_params(params)
    if limit is not None:
        query = dataclasses.replace(query, limit=limit)
    if facets is not None:
        query = dataclasses.replace(query, facets=tuple(facets))
    cache: SearchCache = request.app.state.search_cache
    stores: StoreHolder = request.app.state.stores
    version = stores.content_version()
    shared = stores.search_store() or store

    def search(q: Any) -> Any:
        with lock_of(shared):
            return search_trials(shared, q, timeout_s=_timeout(request))

    def run(q: Any) -> Any:
        return cache.get_or_run((version, q), lambda: search(q))

    if not query.facets:
        return run(query)
    whole = cache.peek((version, query))
    if whole is not None:
        return whole
    counts_key = (
        version,
        "facets",
        dataclasses.replace(query, page=1, cursor=None, sort="relevance", limit=1),
    )
    counts = cache.peek(counts_key)
    if counts is not None:
        return dataclasses.replace(run(dataclasses.replace(query, facets=())), facets=counts)
    results = run(query)
    cache.put(counts_key, results.facets)
    return results


def facet_fieldsets(groups: Sequence[FacetGroup]) -> Markup:
    """The search page's filter checkboxes: one fieldset per facet, one option per value.

    Written here, not in search.html: a page holds up to ~80 options of eight values each,
    and Jinja's cost per expression made them a third of the page's rendering time.
    """
    out: list[str] = []
    for group in groups:
        spec = group.spec
        param = escape(spec.param)
        kind = "checkbox" if spec.multiple else "radio"
        out.append(
            f'<fieldset class="facet" id="facet-{escape(spec.facet)}">\n'
            f"        <legend>{escape(spec.title)}</legend>\n"
        )
        if not spec.multiple:
            checked = "" if group.any_checked else " checked"
            out.append(
                f'        <div class="option"><input type="radio" id="f-{param}-any" name="{param}" value=""{checked}>'
                f'<label for="f-{param}-any">Any</label></div>\n'
            )
        for n, option in enumerate(group.options, 1):
            checked = " checked" if option.checked else ""
            count = "" if option.count is None else f' <span class="count">{option.count:,}</span>'
            out.append(
                '        <div class="option">\n'
                f'          <input type="{kind}" id="f-{param}-{n}" name="{param}" value="{escape(option.value)}"{checked}>\n'
                f'          <label for="f-{param}-{n}">{escape(option.label)}{count}</label>\n'
                "        </div>\n"
            )
        out.append("      </fieldset>\n      ")
    return Markup("".join(out).rstrip(" \n"))


async def search_page(request: Request) -> Response:
    """``/``, on the event loop: searches of one store take turns anyway (``search_lock``),
    so pool threads would add a hand-off and a fight for the GIL, not parallelism (+17 %
    searches/s with 2 workers at 32 connections, docs/PERFORMANCE.md). A search's time
    limit bounds how long it holds the loop.
    """
    return _search_page(request)


def _search_page(request: Request) -> Response:
    """``/``: the search form with filters and facet counts, the results and their pages."""
    store = store_of(request)
    if store is None:
        return empty_page(request)
    params = _params(request)
    context: dict[str, Any] = {
        "params": params,
        "q": first(params, "q"),
        "sorts": SORTS,
        "limits": LIMITS,
        "sex_choices": SEX_CHOICES,
        "first": first,
        "values": values,
        "error": None,
        "results": None,
        "facets_html": "",
        "has_filters": bool(filters_only(params)),
        "active": active_filters(params),
    }
    try:
        results = run_search(request, store, params, facets=SEARCH_PAGE_FACETS)
    except QueryError as exc:
        context["error"] = str(exc)
        context["facets_html"] = facet_fieldsets(facet_groups(params, {}))
        return render(request, "search.html", context, status=400)
    filters = filters_only(params)
    near = first(params, "near")
    context.update(
        results=results,
        hits=[_hit_view(hit, near) for hit in results.hits],
        facets_html=facet_fieldsets(facet_groups(params, results.facets)),
        pages=pagination(params, results.total, results.page, results.limit),
        first_shown=(results.page - 1) * results.limit + 1 if results.hits else 0,
        export_csv=url_with(
            filters, "/api/v1/search/export", format="csv", sort=first(params, "sort") or None
        ),
        export_jsonl=url_with(
            filters, "/api/v1/search/export", format="jsonl", sort=first(params, "sort") or None
        ),
        stats_url=url_with(filters, "/stats"),
        first_page=url_with(without(params, "page", "cursor"), "/"),
        api_url=url_with(params, "/api/v1/search"),
    )
    return render(request, "search.html", context)


def _some(items: Sequence[str], most: int) -> str:
    """The first few items; the rest counted (a trial may list dozens of conditions)."""
    shown = "; ".join(items[:most])
    return shown + (f"; and {len(items) - most} more" if len(items) > most else "")


def _km(distance: float) -> str:
    return f"{distance:.1f} km" if distance < 10 else f"{distance:,.0f} km"


def _hit_view(hit: Any, near: str) -> dict[str, Any]:
    link = f"/trials/{hit.nct_id}"
    if near:
        link = url_with({"near": near}, link)
    return {
        "hit": hit,
        "link": link,
        "snippet": safe_snippet(hit.snippet),
        "phases": plain_filter(hit.phase_label),
        "status": plain_filter(hit.status),
        "study_type": plain_filter(hit.study_type),
        "distance": None if hit.distance_km is None else _km(hit.distance_km),
        "conditions": _some(hit.conditions, 6),
    }


# --- trial ------------------------------------------------------------------------------


def related_for(store: Store, nct_id: str, limit: int = RELATED_ON_PAGE) -> tuple[RelatedTrial, ...]:
    """The page's related trials; empty while the similarity index is not built."""
    try:
        return tuple(related_for_page(store, nct_id, limit=limit))
    except (TrialNotFoundError, StoreError):
        return ()


async def trial_page(request: Request) -> Response:
    """``/trials/{nct_id}``: every section of the trial, related trials, distances with ``?near=``.

    Unlike the other pages it runs on the event loop itself: a trial page is a few
    milliseconds of Python (one row, its stored related list, rendering), and handing that
    to a pool thread costs more than it saves, because the threads only take turns on the
    GIL (measured in docs/PERFORMANCE.md, section Web).
    """
    return _trial_page(request)


def _trial_page(request: Request) -> Response:
    raw_id = request.path_params["nct_id"]
    nct_id = raw_id.strip().upper()
    store = store_of(request)
    if store is None:
        return empty_page(request, status=404)
    if not NCT_ID.match(nct_id):
        raise TrialNotFoundError(raw_id[:100])
    if nct_id != raw_id:
        return RedirectResponse(url_with(dict(request.query_params), f"/trials/{nct_id}"), status_code=301)
    etag = etag_for(request)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    trial = store.get_trial(nct_id)
    page = build_page(trial, related_for(store, nct_id))
    fmt = request.query_params.get("format", "html")
    headers = {"etag": etag, "cache-control": "no-cache"}
    if fmt == "text":
        return PlainTextResponse(render_text(page), headers=headers)
    if fmt == "markdown":
        return PlainTextResponse(render_markdown(page), media_type="text/markdown", headers=headers)
    if fmt != "html":
        raise QueryError(
            f"Unknown format {fmt[:40]!r}; choose html, text or markdown (JSON is at /api/v1/trials/)."
        )
    near = request.query_params.get("near", "").strip()[:200]
    origin, near_problem = None, ""
    if near:
        try:
            origin = places.resolve_place(near)
        except QueryError as exc:
            near_problem = str(exc)
        else:
            page = places.with_distances(page, trial, origin)
    context = {
        "page": page,
        # Related trials keep the searched place, so their pages show distances too (urlencode
        # escapes any brace a user typed, so the link stays a valid format string).
        "body": render_html_body(
            page, trial_link=url_with({"near": near} if origin else {}, "/trials/{nct_id}")
        ),
        "near": near,
        "origin": origin,
        "near_problem": near_problem,
        "ctgov_url": f"https://clinicaltrials.gov/study/{nct_id}",
    }
    return render(request, "trial.html", context, headers=headers)


# --- statistics -------------------------------------------------------------------------


def stats_page(request: Request) -> Response:
    """``/stats``: charts of the whole registry, or of the search given in the query string."""
    store = store_of(request)
    if store is None:
        return empty_page(request)
    params = filters_only(_params(request))
    context: dict[str, Any] = {
        "params": params,
        "q": first(params, "q"),
        "error": None,
        "charts": [],
        "first": first,
        "values": values,
        "described": bool(params),
    }
    try:
        results = run_search(request, store, params, facets=FACETS, limit=1)
    except QueryError as exc:
        context["error"] = str(exc)
        return render(request, "stats.html", context, status=400)
    context.update(
        results=results,
        charts=charts.registry_charts(results.facets, params),
        search_url=url_with(params, "/"),
        api_url=url_with(params, "/api/v1/stats"),
    )
    return render(request, "stats.html", context)
