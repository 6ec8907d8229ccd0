"""Reading the stored index: a trial's related trials, filtered, with their reasons.

A lookup reads one stored list (ids and scores), the display columns of those trials, and
the vectors and facts of the ones it returns, to say why each is related. It never
recomputes the index. When filters leave a list short, trials that share a condition with
this one and pass the filters are scored from their stored vectors, so a filtered list
stays full where the registry has enough such trials.

>>> from trialscope.store import open_store
>>> related_for_page(open_store(":memory:"), "NCT04184258")
[]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from trialscope.errors import QueryError, StoreError, TrialNotFoundError
from trialscope.model import RelatedTrial
from trialscope.search.geo import canonical_country
from trialscope.similar.features import BLOCKS
from trialscope.similar.index import has_index, stored_weights, unpack_list
from trialscope.similar.reasons import Column, explain
from trialscope.similar.vectors import combine, unpack_row
from trialscope.store import Store
from trialscope.store.blobs import decompress
from trialscope.vocab import phase_enum, to_enum

FALLBACK_CANDIDATES = 500


# One related trial, as a list shows it (the model's type, shared with the trial page).
Related = RelatedTrial


@dataclass(frozen=True, slots=True)
class _Candidate:
    trial_id: int
    nct_id: str
    title: str
    status: str | None
    phase: str | None
    has_results: bool
    dup: int
    score: float


def normalize_statuses(values: Iterable[str]) -> frozenset[str]:
    """Registry statuses from a user's words.

    >>> sorted(normalize_statuses(["recruiting", "Not yet recruiting"]))
    ['NOT_YET_RECRUITING', 'RECRUITING']
    """
    return frozenset(s for s in (to_enum("status", v) for v in values) if s)


def normalize_phases(values: Iterable[str]) -> frozenset[str]:
    """Registry phases from a user's words: ``2``, ``phase 2``, ``PHASE2`` are one.

    >>> sorted(normalize_phases(["2", "Phase 1", "early phase 1", "NA"]))
    ['EARLY_PHASE1', 'NA', 'PHASE1', 'PHASE2']
    """
    out = set()
    for value in values:
        text = value.strip()
        if text.isdigit():
            text = f"PHASE{text}"
        out.add(phase_enum(text))
    return frozenset(out)


def _candidates(store: Store, ids: Sequence[int], scores: Sequence[float]) -> list[_Candidate]:
    score_of = dict(zip(ids, scores, strict=True))
    dups = dict(store.select_in("similar_trials", ("trial_id", "dup"), "trial_id", list(ids)))
    found: dict[int, _Candidate] = {}
    columns = ("id", "nct_id", "brief_title", "official_title", "overall_status", "phase", "has_results")
    for trial_id, nct_id, brief, official, status, phase, results in store.select_in(
        "trials", columns, "id", list(ids)
    ):
        if trial_id in dups:
            title = brief or official or nct_id
            found[trial_id] = _Candidate(
                trial_id, nct_id, title, status, phase, bool(results), dups[trial_id], score_of[trial_id]
            )
    return [found[i] for i in ids if i in found]


def _countries_of(store: Store, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Each trial's site countries, one name per country, in the order its record lists them."""
    out: dict[int, dict[str, None]] = {i: {} for i in ids}
    for trial_id, country in store.select_in("sites", ("trial_id", "country"), "trial_id", list(ids)):
        if country:
            out[trial_id].setdefault(canonical_country(country), None)
    return {i: tuple(c) for i, c in out.items()}


class _Filters:
    def __init__(
        self,
        statuses: Iterable[str],
        phases: Iterable[str],
        has_results: bool | None,
        countries: Iterable[str],
    ) -> None:
        self.statuses = normalize_statuses(statuses)
        self.phases = normalize_phases(phases)
        self.has_results = has_results
        self.countries = frozenset(canonical_country(c.strip()) for c in countries if c.strip())

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.phases or self.has_results is not None or self.countries)

    def apply(self, store: Store, candidates: list[_Candidate]) -> list[_Candidate]:
        kept = [c for c in candidates if self._passes(c)]
        if self.countries and kept:
            countries = _countries_of(store, [c.trial_id for c in kept])
            kept = [c for c in kept if self.countries.intersection(countries[c.trial_id])]
        return kept

    def _passes(self, c: _Candidate) -> bool:
        if self.statuses and (c.status or "") not in self.statuses:
            return False
        if self.phases and not self.phases.intersection((c.phase or "").split("/")):
            return False
        return self.has_results is None or c.has_results == self.has_results


def _own_row(store: Store, nct_id: str) -> tuple[int, bytes, bytes, bytes, int] | None:
    found = store.ids_of([nct_id.strip().upper()])
    if not found:
        raise TrialNotFoundError(nct_id)
    trial_id = next(iter(found.values()))
    rows = store.select_in("similar_trials", ("neighbours", "vector", "facts", "dup"), "trial_id", [trial_id])
    return (trial_id, *rows[0]) if rows else None


def related_trials(
    store: Store,
    nct_id: str,
    *,
    limit: int = 10,
    statuses: Sequence[str] = (),
    phases: Sequence[str] = (),
    has_results: bool | None = None,
    countries: Sequence[str] = (),
) -> list[Related]:
    """The trials most related to ``nct_id``, best first, each with its reasons.

    Filters keep trials with one of ``statuses`` (``recruiting``), one of ``phases`` (``2``,
    ``PHASE2``), results posted or not, and a site in one of ``countries``. The trial itself
    and trials registered twice (same title and sponsor) are never listed.

    >>> from trialscope.store import open_store
    >>> related_trials(open_store(":memory:"), "NCT00000000")
    Traceback (most recent call last):
    ...
    trialscope.errors.StoreError: This store has no related-trials index yet; run `trialscope index`.
    """
    if limit < 1:
        raise QueryError("The number of related trials to show must be at least 1.")
    if not has_index(store):
        raise StoreError("This store has no related-trials index yet; run `trialscope index`.")
    own = _own_row(store, nct_id)
    if own is None:
        raise StoreError(f"{nct_id.upper()} is not in the related-trials index yet; run `trialscope index`.")
    trial_id, neighbours, vector, facts, dup = own
    ids, scores = unpack_list(neighbours)
    filters = _Filters(statuses, phases, has_results, countries)
    ids_list, scores_list = ids.tolist(), scores.tolist()
    # The list is best first: unfiltered, its head gives the page's trials unless duplicates
    # fill it, so the rest (~100) is read only then.
    head = len(ids_list) if filters.active else max(2 * limit, limit + 10)
    candidates = _candidates(store, ids_list[:head], scores_list[:head])
    if filters.active:
        candidates = filters.apply(store, candidates)
    chosen = _distinct(candidates, dup, limit)
    if len(chosen) < limit and head < len(ids_list):
        candidates += _candidates(store, ids_list[head:], scores_list[head:])
        chosen = _distinct(candidates, dup, limit)
    if filters.active and len(chosen) < limit:
        seen = {c.trial_id for c in candidates} | {trial_id}
        extra = _fallback(store, trial_id, unpack_row(vector), filters, seen)
        chosen = _distinct(chosen + extra, dup, limit)
    return _describe(store, chosen, unpack_row(vector), orjson.loads(decompress(facts)))


def _distinct(candidates: list[_Candidate], own_dup: int, limit: int) -> list[_Candidate]:
    """At most ``limit`` candidates, one per duplicate group, none in the trial's own group."""
    out: list[_Candidate] = []
    groups = {own_dup} if own_dup != -1 else set()
    for c in sorted(candidates, key=lambda c: -c.score):
        if c.dup != -1:
            if c.dup in groups:
                continue
            groups.add(c.dup)
        out.append(c)
        if len(out) == limit:
            break
    return out


def _fallback(
    store: Store, trial_id: int, own: tuple[np.ndarray, np.ndarray], filters: _Filters, seen: set[int]
) -> list[_Candidate]:
    """Trials sharing a condition with this one that pass the filters, scored from stored vectors
    as the index scores them (:func:`~trialscope.similar.vectors.combine`)."""
    names = [r[0] for r in store.select("trial_conditions", ("name",), where={"trial_id": trial_id})]
    terms = [
        r[0]
        for r in store.select(
            "trial_mesh", ("term",), where={"trial_id": trial_id, "kind": "condition", "ancestor": 0}
        )
    ]
    sharing = dict.fromkeys(r[0] for r in store.select_in("trial_conditions", ("trial_id",), "name", names))
    for other, kind, ancestor in store.select_in(
        "trial_mesh", ("trial_id", "kind", "ancestor"), "term", terms
    ):
        if kind == "condition" and not ancestor:
            sharing.setdefault(other, None)
    rows = [(t,) for t in sharing if t != trial_id][:FALLBACK_CANDIDATES]
    ids = [r[0] for r in rows if r[0] not in seen]
    if not ids:
        return []
    candidates = filters.apply(store, _candidates(store, ids, [0.0] * len(ids)))
    if not candidates:
        return []
    own_value = dict(zip(own[0].tolist(), own[1].tolist(), strict=True))
    block_of = dict(zip(own_value, _blocks_of(store, list(own_value)), strict=True))
    vectors = _vectors(store, [c.trial_id for c in candidates])
    cosines = np.zeros((len(candidates), len(BLOCKS)))
    for row, c in enumerate(candidates):
        cols, vals = vectors[c.trial_id]
        for col, v in zip(cols.tolist(), vals.tolist(), strict=True):
            if col in own_value:
                cosines[row, block_of[col]] += own_value[col] * v
    scores = combine(cosines, stored_weights(store))
    return [
        _Candidate(c.trial_id, c.nct_id, c.title, c.status, c.phase, c.has_results, c.dup, float(score))
        for c, score in zip(candidates, scores.tolist(), strict=True)
        if score > 0
    ]


def _blocks_of(store: Store, cols: list[int]) -> list[int]:
    found = dict(store.select_in("similar_vocab", ("id", "block"), "id", cols))
    return [found.get(c, 0) for c in cols]


def _vectors(store: Store, ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    rows = store.select_in("similar_trials", ("trial_id", "vector"), "trial_id", list(ids))
    return {trial_id: unpack_row(blob) for trial_id, blob in rows}


def _describe(
    store: Store, chosen: list[_Candidate], own: tuple[np.ndarray, np.ndarray], own_facts: dict
) -> list[Related]:
    """Related entries with reasons from the stored vectors and facts."""
    if not chosen:
        return []
    ids = [c.trial_id for c in chosen]
    stored = {
        r[0]: (unpack_row(r[1]), orjson.loads(decompress(r[2])))
        for r in store.select_in("similar_trials", ("trial_id", "vector", "facts"), "trial_id", ids)
    }
    shared: set[int] = set()
    for vector, _ in stored.values():
        shared.update(np.intersect1d(own[0], vector[0], assume_unique=True).tolist())
    columns = _columns(store, sorted(shared))
    weights = stored_weights(store).normalized().as_tuple()
    countries = _countries_of(store, ids)
    out = []
    for c in chosen:
        vector, facts = stored[c.trial_id]
        out.append(
            RelatedTrial(
                nct_id=c.nct_id,
                title=c.title,
                status=c.status,
                phase=c.phase,
                score=round(c.score, 4),
                reasons=explain(own, own_facts, vector, facts, columns, weights),
                has_results=c.has_results,
                countries=countries.get(c.trial_id, ()),
            )
        )
    return out


def _columns(store: Store, cols: list[int]) -> dict[int, Column]:
    rows = store.select_in("similar_vocab", ("id", "block", "key", "idf"), "id", cols)
    return {col: Column(block, key, idf) for col, block, key, idf in rows}


def related_for_page(store: Store, nct_id: str, limit: int = 10) -> list[RelatedTrial]:
    """The page's "More Related Trials": empty when the store has no index (or not for this trial) yet."""
    if not has_index(store):
        return []
    try:
        related = related_trials(store, nct_id, limit=limit)
    except StoreError:
        return []
    return related
