"""Typed criteria as a derived index of the store: computed once per trial version, read by id.

Typing a trial's criteria costs about a millisecond (less for the boilerplate lines many trials
share, which :mod:`.trial` reads once), so matching a patient against hundreds of candidates
reads them from the store instead. One table, owned by ``criteria`` in
:mod:`trialscope.store.schema`:

    criteria_trials   one row per trial: its id and its typed criteria
                      (:func:`~trialscope.criteria.typed_criteria`, MessagePack, zlib)

The index's version is the vocabulary's (:func:`~trialscope.criteria.vocabulary_version`) with
the format of the rows, so a store typed with another catalogue is typed again at its next
refresh. :func:`criteria_of` never answers with stale criteria: for a trial changed since the
last refresh, or while the index was built by another vocabulary, it types the trial on the fly.

>>> from trialscope.store import open_store, refresh_indexes
>>> [r.line for r in refresh_indexes(open_store(":memory:"), [CRITERIA_INDEX])]
['criteria: 0 trials typed']
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields

import msgspec

from trialscope.criteria.catalogue import vocabulary_version
from trialscope.criteria.trial import typed_criteria
from trialscope.criteria.types import TypedCriterion
from trialscope.model import Eligibility, Intervention, MeshTerm, Trial
from trialscope.store import Store, open_store
from trialscope.store.blobs import CRITERIA, compress, decompress
from trialscope.store.derived import How, Ids, chunks

TABLE = "criteria_trials"
FORMAT = "2"  # of the rows and their reading; bump it (or change the vocabulary) and every trial is typed again (2: "age < 18 or > 65")
BATCH = 1_000  # trials typed and written per transaction
PARALLEL_FROM = 4_000  # changed trials from which worker processes type them

Criteria = tuple[TypedCriterion, ...]
_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Criteria).decode


def encode_criteria(criteria: Criteria) -> bytes:
    """A trial's typed criteria as a stored blob (zlib; the index itself writes them with the
    store's criteria dictionary, :func:`packed`).

    >>> from trialscope.criteria import parse_criterion
    >>> typed = (parse_criterion("ECOG 0-1"),)
    >>> decode_criteria(encode_criteria(typed)) == typed
    True
    """
    return compress(_encode(criteria))


def decode_criteria(blob: bytes) -> Criteria:
    """The typed criteria of a stored blob."""
    return _decode(decompress(blob))


@dataclass(frozen=True, slots=True)
class _Typed:
    """The fields of a trial its criteria are typed from (read without the rest of the trial)."""

    nct_id: str
    conditions: tuple[str, ...] = ()
    interventions: tuple[Intervention, ...] = ()
    eligibility: Eligibility = field(default_factory=Eligibility)
    condition_mesh: tuple[MeshTerm, ...] = ()
    intervention_mesh: tuple[MeshTerm, ...] = ()

    def trial(self) -> Trial:
        return Trial(**{f.name: getattr(self, f.name) for f in fields(self)})


def typed_rows(store: Store, trial_ids: Sequence[int]) -> list[tuple[int, bytes]]:
    """(trial id, typed criteria not compressed yet) of some trials, typed now."""
    parts = store.trial_parts(trial_ids, _Typed)
    return [(trial_id, _encode(typed_criteria(parts[trial_id].trial()))) for trial_id in sorted(parts)]


def packed(store: Store, rows: Sequence[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Rows of typed criteria compressed with the store's criteria dictionary (trained from the
    first large batch): about half the size of each compressed alone (docs/PERFORMANCE.md)."""
    return list(zip((i for i, _ in rows), store.pack_values(CRITERIA, [b for _, b in rows]), strict=True))


def _worker_rows(args: tuple[str, list[int]]) -> list[tuple[int, bytes]]:
    """Rows typed in a worker process, on its own read-only connection to the store."""
    path, trial_ids = args
    with open_store(path, readonly=True) as store:
        return typed_rows(store, trial_ids)


def _typed_batches(store: Store, trial_ids: list[int]) -> Iterable[tuple[list[int], list[tuple[int, bytes]]]]:
    pieces = list(chunks(trial_ids, BATCH))
    workers = min(os.cpu_count() or 1, len(pieces))
    if len(trial_ids) < PARALLEL_FROM or workers < 2 or store.path == ":memory:" or sys.platform != "linux":
        for piece in pieces:
            yield piece, typed_rows(store, piece)
        return
    # Typing is CPU work: workers type the batches, this process writes them.
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        args = [(store.path, piece) for piece in pieces]
        yield from zip(pieces, pool.imap(_worker_rows, args), strict=True)


class CriteriaIndex:
    """The typed-criteria index (see the module's description)."""

    name = "criteria"
    owner = "criteria"

    def __init__(self) -> None:
        self.version = f"{FORMAT}.{vocabulary_version()}"

    def refresh(self, store: Store, changed: Ids, removed: Ids, how: How) -> str:
        if removed:
            store.delete_trials(TABLE, removed)
        done = 0
        for piece, rows in _typed_batches(store, sorted(changed)):
            with store.transaction():
                store.delete_trials(TABLE, piece)  # a trial gone since the log was read leaves no row
                store.insert(TABLE, packed(store, rows))
            done += len(piece)
            if how.progress is not None:
                how.progress(done, len(changed))
        return f"{len(changed):,} trials typed" + (f", {len(removed):,} removed" if removed else "")


CRITERIA_INDEX = CriteriaIndex()


def _current_rows(store: Store, trial_ids: Sequence[int]) -> set[int]:
    """Which of these trials the index holds as they are now (none while another vocabulary
    built it, or before it was built; not the trials written since its last refresh)."""
    state = store.derived_state(CRITERIA_INDEX.name)
    if state is None or state[0] != CRITERIA_INDEX.version or not store.has_table(TABLE):
        return set()
    pending = store.changes_since(state[1])
    return set(trial_ids) - set(pending.changed) - set(pending.removed)


def criteria_of(
    store: Store, trial_ids: Iterable[int], *, trials: Mapping[int, Trial] | None = None
) -> dict[int, Criteria]:
    """The typed criteria of some trials (by store id), from the index where it is current,
    typed on the fly where it is not; ids not stored are left out. ``trials`` may hold some of
    the trials already read (they are then not read again to be typed).

    >>> from trialscope.store import StoredRecord, open_store
    >>> from trialscope.model import Eligibility
    >>> store = open_store(":memory:")
    >>> trial = Trial(nct_id="NCT00000001", eligibility=Eligibility(criteria="Inclusion Criteria:\\n* ECOG 0-1"))
    >>> ids = store.upsert_trials([StoredRecord(trial, b"{}")]).changed
    >>> [c.label for c in criteria_of(store, ids)[ids[0]]]
    ['ECOG 0–1']
    """
    ids = list(dict.fromkeys(trial_ids))
    current = _current_rows(store, ids)
    found: dict[int, Criteria] = {}
    if current:
        for trial_id, blob in store.select_in(TABLE, ("trial_id", "criteria"), "trial_id", sorted(current)):
            found[trial_id] = decode_criteria(blob)
    missing = [i for i in ids if i not in found]
    if missing:
        given = trials or {}
        read = store.trials_by_id([i for i in missing if i not in given], results=False)
        for trial_id in missing:
            trial = given.get(trial_id) or read.get(trial_id)
            if trial is not None:
                found[trial_id] = typed_criteria(trial)
    return {i: found[i] for i in ids if i in found}


def criteria_by_nct_id(store: Store, nct_ids: Iterable[str]) -> dict[str, Criteria]:
    """:func:`criteria_of` by NCT id (ids not stored are left out)."""
    ids = store.ids_of(list(nct_ids))
    typed = criteria_of(store, ids.values())
    return {nct_id: typed[trial_id] for nct_id, trial_id in ids.items() if trial_id in typed}
