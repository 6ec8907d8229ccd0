"""More Related Trials: similarity analysis of every trial, computed at index time, with reasons.

Similarity is a weighted sum of cosines over five blocks of features (conditions as MeSH
terms and ancestors, interventions and the kinds of treatment they are, text, design,
sponsors), each TF-IDF weighted so rare shared things count most, plus an agreement term that
only trials sharing both the condition and the kind of treatment earn, so those come first.
The weights were tuned on TREC 2021 co-relevance under that rule (see
``eval/related_quality.py`` and docs/PERFORMANCE.md). The top-k neighbours of every trial are
stored in the store's own file, updated incrementally after each ingest, and read by a
lookup that filters them and says why each one is related, in the trials' own words.

    build_index(store)                     # the whole store, in one pass
    update_index_after_ingest(store)       # only new or changed trials; builds if there is no index
    related_trials(store, "NCT04184258", limit=10, statuses=("recruiting",))
    related_for_page(store, "NCT04184258") # RelatedTrial entries for the trial page

Modules: :mod:`.words` (content words, stems, spellings), :mod:`.concepts` (kinds of
treatment), :mod:`.features` (trial -> feature bags), :mod:`.thesaurus` (what the corpus
teaches), :mod:`.extract` (trials -> raw matrix), :mod:`.vectors` (bags -> unit vectors,
scores), :mod:`.neighbours` (chunked sparse top-k), :mod:`.index` (the stored index, build and
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
