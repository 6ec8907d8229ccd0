"""Files, folders and zips -> parsed trials -> the store, in batched transactions.

One bad record costs one record: it is listed with its file and reason, and the batch goes
on. Each batch is one transaction, so an interrupted ingest leaves whole batches only, and
running it again skips what is stored and completes the rest.

>>> from trialscope.store import open_store
>>> summary = ingest_paths(open_store(":memory:"), [], progress=False)
>>> summary.stored
0
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

from trialscope.ctgov.sources import (
    Rejected,
    SourceRecord,
    iter_file_records,
    list_source_files,
    parse_source_record,
)
from trialscope.errors import ParseError
from trialscope.store import Store, StoredRecord, UpsertStats
from trialscope.store.records import PreparedTrial, prepare_record
from trialscope.vocab import unknown_values

DEFAULT_BATCH = 2000
IN_FLIGHT = 2048  # records read ahead of the writer when parsing in worker processes
CHUNK = 64  # records sent to a worker at a time: fewer, larger messages cost the writer less
WORKER_GC_THRESHOLD = 20_000  # objects allocated between young collections in a worker (default 700)


@dataclass(slots=True)
class IngestSummary:
    files: int = 0
    records: int = 0
    upserts: UpsertStats = field(default_factory=UpsertStats)
    rejected: list[Rejected] = field(default_factory=list)
    skipped_files: list[Rejected] = field(default_factory=list)
    warnings: list[Rejected] = field(default_factory=list)  # stored, with a value said here
    summary_only: int = 0

    @property
    def stored(self) -> int:
        return self.upserts.inserted + self.upserts.replaced

    def lines(self) -> Iterator[str]:
        """The human summary, a line each."""
        u = self.upserts
        yield (
            f"Read {plural(self.records, 'record')} from {plural(self.files, 'file')}: "
            f"{plural(u.inserted, 'new trial')}, {u.replaced:,} replaced by newer records, "
            f"{u.skipped:,} unchanged or older, {len(self.rejected):,} rejected"
            + (f", {plural(len(self.warnings), 'warning')}." if self.warnings else ".")
        )
        if self.summary_only:
            yield (
                f"{plural(self.summary_only, 'record was', 'records were')} summary-only (CSV exports) "
                "and are marked so."
            )
        for skip in self.skipped_files:
            yield f"skipped {skip.source}: {skip.reason}"
        for reject in self.rejected:
            who = f" ({reject.nct_id})" if reject.nct_id else ""
            yield f"rejected {reject.source}{who}: {reject.reason}"
        for warning in self.warnings:
            yield f"warning {warning.source} ({warning.nct_id}): {warning.reason}"


def _source_items(paths: Sequence[Path], summary: IngestSummary, progress: bool) -> Iterator[SourceRecord]:
    files = [f for p in paths for f in list_source_files(p)]
    summary.files = len(files)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="file", desc="ingest", file=sys.stderr, dynamic_ncols=True)
    try:
        for file in files:
            for item in iter_file_records(file):
                if isinstance(item, Rejected):
                    (summary.skipped_files if item.skipped_file else summary.rejected).append(item)
                    continue
                summary.records += 1
                if bar is not None and summary.records % 500 == 0:
                    bar.set_postfix(records=summary.records, refresh=False)
                yield item
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.set_postfix(records=summary.records)
            bar.close()


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 record``, ``2 records``, ``1,234 records``; ``many`` where adding an s is wrong.

    >>> plural(1, "record"), plural(2, "record was", "records were")
    ('1 record', '2 records were')
    """
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A record ready to store, and what is worth saying about it."""

    trial: PreparedTrial
    warnings: tuple[Rejected, ...] = ()


def prepare_item(item: SourceRecord, origin: str = "file") -> _Prepared | Rejected:
    """Parse one source record and flatten it into table rows; runs in worker processes.

    A value no registry vocabulary knows (a status "ON_FIRE") is stored as written and said
    in a warning: it is shown as an unknown value, never as a real status.
    """
    try:
        trial = parse_source_record(item)
    except ParseError as exc:
        return Rejected(item.source, str(exc))
    strange = unknown_values(trial.overall_status, trial.design.phases, trial.design.study_type)
    warnings = tuple(
        Rejected(
            item.source,
            f"{name.replace('_', ' ')} {value!r} is not one the registry uses; kept as written",
            trial.nct_id,
        )
        for name, value in strange
    )
    return _Prepared(prepare_record(StoredRecord(trial, item.raw, item.source, origin)), warnings)


def _init_worker() -> None:
    """Runs once in each parse worker: fewer garbage collector passes.

    A parse allocates many short-lived objects that reference counting frees; the default
    collector threshold spends ~10% of a worker's time scanning them for cycles.
    """
    gc.freeze()  # what the fork inherited is never garbage; keep it out of every scan
    gc.set_threshold(WORKER_GC_THRESHOLD, 10, 10)
    gc.enable()  # a fork inherits the writer's switched-off collector


@contextmanager
def _writer_gc() -> Iterator[None]:
    """No cyclic garbage collection in the writer while it ingests.

    The writer holds thousands of prepared trials (tuples and lists) at a time and frees
    them by reference counting; automatic collections would rescan them all repeatedly.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _prepared(
    items: Iterable[SourceRecord], summary: IngestSummary, workers: int, origin: str = "file"
) -> Iterator[PreparedTrial]:
    prepare = functools.partial(prepare_item, origin=origin)
    if workers <= 1:
        results: Iterable[_Prepared | Rejected] = map(prepare, items)
        pool = None
    else:
        # Parsing is CPU work: worker processes parse while this one writes to SQLite.
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        pool = context.Pool(workers, initializer=_init_worker)
        # imap reads its input eagerly; the gate keeps at most IN_FLIGHT records in memory.
        gate = threading.BoundedSemaphore(IN_FLIGHT)

        def gated(source: Iterable[SourceRecord]) -> Iterator[SourceRecord]:
            for item in source:
                gate.acquire()
                yield item

        results = pool.imap(prepare, gated(items), chunksize=CHUNK)
    try:
        for result in results:
            if pool is not None:
                gate.release()
            if isinstance(result, Rejected):
                summary.rejected.append(result)
                continue
            summary.warnings.extend(result.warnings)
            if result.trial.summary_only:
                summary.summary_only += 1
            yield result.trial
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


def _batches(records: Iterable[PreparedTrial], size: int) -> Iterator[list[PreparedTrial]]:
    batch: list[PreparedTrial] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_paths(
    store: Store,
    paths: Sequence[str | Path],
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = True,
    workers: int | None = None,
    origin: str = "file",
) -> IngestSummary:
    """Read every record under ``paths`` into ``store``; returns what happened.

    ``origin`` says how the records came (``file``; ``bulk`` for the registry's zip), for
    each version kept. Raises TrialScopeError only when a path does not exist; everything
    wrong inside the files is listed in the summary instead.
    """
    summary = IngestSummary()
    workers = default_workers() if workers is None else workers
    items = _source_items([Path(p) for p in paths], summary, progress)
    with _writer_gc(), store.bulk_writes():
        for batch in _batches(_prepared(items, summary, workers, origin), batch_size):
            summary.upserts.add(store.upsert_prepared(batch))
    return summary


def default_workers() -> int:
    """Parser processes for an ingest: one per core (the writer mostly waits on SQLite's
    C code, so it shares a core with them), at least one."""
    return max(1, os.cpu_count() or 1)


def ingest_trials(
    store: Store, records: Iterable[StoredRecord], batch_size: int = DEFAULT_BATCH
) -> UpsertStats:
    """Store already parsed records (from a sync or a generator) in batches."""
    stats = UpsertStats()
    with store.bulk_writes():
        for batch in _batches(map(prepare_record, records), batch_size):
            stats.add(store.upsert_prepared(batch))
    return stats


def write_report(summary: IngestSummary, stream: IO[bytes]) -> None:
    """Each rejected record, skipped file and warning as a line of JSON: what, source, nct_id, reason."""
    for what, items in (("skipped", summary.skipped_files), ("rejected", summary.rejected),
                        ("warning", summary.warnings)):  # fmt: skip
        for item in items:
            row = {"what": what, "source": item.source, "nct_id": item.nct_id, "reason": item.reason}
            stream.write(orjson.dumps(row) + b"\n")
