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

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from trialscope.errors import StoreError, TrialNotFoundError
from trialscope.model import Trial
from trialscope.store.postgres_schema import COPY_TYPES, column_of, compared, create_sql, key_target
from trialscope.store.records import RawRecord, StoreStats, Version, decompress, read_trial
from trialscope.store.schema import TABLES, Table, tables_of

_SEP = "\x1f"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
ROW = "_row"  # the hidden write-order column of a table without a key


def fold(value: object) -> object:
    """A value as a nocase column compares it: ASCII letters lowered, like SQLite's NOCASE.

    >>> fold("Paris É"), fold(3)
    ('paris É', 3)
    """
    return value.translate(_ASCII_LOWER) if isinstance(value, str) else value


def clean(value: object) -> object:
    """PostgreSQL text cannot hold NUL characters: they are dropped from text values."""
    return value.replace("\x00", "") if isinstance(value, str) and "\x00" in value else value


def _numbers(text: str | None, dtype: type) -> np.ndarray:
    if not text:
        return np.empty(0, dtype=dtype)
    return np.fromstring(text, dtype=dtype, sep=",")


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


class PostgresTables:
    """Reading trials and the generic table operations, through ``self._rows`` / ``self._execute``."""

    lock: threading.RLock

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

    def get_trial(self, nct_id: str) -> Trial:
        """The stored trial, results and all; TrialNotFoundError if there is none."""
        rows = self._rows("SELECT trial, results FROM trials WHERE nct_id = %s", (nct_id.strip().upper(),))
        if not rows:
            raise TrialNotFoundError(nct_id)
        return read_trial(*rows[0])

    def get_trials(self, nct_ids: Iterable[str], *, results: bool = True) -> dict[str, Trial]:
        """Stored trials by NCT id (ids not stored are left out); see SqliteStore.get_trials."""
        ids = [n.strip().upper() for n in nct_ids]
        rows = self.select_in("trials", ("nct_id", "trial", "results" if results else "NULL"), "nct_id", ids)
        return {nct_id: read_trial(blob, more) for nct_id, blob, more in rows}

    def trials_by_id(self, trial_ids: Iterable[int], *, results: bool = True) -> dict[int, Trial]:
        rows = self.select_in(
            "trials", ("id", "trial", "results" if results else "NULL"), "id", list(trial_ids)
        )
        return {trial_id: read_trial(blob, more) for trial_id, blob, more in rows}

    def get_raw(self, nct_id: str) -> RawRecord:
        """The raw record the stored trial was parsed from (its newest version)."""
        rows = self._rows(
            "SELECT t.nct_id, v.raw, t.source_format, t.source_file, t.content_hash FROM trials t "
            "LEFT JOIN trial_versions v ON v.nct_id = t.nct_id AND v.hash = t.content_hash WHERE t.nct_id = %s",
            (nct_id.strip().upper(),),
        )
        if not rows:
            raise TrialNotFoundError(nct_id)
        row = rows[0]
        return RawRecord(row[0], decompress(row[1]) if row[1] else b"", row[2], row[3], row[4])

    def versions(self, nct_id: str) -> list[Version]:
        """Every version seen of a record, oldest first (see SqliteStore.versions)."""
        rows = self._rows(
            "SELECT nct_id, hash, last_update, seen_at, origin, source, registry_version, raw FROM trial_versions "
            "WHERE nct_id = %s ORDER BY coalesce(last_update, ''), coalesce(registry_version, -1), seen_at, hash",
            (nct_id.strip().upper(),),
        )
        return [
            Version(nct, digest, last_update, seen_at, origin, source, number, decompress(raw))
            for nct, digest, last_update, seen_at, origin, source, number, raw in rows
        ]

    def versions_seen_since(self, when: str) -> list[tuple[str, str, str | None, str]]:
        """(nct id, hash, last update, seen at) of every version first seen at or after ``when``."""
        return self._rows(
            "SELECT nct_id, hash, last_update, seen_at FROM trial_versions WHERE seen_at >= %s "
            "ORDER BY seen_at, nct_id, hash",
            (when,),
        )

    def removed_since(self, when: str) -> list[tuple[str, str]]:
        """(nct id, removed at) of every trial marked removed at or after ``when``."""
        return self._rows(
            "SELECT nct_id, removed_at FROM trials WHERE removed_at >= %s ORDER BY removed_at, id", (when,)
        )

    def removed_at(self, nct_id: str) -> str | None:
        """When the registry stopped listing a trial (None: it lists it)."""
        rows = self._rows("SELECT removed_at FROM trials WHERE nct_id = %s", (nct_id.strip().upper(),))
        return rows[0][0] if rows else None

    def stalest(self, n: int) -> list[str]:
        """The ``n`` trials checked against the registry longest ago (summary-only ones aside)."""
        rows = self._rows(
            "SELECT nct_id FROM trials WHERE summary_only = 0 AND removed_at IS NULL "
            "ORDER BY coalesce(checked_at, ''), id LIMIT %s",
            (n,),
        )
        return [r[0] for r in rows]

    def get_state(self, key: str) -> str | None:
        """A value a sync keeps between runs."""
        rows = self._rows("SELECT value FROM sync_state WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    def has_table(self, table: str) -> bool:
        """Whether the store has this table yet (see SqliteStore.has_table)."""
        return self._rows("SELECT to_regclass(%s)", (table,))[0][0] is not None

    def has_trial(self, nct_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM trials WHERE nct_id = %s", (nct_id.strip().upper(),)))

    def iter_trials(self, batch_size: int = 1000, *, results: bool = True) -> Iterator[Trial]:
        """Every stored trial, in id order, read in batches."""
        last = 0
        more = "results" if results else "NULL"
        while True:
            rows = self._rows(
                f"SELECT id, trial, {more} FROM trials WHERE id > %s ORDER BY id LIMIT %s", (last, batch_size)
            )
            if not rows:
                return
            for _, blob, extra in rows:
                yield read_trial(blob, extra)
            last = rows[-1][0]

    def nct_ids(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT nct_id FROM trials ORDER BY id")]

    def trial_ids(self) -> list[int]:
        return [r[0] for r in self._rows("SELECT id FROM trials ORDER BY id")]

    def ids_of(self, nct_ids: Sequence[str]) -> dict[str, int]:
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
                f"SELECT {column}, count(*) FROM trials GROUP BY 1 ORDER BY 2 DESC, 1 NULLS FIRST"
            ):
                counter[value or "(none)"] = n
        return stats

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

    def delete_trials(self, table: str, trial_ids: Sequence[int]) -> None:
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
        """Rows of some columns, where each given column equals its value (nocase folded);
        the first ``limit``."""
        spec = TABLES[table]
        sql = f"SELECT {', '.join(columns)} FROM {table}"
        params: list[object] = []
        if where:
            tests = []
            for name, value in where.items():
                column = column_of(table, name)
                tests.append(f"{compared(column)} = %s")
                params.append(fold(value) if column.nocase else value)
            sql += " WHERE " + " AND ".join(tests)
        first = list(order_by) or list(where or ())[:1]
        sql += f" ORDER BY {', '.join(natural_order(spec, first))}"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return self._rows(sql, params)

    def select_in(
        self, table: str, columns: Sequence[str], column: str, values: Sequence[object]
    ) -> list[Any]:
        """Rows whose ``column`` is one of ``values`` (any number of them)."""
        if not len(values):
            return []
        test, params = self._any(table, column, values)
        order = ", ".join(natural_order(TABLES[table], [column]))
        return self._rows(f"SELECT {', '.join(columns)} FROM {table} WHERE {test} ORDER BY {order}", params)

    def select_range(
        self, table: str, columns: Sequence[str], column: str, low: str, high: str, *, limit: int
    ) -> list[Any]:
        """Rows with ``low <= column < high`` in key order, at most ``limit`` (prefix lookups)."""
        spec = column_of(table, column)
        low, high = (fold(low), fold(high)) if spec.nocase else (low, high)  # type: ignore[assignment]
        where = compared(spec)
        order = ", ".join(natural_order(TABLES[table], [column]))
        return self._rows(
            f"SELECT {', '.join(columns)} FROM {table} WHERE {where} >= %s AND {where} < %s "
            f"ORDER BY {order} LIMIT %s",
            (low, high, limit),
        )

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

    def max_value(self, table: str, column: str) -> int:
        return int(self._rows(f"SELECT coalesce(max({column}), 0) FROM {table}")[0][0])

    def max_of(self, table: str, column: str) -> Any:
        """The largest value of a column (None for an empty table)."""
        return self._rows(f"SELECT max({column}) FROM {table}")[0][0]

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

    def count_rows(self, table: str) -> int:
        return int(self._rows(f"SELECT count(*) FROM {table}")[0][0])

    def column_arrays(
        self, table: str, columns: Sequence[tuple[str, str]], *, order_by: str
    ) -> list[np.ndarray | list[str | None]]:
        """Whole columns at once (see SqliteStore.column_arrays): each joined into one string
        by the server and split in C."""
        order = ", ".join(natural_order(TABLES[table], [order_by]))
        parts = []
        for name, kind in columns:
            if kind == "text":
                parts.append(f"string_agg(coalesce({name}, ''), chr(31))")
            else:
                null = "'-1'" if kind == "int" else "'nan'"
                parts.append(f"string_agg(coalesce({name}::text, {null}), ',')")
        names = ", ".join(name for name, _ in columns)
        # One sort for all the columns (PostgreSQL 15 sorts once per aggregate given ORDER BY
        # in each): a plain, not parallel, aggregate takes its rows in the subquery's order.
        with self.transaction():
            self._execute("SET LOCAL max_parallel_workers_per_gather = 0")
            row = self._rows(
                f"SELECT {', '.join(parts)} FROM (SELECT {names} FROM {table} ORDER BY {order}) AS ordered"
            )[0]
        out: list[np.ndarray | list[str | None]] = []
        for (_, kind), value in zip(columns, row, strict=True):
            if kind == "text":
                out.append([v or None for v in value.split(_SEP)] if value is not None else [])
            else:
                out.append(_numbers(value, np.int64 if kind == "int" else np.float64))
        return out

    def blob_column(self, table: str, column: str, *, order_by: str) -> list[bytes]:
        order = ", ".join(natural_order(TABLES[table], [order_by]))
        return [r[0] for r in self._rows(f"SELECT {column} FROM {table} ORDER BY {order}")]

    def analyze(self, tables: Sequence[str]) -> None:
        for table in tables:
            self._execute(f"ANALYZE {table}")

    def copy_types(self, table: str) -> list[str]:
        """The COPY type names of a table's columns, in order."""
        return [COPY_TYPES[c.type] for c in TABLES[table].columns]
