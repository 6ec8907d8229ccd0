"""Fixtures for the search tests: one real store of every shared record, with search's tables.

Import the fixtures into a test module with ``from conftest_search import *``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CTGOV = SHARED / "data" / "ctgov"
SEED = SHARED / "seed" / "NCT04184258.json"

__all__ = ["search_store", "search_store_path", "stored_trials"]


@pytest.fixture(scope="session")
def search_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real SQLite store: the seed record and every record of shared/data/ctgov, through
    the real ingest, with search's own tables built."""
    from trialscope.ingest import ingest_paths
    from trialscope.search import SEARCH_INDEX
    from trialscope.store import open_store, refresh_indexes

    path = tmp_path_factory.mktemp("search") / "trials.db"
    store = open_store(path)
    ingest_paths(store, [SEED, CTGOV], progress=False)
    refresh_indexes(store, [SEARCH_INDEX])
    store.close()
    return path


@pytest.fixture(scope="session")
def search_store(search_store_path: Path) -> Iterator[object]:
    """The store opened read-only, as the web app opens it."""
    from trialscope.store import open_store

    store = open_store(search_store_path, readonly=True)
    yield store
    store.close()


@pytest.fixture(scope="session")
def stored_trials(search_store: object) -> list[object]:
    """Every stored trial, decoded once, for counting things in Python."""
    return list(search_store.iter_trials())  # type: ignore[attr-defined]
