"""Where trials are kept. ``open_store`` is the one place a connection is made.

>>> store = open_store("sqlite:///:memory:")
>>> store.dialect
'sqlite'
"""

from __future__ import annotations

from pathlib import Path

from trialscope.errors import StoreError
from trialscope.store.sqlite import RawRecord, SqliteStore, StoredRecord, StoreStats, UpsertStats

__all__ = ["RawRecord", "SqliteStore", "StoreStats", "StoredRecord", "UpsertStats", "open_store"]


def open_store(url: str | Path, *, readonly: bool = False) -> SqliteStore:
    """Open a store from ``sqlite:///path``, or from a plain file path."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        raise StoreError("The PostgreSQL backend is not available yet; use a SQLite file path.")
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif "://" in text:
        raise StoreError(f"Unknown store address {text!r}; give a file path or sqlite:///path.")
    return SqliteStore(text, readonly=readonly)
