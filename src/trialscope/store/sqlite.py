"""The embedded SQLite store: one file, WAL mode, batched upserts, a change log.

Each batch of trials is written in one transaction with its entries in the change log, so a
killed ingest leaves the store as it was after the last whole batch; a re-run skips what is
already stored and completes it. The derived indexes (search, related trials) read the log
to catch up (:mod:`trialscope.store.derived`); they reach their tables only through the
generic operations below (``insert``, ``select_in``, ``column_arrays`` ...), which are the
SQL of this backend, so no other package writes SQL.

One :class:`SqliteStore` is one open store: it owns the connection, its lock, and the
in-memory state readers keep for it (:meth:`SqliteStore.memo`), so nothing else keeps state
keyed by a connection.

>>> store = SqliteStore(":memory:")
>>> store.count(), store.last_change()
(0, 0)
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from trialscope.errors import SchemaVersionError, StoreError
from trialscope.store import migrations
from trialscope.store.reads import in_lists
from trialscope.store.records import (
    PreparedTrial,
    UpsertStats,
)
from trialscope.store.schema import CHILD_TABLES, SCHEMA_VERSION, TABLES, Table, column_sql
from trialscope.store.sqlite_tables import SqliteTables, _marks
from trialscope.store.writes import LogEntry, TrialWrites

# A new store's page size: larger pages cut per-page work for the large trial rows and the
# postings, and waste less of each page on rows of a few KiB (raw records): 16 KiB made the
# 20k synthetic store 5 % smaller than 8 KiB (32 KiB: 6.5 %, but the postings lose); an
# existing store keeps the size it was made with.
PAGE_SIZE = 16384
_SEP = "\x1f"
_TYPES = {"int": "INTEGER", "real": "REAL", "text": "TEXT", "blob": "BLOB"}
_TRIAL_INSERT = (
    f"INSERT INTO trials ({', '.join(TABLES['trials'].column_names)}) "
    f"VALUES ({','.join('?' * len(TABLES['trials'].columns))})"
)


def table_sql(table: Table) -> str:
    """The CREATE statements of a table and its indexes, for SQLite.

    >>> print(table_sql(TABLES["meta"]))
    CREATE TABLE IF NOT EXISTS meta (key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key));
    """
    cols = column_sql(table, _TYPES, identity=" PRIMARY KEY AUTOINCREMENT", nocase=" COLLATE NOCASE")
    if table.key and not table.autoincrement:
        cols.append(f"PRIMARY KEY ({', '.join(table.key)})")
    tail = " WITHOUT ROWID" if table.clustered else ""
    out = [f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(cols)}){tail};"]
    for unique, groups in ((True, table.unique), (False, table.indexes)):
        for columns in groups:
            name = f"{table.name}_{'_'.join(columns)}"
            kind = "UNIQUE INDEX" if unique else "INDEX"
            out.append(f"CREATE {kind} IF NOT EXISTS {name} ON {table.name}({', '.join(columns)});")
    return "\n".join(out)


def create_sql(tables: Iterable[Table]) -> list[str]:
    """Each CREATE statement of some tables, one string each."""
    return [s for t in tables for s in table_sql(t).split("\n")]


# The WAL a bulk write lets grow before the writer copies it all back and starts it again.
# The background checkpoint alone never gets there: while batches keep coming, it copies
# frames but never the last one, and the WAL grows with every page ever rewritten (20 GB
# for the first 4 GB of a 600,000-trial store).
WAL_LIMIT = 512 * 1024 * 1024
# The size a WAL file is cut back to when it starts again (SQLite keeps the file otherwise).
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


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


class SqliteStore(SqliteTables, TrialWrites):
    """Trials in one SQLite file. Safe to share across threads; statements are serialized."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = str(path)
        self.readonly = readonly
        self.lock = threading.RLock()  # held around every statement and transaction
        self._memo: dict[str, object] = {}
        self._checkpointer: _Checkpointer | None = None
        if not readonly and self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if readonly and self.path != ":memory:" and not Path(self.path).exists():
            raise StoreError(f"No store at {self.path}; run `trialscope ingest` first.")
        try:
            if readonly and self.path != ":memory:":
                uri = f"file:{Path(self.path).resolve()}?mode=ro"
                self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
            else:
                self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            if not readonly:
                self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # no effect once the file has pages
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA cache_size = -65536")
            self.conn.execute("PRAGMA mmap_size = 268435456")
            self.conn.execute("PRAGMA busy_timeout = 10000")
            self.conn.execute("PRAGMA temp_store = MEMORY")
            self._check_schema()
            self._open_codec()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Cannot open the store at {self.path}: {exc}.") from exc

    # --- schema ---------------------------------------------------------------------

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _check_schema(self) -> None:
        version = self.schema_version()
        tables = self.conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        if version == 0 and tables == 0:
            if self.readonly:
                raise StoreError(f"The store at {self.path} is empty; run `trialscope ingest` first.")
            with self.transaction():
                for statement in create_sql(TABLES.values()):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        if version < SCHEMA_VERSION and version in migrations.FROM:
            raise SchemaVersionError(
                f"The store at {self.path} has schema version {version}, older than this TrialScope's "
                f"({SCHEMA_VERSION}); run `trialscope db upgrade --db {self.path}` to bring it up to date."
            )
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"The store at {self.path} has schema version {version or 'unknown'}, but this TrialScope "
                f"uses version {SCHEMA_VERSION}; ingest into a new file (--db) or delete this one."
            )
        if not self.readonly:  # tables added to the schema without a version change
            with self.transaction():
                for statement in create_sql(TABLES.values()):
                    self.conn.execute(statement)

    @property
    def name(self) -> str:
        """The store as a user sees it: its file."""
        return self.path

    def table_names(self) -> list[str]:
        """The tables of the store's schema that exist."""
        return sorted(
            r[0] for r in self._rows("SELECT name FROM sqlite_master WHERE type='table'") if r[0] in TABLES
        )

    @contextmanager
    def refresh_lock(self, *, wait: bool = True) -> Iterator[bool]:
        """Held while derived indexes are refreshed (SQLite's one writer at a time suffices)."""
        yield True

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads that see one moment of the store (one read transaction, under the lock; it
        ends the same whether the reads failed or not)."""
        return self._begun("BEGIN", on_error="COMMIT")

    def _disconnect(self) -> None:
        self.conn.close()

    # --- transactions and per-store state ---------------------------------------------

    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction (nested calls join the outer one); the store's lock is held."""
        return self._begun("BEGIN IMMEDIATE", on_error="ROLLBACK")

    @contextmanager
    def _begun(self, begin: str, *, on_error: str) -> Iterator[None]:
        """Under the lock, in a transaction begun with ``begin``, or in the one already open
        (which its opener ends); ended with ``on_error`` when the body raises, else COMMIT."""
        with self.lock:
            if self.conn.in_transaction:
                yield
                return
            self.conn.execute(begin)
            try:
                yield
            except BaseException:
                self.conn.execute(on_error)
                raise
            self.conn.execute("COMMIT")

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

    # --- writing trials (the steps: store/writes.py) ------------------------------------

    def upsert_prepared(self, records: Iterable[PreparedTrial]) -> UpsertStats:
        """Store prepared records in one transaction (:meth:`TrialWrites.upsert_prepared`); the
        background checkpointer of a bulk write is told."""
        stats = super().upsert_prepared(records)
        if self._checkpointer is not None and stats.changed:
            if self.wal_size() > WAL_LIMIT:
                self.restart_wal()
            else:
                self._checkpointer.wake.set()
        return stats

    def wal_size(self) -> int:
        """Bytes in the store's write-ahead log file (0 when there is none)."""
        try:
            return Path(self.path + "-wal").stat().st_size
        except OSError:
            return 0

    def restart_wal(self) -> None:
        """Copy the whole WAL into the database and cut it to nothing, waiting for readers
        (up to the busy timeout; when one holds on, the next batch tries again)."""
        with self.lock:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def _open_log(self) -> None:
        """Nothing to open: SQLite has one writer at a time, and the log numbers itself."""

    def _log(self, opened: None, entries: list[LogEntry]) -> None:
        self.conn.executemany("INSERT INTO changes(trial_id, nct_id, removed) VALUES (?, ?, ?)", entries)

    def _keep_versions(self, rows: Sequence[Sequence[object]]) -> int:
        if not rows:
            return 0
        before = self.conn.total_changes
        self.conn.executemany(f"INSERT OR IGNORE INTO trial_versions VALUES ({_marks(rows[0])})", rows)
        return self.conn.total_changes - before

    def _number_versions(self, rows: Sequence[Sequence[object]]) -> None:
        self.conn.executemany(
            "UPDATE trial_versions SET registry_version = ? "
            "WHERE nct_id = ? AND hash = ? AND registry_version IS NULL",
            [(r[6], r[0], r[1]) for r in rows if r[6] is not None],
        )

    def _set_removed_at(self, trial_ids: list[int], when: str | None) -> list[tuple[int, str]]:
        test = "removed_at IS NULL" if when else "removed_at IS NOT NULL"
        changing = [
            (int(r[0]), str(r[1]))
            for chunk in in_lists(trial_ids)
            for r in self.conn.execute(
                f"SELECT id, nct_id FROM trials WHERE {test} AND id IN ({_marks(chunk)})", chunk
            )
        ]
        self.conn.executemany(
            "UPDATE trials SET removed_at = ? WHERE id = ?", [(when, i) for i, _ in changing]
        )
        return changing

    def _existing(self, nct_ids: list[str]) -> dict[str, tuple[int, str | None, int]]:
        found: dict[str, tuple[int, str | None, int]] = {}
        for chunk in in_lists(nct_ids):
            for row in self.conn.execute(
                f"SELECT nct_id, id, last_update, summary_only FROM trials WHERE nct_id IN ({_marks(chunk)})",
                chunk,
            ):
                found[row[0]] = (row[1], row[2], row[3])
        return found

    def _delete(self, trial_ids: list[int]) -> None:
        keys = [(trial_id,) for trial_id in trial_ids]
        for table in CHILD_TABLES:
            self.conn.executemany(f"DELETE FROM {table} WHERE trial_id = ?", keys)
        self.conn.executemany("DELETE FROM trials WHERE id = ?", keys)

    def _insert(self, writes: list[tuple[int, PreparedTrial]]) -> None:
        """Every row of the given (trial id, prepared trial) pairs, one statement per table."""
        ex = self.conn.executemany
        ex(_TRIAL_INSERT, [(i, *p.row) for i, p in writes])
        ex("INSERT INTO trial_phases VALUES (?,?)", [(i, *r) for i, p in writes for r in p.phases])
        ex("INSERT INTO trial_conditions VALUES (?,?)", [(i, *r) for i, p in writes for r in p.conditions])
        ex("INSERT INTO trial_mesh VALUES (?,?,?,?,?)", [(i, *r) for i, p in writes for r in p.mesh])
        ex(
            "INSERT INTO trial_interventions VALUES (?,?,?)",
            [(i, *r) for i, p in writes for r in p.interventions],
        )
        ex("INSERT INTO trial_sponsors VALUES (?,?,?,?)", [(i, *r) for i, p in writes for r in p.sponsors])
        ex("INSERT INTO sites VALUES (?,?,?,?,?,?,?,?)", [(i, *r) for i, p in writes for r in p.sites])

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # --- the change log and derived indexes --------------------------------------------

    def last_change(self) -> int:
        """The newest entry of the change log (0 for none): a store's content version."""
        return int(self._rows("SELECT coalesce(max(seq), 0) FROM changes")[0][0] or 0) or self._pruned_upto()

    def _pruned_upto(self) -> int:
        """The log's last entry once it was pruned empty (SQLite keeps it for AUTOINCREMENT)."""
        rows = self._rows("SELECT seq FROM sqlite_sequence WHERE name = 'changes'")
        return int(rows[0][0]) if rows else 0

    def set_last_change(self, seq: int) -> None:
        """Make ``seq`` the newest entry of the log (``db copy`` carries it over)."""
        with self.transaction():
            self.conn.execute("DELETE FROM sqlite_sequence WHERE name = 'changes'")
            self.conn.execute("INSERT INTO sqlite_sequence(name, seq) VALUES ('changes', ?)", (seq,))

    def set_derived_state(self, name: str, version: str, applied: int) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO derived(name, version, applied, built_at) "
                "VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                (name, version, applied),
            )

    def prune_changes(self) -> None:
        """Forget log entries every built index has read (an unbuilt one will read all trials)."""
        with self.transaction():
            self.conn.execute(
                "DELETE FROM changes WHERE seq <= (SELECT coalesce(min(applied), 0) FROM derived)"
            )


def upgrade_sqlite(path: str | Path) -> list[str]:
    """Bring a store file to this TrialScope's schema version; what was done, step by step.

    A new file is created at the current version; a store already current is left alone.
    """
    if str(path) != ":memory:" and not Path(path).exists():
        SqliteStore(path).close()
        return [f"created a new store at schema version {SCHEMA_VERSION}"]
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        current = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if current == SCHEMA_VERSION:
            return []
        if current > SCHEMA_VERSION or current not in migrations.FROM:
            raise SchemaVersionError(
                f"The store at {path} has schema version {current or 'unknown'}, which this TrialScope "
                f"(version {SCHEMA_VERSION}) cannot upgrade."
            )
        return migrations.upgrade(conn, current, SCHEMA_VERSION)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"Cannot upgrade the store at {path}: {exc}.") from exc
    finally:
        conn.close()
