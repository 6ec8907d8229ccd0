"""What a SQLite store reads and writes besides its trials' own writes: trials by id or NCT id,
and the generic table operations derived indexes use (insert, select_in, column_arrays ...).

These are this backend's SQL for every table of :mod:`trialscope.store.schema`; search,
related trials and the rest reach their tables only through them, so no other package
writes SQL. :class:`SqliteTables` is a base of :class:`~trialscope.store.sqlite.SqliteStore`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from trialscope.errors import StoreError, TrialNotFoundError
from trialscope.model import Trial
from trialscope.store.records import RawRecord, StoreStats, Version, decompress, read_trial
from trialscope.store.schema import TABLES, tables_of

_CHUNK = 500  # values per IN (...) list
_SEP = "\x1f"


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def _numbers(text: str | None, dtype: type) -> np.ndarray:
    """Numbers from a comma-joined column (``group_concat``), parsed in C.

    >>> _numbers("3,1,2", np.int64).tolist(), _numbers("1.5,nan", np.float64).tolist()[0]
    ([3, 1, 2], 1.5)
    """
    if not text:
        return np.empty(0, dtype=dtype)
    return np.fromstring(text, dtype=dtype, sep=",")


class SqliteTables:
    """Reading trials and the generic table operations, over ``self.conn`` under ``self.lock``."""

    conn: sqlite3.Connection
    lock: threading.RLock

    def transaction(self) -> AbstractContextManager[None]:  # pragma: no cover - SqliteStore's
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    # --- reading trials ---------------------------------------------------------------

    def get_trial(self, nct_id: str) -> Trial:
        """The stored trial, results and all; TrialNotFoundError if there is none."""
        rows = self._rows("SELECT trial, results FROM trials WHERE nct_id = ?", (nct_id.strip().upper(),))
        if not rows:
            raise TrialNotFoundError(nct_id)
        return read_trial(*rows[0])

    def get_trials(self, nct_ids: Iterable[str], *, results: bool = True) -> dict[str, Trial]:
        """Stored trials by NCT id (ids not stored are left out); without their results
        section when ``results`` is false (faster, for whoever needs only the protocol)."""
        ids = [n.strip().upper() for n in nct_ids]
        rows = self.select_in("trials", ("nct_id", "trial", "results" if results else "NULL"), "nct_id", ids)
        return {nct_id: read_trial(blob, more) for nct_id, blob, more in rows}

    def trials_by_id(self, trial_ids: Iterable[int], *, results: bool = True) -> dict[int, Trial]:
        """Stored trials by their store id (ids not stored are left out); see :meth:`get_trials`."""
        rows = self.select_in(
            "trials", ("id", "trial", "results" if results else "NULL"), "id", list(trial_ids)
        )
        return {trial_id: read_trial(blob, more) for trial_id, blob, more in rows}

    def get_raw(self, nct_id: str) -> RawRecord:
        """The raw record the stored trial was parsed from (its newest version)."""
        rows = self._rows(
            "SELECT t.nct_id, v.raw, t.source_format, t.source_file, t.content_hash FROM trials t "
            "LEFT JOIN trial_versions v ON v.nct_id = t.nct_id AND v.hash = t.content_hash WHERE t.nct_id = ?",
            (nct_id.strip().upper(),),
        )
        if not rows:
            raise TrialNotFoundError(nct_id)
        row = rows[0]
        return RawRecord(row[0], decompress(row[1]) if row[1] else b"", row[2], row[3], row[4])

    def versions(self, nct_id: str) -> list[Version]:
        """Every version seen of a record, oldest first (by the registry's own version number
        where known, then by last-update date and when it was seen)."""
        rows = self._rows(
            "SELECT nct_id, hash, last_update, seen_at, origin, source, registry_version, raw FROM trial_versions "
            "WHERE nct_id = ? ORDER BY coalesce(last_update, ''), coalesce(registry_version, -1), seen_at, hash",
            (nct_id.strip().upper(),),
        )
        return [
            Version(nct, digest, last_update, seen_at, origin, source, number, decompress(raw))
            for nct, digest, last_update, seen_at, origin, source, number, raw in rows
        ]

    def versions_seen_since(self, when: str) -> list[tuple[str, str, str | None, str]]:
        """(nct id, hash, last update, seen at) of every version first seen at or after ``when``."""
        return self._rows(
            "SELECT nct_id, hash, last_update, seen_at FROM trial_versions WHERE seen_at >= ? "
            "ORDER BY seen_at, nct_id, hash",
            (when,),
        )

    def removed_since(self, when: str) -> list[tuple[str, str]]:
        """(nct id, removed at) of every trial marked removed at or after ``when``."""
        return self._rows(
            "SELECT nct_id, removed_at FROM trials WHERE removed_at >= ? ORDER BY removed_at, id", (when,)
        )

    def removed_at(self, nct_id: str) -> str | None:
        """When the registry stopped listing a trial (None: it lists it)."""
        rows = self._rows("SELECT removed_at FROM trials WHERE nct_id = ?", (nct_id.strip().upper(),))
        return rows[0][0] if rows else None

    def stalest(self, n: int) -> list[str]:
        """The ``n`` trials checked against the registry longest ago (summary-only ones aside)."""
        return [
            r[0]
            for r in self._rows(
                "SELECT nct_id FROM trials WHERE summary_only = 0 AND removed_at IS NULL "
                "ORDER BY coalesce(checked_at, ''), id LIMIT ?",
                (n,),
            )
        ]

    def get_state(self, key: str) -> str | None:
        """A value a sync keeps between runs."""
        rows = self._rows("SELECT value FROM sync_state WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_state(self, values: dict[str, str | None]) -> None:
        """Keep (or, for None, forget) sync values, in the current transaction if there is one."""
        with self.transaction():
            for key, value in values.items():
                if value is None:
                    self.conn.execute("DELETE FROM sync_state WHERE key = ?", (key,))
                else:
                    self.conn.execute(
                        "INSERT OR REPLACE INTO sync_state(key, value) VALUES (?, ?)", (key, value)
                    )

    def has_trial(self, nct_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM trials WHERE nct_id = ?", (nct_id.strip().upper(),)))

    def iter_trials(self, batch_size: int = 1000, *, results: bool = True) -> Iterator[Trial]:
        """Every stored trial, in storage order, read in batches."""
        last = 0
        more = "results" if results else "NULL"
        while True:
            rows = self._rows(
                f"SELECT id, trial, {more} FROM trials WHERE id > ? ORDER BY id LIMIT ?", (last, batch_size)
            )
            if not rows:
                return
            for _, blob, extra in rows:
                yield read_trial(blob, extra)
            last = rows[-1][0]

    def nct_ids(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT nct_id FROM trials ORDER BY id")]

    def trial_ids(self) -> list[int]:
        """Every trial's store id, ascending."""
        return [r[0] for r in self._rows("SELECT id FROM trials ORDER BY id")]

    def ids_of(self, nct_ids: Sequence[str]) -> dict[str, int]:
        """Store ids by NCT id, for the ids that are stored."""
        return dict(self.select_in("trials", ("nct_id", "id"), "nct_id", [n.upper() for n in nct_ids]))

    def count(self) -> int:
        return int(self._rows("SELECT count(*) FROM trials")[0][0])

    def stats(self) -> StoreStats:
        """Counts by status, phase, study type, source and results."""
        stats = StoreStats()
        stats.trials, stats.summary_only, stats.with_results = self._rows(
            "SELECT count(*), coalesce(sum(summary_only), 0), coalesce(sum(has_results), 0) FROM trials"
        )[0]
        for column, counter in (
            ("overall_status", stats.by_status),
            ("phase", stats.by_phase),
            ("study_type", stats.by_type),
            ("source_format", stats.by_source),
        ):
            for value, n in self._rows(
                f"SELECT {column}, count(*) FROM trials GROUP BY 1 ORDER BY 2 DESC, 1"
            ):
                counter[value or "(none)"] = n
        return stats

    # --- generic operations for derived indexes ---------------------------------------

    def clear_tables(self, owner: str) -> None:
        """Empty every table of one owner: a derived index being rebuilt. The tables are made
        again from the schema, so a derived index whose columns changed needs no migration."""
        from trialscope.store.sqlite import create_sql

        with self.transaction():
            for table in tables_of(owner):
                self.conn.execute(f"DROP TABLE IF EXISTS {table.name}")
            for statement in create_sql(tables_of(owner)):
                self.conn.execute(statement)

    def insert(self, table: str, rows: Iterable[Sequence[object]], *, replace: bool = False) -> None:
        """Rows in the table's column order; ``replace`` overwrites rows with the same key."""
        columns = TABLES[table].column_names
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        with self.transaction():
            self.conn.executemany(
                f"{verb} INTO {table}({', '.join(columns)}) VALUES ({_marks(columns)})", rows
            )

    def delete_in(self, table: str, column: str, values: Sequence[object]) -> None:
        """Delete the rows whose ``column`` is one of ``values``."""
        with self.transaction():
            for start in range(0, len(values), _CHUNK):
                chunk = list(values[start : start + _CHUNK])
                self.conn.execute(f"DELETE FROM {table} WHERE {column} IN ({_marks(chunk)})", chunk)

    def delete_trials(self, table: str, trial_ids: Sequence[int]) -> None:
        """Delete the rows of these trials from a table that has a trial column."""
        column = TABLES[table].trial_column
        if column is None:
            raise StoreError(f"The table {table} has no trial column.")
        self.delete_in(table, column, trial_ids)

    def select(
        self,
        table: str,
        columns: Sequence[str],
        *,
        where: dict[str, object] | None = None,
        order_by: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[Any]:
        """Rows of some columns, where each given column equals its value (the first ``limit``)."""
        sql = f"SELECT {', '.join(columns)} FROM {table}"
        params = list((where or {}).values())
        if where:
            sql += " WHERE " + " AND ".join(f"{c} = ?" for c in where)
        if order_by:
            sql += f" ORDER BY {', '.join(order_by)}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._rows(sql, params)

    def has_table(self, table: str) -> bool:
        """Whether the store file has this table yet (a store made by an older TrialScope and
        opened read-only may lack a table added since: it is made at the next writable open)."""
        return bool(self._rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))

    def select_in(
        self, table: str, columns: Sequence[str], column: str, values: Sequence[object]
    ) -> list[Any]:
        """Rows whose ``column`` is one of ``values`` (any number of them)."""
        out: list[Any] = []
        for start in range(0, len(values), _CHUNK):
            chunk = list(values[start : start + _CHUNK])
            out.extend(
                self._rows(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE {column} IN ({_marks(chunk)})", chunk
                )
            )
        return out

    def select_range(
        self, table: str, columns: Sequence[str], column: str, low: str, high: str, *, limit: int
    ) -> list[Any]:
        """Rows with ``low <= column < high`` in key order, at most ``limit`` (prefix lookups)."""
        return self._rows(
            f"SELECT {', '.join(columns)} FROM {table} WHERE {column} >= ? AND {column} < ? "
            f"ORDER BY {column} LIMIT ?",
            (low, high, limit),
        )

    def clear_rows(self, table: str) -> None:
        """Delete every row of one table."""
        with self.transaction():
            self.conn.execute(f"DELETE FROM {table}")

    def update_in(self, table: str, values: dict[str, object], column: str, keys: Sequence[object]) -> None:
        """Set columns to values in the rows whose ``column`` is one of ``keys``."""
        sets = ", ".join(f"{name} = ?" for name in values)
        with self.transaction():
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start : start + _CHUNK])
                self.conn.execute(
                    f"UPDATE {table} SET {sets} WHERE {column} IN ({_marks(chunk)})",
                    [*values.values(), *chunk],
                )

    def update_rows(
        self, table: str, columns: Sequence[str], key: str, rows: Iterable[Sequence[object]]
    ) -> None:
        """Set ``columns`` of the row with each key: every row is the new values, then the key."""
        sets = ", ".join(f"{name} = ?" for name in columns)
        with self.transaction():
            self.conn.executemany(f"UPDATE {table} SET {sets} WHERE {key} = ?", rows)

    def max_value(self, table: str, column: str) -> int:
        """The largest value of an integer column (0 for an empty table)."""
        return int(self._rows(f"SELECT coalesce(max({column}), 0) FROM {table}")[0][0])

    def max_of(self, table: str, column: str) -> Any:
        """The largest value of a column (None for an empty table)."""
        return self._rows(f"SELECT max({column}) FROM {table}")[0][0]

    def count_by(self, table: str, column: str) -> list[tuple[Any, int]]:
        """(value, rows) for each value of a column."""
        return self._rows(f"SELECT {column}, count(*) FROM {table} GROUP BY {column}")

    def term_rows(self, segments: Sequence[int], *, after: str, terms: int) -> list[Any]:
        """Every row of the next ``terms`` terms after ``after`` in some segments of the text
        index, in (term, segment) order: (term, seg, postings, positions)."""
        marks = _marks(segments)
        return self._rows(
            f"""SELECT term, seg, postings, positions FROM text_terms
                WHERE seg IN ({marks}) AND term > ? AND term <= (
                    SELECT max(term) FROM (SELECT DISTINCT term FROM text_terms
                                           WHERE seg IN ({marks}) AND term > ? ORDER BY term LIMIT ?))
                ORDER BY term, seg""",
            [*segments, after, *segments, after, terms],
        )

    def count_rows(self, table: str) -> int:
        return int(self._rows(f"SELECT count(*) FROM {table}")[0][0])

    def column_arrays(
        self, table: str, columns: Sequence[tuple[str, str]], *, order_by: str
    ) -> list[np.ndarray | list[str | None]]:
        """Whole columns at once: ``(name, kind)`` with kind ``int`` (NULL -> -1), ``real``
        (NULL -> nan) or ``text`` (a list; NULL -> None).

        Each column is joined into one string by SQLite and split in C, so reading 600,000
        rows costs no Python object per value.
        """
        parts = []
        for name, kind in columns:
            if kind == "text":
                parts.append(f"group_concat(ifnull({name}, ''), char(31))")
            else:
                null = "-1" if kind == "int" else "'nan'"
                parts.append(f"group_concat(ifnull({name}, {null}))")
        row = self._rows(f"SELECT {', '.join(parts)} FROM (SELECT * FROM {table} ORDER BY {order_by})")[0]
        out: list[np.ndarray | list[str | None]] = []
        for (_, kind), value in zip(columns, row, strict=True):
            if kind == "text":
                out.append([v or None for v in value.split(_SEP)] if value is not None else [])
            else:
                out.append(_numbers(value, np.int64 if kind == "int" else np.float64))
        return out

    def blob_column(self, table: str, column: str, *, order_by: str) -> list[bytes]:
        """One blob column of every row, in order (rows of packed numbers, say)."""
        return [r[0] for r in self._rows(f"SELECT {column} FROM {table} ORDER BY {order_by}")]

    def iter_rows(self, table: str, *, batch_size: int = 5000) -> Iterator[list[tuple[Any, ...]]]:
        """Every row of a table (its declared columns), in storage order, in batches."""
        with self.lock:
            cursor = self.conn.execute(f"SELECT {', '.join(TABLES[table].column_names)} FROM {table}")
            while rows := cursor.fetchmany(batch_size):
                yield rows

    def analyze(self, tables: Sequence[str]) -> None:
        """Refresh the query planner's statistics after a large change."""
        with self.lock:
            for table in tables:
                self.conn.execute(f"ANALYZE {table}")
