"""Why two trials are related, in words, from the features they share.

Each shared feature adds ``weight(block) * a * b`` to a score; the reasons name the
features that added most, block by block, with the registry's own spelling kept in the
trials' facts ("Lupus Erythematosus, Systemic"), never a bare number:

* ``same condition: Lupus Erythematosus, Systemic``
* ``related condition (both under Autoimmune Diseases)``
* ``shared intervention: Mesenchymal Stem Cells``
* ``same sponsor: Institute of Biophysics and Cell Engineering``
* ``same phase: PHASE1/PHASE2``
* ``similar description: stem, lupus, nephritis``

>>> import numpy as np
>>> facts = {"c": {"c:lupus nephritis": "Lupus Nephritis"}, "a": {}, "i": {}, "s": {}, "p": "PHASE2"}
>>> vec = (np.array([0, 1]), np.array([0.8, 0.6], dtype=np.float32))
>>> columns = {0: Column(0, "c:lupus nephritis", 5.0), 1: Column(2, "kidney", 4.0)}
>>> explain(vec, facts, vec, facts, columns, (0.5, 0.1, 0.3, 0.05, 0.05))
('same condition: Lupus Nephritis', 'same phase: PHASE2', 'similar description: kidney')
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trialscope.similar.features import normalize_intervention, stem_word
from trialscope.similar.vectors import BLOCK_ID

_WORD = re.compile(r"[a-z][a-z0-9]*")

# A shared feature rarer than this (IDF) is worth naming; broader ones ("Disease",
# "Neoplasms", the word "treatment") are true but tell a reader nothing.
MIN_IDF_CONDITION = 2.5
MIN_IDF_WORD = 3.0
TOP_WORDS = 3


@dataclass(frozen=True, slots=True)
class Column:
    """What a reason needs to know about one feature column."""

    block: int
    key: str
    idf: float


Vector = tuple[np.ndarray, np.ndarray]


def shared_features(
    a: Vector, b: Vector, columns: Mapping[int, Column], weights: Sequence[float]
) -> list[tuple[float, Column]]:
    """The columns two vectors share, with what each adds to their score, largest first."""
    cols, ia, ib = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    out = []
    for col, i, j in zip(cols.tolist(), ia.tolist(), ib.tolist(), strict=True):
        column = columns.get(col)
        if column is not None:
            out.append((float(weights[column.block]) * float(a[1][i]) * float(b[1][j]), column))
    out.sort(key=lambda item: -item[0])
    return out


def _condition_reasons(
    shared: list[tuple[float, Column]], mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> list[str]:
    named_a, named_b = mine.get("c", {}), theirs.get("c", {})
    anc_a, anc_b = mine.get("a", {}), theirs.get("a", {})
    keys = [c.key for _, c in shared if c.block == BLOCK_ID["condition"]]
    same = [key for key in keys if key in named_a and key in named_b]
    if same:
        return [f"same condition: {named_a[key]}" for key in same[:2]]
    idf = {c.key: c.idf for _, c in shared}
    for key in keys:
        if idf[key] < MIN_IDF_CONDITION:
            continue
        if key in anc_a and key in anc_b:
            return [f"related condition (both under {anc_b[key]})"]
        if key in named_a and key in anc_b and named_b:
            return [f"related condition: {_first(named_b)} is a kind of {named_a[key]}"]
        if key in named_b and key in anc_a:
            return [f"related condition: {named_b[key]} (this trial's condition is a kind of it)"]
    return []


def _first(names: Mapping[str, str]) -> str:
    return next(iter(names.values()))


def _intervention_reasons(
    shared: list[tuple[float, Column]], mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> list[str]:
    names_b = theirs.get("i", {})
    names_a = mine.get("i", {})
    found: list[str] = []
    for _, column in shared:
        if column.block != BLOCK_ID["intervention"]:
            continue
        key = column.key
        if key.startswith(("i:", "im:")) and (key in names_b or key in names_a):
            name = names_b.get(key) or names_a[key]
            if name.lower() not in (f.lower() for f in found):
                found.append(name)
    # The strongest shared phrase, unless a name already said it: "Pooled MSC" and
    # "Umbilical cord MSC" share "mesenchymal stem cell" though no whole name.
    for _, column in shared:
        key = column.key
        if column.block != BLOCK_ID["intervention"] or not key.startswith("iw:"):
            continue
        phrase = key[3:]
        if " " not in phrase:  # one shared word ("cell", "vaccine") is too loose to name
            continue
        if not any(phrase in " ".join(normalize_intervention(f)) for f in found):
            found.append(phrase)
        break
    return [f"shared intervention: {name}" for name in found[:2]]


def _sponsor_reasons(
    shared: list[tuple[float, Column]], mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> list[str]:
    names = {**mine.get("s", {}), **theirs.get("s", {})}
    for _, column in shared:
        if column.block == BLOCK_ID["sponsor"] and column.key in names:
            return [f"same sponsor: {names[column.key]}"]
    return []


def _word_reasons(shared: list[tuple[float, Column]], said: Sequence[str]) -> list[str]:
    """The strongest shared words, leaving out those the other reasons already name."""
    named = {stem_word(w) for reason in said for w in _WORD.findall(reason.lower())}
    words = [
        c.key
        for _, c in shared
        if c.block == BLOCK_ID["text"] and c.idf >= MIN_IDF_WORD and c.key not in named
    ][:TOP_WORDS]
    return [f"similar description: {', '.join(words)}"] if words else []


def explain(
    mine: Vector,
    my_facts: Mapping[str, Any],
    theirs: Vector,
    their_facts: Mapping[str, Any],
    columns: Mapping[int, Column],
    weights: Sequence[float],
) -> tuple[str, ...]:
    """The reasons a trial (``theirs``) is related to this one (``mine``), strongest block first within order.

    The order is fixed for reading: conditions, interventions, sponsor, phase, description.
    """
    shared = shared_features(mine, theirs, columns, weights)
    reasons = _condition_reasons(shared, my_facts, their_facts)
    reasons += _intervention_reasons(shared, my_facts, their_facts)
    reasons += _sponsor_reasons(shared, my_facts, their_facts)
    phase = my_facts.get("p")
    if phase and phase == their_facts.get("p"):
        reasons.append(f"same phase: {phase}")
    reasons += _word_reasons(shared, reasons)
    return tuple(reasons)
