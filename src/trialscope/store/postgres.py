"""The PostgreSQL store: the same store as SQLite's, on a database server many processes and
hosts share.

One :class:`PostgresStore` is one open store: a psycopg 3 connection pool, the in-memory
state readers keep for it (:meth:`PostgresStore.memo`), and nothing else. Any number of
threads use it at once: a statement borrows a pooled connection for itself; a transaction
keeps one for the thread until it ends. Batches of trials go in with COPY (binary), each in
one transaction with its entries in the change log, as in SQLite.

Many writers, one order. Every transaction that writes trials first locks the one row of
``trialscope_state`` (which holds the newest change-log entry), so writers on any host
follow one another, trial ids are given out once, and the change log is committed in the
order of its entries — a derived index that read entry N has seen every entry before it.
Derived indexes are refreshed under an advisory lock (:meth:`refresh_lock`), one refresher
at a time. Readers see a change as soon as it commits: ``content_version()`` is that row's
value, read by every search and page, so every web worker on every host sees an ingest at
its next request.

>>> PostgresStore._conninfo("postgres://ts@db.example/trials?pool_size=4&sslmode=require")
('postgresql://ts@db.example/trials?sslmode=require', 4)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from trialscope.errors import SchemaVersionError, StoreError
from trialscope.store import display_name
from trialscope.store import postgres_schema as ddl
from trialscope.store.postgres_aact import aact_sql
from trialscope.store.postgres_tables import PostgresTables, clean, natural_order
from trialscope.store.records import (
    PreparedTrial,
)
from trialscope.store.schema import CHILD_TABLES, SCHEMA_VERSION, TABLES
from trialscope.store.writes import LogEntry, TrialWrites

DEFAULT_POOL = 8  # connections per open store; ?pool_size=N in the address changes it
_CHILD_COLUMNS = {name: TABLES[name].column_names for name in CHILD_TABLES}
_CHILD_FIELDS = ("phases", "conditions", "mesh", "interventions", "sponsors", "sites")  # of PreparedTrial
_CHANGES = ("seq", "trial_id", "nct_id", "removed")


class PostgresStore(PostgresTables, TrialWrites):
    """Trials in a PostgreSQL database. Safe to share across threads and processes."""

    dialect = "postgresql"
    shared = True  # one open store serves every thread of a process (the web app keeps one)

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        self.path = str(url)
        self.readonly = readonly
        self.lock = threading.RLock()
        self._memo: dict[str, object] = {}
        self._local = threading.local()
        conninfo, pool_size = self._conninfo(self.path)
        options = "-c client_min_messages=warning"
        if readonly:
            options += " -c default_transaction_read_only=on"
        self.pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "options": options},
            open=False,
            name="trialscope",
        )
        try:
            # One connection first: a refused or misspelt address fails now, with the
            # server's reason (the pool would retry for its whole timeout, then say only that).
            psycopg.connect(conninfo, connect_timeout=10).close()
            self.pool.open(wait=True, timeout=30)
        except (PoolTimeout, psycopg.Error) as exc:
            self.pool.close()
            raise StoreError(
                f"Cannot connect to the PostgreSQL store at {self.name}: {_reason(exc)}."
            ) from exc
        try:
            self._check_schema()
            self._open_codec()
        except BaseException:
            self.pool.close()
            raise

    @staticmethod
    def _conninfo(url: str) -> tuple[str, int]:
        """The libpq address (``postgres://`` as ``postgresql://``) and the pool size asked for."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        size = query.pop("pool_size", None)
        try:
            pool = int(size) if size is not None else DEFAULT_POOL
        except ValueError:
            raise StoreError(f"pool_size={size!r} in the store address is not a number.") from None
        return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), "")), max(2, pool)

    @property
    def name(self) -> str:
        """The address without its password (for messages and the CLI's output)."""
        return display_name(self.path)

    # --- connections ------------------------------------------------------------------

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """The thread's connection inside a transaction, else one borrowed from the pool."""
        pinned = getattr(self._local, "conn", None)
        if pinned is not None:
            yield pinned
            return
        try:
            with self.pool.connection(timeout=60) as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreError(f"No free connection to the PostgreSQL store at {self.name} in 60 s.") from exc

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """A lost server or connection as one sentence (a StoreError), not a driver's trace."""
        try:
            yield
        except psycopg.OperationalError as exc:
            raise StoreError(f"The PostgreSQL store at {self.name} failed: {_reason(exc)}.") from exc

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        """The rows of one statement. Outside a transaction, a connection the server dropped
        (a restart, an idle timeout) is replaced and the statement asked once more."""
        with self._errors():
            for attempt in (1, 2):
                with self._conn() as conn:
                    try:
                        return conn.execute(sql, params).fetchall()
                    except psycopg.OperationalError:
                        if attempt == 2 or not conn.broken or getattr(self._local, "conn", None) is not None:
                            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _execute(self, sql: str, params: Sequence[object] = ()) -> None:
        with self._errors(), self._conn() as conn:
            conn.execute(sql, params)

    def _executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        with self._errors(), self._conn() as conn, conn.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        """Rows into a table with COPY in binary; text values cleaned of NUL characters."""
        types = [ddl.COPY_TYPES[c.type] for c in TABLES[table].columns if c.name in columns]
        text = [i for i, c in enumerate(TABLES[table].columns) if c.type == "text"]
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with self._errors(), self._conn() as conn, conn.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(types)
            for row in rows:
                if any(isinstance(row[i], str) and "\x00" in row[i] for i in text):  # type: ignore[operator]
                    row = [clean(v) for v in row]
                copy.write_row(row)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction (nested calls join the outer one) on the thread's own connection."""
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self._conn() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield
            finally:
                self._local.conn = None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one moment of the store (``db copy`` reads its source in one)."""
        with self.transaction():
            self._execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def iter_rows(self, table: str, *, batch_size: int = 5000) -> Iterator[list[tuple[Any, ...]]]:
        """Every row of a table (its declared columns), in key or write order, in batches."""
        order = ", ".join(natural_order(TABLES[table]))
        sql = f"SELECT {', '.join(TABLES[table].column_names)} FROM {table} ORDER BY {order}"
        with (
            self.transaction(),
            self._conn() as conn,
            conn.cursor(name=f"rows_{table}", binary=True) as cursor,
        ):
            cursor.itersize = batch_size
            cursor.execute(sql)
            while rows := cursor.fetchmany(batch_size):
                yield rows

    def bulk_writes(self) -> AbstractContextManager[None]:
        """Nothing to change while many batches are written (the server checkpoints)."""
        return nullcontext()

    @contextmanager
    def refresh_lock(self, *, wait: bool = True) -> Iterator[bool]:
        """Held while derived indexes are refreshed, by one process of all that share the
        store; yields whether it was had (``wait=False`` does not wait for another holder)."""
        if getattr(self._local, "refreshing", False):
            yield True
            return
        with self.pool.connection() as conn:
            if wait:
                conn.execute("SELECT pg_advisory_lock(%s)", (ddl.REFRESH_LOCK,))
                got = True
            else:
                got = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (ddl.REFRESH_LOCK,)).fetchone()[0])  # type: ignore[index]
            self._local.refreshing = got
            try:
                yield got
            finally:
                self._local.refreshing = False
                if got:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (ddl.REFRESH_LOCK,))

    def _disconnect(self) -> None:
        self.pool.close()

    # --- schema -----------------------------------------------------------------------

    def schema_version(self) -> int:
        return int(self._rows(f"SELECT schema_version FROM {ddl.STATE_TABLE}")[0][0])

    def table_names(self) -> list[str]:
        """The tables of the store's schema that exist (its bookkeeping table aside)."""
        rows = self._rows("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return sorted(r[0] for r in rows if r[0] in TABLES)

    def _check_schema(self) -> None:
        found = self._rows("SELECT to_regclass(%s)", (ddl.STATE_TABLE,))[0][0]
        if found is None:
            if self.readonly:
                raise StoreError(
                    f"The PostgreSQL database at {self.name} holds no TrialScope store; "
                    f"run `trialscope db init --db {self.name}` or ingest into it first."
                )
            if "trials" in self.table_names():
                raise StoreError(
                    f"The PostgreSQL database at {self.name} has a trials table TrialScope did not make; "
                    "give an empty database."
                )
            create_schema(self)
            return
        version = self.schema_version()
        if version < SCHEMA_VERSION:
            raise SchemaVersionError(
                f"The store at {self.name} has schema version {version}, older than this TrialScope's "
                f"({SCHEMA_VERSION}); run `trialscope db upgrade --db {self.name}` to bring it up to date."
            )
        if version != SCHEMA_VERSION:
            raise SchemaVersionError(
                f"The store at {self.name} has schema version {version}, but this TrialScope uses "
                f"version {SCHEMA_VERSION}; use a TrialScope of that version."
            )
        present = set(self.table_names())
        missing = [t for t in TABLES.values() if t.name not in present]
        if missing and not self.readonly:  # tables added to the schema without a version change
            with self.transaction():
                self._execute("SELECT pg_advisory_xact_lock(%s)", (ddl.SCHEMA_LOCK,))
                for statement in ddl.create_sql(missing):
                    self._execute(statement)

    # --- writing trials ---------------------------------------------------------------

    def _keep_versions(self, rows: Sequence[Sequence[object]]) -> int:
        if not rows:
            return 0
        columns = TABLES["trial_versions"].column_names
        with self._errors(), self._conn() as conn, conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO trial_versions ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                "ON CONFLICT (nct_id, hash) DO NOTHING",
                [[clean(v) for v in row] for row in rows],
            )
            return max(cursor.rowcount, 0)  # psycopg 3 counts the rows of every statement

    def _number_versions(self, rows: Sequence[Sequence[object]]) -> None:
        self._executemany(
            "UPDATE trial_versions SET registry_version = %s "
            "WHERE nct_id = %s AND hash = %s AND registry_version IS NULL",
            [(r[6], r[0], r[1]) for r in rows if r[6] is not None],
        )

    def _set_removed_at(self, trial_ids: list[int], when: str | None) -> list[tuple[int, str]]:
        test = "removed_at IS NULL" if when else "removed_at IS NOT NULL"
        rows = self._rows(
            f"UPDATE trials SET removed_at = %s WHERE {test} AND id = ANY(%s) RETURNING id, nct_id",
            (when, trial_ids),
        )
        return [(int(i), str(nct)) for i, nct in rows]

    def set_state(self, values: dict[str, str | None]) -> None:
        """Keep (or, for None, forget) sync values, in the current transaction if there is one."""
        with self.transaction():
            for key, value in values.items():
                if value is None:
                    self._execute("DELETE FROM sync_state WHERE key = %s", (key,))
                else:
                    self._execute(
                        "INSERT INTO sync_state (key, value) VALUES (%s, %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        (key, clean(value)),
                    )

    def _open_log(self) -> int:
        """Lock the change log's head for this transaction (writers on any host take turns,
        trial ids are given out once); the newest entry."""
        return int(self._rows(f"SELECT last_change FROM {ddl.STATE_TABLE} FOR UPDATE")[0][0])

    def _log(self, last: int, entries: list[LogEntry]) -> None:
        self._copy("changes", _CHANGES, [(last + n, *e) for n, e in enumerate(entries, 1)])
        self._execute(f"UPDATE {ddl.STATE_TABLE} SET last_change = %s", (last + len(entries),))

    def _existing(self, nct_ids: list[str]) -> dict[str, tuple[int, str | None, int]]:
        rows = self._rows(
            "SELECT nct_id, id, last_update, summary_only FROM trials WHERE nct_id = ANY(%s)", (nct_ids,)
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def _delete(self, trial_ids: list[int]) -> None:
        for table in CHILD_TABLES:
            self._execute(f"DELETE FROM {table} WHERE trial_id = ANY(%s)", (trial_ids,))
        self._execute("DELETE FROM trials WHERE id = ANY(%s)", (trial_ids,))

    def _insert(self, writes: list[tuple[int, PreparedTrial]]) -> None:
        """Every row of the given (trial id, prepared trial) pairs, one COPY per table."""
        self._copy("trials", TABLES["trials"].column_names, ((i, *p.row) for i, p in writes))
        for table, field in zip(CHILD_TABLES, _CHILD_FIELDS, strict=True):
            rows = [(i, *r) for i, p in writes for r in getattr(p, field)]
            if rows:
                self._copy(table, _CHILD_COLUMNS[table], rows)

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.insert("meta", [(key, value)], replace=True)

    # --- the change log and derived indexes --------------------------------------------

    def last_change(self) -> int:
        """The newest entry of the change log (0 for none): a store's content version."""
        return int(self._rows(f"SELECT last_change FROM {ddl.STATE_TABLE}")[0][0])

    def set_last_change(self, seq: int) -> None:
        """Make ``seq`` the newest entry of the log (``db copy`` carries it over)."""
        self._execute(f"UPDATE {ddl.STATE_TABLE} SET last_change = %s", (seq,))

    def set_derived_state(self, name: str, version: str, applied: int) -> None:
        self._execute(
            "INSERT INTO derived (name, version, applied, built_at) "
            "VALUES (%s, %s, %s, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')) "
            "ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, applied = EXCLUDED.applied, "
            "built_at = EXCLUDED.built_at",
            (name, version, applied),
        )

    def prune_changes(self) -> None:
        """Forget log entries every built index has read (an unbuilt one will read all trials)."""
        self._execute("DELETE FROM changes WHERE seq <= (SELECT coalesce(min(applied), 0) FROM derived)")


def _reason(exc: BaseException) -> str:
    """The first line of a driver's message, without a trailing period."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.rstrip(".")


def create_schema(store: PostgresStore) -> None:
    """Every table, the bookkeeping row and the AACT views, in one transaction."""
    with store.transaction():
        store._execute("SELECT pg_advisory_xact_lock(%s)", (ddl.SCHEMA_LOCK,))
        if store._rows("SELECT to_regclass(%s)", (ddl.STATE_TABLE,))[0][0] is not None:
            return  # another process made it meanwhile
        for statement in new_store_sql():
            store._execute(statement)


def new_store_sql() -> list[str]:
    """The statements that make a new store: the bookkeeping row, every table, the AACT views."""
    return [
        ddl.STATE_SQL,
        f"INSERT INTO {ddl.STATE_TABLE} (schema_version) VALUES ({SCHEMA_VERSION})",
        *ddl.create_sql(TABLES.values()),
        *aact_sql(),
    ]
