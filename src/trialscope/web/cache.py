"""A per-process cache of search results, keyed by the checked query and the store's content.

The registry changes only when records are ingested, and ingest bumps the store's
``content_version``; a search is a pure function of (content version, query). Caching the
few hundred most recent searches therefore never serves a stale answer, and it turns the
most common requests - the front page with every facet, popular conditions, the whole
registry's statistics - from a full scan into a dictionary lookup.

>>> cache = SearchCache(2)
>>> cache.get_or_run(("v1", "q"), lambda: 42), cache.get_or_run(("v1", "q"), lambda: 0)
(42, 42)
>>> cache.hits, cache.misses
(1, 1)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

from cachetools import LRUCache

T = TypeVar("T")


class SearchCache:
    """A thread-safe LRU map of at most ``size`` results; ``size`` 0 turns it off."""

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._items: LRUCache[Hashable, object] = LRUCache(maxsize=max(1, self.size))
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_run(self, key: Hashable, run: Callable[[], T]) -> T:
        """The cached value for ``key``, or ``run()``'s, kept for next time.

        Errors are not cached: a query that fails (or times out) runs again when asked again.
        """
        found = self.peek(key)
        if found is not None:
            return found  # type: ignore[return-value]
        if self.size:
            with self._lock:
                self.misses += 1
        value = run()
        self.put(key, value)
        return value

    def peek(self, key: Hashable) -> object | None:
        """The cached value for ``key`` (marked as recently used), or None."""
        if self.size == 0:
            return None
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self.hits += 1
            return found

    def put(self, key: Hashable, value: object) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._items[key] = value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
