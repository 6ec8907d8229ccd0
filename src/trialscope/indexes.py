"""The derived indexes every store keeps, in the order they are refreshed, and one call to refresh them.

Whoever changes the trials (an ingest, later a sync) calls :func:`refresh_all` afterwards;
each index reads the store's change log and updates what it holds for the trials written
or removed since it last looked (:mod:`trialscope.store.derived`). This is wiring, like the
CLI: the store knows no index, and no index knows another.

>>> [index.name for index in DERIVED_INDEXES]
['search', 'similar', 'criteria']
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from trialscope.criteria.index import CRITERIA_INDEX
from trialscope.search import SEARCH_INDEX
from trialscope.similar import SIMILAR_INDEX
from trialscope.store import DerivedIndex, Refreshed, Store, refresh_indexes
from trialscope.store.derived import Progress

DERIVED_INDEXES: tuple[DerivedIndex, ...] = (SEARCH_INDEX, SIMILAR_INDEX, CRITERIA_INDEX)
BY_NAME = {index.name: index for index in DERIVED_INDEXES}


def progress_bars(enabled: bool) -> Callable[[str], Progress | None] | None:
    """Progress bars on stderr, one per index, when ``enabled`` (a terminal)."""
    if not enabled:
        return None

    def make(name: str) -> Progress:
        from tqdm import tqdm

        bar: list[tqdm] = []

        def advance(done: int, total: int) -> None:
            if not bar:
                bar.append(tqdm(total=total, desc=name, unit="trial", file=sys.stderr, leave=False))
            bar[0].update(done - bar[0].n)
            if done >= total:
                bar[0].close()

        return advance

    return make


def refresh_all(
    store: Store, *, names: Sequence[str] = (), full: bool = False, progress: bool = False
) -> list[Refreshed]:
    """Bring the derived indexes (all, or those named) up to date with the trials."""
    chosen = [BY_NAME[n] for n in names] if names else list(DERIVED_INDEXES)
    return refresh_indexes(store, chosen, full=full, progress=progress_bars(progress))
