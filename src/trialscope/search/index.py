"""The search index: a derived index of the store, refreshed for the trials that changed.

Tables (declared in :mod:`trialscope.store.schema`, owner ``search``):

    search_facts      one row per trial: status, type, phases and intervention types as bit
                      sets, sponsor class, sex, ages in days, dates, enrollment, results, and
                      the text segment that holds its words with its length in tokens
    search_countries  (trial, country) with one spelling per country
    search_points     (trial, lat, lon) of every site: its geo point, or its city located
                      through the gazetteer (whose answers are kept in search_places)
    search_acronyms   per-trial evidence for synonyms; search_synonyms, the chosen ones
    text_terms        postings of every term, per segment (:mod:`trialscope.search.postings`)
    text_segments     the segments and how many trials each was built with

A refresh indexes the changed trials into one new segment per batch; a trial's words count
only in the segment its facts row names, so the postings it had in older segments are left
behind without being rewritten, and segments merge when there get to be many
(:mod:`trialscope.search.segments`).

>>> from trialscope.store import open_store, refresh_indexes
>>> [r.line for r in refresh_indexes(open_store(":memory:"), [SEARCH_INDEX])]
['search: 0 trials indexed']
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from trialscope.model import Trial
from trialscope.search.document import field_texts
from trialscope.search.geo import canonical_country, drop_site_gazetteer, locate_site, site_gazetteer_loaded
from trialscope.search.postings import SegmentBuilder
from trialscope.search.segments import collect_segments, next_segment
from trialscope.search.synonyms import (
    Synonym,
    abbreviation_key,
    acronym_evidence,
    choose_synonyms,
    is_abbreviation,
)
from trialscope.store import Store, open_store
from trialscope.store.derived import How, Ids, chunks

# Trials per segment built at once. A worker's memory is set by this, not by the corpus: the
# token arrays of one segment (~130 MB for 10,000 synthetic trials), the postings made a slice
# at a time, and 500 records read at a time; the writer holds one finished batch. What grows
# with the corpus is small (the synonyms' evidence, 16 bytes a trial while segments merge).
SEGMENT_TRIALS = 10_000
READ_TRIALS = 500  # records read from the store at a time while a segment is built
PARALLEL_FROM = 4_000  # changed trials from which worker processes build the segments

PHASE_BITS = {"EARLY_PHASE1": 1, "PHASE1": 2, "PHASE2": 4, "PHASE3": 8, "PHASE4": 16, "NA": 32}
INTERVENTION_BITS = {
    "DRUG": 1,
    "DEVICE": 2,
    "BIOLOGICAL": 4,
    "PROCEDURE": 8,
    "RADIATION": 16,
    "BEHAVIORAL": 32,
    "GENETIC": 64,
    "DIETARY_SUPPLEMENT": 128,
    "COMBINATION_PRODUCT": 256,
    "DIAGNOSTIC_TEST": 512,
    "OTHER": 1024,
}
_PER_TRIAL = ("search_facts", "search_countries", "search_points", "search_acronyms")


def _bits(values: Iterable[str | None], table: dict[str, int]) -> int:
    bits = 0
    for value in values:
        bits |= table.get(value or "", 0)
    return bits


@dataclass(slots=True)
class _Batch:
    """Everything one batch of trials adds to the index (picklable: workers build it)."""

    seg_rows: list[tuple[str, int, bytes, bytes]]
    facts: list[tuple[object, ...]]
    countries: list[tuple[int, str]]
    points: list[tuple[int, float, float, str]]
    unplaced: list[tuple[int, str, str, str]]  # sites to locate through the gazetteer
    acronyms: list[tuple[int, str, str, str, str]]
    ids: list[int]


def facts_row(trial_id: int, t: Trial, lengths: list[int], removed: bool = False) -> tuple[object, ...]:
    """The search_facts row of a trial (its segment is filled in when the batch is written)."""
    e = t.eligibility
    lead = t.lead_sponsor
    completion = t.completion_date or t.primary_completion_date
    return (
        trial_id,
        t.overall_status,
        t.design.study_type,
        _bits(t.design.phases, PHASE_BITS),
        _bits((i.type for i in t.interventions), INTERVENTION_BITS),
        lead.sponsor_class if lead else None,
        e.sex,
        e.minimum_age_days,
        e.maximum_age_days,
        None if e.healthy_volunteers is None else int(e.healthy_volunteers),
        int(t.has_results),
        t.design.enrollment_count,
        t.start_date.date if t.start_date else None,
        completion.date if completion else None,
        t.last_update,
        int(removed),
        -1,
        np.asarray(lengths, dtype=np.uint32).tobytes(),
    )


def _read_batch(store: Store, ids: list[int]) -> _Batch:
    removed = {i for i, when in store.select_in("trials", ("id", "removed_at"), "id", ids) if when}
    return _index_batch(_read_trials(store, sorted(ids)), removed)


def _read_trials(store: Store, ids: list[int]) -> Iterator[tuple[int, Trial]]:
    """The trials of ``ids`` (ascending), read :data:`READ_TRIALS` at a time: a batch's records
    are never all held at once (10,000 parsed records are ~300 MB)."""
    for piece in chunks(ids, READ_TRIALS):
        trials = store.trials_by_id(piece, results=False)
        for trial_id in sorted(trials):
            yield trial_id, trials[trial_id]


def _index_batch(trials: Iterable[tuple[int, Trial]], removed: set[int]) -> _Batch:
    builder = SegmentBuilder()
    batch = _Batch([], [], [], [], [], [], [])
    for trial_id, t in trials:
        lengths = builder.add(trial_id, field_texts(t))
        batch.ids.append(trial_id)
        batch.facts.append(facts_row(trial_id, t, lengths, trial_id in removed))
        countries: set[str] = set()
        points: set[tuple[float, float]] = set()
        for site in t.locations:
            if site.country:
                countries.add(canonical_country(site.country))
            if site.geo is not None:
                point = (round(site.geo.lat, 5), round(site.geo.lon, 5))
                if point not in points:
                    points.add(point)
                    batch.points.append((trial_id, *point, "geo"))
            elif site.city:
                batch.unplaced.append((trial_id, site.city, site.state or "", site.country or ""))
        batch.countries.extend((trial_id, c) for c in sorted(countries))
        mesh = [m.term for m in t.condition_mesh]
        evidence = acronym_evidence(t.conditions, (t.brief_title or "", t.official_title or ""), mesh)
        batch.acronyms.extend((trial_id, e.abbr, e.expansion, e.columns, e.kind) for e in evidence)
        listed = {abbreviation_key(c.strip()) for c in t.conditions if is_abbreviation(c.strip())}
        batch.acronyms.extend((trial_id, abbr, "", "", "listed") for abbr in listed)
    batch.seg_rows = list(builder.build())
    return batch


def _worker_batch(args: tuple[str, list[int]]) -> _Batch:
    """A batch built in a worker process, on its own read-only connection to the store."""
    path, ids = args
    store = open_store(path, readonly=True)
    try:
        return _read_batch(store, ids)
    finally:
        store.close()


class _Places:
    """The gazetteer's answers for site addresses, read from and saved to search_places."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.known: dict[tuple[str, str, str], tuple[float, float] | None] = {
            (c, s, k): (lat, lon) if lat is not None else None
            for c, s, k, lat, lon in store.select("search_places", ("city", "state", "country", "lat", "lon"))
        }
        self.new: dict[tuple[str, str, str], tuple[float, float] | None] = {}

    def locate(self, city: str, state: str, country: str) -> tuple[float, float] | None:
        key = (city, state, country)
        if key in self.known:
            return self.known[key]
        point = locate_site(city, state or None, country or None)
        self.known[key] = self.new[key] = point
        return point

    def save(self) -> None:
        self.store.insert(
            "search_places",
            [(*key, *(point or (None, None))) for key, point in self.new.items()],
            replace=True,
        )
        self.new.clear()


def _write(store: Store, batch: _Batch, places: _Places) -> None:
    """One batch, in one transaction: a new segment and the facts that point at it."""
    points = list(batch.points)
    seen = {(t, lat, lon) for t, lat, lon, _ in points}
    for trial_id, city, state, country in batch.unplaced:
        found = places.locate(city, state, country)
        if found is not None:
            point = (trial_id, round(found[0], 5), round(found[1], 5))
            if point not in seen:
                seen.add(point)
                points.append((*point, "gazetteer"))
    with store.transaction():
        seg = next_segment(store)
        for table in _PER_TRIAL:
            store.delete_trials(table, batch.ids)
        store.insert("text_terms", ((term, seg, n, p, pos) for term, n, p, pos in batch.seg_rows))
        store.insert("text_segments", [(seg, len(batch.ids), len(batch.seg_rows))])
        store.insert("search_facts", [(*row[:-2], seg, row[-1]) for row in batch.facts])
        store.insert("search_countries", batch.countries)
        store.insert("search_points", points)
        store.insert("search_acronyms", batch.acronyms)
        places.save()


def _choose_synonyms(store: Store) -> None:
    rows = store.select("search_acronyms", ("trial_id", "abbr", "expansion", "columns", "kind"))
    listed: dict[str, set[int]] = {}
    evidence: dict[tuple[str, str, str], tuple[str, set[int]]] = {}
    for trial_id, abbr, expansion, columns, kind in rows:
        if kind == "listed":
            listed.setdefault(abbr, set()).add(trial_id)
            continue
        key = (abbr, expansion, columns)
        old_kind, trials = evidence.get(key, ("", set()))
        trials.add(trial_id)
        evidence[key] = (max(old_kind, kind), trials)
    counts = [(a, e, c, kind, len(trials)) for (a, e, c), (kind, trials) in evidence.items()]
    chosen: list[Synonym] = choose_synonyms(counts, {a: len(t) for a, t in listed.items()})
    with store.transaction():
        store.clear_rows("search_synonyms")
        store.insert("search_synonyms", [(s.abbr, s.expansion, s.columns, s.trials, s.kind) for s in chosen])


class SearchIndex:
    """Search's derived index (see the module's description)."""

    name = "search"
    version = "5"
    owner = "search"

    def refresh(self, store: Store, changed: Ids, removed: Ids, how: How) -> str:
        if removed:
            with store.transaction():
                for table in _PER_TRIAL:
                    store.delete_trials(table, removed)
        places = _Places(store)
        had_gazetteer = site_gazetteer_loaded()
        done = 0
        for batch in _batches(store, sorted(changed)):
            _write(store, batch, places)
            done += len(batch.ids)
            if how.progress is not None:
                how.progress(done, len(changed))
        if not had_gazetteer:
            drop_site_gazetteer()  # leave the process as it was: the builds after this one need none
        if changed or removed:
            _choose_synonyms(store)
            collect_segments(store)
            store.analyze(("search_facts", "search_countries", "search_points"))
        return f"{len(changed):,} trials indexed" + (f", {len(removed):,} removed" if removed else "")


def _batches(store: Store, ids: list[int]) -> Iterable[_Batch]:
    pieces = list(chunks(ids, SEGMENT_TRIALS))
    workers = min(os.cpu_count() or 1, len(pieces))
    if len(ids) < PARALLEL_FROM or workers < 2 or store.path == ":memory:" or sys.platform != "linux":
        for piece in pieces:
            yield _read_batch(store, piece)
        return
    # Reading, analysing and encoding is CPU work: workers build segments, this process writes.
    # Workers live for the whole refresh: one forked later would start with what this process
    # holds by then (the site gazetteer, finished batches), measured worse (0.91 GB against 0.57).
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_worker_batch, [(store.path, piece) for piece in pieces])


SEARCH_INDEX = SearchIndex()
