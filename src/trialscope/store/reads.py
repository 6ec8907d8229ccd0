"""What every store backend reads the same way: trials by NCT id or store id, a record's
versions, removals, what a sync keeps, counts, the change log and the derived indexes' state.

These statements are plain SQL that SQLite and PostgreSQL both run; only the parameter mark
differs (``?`` and ``%s``), and each backend names its own in :attr:`StoreReads.MARK`. Every
read that returns more than one row says its order, so both give the same rows in the same
order. :class:`StoreReads` is a base of :class:`~trialscope.store.sqlite_tables.SqliteTables`
and :class:`~trialscope.store.postgres_tables.PostgresTables`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from trialscope.errors import StoreError, TrialNotFoundError
from trialscope.model import Trial
from trialscope.store import blobs
from trialscope.store.blobs import BlobCodec
from trialscope.store.records import (
    Changes,
    PreparedTrial,
    RawRecord,
    StoreStats,
    Version,
    decompress,
    read_trial,
    read_trial_part,
    training_samples,
)
from trialscope.store.schema import TABLES

T = TypeVar("T")
IN_LIST = 500  # values in one IN (...) list, on either backend


def in_lists(values: Sequence[T]) -> Iterator[list[T]]:
    """``values`` in consecutive pieces of at most :data:`IN_LIST`, one ``IN (...)`` list each.

    >>> [len(piece) for piece in in_lists(range(1200))]
    [500, 500, 200]
    """
    for start in range(0, len(values), IN_LIST):
        yield list(values[start : start + IN_LIST])


def _key(nct_id: str) -> str:
    return nct_id.strip().upper()


class StoreReads:
    """Reads over ``self._rows(sql, params)`` with ``self.MARK`` as the parameter mark."""

    MARK: str

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:  # pragma: no cover
        raise NotImplementedError

    def select_in(
        self, table: str, columns: Sequence[str], column: str, values: Sequence[object]
    ) -> list[Any]:  # pragma: no cover - each backend's
        raise NotImplementedError

    def _ask(self, sql: str, *params: object) -> list[Any]:
        """The rows of a statement written with ``?`` marks, in this backend's marks."""
        return self._rows(sql.replace("?", self.MARK), params)

    # --- trials -----------------------------------------------------------------------

    def _trial_rows(self, column: str, values: Sequence[object], results: bool) -> list[Any]:
        """(key, trial, results, raw) of the trials whose ``column`` (``id`` or ``nct_id``) is one
        of ``values``: each trial's values with the raw record they were compressed against."""
        more = "t.results" if results else "NULL"
        out: list[Any] = []
        for chunk in in_lists(values):
            out.extend(
                self._ask(
                    f"SELECT t.{column}, t.trial, {more}, v.raw FROM trials t LEFT JOIN trial_versions v "
                    f"ON v.nct_id = t.nct_id AND v.hash = t.content_hash WHERE t.{column} IN "
                    f"({', '.join('?' * len(chunk))})",
                    *chunk,
                )
            )
        return out

    def get_trial(self, nct_id: str) -> Trial:
        """The stored trial, results and all; TrialNotFoundError if there is none."""
        rows = self._trial_rows("nct_id", [_key(nct_id)], True)
        if not rows:
            raise TrialNotFoundError(nct_id)
        return read_trial(*rows[0][1:])

    def get_trials(self, nct_ids: Iterable[str], *, results: bool = True) -> dict[str, Trial]:
        """Stored trials by NCT id (ids not stored are left out); without their results
        section when ``results`` is false (faster, for whoever needs only the protocol)."""
        rows = self._trial_rows("nct_id", [_key(n) for n in nct_ids], results)
        return {nct_id: read_trial(blob, more, raw) for nct_id, blob, more, raw in rows}

    def trials_by_id(self, trial_ids: Iterable[int], *, results: bool = True) -> dict[int, Trial]:
        """Stored trials by their store id (ids not stored are left out); see :meth:`get_trials`."""
        rows = self._trial_rows("id", list(trial_ids), results)
        return {trial_id: read_trial(blob, more, raw) for trial_id, blob, more, raw in rows}

    def trial_parts(self, trial_ids: Iterable[int], part: type[T]) -> dict[int, T]:
        """Some fields of stored trials by store id (see :func:`~trialscope.store.records.read_trial_part`)."""
        rows = self._trial_rows("id", list(trial_ids), False)
        return {trial_id: read_trial_part(blob, part, raw) for trial_id, blob, _, raw in rows}

    def get_raw(self, nct_id: str) -> RawRecord:
        """The raw record the stored trial was parsed from (its newest version)."""
        rows = self._ask(
            "SELECT t.nct_id, v.raw, t.source_format, t.source_file, t.content_hash FROM trials t "
            "LEFT JOIN trial_versions v ON v.nct_id = t.nct_id AND v.hash = t.content_hash WHERE t.nct_id = ?",
            _key(nct_id),
        )
        if not rows:
            raise TrialNotFoundError(nct_id)
        row = rows[0]
        return RawRecord(row[0], decompress(row[1]) if row[1] else b"", row[2], row[3], row[4])

    def has_trial(self, nct_id: str) -> bool:
        return bool(self._ask("SELECT 1 FROM trials WHERE nct_id = ?", _key(nct_id)))

    def iter_trials(self, batch_size: int = 1000, *, results: bool = True) -> Iterator[Trial]:
        """Every stored trial, in id order, read in batches."""
        last = 0
        while True:
            ids = [
                r[0]
                for r in self._ask("SELECT id FROM trials WHERE id > ? ORDER BY id LIMIT ?", last, batch_size)
            ]
            if not ids:
                return
            trials = self.trials_by_id(ids, results=results)
            yield from (trials[i] for i in ids if i in trials)
            last = ids[-1]

    def nct_ids(self) -> list[str]:
        return [r[0] for r in self._ask("SELECT nct_id FROM trials ORDER BY id")]

    def trial_ids(self) -> list[int]:
        """Every trial's store id, ascending."""
        return [r[0] for r in self._ask("SELECT id FROM trials ORDER BY id")]

    def ids_of(self, nct_ids: Sequence[str]) -> dict[str, int]:
        """Store ids by NCT id, for the ids that are stored."""
        return dict(self.select_in("trials", ("nct_id", "id"), "nct_id", [_key(n) for n in nct_ids]))

    def count(self) -> int:
        return int(self._ask("SELECT count(*) FROM trials")[0][0])

    def stats(self) -> StoreStats:
        """Counts by status, phase, study type, source and results."""
        stats = StoreStats()
        stats.trials, stats.summary_only, stats.with_results = self._ask(
            "SELECT count(*), coalesce(sum(summary_only), 0), coalesce(sum(has_results), 0) FROM trials"
        )[0]
        for column, counter in (
            ("overall_status", stats.by_status),
            ("phase", stats.by_phase),
            ("study_type", stats.by_type),
            ("source_format", stats.by_source),
        ):
            for value, n in self._ask(
                f"SELECT {column}, count(*) FROM trials GROUP BY 1 ORDER BY 2 DESC, 1 NULLS FIRST"
            ):
                counter[value or "(none)"] = n
        return stats

    # --- versions, removals, what a sync keeps ----------------------------------------

    def versions(self, nct_id: str) -> list[Version]:
        """Every version seen of a record, oldest first (by the registry's own version number
        where known, then by last-update date and when it was seen)."""
        rows = self._ask(
            "SELECT nct_id, hash, last_update, seen_at, origin, source, registry_version, raw FROM trial_versions "
            "WHERE nct_id = ? ORDER BY coalesce(last_update, ''), coalesce(registry_version, -1), seen_at, hash",
            _key(nct_id),
        )
        return [
            Version(n, digest, last_update, seen_at, origin, source, registry, nct, decompress(raw))
            for n, (nct, digest, last_update, seen_at, origin, source, registry, raw) in enumerate(rows, 1)
        ]

    def versions_seen_since(self, when: str) -> list[tuple[str, str, str | None, str]]:
        """(nct id, hash, last update, seen at) of every version first seen at or after ``when``."""
        return self._ask(
            "SELECT nct_id, hash, last_update, seen_at FROM trial_versions WHERE seen_at >= ? "
            "ORDER BY seen_at, nct_id, hash",
            when,
        )

    def removed_since(self, when: str) -> list[tuple[str, str]]:
        """(nct id, removed at) of every trial marked removed at or after ``when``."""
        return self._ask(
            "SELECT nct_id, removed_at FROM trials WHERE removed_at >= ? ORDER BY removed_at, id", when
        )

    def removed_at(self, nct_id: str) -> str | None:
        """When the registry stopped listing a trial (None: it lists it)."""
        rows = self._ask("SELECT removed_at FROM trials WHERE nct_id = ?", _key(nct_id))
        return rows[0][0] if rows else None

    def stalest(self, n: int) -> list[str]:
        """The ``n`` trials checked against the registry longest ago (summary-only ones aside)."""
        rows = self._ask(
            "SELECT nct_id FROM trials WHERE summary_only = 0 AND removed_at IS NULL "
            "ORDER BY coalesce(checked_at, ''), id LIMIT ?",
            n,
        )
        return [r[0] for r in rows]

    def get_state(self, key: str) -> str | None:
        """A value a sync keeps between runs."""
        rows = self._ask("SELECT value FROM sync_state WHERE key = ?", key)
        return rows[0][0] if rows else None

    # --- generic ----------------------------------------------------------------------

    def delete_in(self, table: str, column: str, values: Sequence[object]) -> None:
        raise NotImplementedError  # pragma: no cover - each backend's

    def delete_trials(self, table: str, trial_ids: Sequence[int]) -> None:
        """Delete the rows of these trials from a table that has a trial column."""
        column = TABLES[table].trial_column
        if column is None:
            raise StoreError(f"The table {table} has no trial column.")
        self.delete_in(table, column, trial_ids)

    # --- counts -----------------------------------------------------------------------

    def count_rows(self, table: str) -> int:
        return int(self._ask(f"SELECT count(*) FROM {table}")[0][0])

    def max_value(self, table: str, column: str) -> int:
        """The largest value of an integer column (0 for an empty table)."""
        return int(self._ask(f"SELECT coalesce(max({column}), 0) FROM {table}")[0][0])

    def max_of(self, table: str, column: str) -> Any:
        """The largest value of a column (None for an empty table)."""
        return self._ask(f"SELECT max({column}) FROM {table}")[0][0]

    # --- the change log and derived indexes --------------------------------------------

    def changes_since(self, seq: int) -> Changes:
        """Trials written and removed after entry ``seq`` of the log (the last word wins)."""
        last: dict[int, int] = {}
        upto = seq
        for entry, trial_id, removed in self._ask(
            "SELECT seq, trial_id, removed FROM changes WHERE seq > ? ORDER BY seq", seq
        ):
            last[trial_id] = removed
            upto = entry
        changed = tuple(sorted(t for t, r in last.items() if not r))
        removed = tuple(sorted(t for t, r in last.items() if r))
        return Changes(changed, removed, max(upto, seq))

    def derived_state(self, name: str) -> tuple[str, int] | None:
        """(version, last log entry read) of a derived index; None before its first build."""
        rows = self._ask("SELECT version, applied FROM derived WHERE name = ?", name)
        return (str(rows[0][0]), int(rows[0][1])) if rows else None

    # --- compression dictionaries (store/blobs.py) --------------------------------------

    _codec: BlobCodec | None = None

    def insert(self, table: str, rows: Iterable[Sequence[object]], *, replace: bool = False) -> None:
        raise NotImplementedError  # pragma: no cover - each backend's

    def has_table(self, table: str) -> bool:
        raise NotImplementedError  # pragma: no cover - each backend's

    def _read_codec(self) -> BlobCodec:
        """The store's dictionaries as they are stored (none in a store made before them)."""
        rows = (
            self._ask("SELECT kind, data FROM blob_dicts ORDER BY kind")
            if self.has_table("blob_dicts")
            else []
        )
        return BlobCodec({kind: bytes(data) for kind, data in rows})

    def _open_codec(self) -> None:
        """At open: the dictionaries registered for reading, and this store asked for any it
        trains later in another process."""
        self._codec = self._read_codec()
        blobs.add_source(self._dictionary)

    def _dictionary(self, number: int) -> bytes | None:
        codec = self._read_codec()
        for data in codec.dictionaries.values():
            if blobs.register(data).dict_id() == number:
                self._codec = codec
                return data
        return None

    def _codec_with(
        self, kinds: Sequence[str], count: int, samples: Callable[[], Mapping[str, Sequence[bytes]]]
    ) -> BlobCodec:
        """The store's dictionaries, with those of ``kinds`` trained from ``samples()`` (inside
        the caller's transaction) when the store lacks them and the batch (``count`` values) is
        large enough; a store another process trained since is read again first."""
        codec = self._codec
        if codec is None or not codec.has(*kinds):
            codec = self._codec = self._read_codec()
        if not codec.has(*kinds) and count >= blobs.MIN_SAMPLES:
            trained = BlobCodec.train(samples(), kinds)
            if trained is not None:
                self.insert("blob_dicts", sorted(trained.items()))
                codec = self._codec = BlobCodec({**codec.dictionaries, **trained})
        return codec

    def codec_for(self, records: Sequence[PreparedTrial]) -> BlobCodec:
        """How to compress a batch being written (inside its transaction): the store's
        dictionaries, trained from this batch when the store has none and it is large enough."""
        return self._codec_with(blobs.RECORD_KINDS, len(records), lambda: training_samples(records))

    def pack_values(self, kind: str, values: Sequence[bytes]) -> list[bytes]:
        """Values of one kind (``criteria``) compressed with the store's dictionary of that kind,
        trained from these values when the store has none and they are enough to train it."""
        codec = self._codec_with((kind,), len(values), lambda: {kind: values})
        return [codec.pack(value, kind) for value in values]

    def content_version(self) -> str:
        """A string that changes whenever the trials change and whenever a derived index
        catches up with them (readers reload, and caches keyed by it miss, on a change): an
        ingest commits its trials before the search index has them, and a search made in
        between must not stand for the store's content once the index is refreshed."""
        applied = self._ask("SELECT coalesce(sum(applied), 0) FROM derived")[0][0]
        return f"{self.last_change()}.{int(applied)}"

    def last_change(self) -> int:  # pragma: no cover - each backend's
        raise NotImplementedError
