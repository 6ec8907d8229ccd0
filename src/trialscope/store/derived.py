"""Derived indexes: tables computed from the trials, refreshed through one interface.

Search's tables and the related-trials index are derived from the stored trials; typed
criteria and change lists will be too. Each is a :class:`DerivedIndex`: a name, a version
(bump it when what it computes changes: the index is then rebuilt), the owner of its tables
in :mod:`trialscope.store.schema`, and one method, ``refresh(store, changed, removed)``.

Whoever changes the trials — a file ingest, a sync, a migration — logs each trial it wrote
or removed in the store's change log, in the same transaction. :func:`refresh_indexes` then
gives each index the trials logged since it last read the log, and records how far it read
once the index has written them, so an interrupted refresh is simply done again (a refresh
must be idempotent: re-indexing a trial replaces what was indexed for it).

>>> from trialscope.store import open_store
>>> class Counting:
...     name, version, owner = "counting", "1", "none"
...     def refresh(self, store, changed, removed, how):
...         return f"{len(changed)} trials"
>>> [r.line for r in refresh_indexes(open_store(":memory:"), [Counting()])]
['counting: 0 trials']
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from trialscope.errors import StoreError

if TYPE_CHECKING:
    from trialscope.store.protocol import Store

Progress = Callable[[int, int], None]
Ids = Sequence[int]
# Trials from which a full build runs in a process of its own (see _run_apart); smaller ones
# run in this process, where starting a new interpreter would cost more than it saves.
APART_FROM = 20_000
# Changed trials from which memory is released around a refresh (a full collection takes a
# moment: a refresh of a few trials, which readers wait for, goes without).
RELEASE_FROM = 5_000


@dataclass(frozen=True, slots=True)
class How:
    """How a refresh runs: ``full`` when the index is built from nothing, and a callback
    ``progress(done, total)`` for its work."""

    full: bool = False
    progress: Progress | None = None


class DerivedIndex(Protocol):
    """A set of tables computed from the trials."""

    name: str
    version: str
    owner: str

    def refresh(self, store: Store, changed: Ids, removed: Ids, how: How) -> str:
        """Index ``changed`` trials again and forget ``removed`` ones (``how.full``: the index's
        tables were just emptied and ``changed`` is every trial). Returns a one-line summary."""
        ...


@dataclass(frozen=True, slots=True)
class Refreshed:
    """What one index's refresh did."""

    name: str
    changed: int
    removed: int
    full: bool
    seconds: float
    summary: str

    @property
    def line(self) -> str:
        return f"{self.name}: {self.summary}"


def is_current(store: Store, index: DerivedIndex) -> bool:
    """Whether the index has read every change and was built by this version of its code."""
    state = store.derived_state(index.name)
    return state is not None and state[0] == index.version and state[1] >= store.last_change()


def refresh_indexes(
    store: Store,
    indexes: Iterable[DerivedIndex],
    *,
    full: bool = False,
    progress: Callable[[str], Progress | None] | None = None,
    wait: bool = True,
) -> list[Refreshed]:
    """Bring each index up to date with the trials; ``full`` rebuilds them all.

    ``progress(name)`` may return a callback ``(done, total)`` for that index's work. One
    process at a time refreshes a store's indexes (``store.refresh_lock``); the next one
    waits for it, and then finds little or nothing left to do — or, with ``wait=False``,
    does nothing and returns [].
    """
    with store.refresh_lock(wait=wait) as got:
        return _refresh(store, indexes, full=full, progress=progress) if got else []


def _refresh(
    store: Store,
    indexes: Iterable[DerivedIndex],
    *,
    full: bool,
    progress: Callable[[str], Progress | None] | None,
) -> list[Refreshed]:
    done: list[Refreshed] = []
    released = False
    for index in indexes:
        started = time.perf_counter()
        state = store.derived_state(index.name)
        rebuild = full or state is None or state[0] != index.version
        if rebuild:
            upto = store.last_change()
            store.clear_tables(index.owner)
            changed: Sequence[int] = store.trial_ids()
            removed: Sequence[int] = ()
        else:
            assert state is not None
            changes = store.changes_since(state[1])
            if not changes.changed and not changes.removed and state[1] == changes.last:
                continue
            changed, removed, upto = changes.changed, changes.removed, changes.last
        how = How(rebuild, progress(index.name) if progress else None)
        large = len(changed) >= RELEASE_FROM
        if large:  # what the writes or the index before left, before this one's workers fork
            release_memory()
        summary = _run(store, index, changed, removed, how)
        released = released or large
        store.set_derived_state(index.name, index.version, upto)
        done.append(
            Refreshed(index.name, len(changed), len(removed), rebuild, time.perf_counter() - started, summary)
        )
    store.prune_changes()
    if released:
        release_memory()
    return done


def _run(store: Store, index: DerivedIndex, changed: Ids, removed: Ids, how: How) -> str:
    """One index's refresh: a large full build of a store file in a process of its own."""
    path = str(getattr(store, "path", ""))
    if how.full and len(changed) >= APART_FROM and path != ":memory:" and os.path.isfile(path):
        return _run_apart(path, index, changed, removed, how)
    return index.refresh(store, changed, removed, how)


def _run_apart(path: str, index: DerivedIndex, changed: Ids, removed: Ids, how: How) -> str:
    """The refresh in a new Python process (spawned, not forked: it starts small whatever this
    one holds), on its own connection to the store; progress and the result come back here.

    A full build's peak is then its own, not its own on top of the heap the ingest and the
    builds before it left fragmented in this process (and the processes it forks start small).
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_refresh_in_child,
        args=(path, index, list(changed), list(removed), how.full, how.progress is not None, sender),
        name=f"trialscope-{index.name}",
    )
    child.start()
    sender.close()
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                child.join()
                raise StoreError(
                    f"The {index.name} index build stopped before it finished (exit code {child.exitcode})."
                ) from None
            if message[0] == "progress":
                if how.progress is not None:
                    how.progress(message[1], message[2])
            elif message[0] == "error":
                raise message[1]
            else:
                if hasattr(index, "last"):
                    index.last = message[2]  # what the build did, for callers that ask the index
                return str(message[1])
    finally:
        receiver.close()
        child.join()


def _refresh_in_child(
    path: str,
    index: DerivedIndex,
    changed: list[int],
    removed: list[int],
    full: bool,
    progress: bool,
    sender: Any,
) -> None:
    from trialscope.store import open_store

    try:
        store = open_store(path)
        try:
            report = (lambda done, total: sender.send(("progress", done, total))) if progress else None
            summary = index.refresh(store, changed, removed, How(full, report))
        finally:
            store.close()
        sender.send(("done", summary, getattr(index, "last", None)))
    except KeyboardInterrupt:  # the parent, in the same process group, was interrupted too
        pass
    except Exception as exc:  # noqa: BLE001 - raised in the parent as it would have been here
        try:
            sender.send(("error", exc))
        except Exception:  # noqa: BLE001 - one that cannot be pickled: its message, then
            sender.send(("error", StoreError(f"The {index.name} index build failed: {exc}")))
    finally:
        sender.close()


def release_memory() -> None:
    """Hand the memory freed by a finished step back to the system.

    Builds run one after another in one process (an ingest, then each index): without this,
    each starts on the heap the ones before left (freed, but held by the allocator), and the
    processes it forks start as large as it is. A full collection frees the cycles, and
    glibc's ``malloc_trim`` returns the free pages; elsewhere only the collection runs.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            pass


def chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    """Consecutive pieces of at most ``size`` items (a refresh works through them in turn)."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
