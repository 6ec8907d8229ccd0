"""What the HTML pages and the JSON API both need: the store, searches, related trials, words.

:mod:`trialscope.web.views` (the pages) and :mod:`trialscope.web.api` (the JSON API) each
import this module and never each other, so the API serves the same searches and page
contexts as the pages without depending on how the pages are drawn.

>>> field_name("within"), field_name("page")
('Within', 'page')
>>> from trialscope.errors import QueryError
>>> query_message(QueryError("A distance ({within}) needs a place ({near}).", names=("within", "near")))
'A distance (Within) needs a place (Near).'
>>> plural(1, "trial"), plural(1234, "trial")
('1 trial', '1,234 trials')
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from trialscope.criteria.index import criteria_by_nct_id
from trialscope.errors import QueryError, StoreError, TrialNotFoundError
from trialscope.model import Trial
from trialscope.render.page import RelatedTrial, TrialPage, build_page
from trialscope.search import FILTERS, SearchResults, query_from_params, search_trials
from trialscope.similar import related_for_page
from trialscope.store import Store
from trialscope.web.cache import SearchCache
from trialscope.web.params import Params
from trialscope.web.responses import etag_for, not_modified
from trialscope.web.stores import StoreHolder, lock_of

NCT_ID = re.compile(r"^NCT\d{8}$")
RELATED_ON_PAGE = 10


def field_name(name: str) -> str:
    """A search parameter as the web form calls it: the filter's label (``within`` -> "Within")."""
    spec = FILTERS.get(name)
    return spec.label if spec is not None else name


def query_message(error: QueryError) -> str:
    """A query error in one sentence that names the form's fields, not command-line flags."""
    return error.render(field_name)


def plural(n: int, word: str, many: str | None = None) -> str:
    """A count with its noun, singular where it is one: ``1 trial``, ``1,234 trials``."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def store_of(request: Request) -> Store | None:
    """The request thread's read-only store, or None while the store holds no trials."""
    return request.app.state.stores.get()


def canonical_nct_id(raw: str) -> str:
    """The NCT id of a URL as the registry writes it; a 404 when it cannot be one."""
    nct_id = raw.strip().upper()
    if not NCT_ID.match(nct_id):
        raise TrialNotFoundError(raw[:100])
    return nct_id


def run_search(
    request: Request,
    store: Store,
    params: Params,
    *,
    facets: Sequence[str] | None,
    limit: int | None = None,
) -> SearchResults:
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
    timeout = float(request.app.state.settings.query_timeout)

    def search(q: Any) -> SearchResults:
        with lock_of(shared):
            return search_trials(shared, q, timeout_s=timeout)

    def run(q: Any) -> SearchResults:
        return cache.get_or_run((version, q), lambda: search(q))

    if not query.facets:
        return run(query)
    whole = cache.peek((version, query))
    if isinstance(whole, SearchResults):
        return whole
    counts_key = (
        version,
        "facets",
        dataclasses.replace(query, page=1, cursor=None, sort="relevance", limit=1),
    )
    counts = cache.peek(counts_key)
    if isinstance(counts, dict):
        return dataclasses.replace(run(dataclasses.replace(query, facets=())), facets=counts)
    results = run(query)
    cache.put(counts_key, results.facets)
    return results


@dataclass(frozen=True, slots=True)
class TrialAnswer:
    """A trial, its page context, and the headers that let a client revalidate it."""

    trial: Trial
    page: TrialPage
    headers: dict[str, str]


def trial_answer(request: Request, store: Store, nct_id: str) -> TrialAnswer | Response:
    """The trial and its page (with related trials and typed criteria), or a 304 when the client
    holds this version."""
    etag = etag_for(request)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    trial = store.get_trial(nct_id)
    typed = criteria_by_nct_id(store, [nct_id]).get(nct_id)
    page = build_page(trial, related_for(store, nct_id), typed)
    return TrialAnswer(trial, page, {"etag": etag, "cache-control": "no-cache"})


def related_for(store: Store, nct_id: str, limit: int = RELATED_ON_PAGE) -> tuple[RelatedTrial, ...]:
    """The page's related trials; empty while the similarity index is not built."""
    try:
        return tuple(related_for_page(store, nct_id, limit=limit))
    except (TrialNotFoundError, StoreError):
        return ()
