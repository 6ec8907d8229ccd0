"""What a PostgreSQL store reads and writes besides its trials' own writes: trials by id or
NCT id, and the generic table operations derived indexes use — the same methods, with the
same results in the same order, as :mod:`trialscope.store.sqlite_tables`.

Row order. SQLite returns rows of a lookup in the order of the index it reads (ties in the
order rows were written), and a scan in key or write order; PostgreSQL promises no order
without ``ORDER BY``. So every read here says its order: what was asked, then the columns
of the index SQLite would use, then the table's key — or, for a table without one, the
hidden ``_row`` column, numbered as rows are written (SQLite's rowid). Pages and related
trials list sites, conditions and sponsors in the order the record gives them, on both.

:class:`PostgresTables` is a base of :class:`~trialscope.store.postgres.PostgresStore`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from trialscope.store.backend import Backend, split_columns, unchanged
from trialscope.store.postgres_schema import COPY_TYPES, column_of, compared, create_sql, key_target
from trialscope.store.schema import TABLES, Table, tables_of

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
ROW = "_row"  # the hidden write-order column of a table without a key
# A whole column joined into one string, by kind (NULL as -1, nan or empty): see column_arrays.
_JOINED = {
    "int": "string_agg(coalesce({name}::text, '-1'), ',')",
    "real": "string_agg(coalesce({name}::text, 'nan'), ',')",
    "text": "string_agg(coalesce({name}, ''), chr(31))",
}


def fold(value: object) -> object:
    """A value as a nocase column compares it: ASCII letters lowered, like SQLite's NOCASE.

    >>> fold("Paris É"), fold(3)
    ('paris É', 3)
    """
    return value.translate(_ASCII_LOWER) if isinstance(value, str) else value


def clean(value: object) -> object:
    """PostgreSQL text cannot hold NUL characters: they are dropped from text values."""
    return value.replace("\x00", "") if isinstance(value, str) and "\x00" in value else value


def natural_order(table: Table, first: Sequence[str] = ()) -> list[str]:
    """The ORDER BY terms that give SQLite's order: ``first`` (asked for), then the columns of
    the index that starts with the first of them, then the key or the write order."""
    by_name = {c.name: c for c in table.columns}
    names = list(first)
    if first:
        for group in (table.key, *table.unique, *table.indexes):
            if group and group[0] == first[0]:
                names += group
                break
    names += table.key
    terms: dict[str, None] = {}
    for name in names:
        column = by_name[name]
        # SQLite puts NULL first; said only where there can be one (an index serves the rest).
        terms.setdefault(compared(column) + ("" if column.not_null or name in table.key else " NULLS FIRST"))
    if not table.key:
        terms.setdefault(ROW)
    return list(terms)


class PostgresTables(Backend):
    """Reading trials and the generic table operations, through ``self._rows`` / ``self._execute``."""

    MARK = "%s"

    def transaction(self) -> AbstractContextManager[None]:  # pragma: no cover - PostgresStore's
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:  # pragma: no cover
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence[object] = ()) -> None:  # pragma: no cover
        raise NotImplementedError

    def _executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        raise NotImplementedError  # pragma: no cover

    # --- reading trials ---------------------------------------------------------------

    def has_table(self, table: str) -> bool:
        """Whether the store has this table yet (see SqliteStore.has_table)."""
        return self._rows("SELECT to_regclass(%s)", (table,))[0][0] is not None

    # --- generic operations for derived indexes ---------------------------------------

    def clear_tables(self, owner: str) -> None:
        """Empty every table of one owner, made again from the schema (see SqliteStore)."""
        with self.transaction():
            for table in tables_of(owner):
                self._execute(f"DROP TABLE IF EXISTS {table.name}")
            for statement in create_sql(tables_of(owner)):
                self._execute(statement)

    def insert(self, table: str, rows: Iterable[Sequence[object]], *, replace: bool = False) -> None:
        """Rows in the table's column order; ``replace`` overwrites rows with the same key."""
        spec = TABLES[table]
        columns = spec.column_names
        if not replace or not spec.key:
            with self.transaction():
                self._copy(table, columns, rows)
            return
        rows = list(rows)
        if not rows:
            return
        others = [c for c in columns if c not in spec.key]
        action = f"UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in others)}" if others else "NOTHING"
        with self.transaction():
            self._executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
                f"ON CONFLICT ({key_target(spec)}) DO {action}",
                [[clean(v) for v in row] for row in rows],
            )

    def _any(self, table: str, column: str, values: Sequence[object]) -> tuple[str, list[object]]:
        """``column = ANY(%s)`` and its one array parameter, folded for a nocase column."""
        spec = column_of(table, column)
        if spec.nocase:
            return f"{compared(spec)} = ANY(%s)", [list(dict.fromkeys(fold(v) for v in values))]
        return f"{column} = ANY(%s)", [list(dict.fromkeys(values))]

    def delete_in(self, table: str, column: str, values: Sequence[object]) -> None:
        if not len(values):
            return
        test, params = self._any(table, column, values)
        with self.transaction():
            self._execute(f"DELETE FROM {table} WHERE {test}", params)

    def _compared(self, table: str, column: str) -> tuple[str, Callable[[object], object]]:
        spec = column_of(table, column)
        return compared(spec), fold if spec.nocase else unchanged

    def _order(self, table: str, order_by: Sequence[str], where: Mapping[str, object]) -> list[str]:
        """SQLite's order: what was asked (or the first column tested), then its index's columns
        and the key (see natural_order)."""
        return natural_order(TABLES[table], list(order_by) or list(where)[:1])

    def select_in(
        self, table: str, columns: Sequence[str], column: str, values: Sequence[object]
    ) -> list[Any]:
        """Rows whose ``column`` is one of ``values`` (any number of them)."""
        if not len(values):
            return []
        test, params = self._any(table, column, values)
        order = ", ".join(natural_order(TABLES[table], [column]))
        return self._rows(f"SELECT {', '.join(columns)} FROM {table} WHERE {test} ORDER BY {order}", params)

    def clear_rows(self, table: str) -> None:
        with self.transaction():
            self._execute(f"DELETE FROM {table}")

    def update_in(self, table: str, values: dict[str, object], column: str, keys: Sequence[object]) -> None:
        if not len(keys):
            return
        sets = ", ".join(f"{name} = %s" for name in values)
        test, params = self._any(table, column, keys)
        with self.transaction():
            self._execute(f"UPDATE {table} SET {sets} WHERE {test}", [*map(clean, values.values()), *params])

    def update_rows(
        self, table: str, columns: Sequence[str], key: str, rows: Iterable[Sequence[object]]
    ) -> None:
        """Set ``columns`` of the row with each key: every row is the new values, then the key."""
        sets = ", ".join(f"{name} = %s" for name in columns)
        test = f"{compared(column_of(table, key))} = %s"
        nocase = column_of(table, key).nocase
        prepared = [[*map(clean, r[:-1]), fold(r[-1]) if nocase else r[-1]] for r in rows]
        with self.transaction():
            self._executemany(f"UPDATE {table} SET {sets} WHERE {test}", prepared)

    def count_by(self, table: str, column: str) -> list[tuple[Any, int]]:
        return self._rows(f"SELECT {column}, count(*) FROM {table} GROUP BY 1 ORDER BY 1 NULLS FIRST")

    def term_rows(self, segments: Sequence[int], *, after: str, terms: int) -> list[Any]:
        """Every row of the next ``terms`` terms after ``after`` in some segments of the text
        index, in (term, segment) order: (term, seg, postings, positions)."""
        return self._rows(
            """SELECT term, seg, postings, positions FROM text_terms
               WHERE seg = ANY(%s) AND term > %s AND term <= (
                   SELECT max(term) FROM (SELECT DISTINCT term FROM text_terms
                                          WHERE seg = ANY(%s) AND term > %s ORDER BY term LIMIT %s) AS next)
               ORDER BY term, seg""",
            [list(segments), after, list(segments), after, terms],
        )

    def column_arrays(
        self, table: str, columns: Sequence[tuple[str, str]], *, order_by: str
    ) -> list[np.ndarray | list[str | None]]:
        """Whole columns at once (see SqliteStore.column_arrays): each joined into one string
        by the server and split in C."""
        order = ", ".join(natural_order(TABLES[table], [order_by]))
        parts = [_JOINED[kind].format(name=name) for name, kind in columns]
        names = ", ".join(name for name, _ in columns)
        # One sort for all the columns (PostgreSQL 15 sorts once per aggregate given ORDER BY
        # in each): a plain, not parallel, aggregate takes its rows in the subquery's order.
        with self.transaction():
            self._execute("SET LOCAL max_parallel_workers_per_gather = 0")
            row = self._rows(
                f"SELECT {', '.join(parts)} FROM (SELECT {names} FROM {table} ORDER BY {order}) AS ordered"
            )[0]
        return split_columns(columns, row)

    def blob_column(self, table: str, column: str, *, order_by: str) -> list[bytes]:
        order = ", ".join(natural_order(TABLES[table], [order_by]))
        return [r[0] for r in self._rows(f"SELECT {column} FROM {table} ORDER BY {order}")]

    def analyze(self, tables: Sequence[str]) -> None:
        for table in tables:
            self._execute(f"ANALYZE {table}")

    def copy_types(self, table: str) -> list[str]:
        """The COPY type names of a table's columns, in order."""
        return [COPY_TYPES[c.type] for c in TABLES[table].columns]
