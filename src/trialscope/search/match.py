"""Matching search text against the index: words, phrases, prefixes, and the boolean tree.

A :class:`Matcher` reads postings through the store (one row per segment for each term),
keeps each trial's entries only from the segment that holds its words now, and answers:

- :meth:`Matcher.phrase` — the trials holding a word or phrase (in some fields, maybe a
  prefix) and its frequency in each, weighted by field (what BM25 needs);
- :meth:`Matcher.evaluate` — the trials a whole parsed text matches, as a boolean mask.

Phrase results are kept in a cache bounded by bytes, so a word searched again (with other
filters, another page, a facet click) costs an array lookup.

>>> from trialscope.store import open_store
>>> Matcher(open_store(":memory:"), np.full(1, -1)).phrase(Term(("lupus",))).docs.size
0
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from cachetools import LRUCache

from trialscope.analyze import fold, stem
from trialscope.errors import QueryError
from trialscope.search.document import FIELDS, WEIGHTS
from trialscope.search.postings import EMPTY, Entries, decode_positions, decode_postings
from trialscope.search.syntax import AllOf, AnyOf, Negated, Node, Term
from trialscope.store import Store

CACHE_BYTES = 128 * 1024 * 1024
FIELD_CAP = (
    8.0  # a field's (length-normalised) count of one phrase counts up to this (TREC 2021: 2-inf within 0.005)
)
MAX_PREFIX_TERMS = 2_000  # words a prefix (immuno*) may stand for
_WEIGHTS = np.array(WEIGHTS, dtype=np.float64)
_FIELD_NUMBER = {name: i for i, name in enumerate(FIELDS)}


@dataclass(frozen=True, slots=True)
class PhraseHits:
    """The trials holding a phrase (ascending) and its field-weighted frequency in each."""

    docs: np.ndarray
    freq: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.docs.nbytes + self.freq.nbytes)


_NONE = PhraseHits(np.empty(0, np.int64), np.empty(0, np.float64))


def _weighted(entries: Entries, norms: np.ndarray) -> PhraseHits:
    """Per trial, BM25F's frequency of the phrase: the sum over the fields holding it of the
    field's weight times its count over the field's length norm in that trial
    (``norms[field, trial id]``), each field's share capped at :data:`FIELD_CAP` counts, so
    that no field wins by repeating a word however long it is."""
    if entries.size == 0:
        return _NONE
    starts = np.flatnonzero(np.diff(entries.docs, prepend=-1))
    inside = np.minimum(entries.docs, norms.shape[1] - 1)
    normalised = np.minimum(entries.counts / norms[entries.fields, inside], FIELD_CAP)
    return PhraseHits(entries.docs[starts], np.add.reduceat(_WEIGHTS[entries.fields] * normalised, starts))


def _keys(entries: Entries) -> np.ndarray:
    return entries.docs * 16 + entries.fields


class Matcher:
    """Reads postings of one store version; ``owner[trial id]`` is the segment holding the
    trial's words now (-1: none), ``norms[field, trial id]`` each field's length norm."""

    def __init__(self, store: Store, owner: np.ndarray, norms: np.ndarray | None = None) -> None:
        self.store = store
        self.owner = owner
        self.norms = norms if norms is not None else np.ones((len(FIELDS), owner.size))
        self._cache: LRUCache[tuple[object, ...], PhraseHits] = LRUCache(
            maxsize=CACHE_BYTES, getsizeof=lambda hits: hits.nbytes + 200
        )
        self._lock = threading.Lock()

    # --- reading one term -----------------------------------------------------------

    def _live(self, entries: Entries, seg: int) -> np.ndarray:
        keep = np.zeros(entries.size, dtype=bool)
        inside = entries.docs < self.owner.size
        keep[inside] = self.owner[entries.docs[inside]] == seg
        return keep

    def entries(self, term: str, *, positions: bool = False) -> tuple[Entries, np.ndarray | None]:
        """A term's live entries across segments (and their positions when asked for)."""
        columns = ("seg", "postings", "positions") if positions else ("seg", "postings")
        parts: list[Entries] = []
        places: list[np.ndarray] = []
        for row in self.store.select("text_terms", columns, where={"term": term}, order_by=("seg",)):
            entries = decode_postings(row[1])
            keep = self._live(entries, int(row[0]))
            if positions:
                places.append(decode_positions(row[2], entries.counts)[np.repeat(keep, entries.counts)])
            parts.append(entries.take(keep))
        return _combine(parts, places if positions else None)

    def expand_prefix(self, prefix: str) -> list[str]:
        """The index terms starting with a prefix (as typed, folded, not stemmed)."""
        high = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self.store.select_range(
            "text_terms", ("term",), "term", prefix, high, limit=MAX_PREFIX_TERMS * 8
        )
        found = list(dict.fromkeys(r[0] for r in rows))
        if len(found) > MAX_PREFIX_TERMS:
            raise QueryError(
                f"{prefix}* stands for more than {MAX_PREFIX_TERMS:,} different words; write more of the word."
            )
        return found

    # --- a phrase -------------------------------------------------------------------

    def phrase(self, term: Term) -> PhraseHits:
        """The trials holding a Term (word, phrase or prefix, maybe limited to fields)."""
        fields = tuple(sorted(_FIELD_NUMBER[c] for c in term.columns))
        key = (term.tokens, fields, term.prefix)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        hits = self._phrase(term.tokens, fields, term.prefix)
        with self._lock:
            self._cache[key] = hits
        return hits

    def _token_entries(
        self, token: str, last: bool, prefix: bool, positions: bool
    ) -> tuple[Entries, np.ndarray | None]:
        if prefix and last:
            words = self.expand_prefix(fold(token))
            found = [self.entries(w, positions=positions) for w in words]
            return _combine([f[0] for f in found], [f[1] for f in found] if positions else None)
        return self.entries(stem(token), positions=positions)

    def _phrase(self, tokens: tuple[str, ...], fields: tuple[int, ...], prefix: bool) -> PhraseHits:
        if not tokens:
            return _NONE
        single = len(tokens) == 1
        got = [self._token_entries(t, i == len(tokens) - 1, prefix, not single) for i, t in enumerate(tokens)]
        if fields:
            wanted = np.zeros(len(FIELDS), dtype=bool)
            wanted[list(fields)] = True
            got = [_take(e, p, wanted[e.fields]) for e, p in got]
        if single:
            entries = got[0][0]
            if prefix:  # several words may share a (trial, field): one entry each
                entries = _sum_duplicates(entries)
            return _weighted(entries, self.norms)
        return _phrase_instances(got, self.norms)

    # --- the boolean tree -----------------------------------------------------------

    def evaluate(self, node: Node, expand: object = None) -> np.ndarray:
        """The trials a parsed text matches, as a mask over trial ids (NOT parts subtracted)."""
        size = self.owner.size
        if isinstance(node, Term):
            mask = np.zeros(size, dtype=bool)
            for term in _alternatives(node, expand):
                docs = self.phrase(term).docs
                mask[docs[docs < size]] = True
            return mask
        if isinstance(node, Negated):  # a text of only NOT parts: every trial but those
            return ~self.evaluate(node.item, expand)
        if isinstance(node, AnyOf):
            mask = np.zeros(size, dtype=bool)
            for item in node.items:
                mask |= self.evaluate(item, expand)
            return mask
        positives = [i for i in node.items if not isinstance(i, Negated)]
        mask = self.evaluate(positives[0], expand) if positives else np.ones(size, dtype=bool)
        for item in positives[1:]:
            mask &= self.evaluate(item, expand)
        for item in node.items:
            if isinstance(item, Negated):
                mask &= ~self.evaluate(item.item, expand)
        return mask


def _alternatives(term: Term, expand: object) -> tuple[Term, ...]:
    """A Term and its synonyms (``expand`` is a SynonymTable.expand, or None)."""
    return (term, *(expand(term) if callable(expand) else ()))


def scored_terms(node: Node | None, expand: object = None) -> list[Term]:
    """The Terms that count in a trial's score: every positive leaf and its synonyms, once."""
    out: dict[Term, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Term):
            out.update(dict.fromkeys(_alternatives(n, expand)))
        elif isinstance(n, AllOf | AnyOf):
            for item in n.items:
                walk(item)

    if node is not None:
        walk(node)
    return list(out)


def _take(
    entries: Entries, positions: np.ndarray | None, keep: np.ndarray
) -> tuple[Entries, np.ndarray | None]:
    if positions is not None:
        positions = positions[np.repeat(keep, entries.counts)]
    return entries.take(keep), positions


def _combine(
    parts: Sequence[Entries], places: Sequence[np.ndarray | None] | None
) -> tuple[Entries, np.ndarray | None]:
    """Entries of several segments (or words) as one list in (trial, field) order."""
    kept = [(e, places[i] if places is not None else None) for i, e in enumerate(parts) if e.size]
    if not kept:
        return EMPTY, (np.empty(0, np.int64) if places is not None else None)
    if len(kept) == 1:
        return kept[0]
    docs = np.concatenate([e.docs for e, _ in kept])
    fields = np.concatenate([e.fields for e, _ in kept])
    counts = np.concatenate([e.counts.astype(np.int64) for e, _ in kept])
    positions = np.concatenate([p for _, p in kept]) if places is not None else None
    keys = docs * 16 + fields
    if keys.size > 1 and bool(np.any(keys[1:] < keys[:-1])):
        order = np.argsort(keys, kind="stable")
        if positions is not None:
            starts = np.cumsum(counts) - counts
            runs = counts[order]
            ranks = np.arange(int(runs.sum())) - np.repeat(np.cumsum(runs) - runs, runs)
            positions = positions[np.repeat(starts[order], runs) + ranks]
        docs, fields, counts = docs[order], fields[order], counts[order]
    return Entries(docs, fields, counts), positions


def _sum_duplicates(entries: Entries) -> Entries:
    """One entry per (trial, field), counts added (a prefix's words can share one)."""
    keys = _keys(entries)
    starts = np.flatnonzero(np.diff(keys, prepend=-1))
    if starts.size == entries.size:
        return entries
    return Entries(
        entries.docs[starts], entries.fields[starts], np.add.reduceat(entries.counts.astype(np.int64), starts)
    )


def _phrase_instances(got: list[tuple[Entries, np.ndarray | None]], norms: np.ndarray) -> PhraseHits:
    """Where the tokens stand one after another in the same field: each instance counted."""
    common: np.ndarray | None = None
    for entries, _ in got:
        keys = np.unique(_keys(entries))
        common = keys if common is None else np.intersect1d(common, keys, assume_unique=True)
        if common.size == 0:
            return _NONE
    assert common is not None
    instances: np.ndarray | None = None
    for offset, (entries, positions) in enumerate(got):
        assert positions is not None
        keep = np.isin(_keys(entries), common)
        occurrence = np.repeat(keep, entries.counts)
        owners = np.repeat(_keys(entries), entries.counts)[occurrence]
        starts = (owners << 32) + (positions[occurrence] - offset)
        starts = np.unique(starts[positions[occurrence] >= offset])
        instances = starts if instances is None else np.intersect1d(instances, starts, assume_unique=True)
        if instances.size == 0:
            return _NONE
    assert instances is not None
    entry_keys, counts = np.unique(instances >> 32, return_counts=True)
    return _weighted(Entries(entry_keys // 16, (entry_keys % 16).astype(np.uint8), counts), norms)
