"""Ranking by relevance: BM25 over field-weighted term frequencies, computed for many trials at once.

For a trial d and the phrases p of a search (every positive word, phrase and synonym):

    score(d) = sum over p of  idf(p) * f(p, d) * (k1 + 1) / (f(p, d) + k1 * (1 - b + b * D(d) / avgdl))

where f is the phrase's frequency in d with each field's count multiplied by the field's
weight (:mod:`trialscope.search.document`), D the trial's length in tokens, avgdl the mean
length, and idf(p) = log((N - n(p) + 0.5) / (n(p) + 0.5)) over the N trials, n(p) of which
hold the phrase (a tiny positive number when that is not positive, so a word in most trials
still counts a little). These are the formula and weights TrialScope has ranked with since
its first version (then computed by SQLite's FTS5), now computed by search itself from the
postings it owns, so every backend ranks alike.

>>> from trialscope.search.match import PhraseHits
>>> hits = PhraseHits(np.array([1, 2]), np.array([10.0, 1.0]))
>>> s = bm25_scores([hits], np.array([1, 2, 3]), np.array([0.0, 100, 100, 100]), n_docs=10, avgdl=100.0)
>>> bool(s[0] > s[1] > s[2] == 0)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from trialscope.search.match import PhraseHits

K1 = 1.2
B = 0.75


def idf(n_docs: int, holding: int) -> float:
    value = math.log((n_docs - holding + 0.5) / (holding + 0.5))
    return value if value > 0 else 1e-6


def bm25_scores(
    phrases: Sequence[PhraseHits], docs: np.ndarray, lengths: np.ndarray, *, n_docs: int, avgdl: float
) -> np.ndarray:
    """Scores of ``docs`` (trial ids) for the given phrases; ``lengths`` is indexed by trial id."""
    scores = np.zeros(docs.size, dtype=np.float64)
    if docs.size == 0 or avgdl <= 0:
        return scores
    norm = K1 * (1 - B + B * lengths[docs] / avgdl)
    for hits in phrases:
        if hits.docs.size == 0:
            continue
        at = np.searchsorted(hits.docs, docs)
        at[at >= hits.docs.size] = 0
        found = hits.docs[at] == docs
        f = np.where(found, hits.freq[at], 0.0)
        scores += idf(n_docs, int(hits.docs.size)) * (f * (K1 + 1)) / (f + norm)
    return scores
