"""Segments of the text index: numbering them, dropping dead ones, merging small ones.

Every refresh adds segments; a trial's words count only in the segment its facts row names,
so older postings of a re-indexed trial are dead weight until their segment is rewritten.
After each refresh :func:`collect_segments` drops the segments no trial points at, and merges
segments in tiers, as search libraries do: segments of about the same size (the same power
of ten of trials) are merged :data:`MERGE_FACTOR` at a time into one of the next tier. A full
build of 600,000 trials (sixty segments of 10,000) ends as six of 100,000, each trial merged
once; a daily refresh of a thousand trials adds a small segment, and ten days of them become
one. A search reads one row per segment for each of its words, so few segments keep words
cheap to read, and merging only like sizes keeps each trial's rewrites few.

Merging writes the new segment first, a slice of terms at a time (no trial points at it
yet, so searches ignore it), then moves the trials to it and drops the old rows in one
transaction: a search sees the old segments or the new one, never half of either, and an
interrupted merge leaves an unreferenced segment that the next collection drops.
"""

from __future__ import annotations

import numpy as np

from trialscope.search.postings import (
    Entries,
    decode_positions,
    decode_postings,
    encode_positions,
    encode_postings,
)
from trialscope.store import Store

MERGE_FACTOR = 10  # segments of one tier merged at a time
_TERMS_PER_READ = 500  # terms read (from every segment merged) at a time: bounds memory


def next_segment(store: Store) -> int:
    """A segment number never used before (rows of an unfinished one count as used)."""
    return max(store.max_value("text_segments", "seg"), store.max_value("text_terms", "seg")) + 1


def live_segments(store: Store) -> dict[int, int]:
    """Segment -> trials whose words it holds now."""
    return {int(seg): int(n) for seg, n in store.count_by("search_facts", "text_seg")}


def tier(trials: int) -> int:
    """A segment's size class: the number of digits of its trial count.

    >>> tier(1_000), tier(9_999), tier(10_000), tier(550_000)
    (4, 4, 5, 6)
    """
    return len(str(max(trials, 1)))


def merges_due(live: dict[int, int], factor: int | None = None) -> list[list[int]]:
    """Groups of segments to merge: the ``factor`` smallest of the smallest tier holding that many.

    >>> merges_due({1: 9_000, 2: 9_500, 3: 80_000}, factor=2)
    [[1, 2]]
    """
    factor = factor or MERGE_FACTOR
    by_tier: dict[int, list[int]] = {}
    for seg, trials in live.items():
        by_tier.setdefault(tier(trials), []).append(seg)
    for _, segs in sorted(by_tier.items()):
        if len(segs) >= factor:
            return [sorted(segs, key=lambda s: (live[s], s))[:factor]]
    return []


def collect_segments(store: Store, *, factor: int | None = None) -> None:
    """Drop segments no trial points at; merge segments of a tier while one holds ``factor``."""
    live = live_segments(store)
    known = {int(s) for (s,) in store.select("text_segments", ("seg",))}
    written = {int(s) for s, _ in store.count_by("text_terms", "seg")}
    dead = sorted((known | written) - set(live))
    if dead:
        with store.transaction():
            store.delete_in("text_terms", "seg", dead)
            store.delete_in("text_segments", "seg", dead)
    while groups := merges_due(live, factor):
        merged = merge_segments(store, groups[0])
        live = {s: n for s, n in live.items() if s not in groups[0]}
        live[merged] = live_segments(store).get(merged, 0)


def _live_entries(entries: Entries, positions: np.ndarray, mine: np.ndarray) -> tuple[Entries, np.ndarray]:
    """The entries (and their positions) of trials whose words this segment still holds."""
    keep = np.zeros(entries.size, dtype=bool)
    inside = entries.docs < mine.size  # a trial removed since may be beyond every stored id
    keep[inside] = mine[entries.docs[inside]]
    return entries.take(keep), positions[np.repeat(keep, entries.counts)]


def _merge_term(parts: list[tuple[Entries, np.ndarray]]) -> tuple[int, bytes, bytes] | None:
    """One term's live entries of several segments as one (trials, postings, positions)."""
    parts = [p for p in parts if p[0].size]
    if not parts:
        return None
    docs = np.concatenate([p[0].docs for p in parts])
    fields = np.concatenate([p[0].fields for p in parts])
    counts = np.concatenate([p[0].counts.astype(np.int64) for p in parts])
    positions = np.concatenate([p[1] for p in parts])
    order = np.lexsort((fields, docs))
    if not np.array_equal(order, np.arange(order.size)):
        starts = np.cumsum(counts) - counts
        occurrences = np.repeat(starts[order], counts[order]) + _ranks(counts[order])
        docs, fields, counts, positions = docs[order], fields[order], counts[order], positions[occurrences]
    deltas = np.diff(positions, prepend=0)
    firsts = np.cumsum(counts) - counts
    deltas[firsts] = positions[firsts]
    trials = int(np.count_nonzero(np.diff(docs, prepend=-1)))
    return trials, encode_postings(docs, fields, counts), encode_positions(deltas)


def _ranks(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each run of the given lengths: [2, 3] -> [0, 1, 0, 1, 2]."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def merge_segments(store: Store, segments: list[int]) -> int:
    """Merge some segments into a new one; returns its number."""
    ids, segs = store.column_arrays("search_facts", (("id", "int"), ("text_seg", "int")), order_by="id")
    ids_a, segs_a = np.asarray(ids), np.asarray(segs)
    owner = np.full(int(ids_a.max()) + 1 if ids_a.size else 1, -1, dtype=np.int64)
    owner[ids_a] = segs_a
    mine = {seg: owner == seg for seg in segments}
    merged = next_segment(store)
    total_terms = 0
    last = ""
    while rows := store.term_rows(segments, after=last, terms=_TERMS_PER_READ):
        out: list[tuple[str, int, int, bytes, bytes]] = []
        group: list[tuple[Entries, np.ndarray]] = []
        term = rows[0][0]
        for row_term, seg, postings, positions in [*rows, (None, -1, b"", b"")]:
            if row_term != term:
                done = _merge_term(group)
                if done is not None:
                    out.append((term, merged, *done))
                group, term = [], row_term
            if row_term is None:
                break
            entries = decode_postings(postings)
            group.append(_live_entries(entries, decode_positions(positions, entries.counts), mine[seg]))
        store.insert("text_terms", out)
        total_terms += len(out)
        last = rows[-1][0]
    with store.transaction():
        store.insert("text_segments", [(merged, int(np.isin(segs_a, segments).sum()), total_terms)])
        store.update_in("search_facts", {"text_seg": merged}, "text_seg", segments)
        store.delete_in("text_terms", "seg", segments)
        store.delete_in("text_segments", "seg", segments)
    return merged
