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

import sys
from collections.abc import Iterable, Iterator, Sequence
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
from trialscope.store import SqliteStore, StoredRecord, UpsertStats

DEFAULT_BATCH = 500


@dataclass(slots=True)
class IngestSummary:
    files: int = 0
    records: int = 0
    upserts: UpsertStats = field(default_factory=UpsertStats)
    rejected: list[Rejected] = field(default_factory=list)
    skipped_files: list[Rejected] = field(default_factory=list)
    summary_only: int = 0

    @property
    def stored(self) -> int:
        return self.upserts.inserted + self.upserts.replaced

    def lines(self) -> Iterator[str]:
        """The human summary, a line each."""
        u = self.upserts
        yield (
            f"Read {self.records:,} records from {self.files:,} files: {u.inserted:,} new trials, "
            f"{u.replaced:,} replaced by newer records, {u.skipped:,} unchanged or older, "
            f"{len(self.rejected):,} rejected."
        )
        if self.summary_only:
            yield f"{self.summary_only:,} records were summary-only (CSV exports) and are marked so."
        for skip in self.skipped_files:
            yield f"skipped {skip.source}: {skip.reason}"
        for reject in self.rejected:
            who = f" ({reject.nct_id})" if reject.nct_id else ""
            yield f"rejected {reject.source}{who}: {reject.reason}"


def _records(paths: Sequence[Path], summary: IngestSummary, progress: bool) -> Iterator[StoredRecord]:
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
                if bar is not None and summary.records % 200 == 0:
                    bar.set_postfix(records=summary.records, refresh=False)
                stored = _parse(item, summary)
                if stored is not None:
                    yield stored
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.set_postfix(records=summary.records)
            bar.close()


def _parse(item: SourceRecord, summary: IngestSummary) -> StoredRecord | None:
    try:
        trial = parse_source_record(item)
    except ParseError as exc:
        summary.rejected.append(Rejected(item.source, str(exc)))
        return None
    if trial.summary_only:
        summary.summary_only += 1
    return StoredRecord(trial, item.raw, item.source)


def _batches(records: Iterable[StoredRecord], size: int) -> Iterator[list[StoredRecord]]:
    batch: list[StoredRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_paths(
    store: SqliteStore,
    paths: Sequence[str | Path],
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = True,
) -> IngestSummary:
    """Read every record under ``paths`` into ``store``; returns what happened.

    Raises TrialScopeError only when a path does not exist; everything wrong inside the
    files is listed in the summary instead.
    """
    summary = IngestSummary()
    for batch in _batches(_records([Path(p) for p in paths], summary, progress), batch_size):
        summary.upserts.add(store.upsert_trials(batch))
    if summary.stored:
        store.set_meta("content_version", _bump(store.get_meta("content_version")))
    return summary


def ingest_trials(store: SqliteStore, records: Iterable[StoredRecord], batch_size: int = DEFAULT_BATCH) -> UpsertStats:
    """Store already parsed records (from a sync or a generator) in batches."""
    stats = UpsertStats()
    for batch in _batches(records, batch_size):
        stats.add(store.upsert_trials(batch))
    if stats.inserted or stats.replaced:
        store.set_meta("content_version", _bump(store.get_meta("content_version")))
    return stats


def _bump(version: str | None) -> str:
    return str(int(version or 0) + 1)


def write_report(summary: IngestSummary, stream: IO[bytes]) -> None:
    """Each rejected record (and skipped file) as a line of JSON: source, nct_id, reason."""
    for item in (*summary.skipped_files, *summary.rejected):
        row = {"source": item.source, "nct_id": item.nct_id, "reason": item.reason, "skipped_file": item.skipped_file}
        stream.write(orjson.dumps(row) + b"\n")
