"""What every store backend writes the same way: a batch of trials, their versions, removals.

The steps and their order are written once here — every version kept, the batch's plan
(:func:`~trialscope.store.records.plan_upsert`), trials confirmed, replaced and inserted,
each write logged in the change log in the same transaction — so both backends give the
same trial ids and the same log. Each backend supplies the statements (:class:`TrialWrites`'
hooks): SQLite's executemany, PostgreSQL's COPY and ``= ANY``, and how each keeps the log's
order (PostgreSQL locks the log's head first, so writers on many hosts take turns).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from trialscope.store.blobs import BlobCodec
from trialscope.store.records import (
    PreparedTrial,
    StoredRecord,
    UpsertStats,
    newest_of,
    packed_row,
    packed_version,
    plan_upsert,
    prepare_record,
)

LogEntry = tuple[int, str, int]  # (trial id, NCT id, removed)


class TrialWrites:
    """``upsert_trials``, ``add_versions``, ``mark_removed``, ``remove_trials`` over a backend's hooks."""

    # --- what the backend gives -------------------------------------------------------

    if TYPE_CHECKING:  # the store's own (declared here for the type checker, not defined)

        def transaction(self) -> AbstractContextManager[None]: ...
        def codec_for(self, records: Sequence[PreparedTrial]) -> BlobCodec: ...
        def max_value(self, table: str, column: str) -> int: ...
        def update_in(
            self, table: str, values: dict[str, object], column: str, keys: Sequence[object]
        ) -> None: ...
        def _existing(self, nct_ids: list[str]) -> dict[str, tuple[int, str | None, int]]: ...
        def _delete(self, trial_ids: list[int]) -> None: ...
        def _insert(self, writes: list[tuple[int, PreparedTrial]]) -> None: ...

    # --- the hooks each backend writes ------------------------------------------------

    def _open_log(self) -> Any:
        """Called first in a writing transaction; what :meth:`_log` needs to add entries."""
        raise NotImplementedError  # pragma: no cover

    def _log(self, opened: Any, entries: list[LogEntry]) -> None:
        raise NotImplementedError  # pragma: no cover

    def _keep_versions(self, rows: Sequence[Sequence[object]]) -> int:
        """``trial_versions`` rows not kept yet (by NCT id and hash); how many were new."""
        raise NotImplementedError  # pragma: no cover

    def _number_versions(self, rows: Sequence[Sequence[object]]) -> None:
        """Kept versions without a registry version number learn the one these rows give."""
        raise NotImplementedError  # pragma: no cover

    def _set_removed_at(self, trial_ids: list[int], when: str | None) -> list[tuple[int, str]]:
        """Set ``removed_at`` where it changes (None: listed again); (id, NCT id) of those."""
        raise NotImplementedError  # pragma: no cover

    # --- the writes -------------------------------------------------------------------

    def upsert_trials(self, records: Iterable[StoredRecord]) -> UpsertStats:
        """Store a batch of records in one transaction: new ones inserted, newer ones replace."""
        return self.upsert_prepared([prepare_record(r) for r in records])

    def upsert_prepared(self, records: Iterable[PreparedTrial]) -> UpsertStats:
        """Store prepared records in one transaction (see upsert_trials).

        The whole batch goes in with one statement per table: trial ids are given here
        (a replaced trial keeps its id, a new one gets the next free id), so the child rows
        of every trial in the batch can be written together. Each trial written is logged
        in the change log in the same transaction.
        """
        stats = UpsertStats()
        batch, versions = newest_of(records, stats)
        if not batch:
            return stats
        with self.transaction():
            opened = self._open_log()
            codec = self.codec_for(list(batch.values()))
            # Every distinct version is kept, the ones that do not become the trial too.
            self._keep_versions([packed_version(v, codec) for v in versions])
            next_id = self.max_value("trials", "id") + 1
            plan = plan_upsert(batch, self._existing(list(batch)), next_id, stats)
            if plan.seen:  # the same (or an older) record again: the stored one is confirmed current
                now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                self.update_in("trials", {"checked_at": now}, "id", plan.seen)
            if plan.replaced:
                self._delete(plan.replaced)
            if plan.writes:
                self._insert([(i, packed_row(p, codec)) for i, p in plan.writes])
                self._log(opened, [(i, p.nct_id, 0) for i, p in plan.writes])
        return stats

    def add_versions(self, records: Iterable[StoredRecord]) -> int:
        """Keep versions of records without making any of them the trial (a registry's old
        versions, say); returns how many were new."""
        rows = [prepare_record(r).version for r in records]
        if not rows:
            return 0
        with self.transaction():
            codec = self.codec_for([])
            rows = [packed_version(r, codec) for r in rows]
            added = self._keep_versions(rows)
            # A version already kept (the current one, say) learns its registry version number.
            self._number_versions(rows)
        return added

    def mark_removed(self, nct_ids: Sequence[str], when: str) -> int:
        """Mark trials the registry no longer lists as removed at ``when`` (they are kept, and
        logged as changed for the derived indexes); returns how many were newly marked."""
        return self._set_removed(nct_ids, when)

    def unmark_removed(self, nct_ids: Sequence[str]) -> int:
        """Trials listed by the registry again: no longer removed; returns how many."""
        return self._set_removed(nct_ids, None)

    def _set_removed(self, nct_ids: Sequence[str], when: str | None) -> int:
        with self.transaction():
            opened = self._open_log()
            ids = [v[0] for v in self._existing(list(nct_ids)).values()]
            changing = sorted(self._set_removed_at(ids, when))
            if changing:
                self._log(opened, [(i, nct, 0) for i, nct in changing])
        return len(changing)

    def remove_trials(self, nct_ids: Sequence[str]) -> int:
        """Delete trials and their rows, logging each as removed; returns how many there were.
        (A sync never deletes: it marks trials removed. Versions are kept whatever happens.)"""
        with self.transaction():
            opened = self._open_log()
            found = self._existing(list(nct_ids))
            ids = [v[0] for v in found.values()]
            if ids:
                self._delete(ids)
                self._log(opened, [(v[0], nct, 1) for nct, v in found.items()])
        return len(ids)
