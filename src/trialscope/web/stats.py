"""What the statistics show besides the facet counts: the trials without a phase, and the
summary-only records - the two numbers ``trialscope stats`` prints that facets cannot.

The phase facet counts trials by the phases they give, so the trials that give none (most
observational studies, nearly half the registry) are counted here, as the search's trials
less those with any phase. Like the facet itself, this count ignores the search's own phase
filter. Summary-only records (loaded from a CSV export) are counted for the whole registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from trialscope.search.values import PHASES
from trialscope.store import Store
from trialscope.web.cache import SearchCache
from trialscope.web.common import run_search
from trialscope.web.params import Params, values, without


@dataclass(frozen=True, slots=True)
class StatsExtras:
    without_phase: int | None
    summary_only: int | None  # None for the counts of a search


def registry_extras(request: Request, store: Store, params: Params, total: int) -> StatsExtras:
    """The counts beside the facets, for the trials matching ``params`` (``total`` of them)."""
    others = without(params, "phase")
    if values(params, "phase"):
        total = run_search(request, store, others, facets=(), limit=1).total
    phased = run_search(request, store, {**others, "phase": list(PHASES)}, facets=(), limit=1).total
    summary_only = None
    if not params:
        cache: SearchCache = request.app.state.search_cache
        version = request.app.state.stores.content_version()
        summary_only = cache.get_or_run((version, "store stats"), store.stats).summary_only
    return StatsExtras(without_phase=total - phased, summary_only=summary_only)
