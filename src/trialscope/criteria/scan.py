"""Read a normalised line left to right against one merged lexicon, longest phrase first.

The lexicon merges the catalogue's variable aliases and cue phrases with the learnt MeSH terms,
so each token costs one dictionary look-up; what a phrase means when it is several things at
once is decided when the lexicon is built: a variable alias beats a term of the same words
(and keeps the term as its fallback, for "vitamin D" named without a value), a term beats a
condition/drug/procedure cue of the same words, and a pregnancy or administrative cue beats
a term ("breast-feeding" is lactation, not MeSH Breast Feeding).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from trialscope.criteria.catalogue import Catalogue, Cue, Variable, catalogue
from trialscope.criteria.terms import TermIndex, packaged_terms
from trialscope.criteria.types import Concept

TOKEN = re.compile(r"[a-z0-9αβγ]+\+?")
_TERM_BEATS_CUE = frozenset({"condition", "therapy", "procedure"})
_CUE_BEATS_TERM = frozenset({"pregnancy", "administrative"})
Phrase = tuple[str, ...]


@dataclass(slots=True)
class Mention:
    """A phrase found in the line: a variable, a term (concept) or a cue word."""

    kind: str  # "var", "term" or a cue type ("therapy", "negation" ...)
    start: int
    end: int
    tok: int
    word: str  # the variable id, the term's type, or the cue word
    var: Variable | None = None
    concept: Concept | None = None


@dataclass(frozen=True, slots=True)
class _Entry:
    var: Variable | None
    concept: Concept | None
    cue: Cue | None


@cache
def lexicon() -> dict[str, list[tuple[Phrase, _Entry]]]:
    """First token -> [(phrase, what it means)], longest phrase first."""
    cat = catalogue()
    merged: dict[Phrase, dict[str, object]] = {}
    for bucket in cat.phrases.values():
        for phrase, payload in bucket:
            slot = merged.setdefault(phrase, {})
            slot.setdefault("var" if isinstance(payload, Variable) else "cue", payload)
    for terms in packaged_terms().index.values():
        for phrase, concept in terms:
            # a term made of pregnancy or administrative words is that cue ("pregnancy test")
            if any(cat.word_cue(tok) in _CUE_BEATS_TERM for tok in phrase):
                continue
            merged.setdefault(phrase, {}).setdefault("concept", concept)
    out: dict[str, list[tuple[Phrase, _Entry]]] = {}
    for phrase, slot in merged.items():
        entry = _Entry(slot.get("var"), slot.get("concept"), slot.get("cue"))  # type: ignore[arg-type]
        out.setdefault(phrase[0], []).append((phrase, entry))
    for entries in out.values():
        entries.sort(key=lambda item: -len(item[0]))
    return out


def known_term(phrase: Phrase, concept: Concept) -> bool:
    """Whether the packaged lexicon already reads ``phrase`` as ``concept`` (or as a variable or a
    pregnancy/administrative cue, which a trial's own term would not override)."""
    for known, entry in lexicon().get(phrase[0], ()):
        if known == phrase:
            if entry.var is not None or (entry.cue is not None and entry.cue.type in _CUE_BEATS_TERM):
                return True
            return entry.concept is not None and entry.concept.name == concept.name
    return False


def _longest(
    index: Mapping[str, Sequence[tuple[Phrase, object]]], toks: list[str], i: int
) -> tuple[int, object] | None:
    bucket = index.get(toks[i])
    if bucket:
        for phrase, payload in bucket:
            k = len(phrase)
            if k == 1 or tuple(toks[i : i + k]) == phrase:
                return k, payload
    return None


def scan(norm: str, extra: TermIndex | None = None) -> tuple[list[Mention], list[int]]:
    """Mentions left to right, and the char start of every token."""
    cat: Catalogue = catalogue()
    lex = lexicon()
    spans = [m.span() for m in TOKEN.finditer(norm)]
    toks = [norm[a:b] for a, b in spans]
    mentions: list[Mention] = []
    own_index = extra.index if extra is not None and extra.index else None
    memo = cat.word_memo
    i, n = 0, len(toks)
    while i < n:
        hit = _longest(lex, toks, i) if toks[i] in lex else None
        own = _longest(own_index, toks, i) if own_index is not None and toks[i] in own_index else None
        if own is not None and (hit is None or own[0] > hit[0] or own[0] == hit[0] and _own_wins(hit[1])):
            k, concept = own
            assert isinstance(concept, Concept)
            mentions.append(_term(norm, spans, i, k, concept))
            i += k
            continue
        if hit is not None:
            k, entry = hit
            assert isinstance(entry, _Entry)
            start, end = spans[i][0], spans[i + k - 1][1]
            if entry.var is not None:
                concept = entry.concept
                if concept is not None:
                    concept = Concept(concept.name, concept.category, concept.mesh_id, norm[start:end])
                mentions.append(Mention("var", start, end, i, entry.var.id, var=entry.var, concept=concept))
            elif entry.concept is not None and (entry.cue is None or entry.cue.type in _TERM_BEATS_CUE):
                mentions.append(_term(norm, spans, i, k, entry.concept))
            elif entry.cue is not None:
                mentions.append(Mention(entry.cue.type, start, end, i, entry.cue.word))
            i += k
            continue
        cue = memo[toks[i]] if toks[i] in memo else cat.word_cue(toks[i])
        if cue is not None:
            mentions.append(Mention(cue, spans[i][0], spans[i][1], i, toks[i]))
        i += 1
    return mentions, [a for a, _ in spans]


def _own_wins(entry: object) -> bool:
    assert isinstance(entry, _Entry)
    return entry.var is None and (entry.cue is None or entry.cue.type in _TERM_BEATS_CUE)


def _term(norm: str, spans: list[tuple[int, int]], i: int, k: int, concept: Concept) -> Mention:
    start, end = spans[i][0], spans[i + k - 1][1]
    kind = "therapy" if concept.category == "drug" else concept.category
    located = Concept(concept.name, concept.category, concept.mesh_id, norm[start:end])
    return Mention("term", start, end, i, kind, concept=located)
