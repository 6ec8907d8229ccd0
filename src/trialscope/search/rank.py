"""Ranking by relevance: BM25F over field-weighted, field-normalised term frequencies, for many trials at once.

For a trial d and the phrases p of a search (every positive word, phrase and synonym):

    f(p, d)  = sum over fields F of  w(F) * count(p, F, d) / (1 - b(F) + b(F) * len(F, d) / mean len(F))
    score(d) = sum over p of  idf(p) * f(p, d) * (k1 + 1) / (k1 + f(p, d))

with the weights w and length discounts b of :mod:`trialscope.search.document`, and
idf(p) = log((N - n(p) + 0.5) / (n(p) + 0.5)) over the N trials, n(p) of which hold the
phrase (a tiny positive number when that is not positive, so a word in most trials still
counts a little). Each field's counts are discounted by that field's own length, so a trial
with a four-megabyte criteria text cannot outrank one whose title and conditions name the
words, and repeats saturate (k1) whatever field they are in. The field-weighted frequencies
come from the postings search owns (:mod:`trialscope.search.match`), so every backend ranks
alike.

>>> from trialscope.search.match import PhraseHits
>>> hits = PhraseHits(np.array([1, 2]), np.array([10.0, 1.0]))
>>> s = bm25_scores([hits], np.array([1, 2, 3]), n_docs=10)
>>> bool(s[0] > s[1] > s[2] == 0)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from trialscope.search.match import PhraseHits

K1 = 2.0  # chosen on TREC 2021 (docs/PERFORMANCE.md): 1.2 to 5 within 0.005 NDCG@10


def idf(n_docs: int, holding: int) -> float:
    value = math.log((n_docs - holding + 0.5) / (holding + 0.5))
    return value if value > 0 else 1e-6


def bm25_scores(phrases: Sequence[PhraseHits], docs: np.ndarray, *, n_docs: int) -> np.ndarray:
    """Scores of ``docs`` (trial ids) for the given phrases (their frequencies already
    weighted and normalised per field)."""
    scores = np.zeros(docs.size, dtype=np.float64)
    if docs.size == 0:
        return scores
    for hits in phrases:
        if hits.docs.size == 0:
            continue
        at = np.searchsorted(hits.docs, docs)
        at[at >= hits.docs.size] = 0
        found = hits.docs[at] == docs
        f = np.where(found, hits.freq[at], 0.0)
        scores += idf(n_docs, int(hits.docs.size)) * (f * (K1 + 1)) / (K1 + f)
    return scores
