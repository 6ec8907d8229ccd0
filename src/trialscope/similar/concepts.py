"""Kinds of intervention that registries spell many ways: one concept, every spelling.

Phrases of intervention names already let "pooled mesenchymal stem cell" meet "mesenchymal stem
cells"; they miss "Mesenchymal Stromal Cells", "marrow stromal cells", "AlloMSC" or "hUC-MSCs",
which name the same kind of treatment. Each concept below lists its spellings as phrases (matched
on the analyzer's terms, inside a longer name too) and as word endings (for the abbreviations that registries
glue to a prefix: "ucMSC", "hMSCs", "BMSC"). A name that matches gives the feature ``ic:<name>``,
and a reason can say "shared intervention: mesenchymal stem cells".

It is a table, not code: a concept is added by adding a row.

>>> concepts_of(["Allogeneic MSC (AlloMSC)"])
['mesenchymal stem cells']
>>> concepts_of(["Mesenchymal Stromal Cells (MSC´s)", "Placebo"])
['mesenchymal stem cells']
>>> concepts_of(["BCMA Chimeric Antigen Receptor T Cell Injection"])
['CAR T cells']
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from trialscope.analyze import terms, tokens


@dataclass(frozen=True, slots=True)
class Concept:
    """A kind of intervention: the name a reason shows, its phrases and its word endings."""

    name: str
    phrases: tuple[str, ...]
    endings: tuple[str, ...] = ()


CONCEPTS = (
    Concept(
        "mesenchymal stem cells",
        (
            "mesenchymal stem cell",
            "mesenchymal stromal cell",
            "mesenchymal stem stromal cell",
            "mesenchymal stromal stem cell",
            "mesenchymal precursor cell",
            "mesenchymal progenitor cell",
            "mesenchymal cell",
            "multipotent stromal cell",
            "marrow stromal cell",
        ),
        ("msc", "mscs"),
    ),
    Concept(
        "CAR T cells",
        ("chimeric antigen receptor", "car t", "car nk"),
    ),
    Concept(
        "hematopoietic stem cell transplantation",
        (
            "hematopoietic stem cell transplant",
            "haematopoietic stem cell transplant",
            "hematopoietic cell transplant",
            "haematopoietic cell transplant",
            "bone marrow transplant",
            "peripheral blood stem cell transplant",
        ),
        ("hsct",),
    ),
    Concept(
        "extracellular vesicles",
        ("extracellular vesicle", "exosome", "secretome"),
    ),
)


@cache
def _phrases() -> dict[str, tuple[tuple[tuple[str, ...], str], ...]]:
    """Every phrase of every concept as terms, by its first term."""
    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for concept in CONCEPTS:
        for phrase in concept.phrases:
            words = tuple(terms(phrase))
            by_first.setdefault(words[0], []).append((words, concept.name))
    return {first: tuple(found) for first, found in by_first.items()}


@cache
def _fragments() -> re.Pattern[str]:
    """A cheap test that rules most names out: the start of a phrase's first word, or an ending."""
    firsts = {p.split()[0] for c in CONCEPTS for p in c.phrases}
    starts = [rf"\b{w}\b" if len(w) <= 3 else rf"\b{w[:6]}" for w in sorted(firsts)]
    return re.compile("|".join(starts + [rf"{e}\b" for c in CONCEPTS for e in c.endings]))


@lru_cache(maxsize=1 << 16)
def _concepts_of_name(name: str) -> frozenset[str]:
    if not _fragments().search(name.lower()):
        return frozenset()
    found = set()
    words = terms(name)
    phrases = _phrases()
    for start, word in enumerate(words):
        for phrase, concept in phrases.get(word, ()):
            if tuple(words[start : start + len(phrase)]) == phrase:
                found.add(concept)
    lowered = [w.lower() for w in tokens(name)]
    found.update(c.name for c in CONCEPTS if c.endings and any(w.endswith(c.endings) for w in lowered))
    return frozenset(found)


def concepts_of(names: Iterable[str]) -> list[str]:
    """The concepts that intervention ``names`` (and other names) are, each once, in table order."""
    found: set[str] = set()
    for name in names:
        found |= _concepts_of_name(name)
    return [c.name for c in CONCEPTS if c.name in found]
