"""Where trials are kept. ``open_store`` is the one place a connection is made.

The store package owns every table (:mod:`.schema`) and each backend's SQL (:mod:`.sqlite`,
:mod:`.postgres`), both behind one interface (:class:`~.protocol.Store`); derived indexes
plug in through :mod:`.derived`.

>>> store = open_store("sqlite:///:memory:")
>>> store.dialect
'sqlite'
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from trialscope.errors import StoreError
from trialscope.store.derived import DerivedIndex, Refreshed, is_current, refresh_indexes
from trialscope.store.protocol import Store
from trialscope.store.records import (
    PreparedTrial,
    RawRecord,
    StoredRecord,
    StoreStats,
    UpsertStats,
    prepare_record,
)
from trialscope.store.sqlite import SqliteStore, upgrade_sqlite

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
    "display_name",
    "is_current",
    "is_postgres",
    "open_store",
    "prepare_record",
    "refresh_indexes",
    "store_path",
    "upgrade_store",
]


def is_postgres(url: str | Path) -> bool:
    """Whether a store address names a PostgreSQL database."""
    return str(url).startswith(("postgresql://", "postgres://"))


def display_name(url: str | Path) -> str:
    """A store address as a user may see it: without its password.

    >>> display_name("postgresql://ts:secret@db.example:5432/trials")
    'postgresql://ts@db.example:5432/trials'
    """
    text = str(url)
    parts = urlsplit(text)
    if not is_postgres(text) or parts.password is None:
        return text
    netloc = parts.netloc.replace(f":{parts.password}@", "@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def store_path(url: str | Path) -> str:
    """The file of a store address (``sqlite:///path`` or a plain path), or a PostgreSQL
    address as it is."""
    text = str(url)
    if is_postgres(text):
        return text
    if text.startswith("sqlite:///"):
        return text[len("sqlite:///") :]
    if "://" in text:
        raise StoreError(
            f"Unknown store address {text!r}; give a file path, sqlite:///path or postgresql://..."
        )
    return text


def open_store(url: str | Path, *, readonly: bool = False) -> Store:
    """Open a store from ``sqlite:///path``, a plain file path, or ``postgresql://...``."""
    path = store_path(url)
    if is_postgres(path):
        from trialscope.store.postgres import PostgresStore

        return PostgresStore(path, readonly=readonly)
    return SqliteStore(path, readonly=readonly)


def upgrade_store(url: str | Path) -> list[str]:
    """Create or migrate a store's schema (``trialscope db upgrade``); the steps taken."""
    path = store_path(url)
    if is_postgres(path):
        from trialscope.store.postgres_upgrade import upgrade_postgres

        return upgrade_postgres(path)
    return upgrade_sqlite(path)
