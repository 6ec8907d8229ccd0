"""Postings: which trials hold a term, in which fields, how often, and where — built and read in bulk.

The search index is a set of immutable *segments*. A segment is built from a batch of trials
(:class:`SegmentBuilder`) and stored as one row per term (``text_terms``: term, segment,
postings, positions). A term's postings in a segment are *entries*, one per (trial, field)
holding the term, ordered by trial then field:

    postings   FORMAT, doc width, count width, 0, n entries (uint32), the first trial id
               (uint32), then trial ids as deltas from the one before (0 for the first, and for
               another field of the same trial), fields (uint8), counts — each array in the
               narrowest unsigned type that holds it. (Format 1, still read, had no first id:
               its first delta was the id itself, which past trial 65,535 made every delta of
               the term four bytes wide.)
    positions  zlib of: width, then each occurrence's token position within its field as a
               delta from the previous occurrence of the same entry (the first absolute)

Fixed-width arrays decode with ``numpy.frombuffer`` (no per-value work): reading a term that
600,000 trials hold costs milliseconds. Positions are read only for phrases. Nothing here
knows a database: a backend stores the bytes as blobs.

>>> builder = SegmentBuilder()
>>> builder.add(7, ("Lupus nephritis", "", "", "", "", "lupus lupus", "", "", "", "", ""))
[2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0]
>>> rows = {term: (postings, positions) for term, _, postings, positions in builder.build()}
>>> entries = decode_postings(rows["lupu"][0])
>>> entries.docs.tolist(), entries.fields.tolist(), entries.counts.tolist()
([7, 7], [0, 5], [1, 2])
>>> decode_positions(rows["lupu"][1], entries.counts).tolist()
[0, 0, 1]
"""

from __future__ import annotations

import struct
from array import array
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import count

import numpy as np

from trialscope.analyze import terms as analyze

try:  # ISA-L writes the same zlib format several times faster; stdlib zlib reads it back.
    from isal.isal_zlib import compress as _compress
    from isal.isal_zlib import decompress as _decompress
except ImportError:  # pragma: no cover - the optional accelerator is missing
    from zlib import compress as _compress
    from zlib import decompress as _decompress

FORMAT = 2
_HEADER = struct.Struct("<BBBBI")
_FIRST = struct.Struct("<I")
# Tokens turned into postings at a time (a few tens of MB of work arrays).
SLICE_TOKENS = 1 << 20
_DTYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32}


def _width(maximum: int) -> int:
    return 1 if maximum < 1 << 8 else 2 if maximum < 1 << 16 else 4


@dataclass(frozen=True, slots=True)
class Entries:
    """A term's postings: one entry per (trial, field) holding it, ordered by trial then field."""

    docs: np.ndarray  # int64 trial ids
    fields: np.ndarray  # uint8 field numbers
    counts: np.ndarray  # occurrences in that field

    @property
    def size(self) -> int:
        return int(self.docs.size)

    def take(self, keep: np.ndarray) -> Entries:
        return Entries(self.docs[keep], self.fields[keep], self.counts[keep])


EMPTY = Entries(np.empty(0, np.int64), np.empty(0, np.uint8), np.empty(0, np.uint32))


def encode_postings(docs: np.ndarray, fields: np.ndarray, counts: np.ndarray) -> bytes:
    """The postings bytes of one term's entries (docs ascending, fields ascending within a doc).

    >>> blob = encode_postings(np.array([70_000, 70_003]), np.array([0, 1]), np.array([1, 2]))
    >>> len(blob), decode_postings(blob).docs.tolist()  # deltas 0 and 3: one byte each
    (18, [70000, 70003])
    """
    first = int(docs[0]) if docs.size else 0
    deltas = np.diff(docs, prepend=first)
    doc_width = _width(int(deltas.max()) if deltas.size else 0)
    count_width = _width(int(counts.max()) if counts.size else 0)
    return b"".join(
        (
            _HEADER.pack(FORMAT, doc_width, count_width, 0, docs.size),
            _FIRST.pack(first),
            deltas.astype(_DTYPES[doc_width]).tobytes(),
            fields.astype(np.uint8).tobytes(),
            counts.astype(_DTYPES[count_width]).tobytes(),
        )
    )


def decode_postings(blob: bytes) -> Entries:
    """The entries of a postings blob (see the module's description of the format)."""
    version, doc_width, count_width, _, n = _HEADER.unpack_from(blob)
    at = _HEADER.size
    if version == FORMAT:
        first = _FIRST.unpack_from(blob, at)[0]
        at += _FIRST.size
    elif version == 1:
        first = 0
    else:
        raise ValueError(f"postings format {version} is not {FORMAT} or 1")
    deltas = np.frombuffer(blob, _DTYPES[doc_width], n, at)
    at += n * doc_width
    fields = np.frombuffer(blob, np.uint8, n, at)
    at += n
    counts = np.frombuffer(blob, _DTYPES[count_width], n, at)
    docs = np.cumsum(deltas, dtype=np.int64)
    if first:
        docs += first
    return Entries(docs, fields, counts)


def encode_positions(deltas: np.ndarray) -> bytes:
    width = _width(int(deltas.max()) if deltas.size else 0)
    return _compress(bytes((width,)) + deltas.astype(_DTYPES[width]).tobytes(), 1)


def decode_positions(blob: bytes, counts: np.ndarray) -> np.ndarray:
    """Every occurrence's position within its field, entry after entry (``counts`` of each)."""
    raw = _decompress(blob)
    deltas = np.frombuffer(raw, _DTYPES[raw[0]], offset=1).astype(np.int64)
    if deltas.size == 0:
        return deltas
    sums = np.cumsum(deltas)
    starts = np.cumsum(counts, dtype=np.int64) - counts
    return sums - np.repeat(sums[starts] - deltas[starts], counts)


class SegmentBuilder:
    """Collects the analysed text of a batch of trials, then writes their postings term by term.

    Tokens are appended in (trial, field, position) order, so one stable sort by term puts
    every occurrence in the order postings keep; all the rest is array arithmetic.
    """

    def __init__(self) -> None:
        self._ids: defaultdict[str, int] = defaultdict(count().__next__)
        self._terms = array("i")
        self._docs = array("i")  # index of the trial in this builder
        self._fields = array("b")
        self._positions = array("i")
        self.trial_ids: list[int] = []

    @property
    def tokens(self) -> int:
        return len(self._terms)

    @property
    def docs(self) -> int:
        return len(self.trial_ids)

    def add(self, trial_id: int, texts: Sequence[str]) -> list[int]:
        """Add one trial's field texts (trials in ascending id order); returns each field's
        length in tokens."""
        doc = len(self.trial_ids)
        self.trial_ids.append(trial_id)
        ids = self._ids
        lengths = [0] * len(texts)
        for field, text in enumerate(texts):
            found = analyze(text) if text else None
            if not found:
                continue
            n = len(found)
            self._terms.extend([ids[t] for t in found])
            self._docs.extend(array("i", [doc]) * n)
            self._fields.extend(array("b", [field]) * n)
            self._positions.extend(range(n))
            lengths[field] = n
        return lengths

    def build(self) -> Iterator[tuple[str, int, bytes, bytes]]:
        """(term, trials holding it, postings, positions) for every term, in term order.

        Terms are renumbered in name order and one stable sort orders the tokens by term; the
        entries are then made a slice of about :data:`SLICE_TOKENS` tokens at a time, so the
        work arrays beside the token arrays stay a few tens of megabytes whatever the batch.
        """
        if not self._terms:
            return
        names = list(self._ids)  # ids were handed out in insertion order
        by_name = sorted(range(len(names)), key=names.__getitem__)
        rank = np.empty(len(names), dtype=np.int32)
        rank[by_name] = np.arange(len(names), dtype=np.int32)
        ranked = rank[np.frombuffer(self._terms, np.int32)]
        order = np.argsort(ranked, kind="stable")
        per_term = np.bincount(ranked, minlength=len(names))
        del ranked
        ends = np.cumsum(per_term)
        trial_ids = np.asarray(self.trial_ids, np.int64)
        token_docs = np.frombuffer(self._docs, np.int32)
        token_fields = np.frombuffer(self._fields, np.int8)
        token_positions = np.frombuffer(self._positions, np.int32)
        first = 0
        while first < len(names):
            start = int(ends[first] - per_term[first])
            last = max(first + 1, int(np.searchsorted(ends, start + SLICE_TOKENS, side="right")))
            picked = order[start : int(ends[last - 1])]
            yield from _encode_terms(
                [names[i] for i in by_name[first:last]],
                np.repeat(np.arange(last - first), per_term[first:last]),
                trial_ids[token_docs[picked]],
                token_fields[picked].astype(np.uint8),
                token_positions[picked].astype(np.int64),
            )
            first = last


def _encode_terms(
    names: list[str], terms: np.ndarray, docs: np.ndarray, fields: np.ndarray, positions: np.ndarray
) -> Iterator[tuple[str, int, bytes, bytes]]:
    """The rows of some terms from their tokens, ordered by term (numbered 0.. in ``names``
    order), then trial, field and position."""
    n = terms.size
    # Entries: runs of the same (term, trial, field).
    new_entry = np.ones(n, bool)
    new_entry[1:] = (terms[1:] != terms[:-1]) | (docs[1:] != docs[:-1]) | (fields[1:] != fields[:-1])
    entry_at = np.flatnonzero(new_entry)
    counts = np.diff(entry_at, append=n)
    e_terms, e_docs, e_fields = terms[entry_at], docs[entry_at], fields[entry_at]
    # Position deltas, each entry's first absolute.
    deltas = np.diff(positions, prepend=0)
    deltas[entry_at] = positions[entry_at]
    term_at = np.flatnonzero(np.diff(e_terms, prepend=-1))
    term_end = np.append(term_at[1:], e_terms.size)
    occ_at = entry_at[term_at]
    occ_end = np.append(occ_at[1:], n)
    new_doc = np.ones(e_docs.size, bool)
    new_doc[1:] = (e_docs[1:] != e_docs[:-1]) | (e_terms[1:] != e_terms[:-1])
    trials_with = np.add.reduceat(new_doc.astype(np.int64), term_at)
    for k in range(term_at.size):
        a, b = int(term_at[k]), int(term_end[k])
        yield (
            names[int(e_terms[a])],
            int(trials_with[k]),
            encode_postings(e_docs[a:b], e_fields[a:b], counts[a:b]),
            encode_positions(deltas[int(occ_at[k]) : int(occ_end[k])]),
        )


def merge_entries(parts: Sequence[Entries]) -> Entries:
    """One term's entries from several segments as one list, in trial then field order."""
    parts = [p for p in parts if p.size]
    if not parts:
        return EMPTY
    if len(parts) == 1:
        return parts[0]
    docs = np.concatenate([p.docs for p in parts])
    fields = np.concatenate([p.fields for p in parts])
    counts = np.concatenate([p.counts.astype(np.uint32) for p in parts])
    if docs.size > 1 and bool(
        np.any((docs[1:] < docs[:-1]) | ((docs[1:] == docs[:-1]) & (fields[1:] < fields[:-1])))
    ):
        order = np.lexsort((fields, docs))
        docs, fields, counts = docs[order], fields[order], counts[order]
    return Entries(docs, fields, counts)
