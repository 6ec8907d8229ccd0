"""Why two trials are related, in plain words, from the features they share.

Each shared feature adds ``weight(block) * a * b`` to a score; the reasons name the features
that added most, block by block, in the words the trials themselves use, never a stem, a key
or an enum:

* ``same condition: Lupus Erythematosus, Systemic``
* ``related condition: Lupus Nephritis is a kind of Lupus Erythematosus, Systemic``
* ``related condition (both under Autoimmune Diseases)``
* ``shared intervention: mesenchymal stem cells``
* ``same sponsor: Institute of Biophysics and Cell Engineering``
* ``same phase: Phase 1/Phase 2``
* ``similar description: SLE, nephritis``

A word of the description is named only when one of the two trials uses it to say what it is
about (its title, conditions, keywords, interventions or summary), it is rare enough to tell
something, and it is not the language of consent and eligibility ("read", "understand").

>>> import numpy as np
>>> facts = {"c": {"c:lupu nephriti": "Lupus Nephritis"}, "p": ["PHASE2"], "w": ["kidney"]}
>>> vec = (np.array([0, 1]), np.array([0.8, 0.6], dtype=np.float32))
>>> columns = {0: Column(0, "c:lupu nephriti", 5.0), 1: Column(2, "kidnei", 4.0)}
>>> explain(vec, facts, vec, facts, columns, (0.5, 0.1, 0.3, 0.05, 0.05))
('same condition: Lupus Nephritis', 'same phase: Phase 2', 'similar description: kidney')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from trialscope.analyze import stem, terms
from trialscope.similar.vectors import BLOCK_ID
from trialscope.similar.words import REASON_STOPWORDS, content_tokens

# A shared feature rarer than this (IDF) is worth naming; broader ones ("Disease",
# "Neoplasms", the word "treatment") are true but tell a reader nothing.
MIN_IDF_CONDITION = 2.5
MIN_IDF_WORD = 3.0
# A word must add this much to the text cosine (the product of its weights in the two unit
# vectors): a word one trial only mentions in passing, or in its criteria, does not.
MIN_WORD_SHARE = 0.002
TOP_WORDS = 3
_NOT_A_REASON = frozenset(stem(w) for w in REASON_STOPWORDS)
# Condition names too broad to be a reason ("same condition: Disease").
_BROAD_CONDITIONS = frozenset(
    "c:" + " ".join(terms(name))
    for name in ("disease", "diseases", "disorder", "syndrome", "condition", "healthy")
)
PHASE_WORDS = {
    "EARLY_PHASE1": "Early Phase 1",
    "PHASE1": "Phase 1",
    "PHASE2": "Phase 2",
    "PHASE3": "Phase 3",
    "PHASE4": "Phase 4",
}


@dataclass(frozen=True, slots=True)
class Column:
    """What a reason needs to know about one feature column."""

    block: int
    key: str
    idf: float


Vector = tuple[np.ndarray, np.ndarray]
Shared = list[tuple[float, Column]]


def shared_features(a: Vector, b: Vector, columns: Mapping[int, Column], weights: Sequence[float]) -> Shared:
    """The columns two vectors share, with what each adds to their score, largest first."""
    cols, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    out = []
    for col, i, j in zip(cols.tolist(), ia.tolist(), ib.tolist(), strict=True):
        column = columns.get(col)
        if column is not None:
            out.append((float(weights[column.block]) * float(a[1][i]) * float(b[1][j]), column))
    out.sort(key=lambda item: -item[0])
    return out


def _keys(shared: Shared, block: str) -> list[str]:
    return [c.key for _, c in shared if c.block == BLOCK_ID[block]]


def _kind_of(names: Mapping[str, str], ancestor: str) -> str | None:
    """Which of a trial's conditions sits under ``ancestor``: of those that say more than it, the
    one sharing most words with it ("Lupus Nephritis" under "Lupus Erythematosus, Systemic")."""
    words = set(terms(ancestor))
    narrower = [name for name in names.values() if not set(terms(name)) <= words]
    return max(narrower, key=lambda name: len(words & set(terms(name))), default=None)


def _condition_reasons(shared: Shared, mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    named_a, named_b = mine.get("c", {}), theirs.get("c", {})
    anc_a, anc_b = mine.get("a", {}), theirs.get("a", {})
    keys = _keys(shared, "condition")
    same = [key for key in keys if key in named_a and key in named_b and key not in _BROAD_CONDITIONS]
    if same:
        return [f"same condition: {named_a[key]}" for key in same[:2]]
    idf = {c.key: c.idf for _, c in shared}
    for key in keys:
        if idf[key] < MIN_IDF_CONDITION:
            continue
        if key in anc_a and key in anc_b:
            return [f"related condition (both under {anc_b[key]})"]
        for named, ancestors, other in ((named_a, anc_b, named_b), (named_b, anc_a, named_a)):
            kind = _kind_of(other, named[key]) if key in named and key in ancestors else None
            if kind:
                return [f"related condition: {kind} is a kind of {named[key]}"]
    return []


def _phrase_as_written(stems: list[str], names: Sequence[str]) -> str | None:
    """The run of words of one of ``names`` whose stems are ``stems``, as written there."""
    for name in names:
        run = content_tokens(name)
        for start in range(len(run) - len(stems) + 1):
            if [s for _, s in run[start : start + len(stems)]] == stems:
                return " ".join(w for w, _ in run[start : start + len(stems)])
    return None


def _intervention_reasons(shared: Shared, mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    names_a, names_b = mine.get("i", {}), theirs.get("i", {})
    found: list[str] = []
    keys = _keys(shared, "intervention")
    # The kind of treatment first ("mesenchymal stem cells"), then whole names, then a phrase.
    for key in sorted(keys, key=lambda k: not k.startswith("ic:")):
        if key.startswith(("ic:", "i:", "im:")) and (key in names_a or key in names_b):
            name = names_a.get(key) or names_b[key]
            if not any(set(terms(name)) <= set(terms(f)) for f in found):
                found.append(name)
    for key in keys:
        # "Pooled MSC" and "Umbilical cord MSC" share "mesenchymal stem cell" though no whole
        # name; one shared word ("cell", "vaccine") is too loose to name.
        if not found and key.startswith("iw:") and " " in key:
            phrase = _phrase_as_written(key[3:].split(), [*names_a.values(), *names_b.values()])
            if phrase:
                found.append(phrase)
    return [f"shared intervention: {name}" for name in found[:2]]


def _sponsor_reasons(shared: Shared, mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    names = {**mine.get("s", {}), **theirs.get("s", {})}
    for key in _keys(shared, "sponsor"):
        if key in names:
            return [f"same sponsor: {names[key]}"]
    return []


def phase_words(phases: Sequence[str]) -> str:
    """Registry phases in words; empty when a phase is "not applicable" or unknown.

    >>> phase_words(["PHASE1", "PHASE2"]), phase_words(["NA"])
    ('Phase 1/Phase 2', '')
    """
    words = [PHASE_WORDS.get(p) for p in phases]
    return "/".join(w for w in words if w) if all(words) else ""


def _phase_reasons(mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    phases = mine.get("p") or []
    words = phase_words(phases)
    return [f"same phase: {words}"] if words and phases == theirs.get("p") else []


_stem = lru_cache(maxsize=1 << 16)(stem)  # the same few thousand words come back lookup after lookup


def _shown(facts: Mapping[str, Any]) -> dict[str, str]:
    return {_stem(word): word for word in facts.get("w", ())}


def _word_reasons(
    shared: Shared,
    mine: Mapping[str, Any],
    theirs: Mapping[str, Any],
    said: Sequence[str],
    weights: Sequence[float],
) -> list[str]:
    """The strongest shared words one of the trials is about, as written, leaving out those said."""
    named = {s for reason in said for s in terms(reason)}
    shown_a, shown_b = _shown(mine), _shown(theirs)
    words: list[str] = []
    text_weight = weights[BLOCK_ID["text"]]
    for share, c in shared:
        if c.block != BLOCK_ID["text"] or share < MIN_WORD_SHARE * text_weight or c.idf < MIN_IDF_WORD:
            continue
        if c.key in named or c.key in _NOT_A_REASON:
            continue
        forms = [f for f in (shown_a.get(c.key), shown_b.get(c.key)) if f]
        if forms:
            words.append(next((f for f in forms if f.islower()), forms[0]))
        if len(words) == TOP_WORDS:
            break
    return [f"similar description: {', '.join(words)}"] if words else []


def explain(
    mine: Vector,
    my_facts: Mapping[str, Any],
    theirs: Vector,
    their_facts: Mapping[str, Any],
    columns: Mapping[int, Column],
    weights: Sequence[float],
) -> tuple[str, ...]:
    """The reasons a trial (``theirs``) is related to this one (``mine``).

    The order is fixed for reading: conditions, interventions, sponsor, phase, description.
    """
    shared = shared_features(mine, theirs, columns, weights)
    reasons = _condition_reasons(shared, my_facts, their_facts)
    reasons += _intervention_reasons(shared, my_facts, their_facts)
    reasons += _sponsor_reasons(shared, my_facts, their_facts)
    reasons += _phase_reasons(my_facts, their_facts)
    reasons += _word_reasons(shared, my_facts, their_facts, reasons, weights)
    return tuple(reasons)
