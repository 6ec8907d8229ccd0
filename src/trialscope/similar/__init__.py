"""More Related Trials: similarity analysis of every trial, computed at index time, with reasons.

Similarity is a weighted sum of cosines over five blocks of features (conditions as MeSH
terms and ancestors, interventions, text, design, sponsors), each TF-IDF weighted so rare
shared things count most; the weights were tuned on TREC 2021 co-relevance (see
``eval/related_quality.py`` and docs/PERFORMANCE.md). The top-k neighbours of every trial are
stored in the store's own file, updated incrementally after each ingest, and read by a
lookup that filters them and says why each one is related.

    build_index(store)                     # the whole store, in one pass
    update_index_after_ingest(store)       # only new or changed trials; builds if there is no index
    related_trials(store, "NCT04184258", limit=10, statuses=("recruiting",))
    related_for_page(store, "NCT04184258") # RelatedTrial entries for the trial page

Modules: :mod:`.features` (trial -> feature bags), :mod:`.vectors` (bags -> unit vectors),
:mod:`.neighbours` (chunked sparse top-k), :mod:`.index` (the stored index, build and
update), :mod:`.reasons` (shared features -> words), :mod:`.lookup` (reading the index).
"""

from __future__ import annotations

from trialscope.similar.index import (
    SIMILAR_INDEX,
    IndexStats,
    SimilarIndex,
    build_index,
    has_index,
    update_index_after_ingest,
)
from trialscope.similar.lookup import Related, related_for_page, related_trials
from trialscope.similar.vectors import Weights

__all__ = [
    "SIMILAR_INDEX",
    "IndexStats",
    "Related",
    "SimilarIndex",
    "Weights",
    "build_index",
    "has_index",
    "related_for_page",
    "related_trials",
    "update_index_after_ingest",
]
