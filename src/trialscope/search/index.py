"""Search's own tables beside the store: narrow facts, countries, located sites, synonyms.

The ``trials`` rows carry the whole parsed trial and raw record, so reading a filter column
from many of them touches a page per trial. Search keeps what it filters, sorts and counts
on in narrow tables of its own, created here with ``CREATE TABLE IF NOT EXISTS`` (the store
schema is not changed):

    search_facts      one row per trial: status, type, phases and intervention types as bit
                      sets, sponsor class, sex, ages in days, dates, enrollment, results
    search_countries  (trial, country) with one spelling per country
    search_points     (trial, lat, lon) of every site: its geo point, or its city located
                      through the gazetteer
    search_places     the gazetteer's answers per (city, state, country), misses included
    search_acronyms   per-trial evidence for synonyms; search_synonyms, the chosen ones
    search_state      the store content version these tables reflect

:func:`refresh_search_index` brings them up to date after an ingest, touching only trials
whose content hash changed. On a read-only store whose tables are missing or stale, the
same tables are built as TEMP tables of the connection (they shadow the stale ones).

>>> from trialscope.store import open_store
>>> store = open_store(":memory:")
>>> refresh_search_index(store).trials
0
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from trialscope.search.geo import canonical_country, locate_site
from trialscope.search.synonyms import (
    Synonym,
    SynonymTable,
    abbreviation_key,
    acronym_evidence,
    choose_synonyms,
    is_abbreviation,
)

log = logging.getLogger(__name__)

INDEX_VERSION = "2"
BATCH = 500

PHASE_BITS = {"EARLY_PHASE1": 1, "PHASE1": 2, "PHASE2": 4, "PHASE3": 8, "PHASE4": 16, "NA": 32}
INTERVENTION_BITS = {
    "DRUG": 1,
    "DEVICE": 2,
    "BIOLOGICAL": 4,
    "PROCEDURE": 8,
    "RADIATION": 16,
    "BEHAVIORAL": 32,
    "GENETIC": 64,
    "DIETARY_SUPPLEMENT": 128,
    "COMBINATION_PRODUCT": 256,
    "DIAGNOSTIC_TEST": 512,
    "OTHER": 1024,
}

_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.search_state (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS {s}.search_facts (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    status TEXT,
    study_type TEXT,
    phases INTEGER NOT NULL DEFAULT 0,
    itypes INTEGER NOT NULL DEFAULT 0,
    sponsor_class TEXT,
    sex TEXT,
    min_age_days REAL,
    max_age_days REAL,
    healthy_volunteers INTEGER,
    has_results INTEGER NOT NULL DEFAULT 0,
    enrollment INTEGER,
    start_date TEXT,
    completion_date TEXT,
    last_update TEXT
);
CREATE INDEX IF NOT EXISTS {s}.search_facts_status ON search_facts(status);
CREATE TABLE IF NOT EXISTS {s}.search_countries (
    trial_id INTEGER NOT NULL,
    country TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (trial_id, country)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {s}.search_countries_country ON search_countries(country, trial_id);
CREATE TABLE IF NOT EXISTS {s}.search_points (
    trial_id INTEGER NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    located TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {s}.search_points_geo ON search_points(lat, lon, trial_id);
CREATE INDEX IF NOT EXISTS {s}.search_points_trial ON search_points(trial_id, lat, lon);
CREATE TABLE IF NOT EXISTS {s}.search_places (
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    country TEXT NOT NULL,
    lat REAL,
    lon REAL,
    PRIMARY KEY (city, state, country)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS {s}.search_acronyms (
    trial_id INTEGER NOT NULL,
    abbr TEXT NOT NULL,
    expansion TEXT NOT NULL,
    columns TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {s}.search_acronyms_trial ON search_acronyms(trial_id);
CREATE TABLE IF NOT EXISTS {s}.search_synonyms (
    abbr TEXT NOT NULL,
    expansion TEXT NOT NULL,
    columns TEXT NOT NULL,
    trials INTEGER NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (abbr, expansion, columns)
) WITHOUT ROWID;
"""
_PER_TRIAL = ("search_facts", "search_countries", "search_points", "search_acronyms")
_TRIAL_COLUMN = {"search_facts": "id"}


@dataclass(frozen=True, slots=True)
class RefreshSummary:
    """What a refresh did: trials re-read, trials dropped, where the tables live."""

    trials: int = 0
    removed: int = 0
    schema: str = "main"
    full: bool = False


def _content_version(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key = 'content_version'").fetchone()
    return str(row[0]) if row else ""


def _state(conn: sqlite3.Connection, key: str) -> str | None:
    try:
        row = conn.execute("SELECT value FROM search_state WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return str(row[0]) if row else None


def index_is_current(conn: sqlite3.Connection) -> bool:
    """Whether the search tables (temp ones first) reflect the store's content version."""
    return _state(conn, "index_version") == INDEX_VERSION and _state(
        conn, "content_version"
    ) == _content_version(conn)


_LOCKS: dict[int, threading.RLock] = {}


def search_lock(store: object) -> AbstractContextManager[object]:
    """The lock search holds while it uses the store's connection.

    It is the store's own write lock when the store has one: search shares the connection,
    so its statements must not interleave with a half-written batch (nor with another
    search's TEMP tables).
    """
    lock = getattr(store, "lock", None) or getattr(store, "_lock", None)
    if lock is None:
        lock = _LOCKS.setdefault(id(store), threading.RLock())
    return lock


def connection_token(conn: sqlite3.Connection) -> str:
    """A name for this connection, kept in its TEMP schema, that caches are keyed by.

    (``id(conn)`` may be reused by a later connection; a connection cannot be weakly
    referenced.) The first call also keeps the connection's TEMP tables in memory, so
    search's per-query tables are cheap to make and drop; that must happen before any TEMP
    table exists, since changing ``temp_store`` deletes them.
    """
    try:
        row = conn.execute("SELECT value FROM temp.ts_token").fetchone()
        if row:
            return str(row[0])
    except sqlite3.OperationalError:
        if not conn.execute("SELECT count(*) FROM temp.sqlite_master").fetchone()[0]:
            conn.execute("PRAGMA temp_store = MEMORY")
    token = uuid.uuid4().hex
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS ts_token AS SELECT ? AS value", (token,))
    return token


def ensure_search_index(store: object, *, progress: Callable[[int, int], None] | None = None) -> None:
    """Make the search tables current before a search; cheap when they already are."""
    conn: sqlite3.Connection = store.conn  # type: ignore[attr-defined]
    connection_token(conn)
    if index_is_current(conn):
        return
    refresh_search_index(store, progress=progress)


def refresh_search_index(
    store: object, *, full: bool = False, progress: Callable[[int, int], None] | None = None
) -> RefreshSummary:
    """Bring the search tables up to date with the trials; returns what was done.

    Writable stores keep the tables in the file; read-only ones get TEMP copies for the
    life of the connection. Call it after writing trials without ``ingest_paths`` (which
    bumps the content version that searches check).
    """
    conn: sqlite3.Connection = store.conn  # type: ignore[attr-defined]
    readonly = bool(getattr(store, "readonly", False))
    schema = "temp" if readonly else "main"
    connection_token(conn)
    with search_lock(store):
        if readonly:
            _drop_temp_tables(conn)
            full = True
        conn.executescript(_TABLES.format(s=schema))
        if not readonly:
            conn.execute("BEGIN IMMEDIATE")
        try:
            if not full and _state(conn, "index_version") != INDEX_VERSION:
                _clear(conn)
                full = True
            summary = _refresh(conn, schema, full, progress)
            _set_state(conn, "index_version", INDEX_VERSION)
            _set_state(conn, "content_version", _content_version(conn))
            _set_state(conn, "trials", str(conn.execute("SELECT count(*) FROM search_facts").fetchone()[0]))
            if conn.in_transaction:
                conn.commit()
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        if summary.trials or summary.removed:
            conn.execute(f"ANALYZE {schema}.search_facts")
            conn.execute(f"ANALYZE {schema}.search_countries")
            conn.execute(f"ANALYZE {schema}.search_points")
            if conn.in_transaction:
                conn.commit()
    return summary


def _drop_temp_tables(conn: sqlite3.Connection) -> None:
    for (name,) in conn.execute(
        "SELECT name FROM temp.sqlite_master WHERE type = 'table' AND name LIKE 'search_%'"
    ).fetchall():  # read them all first: dropping while the cursor is open fails as "table is locked"
        conn.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _clear(conn: sqlite3.Connection) -> None:
    for table in (*_PER_TRIAL, "search_synonyms"):
        conn.execute(f"DELETE FROM {table}")
    # Date indexes of version 1: a range over most trials read through them is slower than a scan.
    conn.execute("DROP INDEX IF EXISTS search_facts_update")
    conn.execute("DROP INDEX IF EXISTS search_facts_start")


def _set_state(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO search_state(key, value) VALUES (?, ?)", (key, value))


def _refresh(
    conn: sqlite3.Connection, schema: str, full: bool, progress: Callable[[int, int], None] | None
) -> RefreshSummary:
    stored = dict(conn.execute("SELECT id, content_hash FROM trials").fetchall())
    indexed = {} if full else dict(conn.execute("SELECT id, hash FROM search_facts").fetchall())
    changed = sorted(i for i, h in stored.items() if indexed.get(i) != h)
    removed = sorted(set(indexed) - set(stored))
    if full:
        _clear(conn)
    for chunk in _chunks(removed, BATCH):
        _delete_trials(conn, chunk)
    places = _Places(conn)
    for done, chunk in enumerate(_chunks(changed, BATCH)):
        _delete_trials(conn, chunk)
        _index_trials(conn, chunk, places)
        if progress is not None:
            progress(min((done + 1) * BATCH, len(changed)), len(changed))
    places.save()
    if changed or removed or full:
        _choose_synonyms(conn)
    return RefreshSummary(len(changed), len(removed), schema, full)


def _chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _marks(items: Sequence[object]) -> str:
    return ",".join("?" * len(items))


def _delete_trials(conn: sqlite3.Connection, ids: list[int]) -> None:
    for table in _PER_TRIAL:
        column = _TRIAL_COLUMN.get(table, "trial_id")
        conn.execute(f"DELETE FROM {table} WHERE {column} IN ({_marks(ids)})", ids)


def _bits(values: Iterable[str | None], table: dict[str, int]) -> int:
    bits = 0
    for value in values:
        bits |= table.get(value or "", 0)
    return bits


class _Places:
    """The gazetteer's answers for site addresses, read from and saved to search_places."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.known: dict[tuple[str, str, str], tuple[float, float] | None] = {
            (c, s, k): (lat, lon) if lat is not None else None
            for c, s, k, lat, lon in conn.execute("SELECT city, state, country, lat, lon FROM search_places")
        }
        self.new: dict[tuple[str, str, str], tuple[float, float] | None] = {}

    def locate(self, city: str | None, state: str | None, country: str | None) -> tuple[float, float] | None:
        key = (city or "", state or "", country or "")
        if key in self.known:
            return self.known[key]
        point = locate_site(city, state, country) if city else None
        self.known[key] = self.new[key] = point
        return point

    def save(self) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO search_places(city, state, country, lat, lon) VALUES (?,?,?,?,?)",
            [(*key, *(point or (None, None))) for key, point in self.new.items()],
        )
        self.new.clear()


def _grouped(conn: sqlite3.Connection, sql: str, ids: list[int]) -> dict[int, list[tuple[object, ...]]]:
    out: dict[int, list[tuple[object, ...]]] = {}
    for row in conn.execute(sql.format(marks=_marks(ids)), ids):
        out.setdefault(row[0], []).append(row[1:])
    return out


def _index_trials(conn: sqlite3.Connection, ids: list[int], places: _Places) -> None:
    rows = conn.execute(
        f"""SELECT id, content_hash, overall_status, study_type, phase, sponsor_class, sex, min_age_days,
                   max_age_days, healthy_volunteers, has_results, enrollment, start_date,
                   coalesce(completion_date, primary_completion_date), last_update, brief_title, official_title
            FROM trials WHERE id IN ({_marks(ids)})""",
        ids,
    ).fetchall()
    itypes = _grouped(conn, "SELECT trial_id, type FROM trial_interventions WHERE trial_id IN ({marks})", ids)
    sites = _grouped(
        conn, "SELECT trial_id, city, state, country, lat, lon FROM sites WHERE trial_id IN ({marks})", ids
    )
    conditions = _grouped(
        conn, "SELECT trial_id, name FROM trial_conditions WHERE trial_id IN ({marks}) ORDER BY rowid", ids
    )
    mesh = _grouped(
        conn,
        "SELECT trial_id, term FROM trial_mesh WHERE trial_id IN ({marks}) AND kind = 'condition' AND ancestor = 0",
        ids,
    )
    facts: list[tuple[object, ...]] = []
    countries: list[tuple[int, str]] = []
    points: list[tuple[int, float, float, str]] = []
    acronyms: list[tuple[int, str, str, str, str]] = []
    for row in rows:
        trial_id = row[0]
        phases = (row[4] or "").split("/")
        facts.append(
            (
                trial_id,
                row[1],
                row[2],
                row[3],
                _bits(phases, PHASE_BITS),
                _bits((str(t[0]) for t in itypes.get(trial_id, ())), INTERVENTION_BITS),
                *row[5:15],
            )
        )
        seen_countries: set[str] = set()
        seen_points: set[tuple[float, float]] = set()
        for city, state, country, lat, lon in sites.get(trial_id, ()):
            if country:
                seen_countries.add(canonical_country(str(country)))
            if isinstance(lat, float | int) and isinstance(lon, float | int):
                point, located = (round(float(lat), 5), round(float(lon), 5)), "geo"
            else:
                found = places.locate(city, state, country)  # type: ignore[arg-type]
                if found is None:
                    continue
                point, located = (round(found[0], 5), round(found[1], 5)), "gazetteer"
            if point not in seen_points:
                seen_points.add(point)
                points.append((trial_id, point[0], point[1], located))
        countries.extend((trial_id, c) for c in sorted(seen_countries))
        names = [str(c[0]) for c in conditions.get(trial_id, ())]
        evidence = acronym_evidence(
            names, (row[15] or "", row[16] or ""), (str(m[0]) for m in mesh.get(trial_id, ()))
        )
        acronyms.extend((trial_id, e.abbr, e.expansion, e.columns, e.kind) for e in evidence)
        listed = {abbreviation_key(n.strip()) for n in names if is_abbreviation(n.strip())}
        acronyms.extend((trial_id, abbr, "", "", "listed") for abbr in listed)
    conn.executemany(f"INSERT INTO search_facts VALUES ({_marks(range(16))})", facts)
    conn.executemany("INSERT OR IGNORE INTO search_countries VALUES (?,?)", countries)
    conn.executemany("INSERT INTO search_points VALUES (?,?,?,?)", points)
    conn.executemany("INSERT INTO search_acronyms VALUES (?,?,?,?,?)", acronyms)


def _choose_synonyms(conn: sqlite3.Connection) -> None:
    listed = dict(
        conn.execute(
            "SELECT abbr, count(DISTINCT trial_id) FROM search_acronyms WHERE kind = 'listed' GROUP BY abbr"
        )
    )
    counts = conn.execute(
        """SELECT abbr, expansion, columns, max(kind), count(DISTINCT trial_id) FROM search_acronyms
           WHERE kind != 'listed' GROUP BY abbr, expansion, columns"""
    ).fetchall()
    conn.execute("DELETE FROM search_synonyms")
    conn.executemany(
        "INSERT INTO search_synonyms(abbr, expansion, columns, trials, kind) VALUES (?,?,?,?,?)",
        [(s.abbr, s.expansion, s.columns, s.trials, s.kind) for s in choose_synonyms(counts, listed)],
    )


def content_version(conn: sqlite3.Connection) -> str:
    """The store content version the search tables reflect (changes with every refresh that
    found new content)."""
    return _state(conn, "content_version") or ""


def trial_count(conn: sqlite3.Connection) -> int:
    """How many trials the search tables hold (kept in search_state by each refresh)."""
    return int(_state(conn, "trials") or 0)


_SYNONYM_CACHE: dict[tuple[str, str], SynonymTable] = {}


def load_synonyms(conn: sqlite3.Connection) -> SynonymTable:
    """The chosen synonyms of the store, cached per connection and content version."""
    key = (connection_token(conn), _state(conn, "content_version") or "")
    table = _SYNONYM_CACHE.get(key)
    if table is None:
        try:
            rows = conn.execute(
                "SELECT abbr, expansion, columns, trials, kind FROM search_synonyms"
            ).fetchall()
        except sqlite3.OperationalError:
            rows = []
        table = SynonymTable(Synonym(*row) for row in rows)
        if len(_SYNONYM_CACHE) > 16:
            _SYNONYM_CACHE.clear()
        _SYNONYM_CACHE[key] = table
    return table
