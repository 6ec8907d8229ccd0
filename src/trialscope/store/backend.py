"""What both store backends do alike beyond the shared reads (:mod:`.reads`) and writes
(:mod:`.writes`): the generic ``select`` and ``select_range``, written once, with each backend
giving only how it compares a column with a value and in what order its rows come; whole
columns, aggregated into one string each by the database, split into arrays; and the life of an
open store (its memo, closing it, ``with``).

:class:`Backend` is a base of :class:`~trialscope.store.sqlite_tables.SqliteTables` and
:class:`~trialscope.store.postgres_tables.PostgresTables`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self, TypeVar, Unpack

import numpy as np

from trialscope.store.protocol import SelectOptions
from trialscope.store.reads import StoreReads

T = TypeVar("T")
_SEP = "\x1f"  # between the values of an aggregated text column (char(31))


def unchanged(value: object) -> object:
    """A value compared as it is given (a column that is not nocase)."""
    return value


def _numbers(text: str | None, dtype: type) -> np.ndarray:
    """Numbers from a comma-joined column (``group_concat``, ``string_agg``), parsed in C.

    >>> _numbers("3,1,2", np.int64).tolist(), _numbers("1.5,nan", np.float64).tolist()[0]
    ([3, 1, 2], 1.5)
    """
    if not text:
        return np.empty(0, dtype=dtype)
    return np.fromstring(text, dtype=dtype, sep=",")


def split_columns(
    columns: Sequence[tuple[str, str]], row: Sequence[str | None]
) -> list[np.ndarray | list[str | None]]:
    """The columns of ``column_arrays`` from the one row that aggregated them: a ``text``
    column is a list (an empty value is None), an ``int`` or ``real`` column an array.

    >>> split_columns([("n", "int"), ("s", "text")], ["1,2", "a\\x1f"])
    [array([1, 2]), ['a', None]]
    """
    out: list[np.ndarray | list[str | None]] = []
    for (_, kind), value in zip(columns, row, strict=True):
        if kind == "text":
            out.append([v or None for v in value.split(_SEP)] if value is not None else [])
        else:
            out.append(_numbers(value, np.int64 if kind == "int" else np.float64))
    return out


class Backend(StoreReads):
    """The generic operations both backends run alike, over ``self._rows`` and ``self.MARK``."""

    lock: threading.RLock
    _memo: dict[str, object]

    def _disconnect(self) -> None:
        """Close the backend's connections."""
        raise NotImplementedError  # pragma: no cover

    def close(self) -> None:
        """Close the store, once no thread holds its lock (a statement running on a connection
        closed under it crashes the process); what it memoized goes with it."""
        with self.lock:
            self._memo.clear()
            self._disconnect()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def memo(self, key: str, factory: Callable[[], T]) -> T:
        """The object kept under ``key`` for this open store, made by ``factory`` the first time.

        Readers keep their in-memory state here (search's columns and postings, say), so
        it lives and dies with the store that it describes.
        """
        with self.lock:
            found = self._memo.get(key)
            if found is None:
                found = self._memo[key] = factory()
            return found  # type: ignore[return-value]

    def _compared(self, table: str, column: str) -> tuple[str, Callable[[object], object]]:
        """How a column is compared with a value: the expression compared (nocase columns without
        ASCII case), and what a value is turned into to be compared with it."""
        raise NotImplementedError  # pragma: no cover

    def _order(self, table: str, order_by: Sequence[str], where: Mapping[str, object]) -> list[str]:
        """The ORDER BY terms of a select: ``order_by``, then whatever the backend needs to give
        SQLite's order (SQLite itself: nothing); no terms, no ORDER BY."""
        raise NotImplementedError  # pragma: no cover

    def select(self, table: str, columns: Sequence[str], **options: Unpack[SelectOptions]) -> list[Any]:
        """Rows of some columns, chosen and ordered by the :class:`~.protocol.SelectOptions`."""
        where, order_by, limit = options.get("where"), options.get("order_by", ()), options.get("limit")
        sql = f"SELECT {', '.join(columns)} FROM {table}"
        params: list[object] = []
        if where:
            tests = []
            for name, value in where.items():
                compared, prepared = self._compared(table, name)
                tests.append(f"{compared} = {self.MARK}")
                params.append(prepared(value))
            sql += " WHERE " + " AND ".join(tests)
        order = self._order(table, order_by, where or {})
        if order:
            sql += f" ORDER BY {', '.join(order)}"
        if limit is not None:
            sql += f" LIMIT {self.MARK}"
            params.append(limit)
        return self._rows(sql, params)

    def select_range(
        self, table: str, columns: Sequence[str], column: str, low: str, high: str, *, limit: int
    ) -> list[Any]:
        """Rows with ``low <= column < high`` in key order, at most ``limit`` (prefix lookups)."""
        compared, prepared = self._compared(table, column)
        mark = self.MARK
        return self._rows(
            f"SELECT {', '.join(columns)} FROM {table} WHERE {compared} >= {mark} AND {compared} < {mark} "
            f"ORDER BY {', '.join(self._order(table, [column], {}))} LIMIT {mark}",
            (prepared(low), prepared(high), limit),
        )
