"""Search: ranked full text, every filter people ask for, facet counts for any query.

    from trialscope.search import SearchQuery, search_trials
    results = search_trials(store, SearchQuery(text="mesenchymal stem cells lupus",
                                               statuses=("recruiting", "completed"), phases=("2",),
                                               near="Minsk, Belarus", within_km=500, age_years=45,
                                               sex="female", facets=("status", "phase", "country")))

Stages, one module each: :mod:`.query` (the SearchQuery and its checks), :mod:`.text` (the
search-text syntax), :mod:`.synonyms` (abbreviations learnt from the records), :mod:`.geo`
(gazetteer and distances), :mod:`.index` (search's narrow tables beside the store),
:mod:`.sql` (builders returning ``(sql, params)``: the SQL plan), :mod:`.columns` (the same
search over in-memory columns, the default engine), :mod:`.run` (running under a time limit),
:mod:`.export` (CSV, JSON Lines and JSON writers).
"""

from trialscope.search.index import ensure_search_index, refresh_search_index
from trialscope.search.query import (
    FACETS,
    SORTS,
    SearchQuery,
    normalize_query,
    query_from_params,
    query_to_params,
)
from trialscope.search.run import (
    FacetValue,
    SearchHit,
    SearchResults,
    explain_search,
    iter_all_hits,
    search_trials,
)
from trialscope.search.sql import search_sql


def warm_search(store: object) -> None:
    """Get a store ready to search fast: its search tables current, their columns, the
    phrase postings other processes have read and the quick gazetteer loaded (a web app may
    call this once per worker at start-up)."""
    from trialscope.search.columns import warm_columns
    from trialscope.search.geo import warm_gazetteer
    from trialscope.search.scoring import warm_scoring

    ensure_search_index(store)
    warm_columns(store.conn)  # type: ignore[attr-defined]
    warm_scoring(store.conn)  # type: ignore[attr-defined]
    warm_gazetteer()


__all__ = [
    "FACETS",
    "SORTS",
    "FacetValue",
    "SearchHit",
    "SearchQuery",
    "SearchResults",
    "explain_search",
    "iter_all_hits",
    "normalize_query",
    "query_from_params",
    "query_to_params",
    "refresh_search_index",
    "search_sql",
    "search_trials",
    "warm_search",
]
