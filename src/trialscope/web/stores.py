"""The web app's read-only connections to the store: one per request thread, one for search.

Starlette runs the views in a thread pool. A SQLite connection shared by threads is not
safe for concurrent statements (two threads running the same cached statement reset each
other's rows), so:

- trial pages, related trials and counts read through the thread's own read-only store,
  opened on the same file the first time the thread needs one;
- searches share one store per process, always under its lock. Search keeps per-connection
  state in memory (its columns engine loads the search tables as arrays, about 100 MB at
  600,000 trials), so one connection per process is the right number; a search takes
  milliseconds, so they queue briefly rather than each thread holding its own copy.

SQLite's WAL mode lets all of them read while an ingest writes. A PostgreSQL store is one
pool of connections that every thread shares (``store.shared``): then one store serves the
trial pages of all threads, and one more the searches. A server started before
any ingest keeps looking for the store (at most every few seconds), so the helpful "load
some records" page turns into the app without a restart.

>>> holder = StoreHolder("/nonexistent/trials.db")
>>> holder.get() is None, holder.search_store() is None, holder.content_version()
(True, True, 'none')
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from trialscope.errors import StoreError
from trialscope.store import Store, open_store


def lock_of(store: Store) -> AbstractContextManager[object]:
    """The lock every user of a shared store's connection holds (the store's own)."""
    return store.lock


class StoreHolder:
    """Read-only stores for the views, or None while the store holds no trials."""

    RETRY_S = 3.0

    def __init__(self, db: str, store: Store | None = None) -> None:
        # An in-memory store cannot be opened twice: then the one given is shared (tests only).
        self._memory = store if store is not None and store.path == ":memory:" else None
        self.db = store.path if store is not None and self._memory is None else db
        self._local = threading.local()
        self._opened: list[Store] = []
        self._search: tuple[int, Store] | None = None
        self._shared: tuple[int, Store] | None = None  # a PostgreSQL store, for every thread
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._generation = 0
        self._has_trials = False
        self._checked = 0.0

    def _open(self) -> Store | None:
        if self._memory is not None:
            return self._memory
        try:
            store = open_store(self.db, readonly=True)
        except StoreError:
            return None
        with self._lock:
            self._opened.append(store)
        return store

    def _thread_store(self) -> Store | None:
        held: tuple[int, Store] | None = getattr(self._local, "held", None)
        if held is not None and held[0] == self._generation:
            return held[1]
        shared = self._shared
        store: Store | None = None
        if shared is not None and shared[0] == self._generation:
            store = shared[1]
        else:
            store = self._open()
            if store is not None and getattr(store, "shared", False):
                self._shared = (self._generation, store)
        if store is not None:
            self._local.held = (self._generation, store)
        return store

    def ready(self) -> bool:
        """Whether the store holds at least one trial (looked up at most every RETRY_S)."""
        if self._has_trials:
            return True
        # One thread looks while the others wait for its answer (no empty page for them
        # just because the server started a moment ago).
        with self._check_lock:
            if not self._has_trials:
                now = time.monotonic()
                if self._checked and now - self._checked < self.RETRY_S:
                    return False
                self._checked = now
                store = self._thread_store()
                self._has_trials = store is not None and store.count() > 0
        return self._has_trials

    def get(self) -> Store | None:
        """This thread's store once the store holds trials; None before."""
        return self._thread_store() if self.ready() else None

    def search_store(self) -> Store | None:
        """The process's store for searches (use it under :func:`lock_of`); None before trials."""
        if not self.ready():
            return None
        with self._lock:
            held = self._search
        if held is not None and held[0] == self._generation:
            return held[1]
        store = self._open()
        if store is None:
            return None
        with self._lock:
            if self._search is None or self._search[0] != self._generation:
                self._search = (self._generation, store)
            return self._search[1]

    def content_version(self) -> str:
        """The store's content version (bumped by every ingest that changes something)."""
        store = self._thread_store() if self._has_trials else None
        return store.content_version() if store is not None else "none"

    @contextmanager
    def writable(self) -> Iterator[Store]:
        """A writable store on the same file, for the few writes the web makes (saving a watch),
        closed after use (the in-memory store of the tests is shared instead)."""
        if self._memory is not None:
            yield self._memory
            return
        store = open_store(self.db)
        try:
            yield store
        finally:
            store.close()

    def close(self) -> None:
        """Close every connection opened so far (at server shutdown)."""
        with self._lock:
            opened, self._opened = self._opened, []
            self._search = None
            self._generation += 1  # threads open new connections if the app serves again
        for store in opened:
            if store is not self._memory:
                store.close()  # waits for a thread still reading through it (Store.close)
