"""What every backend writes and reads: records, prepared rows, counts. Pure, no I/O.

:func:`prepare_record` flattens a parsed trial into the rows of the ``store`` tables; it is
pure, so ingest runs it in worker processes while one process writes.

>>> from trialscope.model import Trial
>>> prepared = prepare_record(StoredRecord(Trial(nct_id="NCT00000001"), b"{}"))
>>> prepared.nct_id, prepared.row[0]
('NCT00000001', 'NCT00000001')
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, TypeVar

import msgspec

from trialscope.model import Results, Trial
from trialscope.store.blobs import BlobCodec, decompress, needs_base
from trialscope.store.schema import TABLES

T = TypeVar("T")
# Where the compressed values are in a prepared row (the trials row without its id) and a version row.
_TRIAL_AT = TABLES["trials"].column_names.index("trial") - 1
_RESULTS_AT = TABLES["trials"].column_names.index("results") - 1
_RAW_AT = TABLES["trial_versions"].column_names.index("raw")
_encode = msgspec.json.Encoder().encode
_decode_trial = msgspec.json.Decoder(Trial).decode
_decode_results = msgspec.json.Decoder(Results).decode


def trial_json(trial: Trial) -> tuple[bytes, bytes | None]:
    """A trial as the JSON of its two stored values: everything but its results, and its
    results (or None). The store compresses them when it writes them."""
    if trial.results is None:
        return _encode(trial), None
    return _encode(replace(trial, results=None)), _encode(trial.results)


def read_trial(blob: bytes, results: bytes | None, raw: bytes | None = None) -> Trial:
    """A trial from its stored (compressed) values; ``results`` None reads it without its
    results section; ``raw`` is the stored raw record it was compressed against, if it was.

    >>> trial, raw = Trial(nct_id="NCT00000001", brief_title="A trial"), b'{"briefTitle": "A trial"}'
    >>> blob, _ = trial_json(trial)
    >>> read_trial(BlobCodec().pack_against(blob, raw), None, BlobCodec().pack(raw, "raw")) == trial
    True
    """
    base = _base(raw, blob, results)
    trial = _decode_trial(decompress(blob, base))
    return replace(trial, results=_decode_results(decompress(results, base))) if results else trial


def read_trial_part(blob: bytes, part: type[T], raw: bytes | None = None) -> T:
    """Some fields of a stored trial: ``part`` is a dataclass naming a few of :class:`Trial`'s
    fields (with their types and defaults); the rest of the blob is skipped unread, which is
    several times faster than reading the whole trial (a derived index needing a few fields)."""
    decoder = _PART_DECODERS.get(part)
    if decoder is None:
        decoder = _PART_DECODERS[part] = msgspec.json.Decoder(part)
    return decoder.decode(decompress(blob, _base(raw, blob)))


def _base(raw: bytes | None, *values: bytes | None) -> bytes | None:
    """The raw record a trial's values were compressed against, read only when they were."""
    return decompress(raw) if raw is not None and any(needs_base(v) for v in values) else None


_PART_DECODERS: dict[type, msgspec.json.Decoder[Any]] = {}


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A parsed trial with the raw record it came from: where (a file, a URL) and how (``file``,
    ``bulk``, ``sync``, ``history``); ``registry_version`` numbers the registry's own versions."""

    trial: Trial
    raw: bytes
    source_file: str | None = None
    origin: str = "file"
    registry_version: int | None = None


@dataclass(slots=True)
class UpsertStats:
    """What a write did; ``changed`` holds the trial ids written (new or replaced)."""

    inserted: int = 0
    replaced: int = 0
    skipped: int = 0
    changed: list[int] = field(default_factory=list)

    def add(self, other: UpsertStats) -> None:
        self.inserted += other.inserted
        self.replaced += other.replaced
        self.skipped += other.skipped
        self.changed.extend(other.changed)


@dataclass(frozen=True, slots=True)
class RawRecord:
    nct_id: str
    raw: bytes
    source_format: str
    source_file: str | None
    content_hash: str


class KeptVersion(msgspec.Struct, frozen=True):
    """One kept version of a record: ``number`` counts the record's kept versions from 1 (oldest,
    in :meth:`~trialscope.store.protocol.Store.versions` order); when and where it was seen, and
    how (``origin``: file, bulk, sync or history); ``registry_version`` is the registry's own
    number where known."""

    number: int
    hash: str
    last_update: str | None
    seen_at: str
    origin: str
    source: str | None
    registry_version: int | None


class Version(KeptVersion, frozen=True):
    """One version of a record as seen, with its raw bytes."""

    nct_id: str
    raw: bytes


@dataclass(slots=True)
class StoreStats:
    trials: int = 0
    summary_only: int = 0
    with_results: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_phase: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Changes:
    """Trials written and removed since a point of the change log, up to ``last``."""

    changed: tuple[int, ...]
    removed: tuple[int, ...]
    last: int


class PreparedTrial(NamedTuple):
    """A trial flattened into the rows of every store table, ready to write (picklable, cheap)."""

    nct_id: str
    last_update: str | None
    summary_only: bool
    row: tuple[Any, ...]
    version: tuple[Any, ...]  # its trial_versions row
    phases: list[tuple[Any, ...]]
    conditions: list[tuple[Any, ...]]
    mesh: list[tuple[Any, ...]]
    interventions: list[tuple[Any, ...]]
    sponsors: list[tuple[Any, ...]]
    sites: list[tuple[Any, ...]]


def wins(new: PreparedTrial, old_update: str | None, old_summary_only: int) -> bool:
    """Whether a newly read record replaces the stored one.

    A full record beats a summary-only one whatever the dates; otherwise only a strictly
    newer last-update date replaces, so re-reading the same files changes nothing.
    """
    if bool(new.summary_only) != bool(old_summary_only):
        return not new.summary_only
    return (new.last_update or "") > (old_update or "")


def newest_of(
    records: Iterable[PreparedTrial], stats: UpsertStats
) -> tuple[dict[str, PreparedTrial], list[tuple[Any, ...]]]:
    """A batch's records by NCT id (of two for one trial, the one that wins; the other counted
    as skipped), and every record's version row (all are kept, winners or not)."""
    batch: dict[str, PreparedTrial] = {}
    versions: list[tuple[Any, ...]] = []
    for record in records:
        versions.append(record.version)
        previous = batch.get(record.nct_id)
        if previous is not None:
            stats.skipped += 1  # one of the pair is dropped
            if not wins(record, previous.last_update, int(previous.summary_only)):
                continue
        batch[record.nct_id] = record
    return batch, versions


@dataclass(slots=True)
class UpsertPlan:
    """What a batch does to the stored trials: rows written under these ids (a replaced trial
    keeps its id, a new one gets the next free id), trials replaced, and trials seen again."""

    writes: list[tuple[int, PreparedTrial]]
    replaced: list[int]
    seen: list[int]


def plan_upsert(
    batch: dict[str, PreparedTrial],
    existing: dict[str, tuple[int, str | None, int]],
    next_id: int,
    stats: UpsertStats,
) -> UpsertPlan:
    """Each record of a batch against the stored trial of its NCT id ((id, last update,
    summary only) in ``existing``): inserted, replacing it, or skipped as seen again."""
    plan = UpsertPlan([], [], [])
    for nct_id, record in batch.items():
        old = existing.get(nct_id)
        if old is None:
            plan.writes.append((next_id, record))
            next_id += 1
            stats.inserted += 1
        elif wins(record, old[1], old[2]):
            plan.replaced.append(old[0])
            plan.writes.append((old[0], record))
            stats.replaced += 1
        else:
            stats.skipped += 1
            plan.seen.append(old[0])
    stats.changed.extend(i for i, _ in plan.writes)
    return plan


def packed_row(record: PreparedTrial, codec: BlobCodec) -> PreparedTrial:
    """A prepared record with its trial and results values compressed against its raw record
    (kept with the same hash in ``trial_versions``, written in the same transaction)."""
    row = list(record.row)
    raw = record.version[_RAW_AT]
    row[_TRIAL_AT] = codec.pack_against(row[_TRIAL_AT], raw)
    if row[_RESULTS_AT] is not None:
        row[_RESULTS_AT] = codec.pack_against(row[_RESULTS_AT], raw)
    return record._replace(row=tuple(row))


def packed_version(version: tuple[Any, ...], codec: BlobCodec) -> tuple[Any, ...]:
    """A ``trial_versions`` row with its raw record compressed."""
    return (*version[:_RAW_AT], codec.pack(version[_RAW_AT], "raw"), *version[_RAW_AT + 1 :])


def training_samples(records: Sequence[PreparedTrial]) -> dict[str, list[bytes]]:
    """Uncompressed values of each kind from prepared records, to train a store's dictionaries."""
    return {
        "raw": [r.version[_RAW_AT] for r in records],
        "trial": [v for r in records for v in (r.row[_TRIAL_AT], r.row[_RESULTS_AT]) if v is not None],
    }


def prepare_record(record: StoredRecord) -> PreparedTrial:
    """Flatten a record into table rows (the ``trials`` row without its id), its values not
    compressed yet: the store compresses them as it writes (:func:`packed`)."""
    t = record.trial
    d = t.design
    e = t.eligibility
    lead = t.lead_sponsor
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    content_hash = hashlib.sha256(record.raw).hexdigest()
    row = (
        t.nct_id,
        t.brief_title,
        t.official_title,
        t.acronym,
        t.overall_status,
        d.study_type,
        t.phase_label or None,
        d.primary_purpose,
        d.allocation,
        d.enrollment_count,
        t.start_date.date if t.start_date else None,
        t.primary_completion_date.date if t.primary_completion_date else None,
        t.completion_date.date if t.completion_date else None,
        t.first_post_date.date if t.first_post_date else None,
        t.last_update,
        int(t.has_results),
        e.sex,
        e.minimum_age_days,
        e.maximum_age_days,
        None if e.healthy_volunteers is None else int(e.healthy_volunteers),
        lead.name if lead else None,
        lead.sponsor_class if lead else None,
        int(t.summary_only),
        t.source_format,
        record.source_file,
        content_hash,
        *trial_json(t),
        now,
        now,
        None,
    )
    version = (
        t.nct_id,
        content_hash,
        t.last_update,
        now,
        record.origin,
        record.source_file,
        record.registry_version,
        record.raw,
    )
    mesh = [
        (kind, m.term, m.id, ancestor)
        for kind, terms, ancestor in (
            ("condition", t.condition_mesh, 0),
            ("condition", t.condition_ancestors, 1),
            ("intervention", t.intervention_mesh, 0),
            ("intervention", t.intervention_ancestors, 1),
        )
        for m in terms
    ]
    return PreparedTrial(
        nct_id=t.nct_id,
        last_update=t.last_update,
        summary_only=t.summary_only,
        row=row,
        version=version,
        phases=[(p,) for p in dict.fromkeys(d.phases)],
        conditions=[(c,) for c in dict.fromkeys(t.conditions)],
        mesh=mesh,
        interventions=[(i.type, i.name) for i in t.interventions],
        sponsors=[(s.name, s.sponsor_class, s.role) for s in t.sponsors],
        sites=[
            (
                s.facility,
                s.city,
                s.state,
                s.country,
                s.status,
                s.geo.lat if s.geo else None,
                s.geo.lon if s.geo else None,
            )
            for s in t.locations
        ],
    )
