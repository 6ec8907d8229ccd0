"""The SQLite schema: one row per trial, normalized child tables for filters, FTS5 for text.

The ``trials`` row keeps the parsed trial (msgspec JSON, zlib) and the raw source record
(zlib) with its source file and a content hash, so a parser fix can re-parse without
refetching. Child tables hold what search filters and facets on. Bump SCHEMA_VERSION with
any change here: a store of another version refuses to open rather than misread.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

# Text columns of the full-text index, in order; search weights them by name.
FTS_COLUMNS = (
    "title",
    "conditions",
    "interventions",
    "keywords",
    "mesh",
    "summary",
    "description",
    "outcomes",
    "eligibility",
    "sponsors",
)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY,
    nct_id TEXT NOT NULL UNIQUE,
    brief_title TEXT,
    official_title TEXT,
    acronym TEXT,
    overall_status TEXT,
    study_type TEXT,
    phase TEXT,
    primary_purpose TEXT,
    allocation TEXT,
    enrollment INTEGER,
    start_date TEXT,
    primary_completion_date TEXT,
    completion_date TEXT,
    first_post_date TEXT,
    last_update TEXT,
    has_results INTEGER NOT NULL DEFAULT 0,
    sex TEXT,
    min_age_days REAL,
    max_age_days REAL,
    healthy_volunteers INTEGER,
    lead_sponsor TEXT,
    sponsor_class TEXT,
    summary_only INTEGER NOT NULL DEFAULT 0,
    source_format TEXT NOT NULL,
    source_file TEXT,
    content_hash TEXT NOT NULL,
    trial BLOB NOT NULL,
    raw BLOB,
    ingested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX IF NOT EXISTS trials_status ON trials(overall_status);
CREATE INDEX IF NOT EXISTS trials_last_update ON trials(last_update);
CREATE INDEX IF NOT EXISTS trials_start ON trials(start_date);

CREATE TABLE IF NOT EXISTS trial_phases (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    phase TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trial_phases_phase ON trial_phases(phase, trial_id);
CREATE INDEX IF NOT EXISTS trial_phases_trial ON trial_phases(trial_id);

CREATE TABLE IF NOT EXISTS trial_conditions (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    name TEXT NOT NULL COLLATE NOCASE
);
CREATE INDEX IF NOT EXISTS trial_conditions_name ON trial_conditions(name, trial_id);
CREATE INDEX IF NOT EXISTS trial_conditions_trial ON trial_conditions(trial_id);

-- MeSH terms of conditions and interventions; ancestor = 1 for the browse ancestors.
CREATE TABLE IF NOT EXISTS trial_mesh (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    term TEXT NOT NULL COLLATE NOCASE,
    mesh_id TEXT,
    ancestor INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS trial_mesh_term ON trial_mesh(term, kind, trial_id);
CREATE INDEX IF NOT EXISTS trial_mesh_trial ON trial_mesh(trial_id);

CREATE TABLE IF NOT EXISTS trial_interventions (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    type TEXT,
    name TEXT NOT NULL COLLATE NOCASE
);
CREATE INDEX IF NOT EXISTS trial_interventions_type ON trial_interventions(type, trial_id);
CREATE INDEX IF NOT EXISTS trial_interventions_trial ON trial_interventions(trial_id);

CREATE TABLE IF NOT EXISTS trial_sponsors (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    name TEXT NOT NULL COLLATE NOCASE,
    class TEXT,
    role TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trial_sponsors_name ON trial_sponsors(name, trial_id);
CREATE INDEX IF NOT EXISTS trial_sponsors_trial ON trial_sponsors(trial_id);

CREATE TABLE IF NOT EXISTS sites (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    facility TEXT,
    city TEXT COLLATE NOCASE,
    state TEXT,
    country TEXT COLLATE NOCASE,
    status TEXT,
    lat REAL,
    lon REAL
);
CREATE INDEX IF NOT EXISTS sites_country ON sites(country, trial_id);
CREATE INDEX IF NOT EXISTS sites_city ON sites(city, trial_id);
CREATE INDEX IF NOT EXISTS sites_trial ON sites(trial_id);

CREATE VIRTUAL TABLE IF NOT EXISTS trials_fts USING fts5(
    {", ".join(FTS_COLUMNS)},
    tokenize = 'porter unicode61 remove_diacritics 2'
);
"""

CHILD_TABLES = (
    "trial_phases",
    "trial_conditions",
    "trial_mesh",
    "trial_interventions",
    "trial_sponsors",
    "sites",
)
