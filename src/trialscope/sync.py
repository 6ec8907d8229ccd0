"""Keeping a store current with ClinicalTrials.gov: the bulk zip once, then the daily changes.

    sync(store, CtgovClient("https://clinicaltrials.gov"))            # what changed since the last sync
    sync(store, client, bulk=True)                                   # the whole registry, from its zip
    sync(store, client, check_removed=True)                          # also mark trials no longer listed

- **Into an empty store** (or with ``bulk``): the registry's zip is downloaded beside the store
  (resumed if the connection is cut, checked before use), then ingested member by member.
- **Later**: only what changed, ``AREA[LastUpdatePostDate]RANGE[<cursor - 1 day>,MAX]``, page
  after page. Each page is one transaction, and the sync's state (the page to resume from)
  is written with it: a sync killed at any moment and run again loses nothing and doubles
  nothing (a record already stored is skipped; every version is kept once).
- **The stalest trials** (those checked against the registry longest ago) are fetched again by
  id each time, as AACT does, to catch changes a date filter missed.
- **Removed trials** (``check_removed``): every id the registry lists is compared with the
  store's; a trial no longer listed is marked removed, never deleted; one listed again is
  unmarked; one the store lacks is fetched.
- **History** (``history``): the registry's own earlier versions of the trials a sync touched
  are fetched and kept, so a record's history starts at its first version.

Every derived index (search, related trials ...) is then refreshed for the changed trials only;
a running server sees them at its next request.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from trialscope.ctgov.client import CtgovClient, StudyRecord
from trialscope.ctgov.fields import unknown_fields
from trialscope.ctgov.sources import Rejected, SourceRecord, parse_source_record
from trialscope.errors import ParseError, SyncError
from trialscope.store import Store, StoredRecord, UpsertStats, prepare_record

log = logging.getLogger(__name__)

STALE_PER_SYNC = 200  # trials re-fetched by id each sync, the ones checked longest ago
BATCH = 1000  # records per transaction outside of pages (ids, history)


@dataclass(slots=True)
class SyncSummary:
    """What a sync did, for its one-line report."""

    mode: str = "changes"
    dry_run: bool = False
    upserts: UpsertStats = field(default_factory=UpsertStats)
    removed: int = 0
    back: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    unknown_fields: Counter[str] = field(default_factory=Counter)
    versions: int = 0
    requests: int = 0
    bytes: int = 0
    seconds: float = 0.0
    data_timestamp: str | None = None
    touched: list[str] = field(default_factory=list)  # NCT ids written (new or updated)

    def line(self) -> str:
        """One line: new, updated, unchanged, removed, rejected, requests, bytes, time.

        >>> SyncSummary(requests=3, bytes=2_500_000, seconds=1.5).line()
        'Sync (changes): 0 new, 0 updated, 0 unchanged, 0 removed, 0 rejected; 3 requests, 2.5 MB, 1.5 s.'
        """
        u = self.upserts
        parts = [
            f"{u.inserted:,} new",
            f"{u.replaced:,} updated",
            f"{u.skipped:,} unchanged",
            f"{self.removed:,} removed" + (f" ({self.back:,} back)" if self.back else ""),
            f"{len(self.rejected):,} rejected",
        ]
        if self.versions:
            parts.append(f"{self.versions:,} earlier versions kept")
        if self.unknown_fields:
            parts.append(f"{len(self.unknown_fields):,} unknown fields (kept in the raw records)")
        what = "Dry run, nothing written" if self.dry_run else f"Sync ({self.mode})"
        return (
            f"{what}: {', '.join(parts)}; {self.requests:,} requests, {self.bytes / 1e6:,.1f} MB, "
            f"{self.seconds:,.1f} s."
        )


def _today() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_before(day: str) -> str:
    return (dt.date.fromisoformat(day[:10]) - dt.timedelta(days=1)).isoformat()


class _Writer:
    """Parses raw records and stores them, counting as it goes (or only counting: dry run)."""

    def __init__(self, store: Store, summary: SyncSummary, origin: str) -> None:
        self.store = store
        self.summary = summary
        self.origin = origin

    def prepare(self, records: Iterable[StudyRecord], source: str) -> list[StoredRecord]:
        out = []
        for record in records:
            try:
                payload = orjson.loads(record.raw)
                self.summary.unknown_fields.update(unknown_fields(payload))
                trial = parse_source_record(SourceRecord(source, "v2", payload, record.raw))
            except (ParseError, orjson.JSONDecodeError) as exc:
                self.summary.rejected.append(Rejected(source, str(exc), record.nct_id))
                continue
            out.append(StoredRecord(trial, record.raw, source, self.origin))
        return out

    def write(self, records: Sequence[StoredRecord], state: dict[str, str | None] | None = None) -> None:
        """One transaction: the records and the sync state that says they are done."""
        if self.summary.dry_run:
            self._count_only(records)
            return
        with self.store.transaction():
            stats = self.store.upsert_prepared([prepare_record(r) for r in records])
            if state:
                self.store.set_state(state)
        self.summary.upserts.add(stats)
        written = set(stats.changed)
        if written:
            ids = self.store.ids_of([r.trial.nct_id for r in records])
            self.summary.touched.extend(n for n, i in ids.items() if i in written)

    def _count_only(self, records: Sequence[StoredRecord]) -> None:
        stored = {
            nct: (when, summary_only)
            for nct, when, summary_only in self.store.select_in(
                "trials",
                ("nct_id", "last_update", "summary_only"),
                "nct_id",
                [r.trial.nct_id for r in records],
            )
        }
        for r in records:
            old = stored.get(r.trial.nct_id)
            if old is None:
                self.summary.upserts.inserted += 1
            elif (r.trial.last_update or "") > (old[0] or "") or (old[1] and not r.trial.summary_only):
                self.summary.upserts.replaced += 1
            else:
                self.summary.upserts.skipped += 1


def sync(
    store: Store,
    client: CtgovClient,
    *,
    bulk: bool = False,
    since: str | None = None,
    check_removed: bool = False,
    dry_run: bool = False,
    history: bool = False,
    stale: int = STALE_PER_SYNC,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> SyncSummary:
    """Bring the store up to date with the registry; what was done (see the module's description).

    ``since`` (YYYY-MM-DD) asks for every change from that day on, whatever the store last saw.
    ``dry_run`` says what would change and writes nothing. ``progress(what, done, total)`` is
    called as work advances.
    """
    started = time.perf_counter()
    summary = SyncSummary(dry_run=dry_run)
    version = client.version()
    summary.data_timestamp = version.data_timestamp
    if bulk or store.get_state("bulk_pending") or (store.count() == 0 and since is None):
        summary.mode = "bulk"
        if not dry_run:
            _from_bulk(store, client, summary, progress)
    else:
        _changes(store, client, summary, since, progress)
        if stale > 0:
            _stalest(store, client, summary, stale)
    if check_removed:
        _removed(store, client, summary)
    if history and summary.touched and not dry_run:
        for nct_id in summary.touched:
            summary.versions += backfill_history(store, client, nct_id)
    if not dry_run:
        store.set_state({"data_timestamp": version.data_timestamp, "synced_at": _today()})
    summary.requests = client.stats.requests
    summary.bytes = client.stats.bytes_received
    summary.seconds = time.perf_counter() - started
    return summary


def _from_bulk(
    store: Store,
    client: CtgovClient,
    summary: SyncSummary,
    progress: Callable[[str, int, int | None], None] | None,
) -> None:
    from trialscope.ingest import ingest_paths

    folder = Path(store.path).parent if store.path != ":memory:" else Path(tempfile.gettempdir())
    dest = folder / f"{Path(store.path).name}.registry.zip"
    report = (lambda done, total: progress("download", done, total)) if progress else None
    # Until the whole zip is in, the next sync loads it again (the trials already stored are
    # skipped), rather than asking for changes since a half-loaded store's newest trial.
    store.set_state({"bulk_pending": "1"})
    client.download_bulk(dest, progress=report)
    try:
        done = ingest_paths(store, [dest], progress=progress is not None, origin="bulk")
    finally:
        dest.unlink(missing_ok=True)
    summary.upserts.add(done.upserts)
    summary.rejected.extend(done.rejected)
    latest = store.max_of("trials", "last_update")
    store.set_state({"bulk_pending": None})
    store.set_state({"cursor": latest, "resume_token": None, "resume_since": None})


def _changes(
    store: Store,
    client: CtgovClient,
    summary: SyncSummary,
    since: str | None,
    progress: Callable[[str, int, int | None], None] | None,
) -> None:
    """Every study updated since the cursor (less a day), a page per transaction, resumable."""
    cursor = store.get_state("cursor")
    if since is None:
        if cursor is None:
            cursor = store.max_of("trials", "last_update") or dt.date.today().isoformat()
        since = _day_before(cursor)
    resume = store.get_state("resume_token") if store.get_state("resume_since") == since else None
    writer = _Writer(store, summary, "sync")
    newest = cursor or ""
    done = 0
    try:
        pages = client.iter_changed_since(since, start_token=resume)
        for page in pages:
            records = writer.prepare(page.studies, client.url("/api/v2/studies"))
            newest = max([newest, *(r.trial.last_update or "" for r in records)])
            token = page.next_page_token
            writer.write(records, {"resume_token": token, "resume_since": since if token else None})
            done += len(page.studies)
            if progress:
                progress("changes", done, page.total_count)
    except SyncError:
        if resume is None:
            raise
        # The page to resume from is no longer known to the registry: start the day again.
        log.info("resume token refused; asking for every change since %s again", since)
        store.set_state({"resume_token": None, "resume_since": None})
        _changes(store, client, summary, since, progress)
        return
    if not summary.dry_run and newest:
        store.set_state({"cursor": newest, "resume_token": None, "resume_since": None})


def _stalest(store: Store, client: CtgovClient, summary: SyncSummary, n: int) -> None:
    """The trials checked longest ago, fetched again by id."""
    ids = store.stalest(n)
    if ids:
        _fetch(store, client, summary, ids)


def _fetch(store: Store, client: CtgovClient, summary: SyncSummary, ids: Sequence[str]) -> None:
    writer = _Writer(store, summary, "sync")
    batch: list[StudyRecord] = []
    for record in client.fetch_ids(ids):
        batch.append(record)
        if len(batch) >= BATCH:
            writer.write(writer.prepare(batch, client.url("/api/v2/studies")))
            batch = []
    if batch:
        writer.write(writer.prepare(batch, client.url("/api/v2/studies")))


def _removed(store: Store, client: CtgovClient, summary: SyncSummary) -> None:
    """Mark trials the registry no longer lists; unmark those listed again; fetch the missing."""
    listed = set(client.list_ids())
    if not listed:
        raise SyncError("The registry listed no trials at all; not marking every trial removed.")
    stored = {nct: (summary_only, when) for nct, summary_only, when in store.select(
        "trials", ("nct_id", "summary_only", "removed_at"))}  # fmt: skip
    gone = [
        nct
        for nct, (summary_only, when) in stored.items()
        if nct not in listed and not when and not summary_only
    ]
    back = [nct for nct, (_, when) in stored.items() if nct in listed and when]
    missing = sorted(listed - set(stored))
    if summary.dry_run:
        summary.removed, summary.back = len(gone), len(back)
        summary.upserts.inserted += len(missing)
        return
    summary.removed = store.mark_removed(gone, _today())
    summary.back = store.unmark_removed(back)
    if missing:
        _fetch(store, client, summary, missing)


def backfill_history(store: Store, client: CtgovClient, nct_id: str) -> int:
    """Keep every earlier version of a record the registry has and the store lacks; how many
    were new. The newest version is the trial itself; the others are kept as its history."""
    known = {v.registry_version for v in store.versions(nct_id) if v.registry_version is not None}
    writer = _Writer(store, SyncSummary(), "history")
    records = []
    for change in client.record_history(nct_id):
        if change.version in known:
            continue
        record = client.history_version(nct_id, change.version)
        for stored in writer.prepare(
            [record], client.url(f"/api/int/studies/{nct_id}/history/{change.version}")
        ):
            records.append(
                StoredRecord(stored.trial, stored.raw, stored.source_file, "history", change.version)
            )
    return store.add_versions(records) if records else 0
