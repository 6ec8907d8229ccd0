"""Every table of a store, declared once as data; each backend writes its own DDL from it.

Three owners share a store, and each table says which:

- ``store``: the trials themselves. ``trials`` keeps one row per trial with the parsed trial
  (msgspec JSON, zlib; its results section in a blob of its own, so that what search and the
  derived indexes read stays small), its source file and content hash, and when the
  registry removed it (a removed trial is kept, marked); ``trial_versions`` keeps every
  distinct raw record seen of each trial (zlib), so a parser fix re-parses without refetching
  and a record's history can be diffed; the child tables hold what people
  filter on (phases, conditions, MeSH terms, interventions, sponsors, sites). ``changes`` is
  the log of trials written or removed, which derived indexes read to catch up; ``derived``
  records how far each derived index has read it.
- ``search``: the search index (:mod:`trialscope.search.index`): narrow facts per trial,
  countries, located sites, synonyms, and the full-text postings (``text_terms``), written in
  immutable segments (``text_segments``).
- ``similar``: the related-trials index (:mod:`trialscope.similar.index`).
- ``criteria``: every trial's typed eligibility criteria (:mod:`trialscope.criteria.index`).

Derived tables are rebuilt from the trials whenever their index's version changes, so only
the ``store`` tables need migrations. Bump :data:`SCHEMA_VERSION` with any change to them,
and add the step to :data:`MIGRATIONS` (``trialscope db upgrade`` runs it).

>>> TABLES["trials"].column_names[:3]
('id', 'nct_id', 'brief_title')
>>> TABLES["search_facts"].owner
'search'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SCHEMA_VERSION = 2


@dataclass(frozen=True, slots=True)
class Column:
    """A column: ``type`` is one of int, real, text, blob; ``nocase`` compares text without case."""

    name: str
    type: str
    not_null: bool = False
    nocase: bool = False
    default: str | None = None  # an SQL literal


@dataclass(frozen=True, slots=True)
class Table:
    """A table: its columns, primary key, secondary indexes, and which trial column rows belong to."""

    name: str
    owner: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    trial_column: str | None = "trial_id"
    clustered: bool = False  # rows stored in key order (SQLite: WITHOUT ROWID)
    autoincrement: bool = False  # the one-column integer key never reuses a value

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def column_sql(table: Table, types: Mapping[str, str], *, identity: str, nocase: str = "") -> list[str]:
    """Each column of a table as a dialect's CREATE TABLE declares it: name and type (``types``),
    then ``identity`` for an autoincrement key (said instead of NOT NULL), NOT NULL, ``nocase``
    for a nocase column, and the default.

    >>> column_sql(TABLES["meta"], {"text": "TEXT"}, identity=" PRIMARY KEY AUTOINCREMENT")
    ['key TEXT NOT NULL', 'value TEXT NOT NULL']
    """
    out = []
    for c in table.columns:
        spec = f"{c.name} {types[c.type]}"
        if table.autoincrement and table.key == (c.name,):
            spec += identity
        elif c.not_null:
            spec += " NOT NULL"
        if c.nocase:
            spec += nocase
        if c.default is not None:
            spec += f" DEFAULT {c.default}"
        out.append(spec)
    return out


def _c(spec: str) -> Column:
    """A column from a short spec: ``"name type [!] [nocase]"`` (``!``: not null)."""
    parts = spec.split()
    return Column(parts[0], parts[1], not_null="!" in parts[2:], nocase="nocase" in parts[2:])


def _table(name: str, owner: str, columns: str, **kwargs: object) -> Table:
    return Table(name, owner, tuple(_c(s.strip()) for s in columns.split(",") if s.strip()), **kwargs)  # type: ignore[arg-type]


def _by_trial(name: str, owner: str, columns: str) -> Table:
    """A table of rows found by trial (indexed on its trial_id)."""
    return _table(name, owner, columns, indexes=(("trial_id",),))


def _keyed(name: str, owner: str, columns: str, key: tuple[str, ...]) -> Table:
    """A table of rows found by a key (clustered on it), not by trial."""
    return _table(name, owner, columns, key=key, clustered=True, trial_column=None)


_TRIAL_COLUMNS = """
    id int !, nct_id text !, brief_title text, official_title text, acronym text, overall_status text,
    study_type text, phase text, primary_purpose text, allocation text, enrollment int, start_date text,
    primary_completion_date text, completion_date text, first_post_date text, last_update text,
    has_results int !, sex text, min_age_days real, max_age_days real, healthy_volunteers int,
    lead_sponsor text, sponsor_class text, summary_only int !, source_format text !, source_file text,
    content_hash text !, trial blob !, results blob, ingested_at text, checked_at text, removed_at text
"""

_ACRONYMS = "trial_id int !, abbr text !, expansion text !, columns text !, kind text !"
_PLACES = "city text !, state text !, country text !, lat real, lon real"
_SYNONYMS = "abbr text !, expansion text !, columns text !, trials int !, kind text !"
_TERMS = "term text !, seg int !, docs int !, postings blob !, positions blob !"

_ALL = (
    _table("meta", "store", "key text !, value text !", key=("key",), trial_column=None),
    _table(
        "trials",
        "store",
        _TRIAL_COLUMNS,
        key=("id",),
        indexes=(("overall_status",), ("last_update",)),
        unique=(("nct_id",),),
        trial_column="id",
    ),
    _table("trial_phases", "store", "trial_id int !, phase text !", indexes=(("trial_id",),)),
    _table(
        "trial_conditions",
        "store",
        "trial_id int !, name text ! nocase",
        indexes=(("name", "trial_id"), ("trial_id",)),
    ),
    # MeSH terms of conditions and interventions; ancestor = 1 for the browse ancestors.
    _table(
        "trial_mesh",
        "store",
        "trial_id int !, kind text !, term text ! nocase, mesh_id text, ancestor int !",
        indexes=(("term", "trial_id"), ("trial_id",)),
    ),
    _table(
        "trial_interventions",
        "store",
        "trial_id int !, type text, name text ! nocase",
        indexes=(("trial_id",),),
    ),
    _table(
        "trial_sponsors",
        "store",
        "trial_id int !, name text ! nocase, class text, role text !",
        indexes=(("trial_id",),),
    ),
    _table(
        "sites",
        "store",
        "trial_id int !, facility text, city text nocase, state text, country text nocase, status text, "
        "lat real, lon real",
        indexes=(("city", "trial_id"), ("trial_id",)),
    ),
    # Every distinct version of a record ever seen (by file, bulk zip, sync or the registry's own
    # history): its raw bytes, when and where it was seen. The trial is the newest; the rest are
    # its history. Never overwritten, never deleted.
    _table(
        "trial_versions",
        "store",
        "nct_id text !, hash text !, last_update text, seen_at text !, origin text !, source text, "
        "registry_version int, raw blob !",
        key=("nct_id", "hash"),
        indexes=(("seen_at",),),
        trial_column=None,
    ),
    # The zstd dictionaries a store compresses its raw records and parsed trials with
    # (store/blobs.py), trained from its first large batch; never changed once written.
    _table("blob_dicts", "store", "kind text !, data blob !", key=("kind",), trial_column=None),
    # What a sync keeps between runs: the data timestamp, the date cursor, a page to resume from.
    _table("sync_state", "store", "key text !, value text !", key=("key",), trial_column=None),
    # Every trial written or removed, in order: derived indexes catch up by reading it.
    _table(
        "changes",
        "store",
        "seq int !, trial_id int !, nct_id text !, removed int !",
        key=("seq",),
        autoincrement=True,
    ),
    # How far each derived index has read the change log, and the version of its code.
    _table(
        "derived",
        "store",
        "name text !, version text !, applied int !, built_at text",
        key=("name",),
        trial_column=None,
    ),
    # Saved searches that alert (trialscope.watch): the search as URL parameters; what the last
    # check saw of each trial it matched; what each check reported (a watch's feed and e-mail).
    _table(
        "watches",
        "store",
        "name text ! nocase, params text !, email text, created_at text !, checked_at text",
        key=("name",),
        trial_column=None,
    ),
    _table(
        "watch_trials",
        "store",
        "watch text ! nocase, nct_id text !, content_hash text, status text, has_results int !, "
        "last_update text, removed int !",
        key=("watch", "nct_id"),
        clustered=True,
        trial_column=None,
    ),
    _table(
        "watch_events",
        "store",
        "seq int !, watch text ! nocase, checked_at text !, nct_id text !, kind text !, date text, "
        "title text, summary text !",
        key=("seq",),
        indexes=(("watch", "seq"),),
        autoincrement=True,
        trial_column=None,
    ),
    # --- search -----------------------------------------------------------------------------
    _table(
        "search_facts",
        "search",
        "id int !, status text, study_type text, phases int !, itypes int !, sponsor_class text, sex text, "
        "min_age_days real, max_age_days real, healthy_volunteers int, has_results int !, enrollment int, "
        "start_date text, completion_date text, last_update text, removed int !, text_seg int !, text_lens blob !",
        key=("id",),
        trial_column="id",
    ),
    _table(
        "search_countries",
        "search",
        "trial_id int !, country text ! nocase",
        key=("trial_id", "country"),
        clustered=True,
    ),
    _by_trial("search_points", "search", "trial_id int !, lat real !, lon real !, located text !"),
    # The gazetteer's answers per (city, state, country), misses included: a cache, kept.
    _keyed("search_places", "search", _PLACES, ("city", "state", "country")),
    _by_trial("search_acronyms", "search", _ACRONYMS),
    _keyed("search_synonyms", "search", _SYNONYMS, ("abbr", "expansion", "columns")),
    # One row per (term, segment): the term's postings in that segment (see search.postings).
    _keyed("text_terms", "search", _TERMS, ("term", "seg")),
    _table("text_segments", "search", "seg int !, docs int !, terms int !", key=("seg",), trial_column=None),
    # --- related trials ---------------------------------------------------------------------
    _table("similar_meta", "similar", "key text !, value text !", key=("key",), trial_column=None),
    _table(
        "similar_vocab",
        "similar",
        "id int !, block int !, key text !, df int !, idf real !",
        key=("id",),
        trial_column=None,
    ),
    _table(
        "similar_trials",
        "similar",
        "trial_id int !, nct_id text !, content_hash text !, dup int !, vector blob !, facts blob !, "
        "neighbours blob !, floor real !",
        key=("trial_id",),
    ),
    # --- typed criteria ---------------------------------------------------------------------
    # One row per trial: its typed criteria (msgspec MessagePack, zlib), see criteria.index.
    _table("criteria_trials", "criteria", "trial_id int !, criteria blob !", key=("trial_id",)),
)

TABLES: dict[str, Table] = {t.name: t for t in _ALL}

# The child tables of a trial, rewritten with it.
CHILD_TABLES = (
    "trial_phases",
    "trial_conditions",
    "trial_mesh",
    "trial_interventions",
    "trial_sponsors",
    "sites",
)


def tables_of(owner: str) -> tuple[Table, ...]:
    """The tables one owner keeps, in declaration order.

    >>> [t.name for t in tables_of("similar")]
    ['similar_meta', 'similar_vocab', 'similar_trials']
    """
    return tuple(t for t in _ALL if t.owner == owner)
