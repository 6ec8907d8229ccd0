"""Where trials are kept. ``open_store`` is the one place a connection is made.

The store package owns every table (:mod:`.schema`) and each backend's SQL (:mod:`.sqlite`);
derived indexes plug in through :mod:`.derived`.

>>> store = open_store("sqlite:///:memory:")
>>> store.dialect
'sqlite'
"""

from __future__ import annotations

from pathlib import Path

from trialscope.errors import StoreError
from trialscope.store.derived import DerivedIndex, Refreshed, is_current, refresh_indexes
from trialscope.store.records import (
    PreparedTrial,
    RawRecord,
    StoredRecord,
    StoreStats,
    UpsertStats,
    prepare_record,
)
from trialscope.store.sqlite import SqliteStore, upgrade_sqlite

# The type of an open store (one backend today).
Store = SqliteStore

__all__ = [
    "DerivedIndex",
    "PreparedTrial",
    "RawRecord",
    "Refreshed",
    "SqliteStore",
    "Store",
    "StoreStats",
    "StoredRecord",
    "UpsertStats",
    "is_current",
    "open_store",
    "prepare_record",
    "refresh_indexes",
    "store_path",
    "upgrade_store",
]


def store_path(url: str | Path) -> str:
    """The file of a store address: ``sqlite:///path`` or a plain path."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        raise StoreError("The PostgreSQL backend is not available yet; use a SQLite file path.")
    if text.startswith("sqlite:///"):
        return text[len("sqlite:///") :]
    if "://" in text:
        raise StoreError(f"Unknown store address {text!r}; give a file path or sqlite:///path.")
    return text


def open_store(url: str | Path, *, readonly: bool = False) -> SqliteStore:
    """Open a store from ``sqlite:///path``, or from a plain file path."""
    return SqliteStore(store_path(url), readonly=readonly)


def upgrade_store(url: str | Path) -> list[str]:
    """Create or migrate a store's schema (``trialscope db upgrade``); the steps taken."""
    return upgrade_sqlite(store_path(url))
