"""The embedded SQLite store: one file, WAL mode, batched upserts, FTS5.

Each batch of trials is written in one transaction, so a killed ingest leaves the store as
it was after the last whole batch; a re-run skips what is already stored and completes it.

>>> store = SqliteStore(":memory:")
>>> store.count()
0
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Self

import msgspec

try:  # ISA-L writes the same zlib format several times faster; stdlib zlib reads it back.
    from isal.isal_zlib import compress as _zlib_compress
except ImportError:  # pragma: no cover - the optional accelerator is missing
    from zlib import compress as _zlib_compress

from trialscope.errors import SchemaVersionError, StoreError, TrialNotFoundError
from trialscope.model import Trial
from trialscope.store.schema import CHILD_TABLES, FTS_COLUMNS, SCHEMA, SCHEMA_VERSION

_encode = msgspec.json.Encoder().encode
_decode_trial = msgspec.json.Decoder(Trial).decode

# A new store's page size: 8 KiB pages cut per-page work for the large trial rows and the
# FTS5 segments; an existing store keeps the size it was made with.
PAGE_SIZE = 8192


def compress(data: bytes) -> bytes:
    """zlib-format compression of a stored blob (trial JSON, raw record); level 1 for speed."""
    return _zlib_compress(data, 1)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A parsed trial with the raw record it came from."""

    trial: Trial
    raw: bytes
    source_file: str | None = None


@dataclass(slots=True)
class UpsertStats:
    inserted: int = 0
    replaced: int = 0
    skipped: int = 0

    def add(self, other: UpsertStats) -> None:
        self.inserted += other.inserted
        self.replaced += other.replaced
        self.skipped += other.skipped


@dataclass(frozen=True, slots=True)
class RawRecord:
    nct_id: str
    raw: bytes
    source_format: str
    source_file: str | None
    content_hash: str


@dataclass(slots=True)
class StoreStats:
    trials: int = 0
    summary_only: int = 0
    with_results: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_phase: Counter[str] = field(default_factory=Counter)
    by_type: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)


def fts_text(trial: Trial) -> tuple[str, ...]:
    """The text of a trial for each FTS column, in FTS_COLUMNS order."""
    join = "\n".join
    return (
        join(filter(None, (trial.brief_title, trial.official_title, trial.acronym))),
        join(trial.conditions),
        join(part for i in trial.interventions for part in (i.name, *i.other_names) if part),
        join(trial.keywords),
        join(m.term for m in (*trial.condition_mesh, *trial.intervention_mesh, *trial.condition_ancestors)),
        trial.brief_summary or "",
        trial.detailed_description or "",
        join(f"{o.measure} {o.description or ''}" for o in trial.outcomes),
        trial.eligibility.criteria or "",
        join(s.name for s in trial.sponsors),
    )


def _wins(new: PreparedTrial, old_update: str | None, old_summary_only: int) -> bool:
    """Whether a newly read record replaces the stored one.

    A full record beats a summary-only one whatever the dates; otherwise only a strictly
    newer last-update date replaces, so re-reading the same files changes nothing.
    """
    if bool(new.summary_only) != bool(old_summary_only):
        return not new.summary_only
    return (new.last_update or "") > (old_update or "")


class PreparedTrial(NamedTuple):
    """A trial flattened into the rows of every table, ready to write (picklable, cheap)."""

    nct_id: str
    last_update: str | None
    summary_only: bool
    row: tuple[Any, ...]
    phases: list[tuple[Any, ...]]
    conditions: list[tuple[Any, ...]]
    mesh: list[tuple[Any, ...]]
    interventions: list[tuple[Any, ...]]
    sponsors: list[tuple[Any, ...]]
    sites: list[tuple[Any, ...]]
    fts: tuple[str, ...]


_INSERT_TRIAL = """INSERT INTO trials (id, nct_id, brief_title, official_title, acronym, overall_status, study_type,
    phase, primary_purpose, allocation, enrollment, start_date, primary_completion_date,
    completion_date, first_post_date, last_update, has_results, sex, min_age_days, max_age_days,
    healthy_volunteers, lead_sponsor, sponsor_class, summary_only, source_format, source_file,
    content_hash, trial, raw)
   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"""
_INSERT_FTS = f"INSERT INTO trials_fts(rowid, {', '.join(FTS_COLUMNS)}) VALUES (?{',?' * len(FTS_COLUMNS)})"


def prepare_record(record: StoredRecord) -> PreparedTrial:
    """Flatten a record into table rows; pure, so worker processes can do it in parallel."""
    t = record.trial
    d = t.design
    e = t.eligibility
    lead = t.lead_sponsor
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
        hashlib.sha256(record.raw).hexdigest(),
        compress(_encode(t)),
        compress(record.raw),
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
        fts=fts_text(t),
    )


class _Checkpointer(threading.Thread):
    """Copies the WAL into the database file on its own connection, when woken.

    A checkpoint ends with an fsync; run by the writer after a commit (SQLite's automatic
    checkpoint) the writer waits on the disk, here it goes on writing the next batch.
    """

    def __init__(self, path: str) -> None:
        super().__init__(name="trialscope-checkpoint", daemon=True)
        self.path = path
        self.wake = threading.Event()
        self.stopping = False

    def run(self) -> None:
        conn = sqlite3.connect(self.path)
        try:
            while not self.stopping:
                self.wake.wait()
                self.wake.clear()
                # PASSIVE never blocks the writer; what it cannot copy now waits for the next one.
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:  # pragma: no cover - the writer's connection checkpoints instead
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.join()


class SqliteStore:
    """Trials in one SQLite file. Safe to share across threads; writes are serialized."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = str(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        self.lock = self._lock  # held while a batch is written; readers of the shared connection take it too
        self._checkpointer: _Checkpointer | None = None
        if not readonly and self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if readonly and self.path != ":memory:" and not Path(self.path).exists():
            raise StoreError(f"No store at {self.path}; run `trialscope ingest` first.")
        try:
            if readonly:
                uri = f"file:{Path(self.path).resolve()}?mode=ro"
                self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                self.conn = sqlite3.connect(self.path, check_same_thread=False)
            self.conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # no effect once the file has pages
                self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA cache_size = -65536")
            self.conn.execute("PRAGMA mmap_size = 268435456")
            self.conn.execute("PRAGMA busy_timeout = 10000")
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Cannot open the store at {self.path}: {exc}.") from exc

    # --- schema ---------------------------------------------------------------------

    def _check_schema(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        tables = self.conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        if version == 0 and tables == 0:
            if self.readonly:
                raise StoreError(f"The store at {self.path} is empty; run `trialscope ingest` first.")
            with self.conn:
                self.conn.executescript(SCHEMA)
                self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            return
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"The store at {self.path} has schema version {version or 'unknown'}, but this TrialScope "
                f"uses version {SCHEMA_VERSION}; ingest into a new file (--db) or delete this one."
            )

    def close(self) -> None:
        """Close the connection, once no thread holds the store's lock (a statement running
        on a connection closed under it crashes the process)."""
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing --------------------------------------------------------------------

    @contextmanager
    def bulk_writes(self) -> Iterator[None]:
        """While many batches are written: checkpoint the WAL in a background thread.

        Each batch is still its own committed transaction in the WAL, so a killed process
        loses nothing that was committed; only the copying into the main file moves off the
        writer's path.
        """
        if self.readonly or self.path == ":memory:" or self._checkpointer is not None:
            yield
            return
        checkpointer = _Checkpointer(self.path)
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")
        checkpointer.start()
        self._checkpointer = checkpointer
        try:
            yield
        finally:
            self._checkpointer = None
            checkpointer.stop()
            self.conn.execute("PRAGMA wal_autocheckpoint = 1000")  # SQLite's default

    def upsert_trials(self, records: Iterable[StoredRecord]) -> UpsertStats:
        """Store a batch of records in one transaction: new ones inserted, newer ones replace.

        >>> store = SqliteStore(":memory:")
        >>> store.upsert_trials([StoredRecord(Trial(nct_id="NCT00000001"), b"{}")]).inserted
        1
        """
        return self.upsert_prepared([prepare_record(r) for r in records])

    def upsert_prepared(self, records: Iterable[PreparedTrial]) -> UpsertStats:
        """Store prepared records in one transaction (see upsert_trials).

        The whole batch goes in with one executemany per table: trial ids are given here
        (a replaced trial keeps its id, a new one gets the next free id), so the child rows
        of every trial in the batch can be written together.
        """
        stats = UpsertStats()
        batch: dict[str, PreparedTrial] = {}
        for record in records:
            previous = batch.get(record.nct_id)
            if previous is not None:
                if not _wins(record, previous.last_update, int(previous.summary_only)):
                    stats.skipped += 1
                    continue
                stats.skipped += 1  # the earlier one of the pair is dropped
            batch[record.nct_id] = record
        if not batch:
            return stats
        with self._lock, self.conn:
            if not self.conn.in_transaction:
                # Take the write lock before reading, so the ids given below stay free.
                self.conn.execute("BEGIN IMMEDIATE")
            existing = self._existing(list(batch))
            next_id = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM trials").fetchone()[0]
            writes: list[tuple[int, PreparedTrial]] = []
            replaced: list[int] = []
            for nct_id, record in batch.items():
                old = existing.get(nct_id)
                if old is None:
                    writes.append((next_id, record))
                    next_id += 1
                    stats.inserted += 1
                elif _wins(record, old[1], old[2]):
                    replaced.append(old[0])
                    writes.append((old[0], record))
                    stats.replaced += 1
                else:
                    stats.skipped += 1
            if replaced:
                self._delete(replaced)
            if writes:
                self._insert(writes)
                # Derived tables (search, similarity) watch this number to notice new data.
                self.conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('content_version', '1') ON CONFLICT(key) "
                    "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )
        if self._checkpointer is not None and (stats.inserted or stats.replaced):
            self._checkpointer.wake.set()
        return stats

    def _existing(self, nct_ids: list[str]) -> dict[str, tuple[int, str | None, int]]:
        found: dict[str, tuple[int, str | None, int]] = {}
        for start in range(0, len(nct_ids), 500):
            chunk = nct_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                f"SELECT nct_id, id, last_update, summary_only FROM trials WHERE nct_id IN ({marks})", chunk
            ):
                found[row[0]] = (row[1], row[2], row[3])
        return found

    def _delete(self, trial_ids: list[int]) -> None:
        keys = [(trial_id,) for trial_id in trial_ids]
        for table in CHILD_TABLES:
            self.conn.executemany(f"DELETE FROM {table} WHERE trial_id = ?", keys)
        self.conn.executemany("DELETE FROM trials_fts WHERE rowid = ?", keys)
        self.conn.executemany("DELETE FROM trials WHERE id = ?", keys)

    def _insert(self, writes: list[tuple[int, PreparedTrial]]) -> None:
        """Every row of the given (trial id, prepared trial) pairs, one statement per table."""
        ex = self.conn.executemany
        ex(_INSERT_TRIAL, [(i, *p.row) for i, p in writes])
        ex("INSERT INTO trial_phases VALUES (?,?)", [(i, *r) for i, p in writes for r in p.phases])
        ex("INSERT INTO trial_conditions VALUES (?,?)", [(i, *r) for i, p in writes for r in p.conditions])
        ex("INSERT INTO trial_mesh VALUES (?,?,?,?,?)", [(i, *r) for i, p in writes for r in p.mesh])
        ex(
            "INSERT INTO trial_interventions VALUES (?,?,?)",
            [(i, *r) for i, p in writes for r in p.interventions],
        )
        ex("INSERT INTO trial_sponsors VALUES (?,?,?,?)", [(i, *r) for i, p in writes for r in p.sponsors])
        ex("INSERT INTO sites VALUES (?,?,?,?,?,?,?,?)", [(i, *r) for i, p in writes for r in p.sites])
        ex(_INSERT_FTS, [(i, *p.fts) for i, p in writes])

    # --- reading --------------------------------------------------------------------

    def get_trial(self, nct_id: str) -> Trial:
        """The stored trial; TrialNotFoundError if there is none."""
        row = self.conn.execute(
            "SELECT trial FROM trials WHERE nct_id = ?", (nct_id.strip().upper(),)
        ).fetchone()
        if row is None:
            raise TrialNotFoundError(nct_id)
        return _decode_trial(zlib.decompress(row[0]))

    def get_trials(self, nct_ids: Iterable[str]) -> dict[str, Trial]:
        ids = [n.strip().upper() for n in nct_ids]
        found: dict[str, Trial] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for nct_id, blob in self.conn.execute(
                f"SELECT nct_id, trial FROM trials WHERE nct_id IN ({marks})", chunk
            ):
                found[nct_id] = _decode_trial(zlib.decompress(blob))
        return found

    def get_raw(self, nct_id: str) -> RawRecord:
        row = self.conn.execute(
            "SELECT nct_id, raw, source_format, source_file, content_hash FROM trials WHERE nct_id = ?",
            (nct_id.strip().upper(),),
        ).fetchone()
        if row is None:
            raise TrialNotFoundError(nct_id)
        return RawRecord(row[0], zlib.decompress(row[1]) if row[1] else b"", row[2], row[3], row[4])

    def has_trial(self, nct_id: str) -> bool:
        return (
            self.conn.execute("SELECT 1 FROM trials WHERE nct_id = ?", (nct_id.upper(),)).fetchone()
            is not None
        )

    def iter_trials(self, batch_size: int = 1000) -> Iterator[Trial]:
        """Every stored trial, in storage order, read in batches."""
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT id, trial FROM trials WHERE id > ? ORDER BY id LIMIT ?", (last, batch_size)
            ).fetchall()
            if not rows:
                return
            for _, blob in rows:
                yield _decode_trial(zlib.decompress(blob))
            last = rows[-1][0]

    def nct_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT nct_id FROM trials ORDER BY id")]

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM trials").fetchone()[0])

    def stats(self) -> StoreStats:
        """Counts by status, phase, study type, source and results."""
        stats = StoreStats()
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(summary_only), 0), coalesce(sum(has_results), 0) FROM trials"
        ).fetchone()
        stats.trials, stats.summary_only, stats.with_results = row
        for column, counter in (
            ("overall_status", stats.by_status),
            ("phase", stats.by_phase),
            ("study_type", stats.by_type),
            ("source_format", stats.by_source),
        ):
            for value, n in self.conn.execute(
                f"SELECT {column}, count(*) FROM trials GROUP BY 1 ORDER BY 2 DESC"
            ):
                counter[value or "(none)"] = n
        return stats

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock, self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
