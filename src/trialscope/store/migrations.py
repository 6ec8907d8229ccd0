"""Schema migrations of a SQLite store, one step per version; ``trialscope db upgrade`` runs them.

A step changes only what it must and says what it did: trials and raw records are never
dropped. Derived tables (search, related trials) may be dropped and rebuilt from the trials,
which the step says too.

>>> sorted(FROM)
[1]
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# The version-1 tables that version 2 replaces: FTS5 (search now keeps its own postings) and
# search's narrow tables (their columns changed); both are rebuilt from the trials.
_DROPPED_IN_2 = (
    "trials_fts",
    "search_state",
    "search_facts",
    "search_countries",
    "search_points",
    "search_acronyms",
    "search_synonyms",
)


def _to_2(conn: sqlite3.Connection) -> list[str]:
    done = []
    for name in _DROPPED_IN_2:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone()
        if found:
            conn.execute(f"DROP TABLE {name}")
            done.append(f"dropped {name} (derived; the search index is rebuilt from the trials)")
    from trialscope.store.schema import TABLES
    from trialscope.store.sqlite import create_sql

    for statement in create_sql(TABLES.values()):
        conn.execute(statement)
    done.append("created the change log, the derived-index state and the search postings tables")
    done.append("the search and related-trials indexes are rebuilt by the next `trialscope index`")
    return done


# version -> the step that brings a store of that version to the next one.
FROM: dict[int, Callable[[sqlite3.Connection], list[str]]] = {1: _to_2}


def upgrade(conn: sqlite3.Connection, current: int, target: int) -> list[str]:
    """Run every step from ``current`` to ``target`` in one transaction; what each did."""
    done: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for version in range(current, target):
            done.extend(f"{version} -> {version + 1}: {line}" for line in FROM[version](conn))
            conn.execute(f"PRAGMA user_version = {version + 1}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return done
