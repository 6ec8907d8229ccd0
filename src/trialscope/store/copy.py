"""``trialscope db copy SRC DEST``: move a whole store between backends (SQLite to PostgreSQL
and back), all or nothing.

Every table of the schema is copied row for row — the trials, the change log, and the
derived indexes with their state — so the copy answers every search and page as the source
does, with no index to rebuild. The source is read in one snapshot (an ingest may go on
writing it meanwhile); the destination is written in one transaction: a copy that fails
leaves no trial behind. A SQLite destination is written beside its final name and renamed
when complete. The destination must be new or empty, so nothing is ever overwritten.

>>> plan_copy_error("a.db", "a.db")
'The source and the destination are the same store.'
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from trialscope.errors import StoreError
from trialscope.store import display_name, is_postgres, open_store, store_path
from trialscope.store.schema import TABLES


@dataclass(frozen=True, slots=True)
class Copied:
    trials: int
    rows: int
    destination: str


def plan_copy_error(source: str, dest: str) -> str | None:
    """Why a copy cannot start, in one sentence; None when it can."""
    if store_path(source) == store_path(dest):
        return "The source and the destination are the same store."
    if not is_postgres(source) and not Path(store_path(source)).exists():
        return f"No store at {store_path(source)} to copy."
    if not is_postgres(dest) and Path(store_path(dest)).exists():
        return f"{store_path(dest)} exists already; give a new file for the copy."
    return None


def copy_store(source: str, dest: str, *, progress: bool = False) -> Copied:
    """Copy every table of the store at ``source`` into a new store at ``dest``."""
    problem = plan_copy_error(source, dest)
    if problem:
        raise StoreError(problem)
    src = open_store(source, readonly=True)
    partial = None if is_postgres(dest) else store_path(dest) + ".partial"
    if partial:
        Path(partial).unlink(missing_ok=True)
    target = open_store(partial or dest)
    try:
        if target.count() or target.last_change():
            raise StoreError(f"The store at {target.name} is not empty; copy into a new, empty one.")
        with src.snapshot():
            counts = {t: src.count_rows(t) for t in TABLES}
            bar = _bar(sum(counts.values()), progress)
            with target.transaction():
                for table in TABLES:
                    target.clear_rows(table)  # a new store's own rows (none today)
                    for batch in src.iter_rows(table):
                        target.insert(table, batch)
                        if bar is not None:
                            bar.update(len(batch))
                target.set_last_change(src.last_change())
            trials = counts["trials"]
        if bar is not None:
            bar.close()
        target.analyze(list(TABLES))
    except BaseException as exc:
        target.close()
        src.close()
        if partial:
            Path(partial).unlink(missing_ok=True)
        if isinstance(exc, Exception) and not isinstance(exc, StoreError):
            reason = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
            raise StoreError(f"The copy to {display_name(dest)} failed and was undone: {reason}.") from exc
        raise
    target.close()
    src.close()
    if partial:
        os.replace(partial, store_path(dest))
    return Copied(trials, sum(counts.values()), dest)


def _bar(total: int, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="copy", unit="row", unit_scale=True, file=sys.stderr, leave=False)
