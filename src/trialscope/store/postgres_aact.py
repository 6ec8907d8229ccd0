"""AACT-compatible read-only views: schema ``ctgov``, with AACT's table and column names,
over the tables a TrialScope store holds, so SQL written against AACT runs here.

Which columns differ from AACT (docs/POSTGRES.md has the full list):

- ``id`` is a row number of ours, not AACT's; ``nct_id`` joins as in AACT.
- Enumerations are written as ClinicalTrials.gov's API v2 writes them (``RECRUITING``,
  ``PHASE2``, ``INDUSTRY``), as AACT does since its move to API v2; records read from older
  shapes (legacy XML, CSV) are converted to those words too.
- Dates: ``*_date`` is a ``date`` (a month-only date is the first of the month) and
  ``*_month_year`` keeps the text as registered (``2021-03``).
- Only what the store keeps in its own columns is there. Text that lives only in a trial's
  record (criteria, descriptions, arms, outcome measures) is NULL or absent: the views
  ``design_groups`` and ``outcomes`` are not offered (the trial pages and the JSON API have
  them).

>>> [name for name, _ in VIEWS][:3]
['studies', 'conditions', 'interventions']
"""

from __future__ import annotations

SCHEMA = "ctgov"


def _date(column: str) -> str:
    """A registry date (``2021``, ``2021-03`` or ``2021-03-15``) as a date, NULL if malformed."""
    return (
        f"CASE WHEN {column} ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}$' THEN {column}::date "
        f"WHEN {column} ~ '^\\d{{4}}-\\d{{2}}$' THEN ({column} || '-01')::date END"
    )


def _age(days: str) -> str:
    """An age in days as AACT writes ages (``18 Years``); whole years where it is a whole year."""
    return (
        f"CASE WHEN {days} IS NULL THEN NULL "
        f"WHEN round(({days} / 365.25)::numeric, 6) = trunc({days} / 365.25) "
        f"THEN trunc({days} / 365.25)::text || ' Years' "
        f"ELSE round({days})::text || ' Days' END"
    )


VIEWS: tuple[tuple[str, str], ...] = (
    (
        "studies",
        f"""SELECT nct_id, brief_title, official_title, acronym, overall_status, study_type, phase,
               enrollment, NULL::text AS enrollment_type,
               start_date AS start_month_year, {_date("start_date")} AS start_date,
               primary_completion_date AS primary_completion_month_year,
               {_date("primary_completion_date")} AS primary_completion_date,
               completion_date AS completion_month_year, {_date("completion_date")} AS completion_date,
               {_date("first_post_date")} AS study_first_posted_date,
               {_date("last_update")} AS last_update_posted_date,
               lead_sponsor AS source, sponsor_class AS source_class,
               has_results = 1 AS has_results, summary_only = 1 AS summary_only
        FROM trials""",
    ),
    (
        "conditions",
        (
            "SELECT c._row AS id, t.nct_id, c.name, lower(c.name) AS downcase_name "
            "FROM trial_conditions c JOIN trials t ON t.id = c.trial_id"
        ),
    ),
    (
        "interventions",
        (
            "SELECT i._row AS id, t.nct_id, i.type AS intervention_type, i.name, NULL::text AS description "
            "FROM trial_interventions i JOIN trials t ON t.id = i.trial_id"
        ),
    ),
    (
        "sponsors",
        (
            "SELECT s._row AS id, t.nct_id, s.class AS agency_class, s.role AS lead_or_collaborator, s.name "
            "FROM trial_sponsors s JOIN trials t ON t.id = s.trial_id"
        ),
    ),
    (
        "facilities",
        (
            "SELECT f._row AS id, t.nct_id, f.status, f.facility AS name, f.city, f.state, NULL::text AS zip, "
            "f.country, f.lat AS latitude, f.lon AS longitude "
            "FROM sites f JOIN trials t ON t.id = f.trial_id"
        ),
    ),
    (
        "countries",
        (
            "SELECT row_number() OVER (ORDER BY t.nct_id, c.country) AS id, t.nct_id, c.country AS name, "
            "false AS removed FROM (SELECT DISTINCT trial_id, country FROM sites WHERE country IS NOT NULL) c "
            "JOIN trials t ON t.id = c.trial_id"
        ),
    ),
    (
        "eligibilities",
        f"""SELECT id, nct_id, sex AS gender, {_age("min_age_days")} AS minimum_age,
               {_age("max_age_days")} AS maximum_age,
               CASE healthy_volunteers WHEN 1 THEN true WHEN 0 THEN false END AS healthy_volunteers,
               NULL::text AS criteria, NULL::text AS population, NULL::text AS sampling_method
        FROM trials""",
    ),
    (
        "designs",
        "SELECT id, nct_id, allocation, primary_purpose FROM trials",
    ),
    (
        "browse_conditions",
        (
            "SELECT m._row AS id, t.nct_id, m.term AS mesh_term, lower(m.term) AS downcase_mesh_term, "
            "CASE m.ancestor WHEN 1 THEN 'mesh-ancestor' ELSE 'mesh-list' END AS mesh_type "
            "FROM trial_mesh m JOIN trials t ON t.id = m.trial_id WHERE m.kind = 'condition'"
        ),
    ),
    (
        "browse_interventions",
        (
            "SELECT m._row AS id, t.nct_id, m.term AS mesh_term, lower(m.term) AS downcase_mesh_term, "
            "CASE m.ancestor WHEN 1 THEN 'mesh-ancestor' ELSE 'mesh-list' END AS mesh_type "
            "FROM trial_mesh m JOIN trials t ON t.id = m.trial_id WHERE m.kind = 'intervention'"
        ),
    ),
)


def aact_sql() -> list[str]:
    """The statements that (re)create the ``ctgov`` schema's views; run in the store's
    transaction at creation and by every upgrade (the views follow the tables)."""
    out = [f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"]
    for name, select in VIEWS:
        out.append(f"DROP VIEW IF EXISTS {SCHEMA}.{name}")
        out.append(f"CREATE VIEW {SCHEMA}.{name} AS {select}")
    return out
