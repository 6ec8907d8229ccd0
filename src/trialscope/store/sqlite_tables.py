"""What a SQLite store reads and writes besides its trials' own writes: trials by id or NCT id,
and the generic table operations derived indexes use (insert, select_in, column_arrays ...).

These are this backend's SQL for every table of :mod:`trialscope.store.schema`; search,
related trials and the rest reach their tables only through them, so no other package
writes SQL. :class:`SqliteTables` is a base of :class:`~trialscope.store.sqlite.SqliteStore`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np

from trialscope.store.backend import Backend, split_columns, unchanged
from trialscope.store.reads import in_lists
from trialscope.store.schema import TABLES, tables_of

# A whole column joined into one string, by kind (NULL as -1, nan or empty): see column_arrays.
_JOINED = {
    "int": "group_concat(ifnull({name}, -1))",
    "real": "group_concat(ifnull({name}, 'nan'))",
    "text": "group_concat(ifnull({name}, ''), char(31))",
}


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


class SqliteTables(Backend):
    """Reading trials and the generic table operations, over ``self.conn`` under ``self.lock``."""

    MARK = "?"

    conn: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[None]:  # pragma: no cover - SqliteStore's
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    # --- what a sync keeps -------------------------------------------------------------

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

    # --- generic operations for derived indexes ---------------------------------------

    def clear_tables(self, owner: str) -> None:
        """Empty every table of one owner: a derived index being rebuilt. The tables are made
        again from the schema, so a derived index whose columns changed needs no migration."""
        from trialscope.store.sqlite import create_sql

        with self.lock, self._temp_on_disk(), self.transaction():
            for table in tables_of(owner):
                self.conn.execute(f"DROP TABLE IF EXISTS {table.name}")
            for statement in create_sql(tables_of(owner)):
                self.conn.execute(statement)

    @contextmanager
    def _temp_on_disk(self) -> Iterator[None]:
        """SQLite's temporary storage in a file for a while: dropping a large table journals
        its pages there, ~0.6x the table, which in memory made the 1.5 GB related-trials table
        of a 600,000-trial store cost 950 MB of the process. Inside an open transaction the
        setting cannot change, and stays."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("PRAGMA temp_store = FILE")
        try:
            yield
        finally:
            self.conn.execute("PRAGMA temp_store = MEMORY")

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
            for chunk in in_lists(values):
                self.conn.execute(f"DELETE FROM {table} WHERE {column} IN ({_marks(chunk)})", chunk)

    def _compared(self, table: str, column: str) -> tuple[str, Callable[[object], object]]:
        return column, unchanged  # a nocase column compares without case itself

    def _order(self, table: str, order_by: Sequence[str], where: Mapping[str, object]) -> list[str]:
        return list(order_by)

    def has_table(self, table: str) -> bool:
        """Whether the store file has this table yet (a store made by an older TrialScope and
        opened read-only may lack a table added since: it is made at the next writable open)."""
        return bool(self._rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))

    def select_in(
        self, table: str, columns: Sequence[str], column: str, values: Sequence[object]
    ) -> list[Any]:
        """Rows whose ``column`` is one of ``values`` (any number of them)."""
        out: list[Any] = []
        for chunk in in_lists(values):
            out.extend(
                self._rows(
                    f"SELECT {', '.join(columns)} FROM {table} WHERE {column} IN ({_marks(chunk)})", chunk
                )
            )
        return out

    def clear_rows(self, table: str) -> None:
        """Delete every row of one table."""
        with self.transaction():
            self.conn.execute(f"DELETE FROM {table}")

    def update_in(self, table: str, values: dict[str, object], column: str, keys: Sequence[object]) -> None:
        """Set columns to values in the rows whose ``column`` is one of ``keys``."""
        sets = ", ".join(f"{name} = ?" for name in values)
        with self.transaction():
            for chunk in in_lists(keys):
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

    def column_arrays(
        self, table: str, columns: Sequence[tuple[str, str]], *, order_by: str
    ) -> list[np.ndarray | list[str | None]]:
        """Whole columns at once: ``(name, kind)`` with kind ``int`` (NULL -> -1), ``real``
        (NULL -> nan) or ``text`` (a list; NULL -> None).

        Each column is joined into one string by SQLite and split in C, so reading 600,000
        rows costs no Python object per value.
        """
        parts = [_JOINED[kind].format(name=name) for name, kind in columns]
        row = self._rows(f"SELECT {', '.join(parts)} FROM (SELECT * FROM {table} ORDER BY {order_by})")[0]
        return split_columns(columns, row)

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
