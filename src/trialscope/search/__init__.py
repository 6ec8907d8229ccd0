"""Search: ranked full text, every filter people ask for, facet counts for any query.

    from trialscope.search import SearchQuery, search_trials
    results = search_trials(store, SearchQuery(text="mesenchymal stem cells lupus",
                                               statuses=("recruiting", "completed"), phases=("2",),
                                               near="Minsk, Belarus", within_km=500, age_years=45,
                                               sex="female", facets=("status", "phase", "country")))

Stages, one module each: :mod:`.syntax` (the search-text syntax), :mod:`.values` and
:mod:`.filters` (every filter declared once: how it is read, its help, its facet, its test),
:mod:`.query` (the SearchQuery, checked), :mod:`.document` (a trial's text fields and their
weights), :mod:`.postings` and :mod:`.segments` (the postings search owns, in segments),
:mod:`.index` (the derived index: facts, places, synonyms, postings), :mod:`.facts` (facts as
columns), :mod:`.match` (words, phrases and the boolean tree over postings), :mod:`.rank`
(BM25), :mod:`.engine` (running a search), :mod:`.snippets`, :mod:`.hits` (the hit and its
writers), :mod:`.synonyms`, :mod:`.geo`.
"""

from trialscope.search.engine import (
    SearchReader,
    SearchResults,
    explain_search,
    iter_all_hits,
    search_reader,
    search_trials,
    warm_search,
)
from trialscope.search.filters import FILTERS
from trialscope.search.hits import FacetValue, SearchHit
from trialscope.search.index import SEARCH_INDEX
from trialscope.search.query import (
    FACETS,
    SORTS,
    SearchQuery,
    normalize_query,
    query_from_params,
    query_to_params,
)

__all__ = [
    "FACETS",
    "FILTERS",
    "SEARCH_INDEX",
    "SORTS",
    "FacetValue",
    "SearchHit",
    "SearchQuery",
    "SearchReader",
    "SearchResults",
    "explain_search",
    "iter_all_hits",
    "normalize_query",
    "query_from_params",
    "query_to_params",
    "search_reader",
    "search_trials",
    "warm_search",
]
