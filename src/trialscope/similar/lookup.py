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

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from trialscope.errors import QueryError, StoreError, TrialNotFoundError
from trialscope.similar.index import has_index, stored_weights, unpack_list
from trialscope.similar.reasons import Column, explain
from trialscope.similar.vectors import unpack_row
from trialscope.store import SqliteStore
from trialscope.vocab import phase_enum, to_enum

FALLBACK_CANDIDATES = 500


@dataclass(frozen=True)
class Related:
    """One related trial, as a list shows it."""

    nct_id: str
    title: str
    status: str | None
    phase: str | None
    score: float
    reasons: tuple[str, ...]
    has_results: bool
    countries: tuple[str, ...]


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


def _chunked(ids: Sequence[int], size: int = 900) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _candidates(store: SqliteStore, ids: Sequence[int], scores: Sequence[float]) -> list[_Candidate]:
    score_of = dict(zip(ids, scores, strict=True))
    found: dict[int, _Candidate] = {}
    for chunk in _chunked(list(ids)):
        marks = ",".join("?" * len(chunk))
        for row in store.conn.execute(
            "SELECT t.id, t.nct_id, coalesce(t.brief_title, t.official_title, t.nct_id), t.overall_status, t.phase, "
            f"t.has_results, s.dup FROM trials t JOIN similar_trials s ON s.trial_id = t.id WHERE t.id IN ({marks})",
            list(chunk),
        ):
            found[row[0]] = _Candidate(
                row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], score_of[row[0]]
            )
    return [found[i] for i in ids if i in found]


def _in_countries(store: SqliteStore, ids: Sequence[int], countries: Sequence[str]) -> set[int]:
    out: set[int] = set()
    for chunk in _chunked(list(ids)):
        marks = ",".join("?" * len(chunk))
        names = ",".join("?" * len(countries))
        out.update(
            r[0]
            for r in store.conn.execute(
                f"SELECT DISTINCT trial_id FROM sites WHERE trial_id IN ({marks}) AND country IN ({names})",
                [*chunk, *countries],
            )
        )
    return out


def _countries_of(store: SqliteStore, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    out: dict[int, dict[str, None]] = {i: {} for i in ids}
    marks = ",".join("?" * len(ids))
    for trial_id, country in store.conn.execute(
        f"SELECT trial_id, country FROM sites WHERE trial_id IN ({marks}) AND country IS NOT NULL ORDER BY rowid",
        list(ids),
    ):
        out[trial_id].setdefault(country, None)
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
        self.countries = tuple(c.strip() for c in countries if c.strip())

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.phases or self.has_results is not None or self.countries)

    def apply(self, store: SqliteStore, candidates: list[_Candidate]) -> list[_Candidate]:
        kept = [c for c in candidates if self._passes(c)]
        if self.countries and kept:
            inside = _in_countries(store, [c.trial_id for c in kept], self.countries)
            kept = [c for c in kept if c.trial_id in inside]
        return kept

    def _passes(self, c: _Candidate) -> bool:
        if self.statuses and (c.status or "") not in self.statuses:
            return False
        if self.phases and not self.phases.intersection((c.phase or "").split("/")):
            return False
        return self.has_results is None or c.has_results == self.has_results


def _own_row(store: SqliteStore, nct_id: str) -> tuple[int, bytes, bytes, bytes, int] | None:
    key = nct_id.strip().upper()
    try:
        row = store.conn.execute(
            "SELECT t.id, s.neighbours, s.vector, s.facts, s.dup FROM trials t "
            "LEFT JOIN similar_trials s ON s.trial_id = t.id WHERE t.nct_id = ?",
            (key,),
        ).fetchone()
    except sqlite3.OperationalError as exc:
        raise StoreError("This store has no related-trials index yet; run `trialscope index`.") from exc
    if row is None:
        raise TrialNotFoundError(nct_id)
    if row[1] is None:
        return None
    return row  # type: ignore[no-any-return]


def related_trials(
    store: SqliteStore,
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
    candidates = _candidates(store, ids.tolist(), scores.tolist())
    if filters.active:
        candidates = filters.apply(store, candidates)
    chosen = _distinct(candidates, dup, limit)
    if filters.active and len(chosen) < limit:
        seen = {c.trial_id for c in candidates} | {trial_id}
        extra = _fallback(store, trial_id, unpack_row(vector), filters, seen)
        chosen = _distinct(chosen + extra, dup, limit)
    return _describe(store, chosen, unpack_row(vector), orjson.loads(facts))


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
    store: SqliteStore, trial_id: int, own: tuple[np.ndarray, np.ndarray], filters: _Filters, seen: set[int]
) -> list[_Candidate]:
    """Trials sharing a condition with this one that pass the filters, scored from stored vectors."""
    rows = store.conn.execute(
        "SELECT DISTINCT c2.trial_id FROM trial_conditions c1 JOIN trial_conditions c2 ON c2.name = c1.name "
        "WHERE c1.trial_id = ? AND c2.trial_id != ? "
        "UNION SELECT DISTINCT m2.trial_id FROM trial_mesh m1 JOIN trial_mesh m2 ON m2.term = m1.term "
        "AND m2.kind = 'condition' AND m2.ancestor = 0 "
        "WHERE m1.trial_id = ? AND m1.kind = 'condition' AND m1.ancestor = 0 AND m2.trial_id != ? LIMIT ?",
        (trial_id, trial_id, trial_id, trial_id, FALLBACK_CANDIDATES),
    ).fetchall()
    ids = [r[0] for r in rows if r[0] not in seen]
    if not ids:
        return []
    candidates = filters.apply(store, _candidates(store, ids, [0.0] * len(ids)))
    if not candidates:
        return []
    weights = stored_weights(store).normalized().as_tuple()
    blocks = _blocks_of(store, own[0].tolist())
    col_weight = {
        c: weights[b] * float(v) for c, v, b in zip(own[0].tolist(), own[1].tolist(), blocks, strict=True)
    }
    vectors = _vectors(store, [c.trial_id for c in candidates])
    scored = []
    for c in candidates:
        cols, vals = vectors[c.trial_id]
        score = sum(
            col_weight.get(col, 0.0) * float(v) for col, v in zip(cols.tolist(), vals.tolist(), strict=True)
        )
        if score > 0:
            scored.append(
                _Candidate(c.trial_id, c.nct_id, c.title, c.status, c.phase, c.has_results, c.dup, score)
            )
    return scored


def _blocks_of(store: SqliteStore, cols: list[int]) -> list[int]:
    found: dict[int, int] = {}
    for chunk in _chunked(cols):
        marks = ",".join("?" * len(chunk))
        found.update(
            store.conn.execute(f"SELECT id, block FROM similar_vocab WHERE id IN ({marks})", list(chunk))
        )
    return [found.get(c, 0) for c in cols]


def _vectors(store: SqliteStore, ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for chunk in _chunked(list(ids)):
        marks = ",".join("?" * len(chunk))
        for trial_id, blob in store.conn.execute(
            f"SELECT trial_id, vector FROM similar_trials WHERE trial_id IN ({marks})", list(chunk)
        ):
            out[trial_id] = unpack_row(blob)
    return out


def _describe(
    store: SqliteStore, chosen: list[_Candidate], own: tuple[np.ndarray, np.ndarray], own_facts: dict
) -> list[Related]:  # type: ignore[type-arg]
    """Related entries with reasons from the stored vectors and facts."""
    if not chosen:
        return []
    ids = [c.trial_id for c in chosen]
    marks = ",".join("?" * len(ids))
    stored = {
        r[0]: (unpack_row(r[1]), orjson.loads(r[2]))
        for r in store.conn.execute(
            f"SELECT trial_id, vector, facts FROM similar_trials WHERE trial_id IN ({marks})", ids
        )
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
            Related(
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


def _columns(store: SqliteStore, cols: list[int]) -> dict[int, Column]:
    out = {}
    for chunk in _chunked(cols):
        marks = ",".join("?" * len(chunk))
        for col, block, key, idf in store.conn.execute(
            f"SELECT id, block, key, idf FROM similar_vocab WHERE id IN ({marks})", list(chunk)
        ):
            out[col] = Column(block, key, idf)
    return out


def related_for_page(store: SqliteStore, nct_id: str, limit: int = 10) -> list:  # type: ignore[type-arg]
    """The page's "More Related Trials": empty when the store has no index (or not for this trial) yet."""
    from trialscope.render.page import RelatedTrial

    if not has_index(store):
        return []
    try:
        related = related_trials(store, nct_id, limit=limit)
    except StoreError:
        return []
    return [RelatedTrial(r.nct_id, r.title, r.status, r.phase, r.score, r.reasons) for r in related]
