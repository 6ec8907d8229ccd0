"""Search on a real store: known trials, exact SQL, filters and facets against Python counts,
pagination, exports, the CLI, and bad input."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from conftest_search import *
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from trialscope.errors import QueryError
from trialscope.search import (
    FACETS,
    SearchQuery,
    iter_all_hits,
    query_from_params,
    query_to_params,
    search_sql,
    search_trials,
)
from trialscope.search.geo import canonical_country, haversine_km
from trialscope.search.index import INTERVENTION_BITS, PHASE_BITS
from trialscope.search.query import DAYS_PER_YEAR, date_upper_bound
from trialscope.search.sql import hits_sql

SEED = (
    "NCT04184258"  # Systemic lupus erythematosus, mesenchymal stem cells, a site in Minsk without a geo point
)


def ids(store: object, **kw: object) -> list[str]:
    results = search_trials(store, SearchQuery(limit=1000, **kw))  # type: ignore[arg-type]
    assert results.total <= 1000, "raise the limit of this helper"
    return [h.nct_id for h in results.hits]


# --- known trials ---------------------------------------------------------------------


def test_condition_filter_finds_the_seed(search_store: object) -> None:
    assert SEED in ids(search_store, conditions=("Systemic Lupus Erythematosus",))
    assert SEED not in ids(search_store, conditions=("Breast Neoplasms",))


def test_condition_prefix_and_text(search_store: object) -> None:
    assert SEED in ids(search_store, text="condition:lupus")
    assert SEED in ids(search_store, text="lupus")
    top = search_trials(search_store, SearchQuery(text="mesenchymal stem cells lupus", limit=3)).hits
    assert top and top[0].nct_id == SEED


def test_intervention_prefix_finds_the_seed(search_store: object) -> None:
    assert SEED in ids(search_store, text='intervention:"mesenchymal stem cells"')
    assert SEED not in ids(search_store, text='intervention:"stem cells" -lupus')
    assert SEED in ids(search_store, intervention_types=("biological",), text="lupus")
    assert SEED not in ids(search_store, intervention_types=("drug",), text="lupus")


def test_mesh_ancestor_finds_lupus(search_store: object, stored_trials: list) -> None:
    found = set(ids(search_store, conditions=("Autoimmune Diseases",)))
    assert SEED in found
    seed = next(t for t in stored_trials if t.nct_id == SEED)
    assert "autoimmune" not in " ".join(seed.conditions).lower()  # found through the ancestor alone
    with_ancestor = {
        t.nct_id for t in stored_trials if any(a.term == "Autoimmune Diseases" for a in t.condition_ancestors)
    }
    assert with_ancestor <= found


def test_synonym_sle_finds_lupus_trials_without_the_abbreviation(
    search_store: object, stored_trials: list
) -> None:
    """Trials filed under the MeSH term, whose text never says "SLE", are found by "SLE" through
    the synonym table and not by the quoted word (no synonyms for a phrase)."""
    from trialscope.search.text import tokenize

    def words(t: object) -> set[str]:
        from trialscope.store.sqlite import fts_text

        return set(tokenize(" ".join(fts_text(t))))  # type: ignore[arg-type]

    mesh_only = {
        t.nct_id
        for t in stored_trials
        if any(m.term == "Lupus Erythematosus, Systemic" for m in t.condition_mesh) and "sle" not in words(t)
    }
    assert mesh_only, "the shared records hold SLE trials that never write SLE"
    with_synonyms = set(ids(search_store, text="SLE"))
    literal = set(ids(search_store, text='"SLE"'))
    assert mesh_only <= with_synonyms
    assert not (mesh_only & literal)
    assert len(with_synonyms) > len(literal)


def test_distance_uses_the_gazetteer_for_sites_without_geo_points(search_store: object) -> None:
    near = search_trials(search_store, SearchQuery(near="Minsk, Belarus", within_km=50, limit=200))
    hit = next(h for h in near.hits if h.nct_id == SEED)
    assert hit.distance_km is not None and hit.distance_km <= 50
    assert SEED in ids(search_store, near="53.9,27.56", within_km=25)
    assert SEED not in ids(search_store, near="Warsaw, Poland", within_km=300)  # ~480 km away
    assert SEED in ids(search_store, near="Warsaw, Poland", within_km=300 * 1.609344)  # 300 mi
    assert all(h.distance_km is not None and h.distance_km <= 50 for h in near.hits)


def test_distance_uses_geo_points(search_store: object) -> None:
    row = search_store.conn.execute(  # type: ignore[attr-defined]
        "SELECT t.nct_id, s.lat, s.lon FROM sites s JOIN trials t ON t.id = s.trial_id "
        "WHERE s.lat IS NOT NULL ORDER BY t.id LIMIT 1"
    ).fetchone()
    nct_id, lat, lon = row
    hits = search_trials(search_store, SearchQuery(near=f"{lat},{lon}", within_km=1, limit=1000)).hits
    hit = next(h for h in hits if h.nct_id == nct_id)
    assert hit.distance_km is not None and hit.distance_km < 0.1
    far = ids(search_store, near=f"{-lat},{lon + 180 if lon < 0 else lon - 180}", within_km=500)
    assert nct_id not in far


def test_age_inside_the_eligible_range(search_store: object) -> None:
    # The seed takes 18 to 75 years.
    assert SEED in ids(search_store, text="lupus", age_years=45)
    assert SEED in ids(search_store, text="lupus", age_years=18)
    assert SEED not in ids(search_store, text="lupus", age_years=10)
    assert SEED not in ids(search_store, text="lupus", age_years=80)
    assert SEED in ids(search_store, text="lupus", age_years=75)


def test_missing_age_bound_is_no_bound(search_store: object, stored_trials: list) -> None:
    open_ended = next(
        t
        for t in stored_trials
        if t.eligibility.minimum_age_days is not None
        and t.eligibility.maximum_age_days is None
        and t.brief_title
    )
    assert open_ended.nct_id in ids(search_store, nct_ids=(open_ended.nct_id,), age_years=120)
    below = open_ended.eligibility.minimum_age_days / DAYS_PER_YEAR - 0.5
    if below >= 0:
        assert open_ended.nct_id not in ids(search_store, nct_ids=(open_ended.nct_id,), age_years=below)


def test_sex_filter(search_store: object) -> None:
    female = search_trials(search_store, SearchQuery(sex="female", facets=()))
    rows = dict(
        search_store.conn.execute("SELECT coalesce(sex, '-'), count(*) FROM trials GROUP BY 1").fetchall()
    )  # type: ignore[attr-defined]
    assert female.total == rows["ALL"] + rows["FEMALE"] + rows.get("-", 0)


# --- results: pages, cursors, sorting, snippets, exports ----------------------------


def test_pages_and_cursors_walk_the_same_order(search_store: object) -> None:
    query = SearchQuery(text="cancer", statuses=("completed",), limit=7)
    whole = [h.nct_id for h in iter_all_hits(search_store, query, chunk=13)]
    assert len(whole) == search_trials(search_store, query).total > 1000
    paged = []
    for page in (1, 2, 3):
        paged += [
            h.nct_id
            for h in search_trials(search_store, SearchQuery(**{**query.__dict__, "page": page})).hits
        ]
    assert paged == whole[:21]
    walked: list[str] = []
    cursor = None
    while True:
        results = search_trials(
            search_store, SearchQuery(**{**query.__dict__, "cursor": cursor, "limit": 50})
        )
        walked += [h.nct_id for h in results.hits]
        cursor = results.next_cursor
        if cursor is None:
            break
    assert walked == whole
    first = search_trials(search_store, SearchQuery(**{**query.__dict__, "limit": 1000})).hits
    assert [h.nct_id for h in first] == whole[:1000]


def test_cursor_of_another_search_is_refused(search_store: object) -> None:
    cursor = search_trials(search_store, SearchQuery(text="cancer", limit=2)).next_cursor
    assert cursor
    with pytest.raises(QueryError, match="another search"):
        search_trials(search_store, SearchQuery(text="lupus", cursor=cursor))
    with pytest.raises(QueryError, match="cursor"):
        search_trials(search_store, SearchQuery(text="lupus", cursor="not-a-cursor"))


@pytest.mark.parametrize(
    ("sort", "key"),
    [("enrollment", "enrollment"), ("last_update", "last_update"), ("start_date", "start_date")],
)
def test_sorts_are_descending(search_store: object, sort: str, key: str) -> None:
    hits = search_trials(search_store, SearchQuery(text="diabetes", sort=sort, limit=200)).hits
    values = [getattr(h, key) for h in hits]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=True)
    assert values[: len(present)] == present  # missing values last
    assert all(h.score > 0 for h in hits)  # scored with the page, not while sorting


def test_relevance_puts_title_hits_first(search_store: object) -> None:
    hits = search_trials(search_store, SearchQuery(text="astrocytoma", limit=5)).hits
    assert hits and all("astrocytoma" in h.title.lower() for h in hits[:3])
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_snippets_are_html_safe_and_marked(search_store: object) -> None:
    for text in ("cancer", "children", "lupus", "placebo"):
        for hit in search_trials(search_store, SearchQuery(text=text, limit=50)).hits:
            bare = hit.snippet.replace("<mark>", "").replace("</mark>", "")
            assert "<" not in bare and ">" not in bare
        assert any("<mark>" in h.snippet for h in search_trials(search_store, SearchQuery(text=text)).hits)


def test_stems_are_those_of_the_index(search_store: object) -> None:
    """index_word cuts every word of the records' text as FTS5's porter tokenizer does."""
    from trialscope.search.text import index_word

    conn: sqlite3.Connection = search_store.conn  # type: ignore[attr-defined]
    text = " ".join(
        t
        for (t,) in conn.execute("SELECT summary || ' ' || eligibility || ' ' || title FROM trials_fts")
        if t
    )
    words = sorted({w for w in re.findall(r"[^\W_]+", text)})
    scratch = sqlite3.connect(":memory:")
    scratch.execute("CREATE VIRTUAL TABLE s USING fts5(x, tokenize = 'porter unicode61 remove_diacritics 2')")
    scratch.execute("CREATE VIRTUAL TABLE v USING fts5vocab(s, instance)")
    scratch.execute("INSERT INTO s(rowid, x) VALUES (1, ?)", [" ".join(words)])
    stems = [t for (t,) in scratch.execute('SELECT term FROM v ORDER BY "offset"')]
    assert len(stems) == len(words) > 1000
    assert [w for w, stem in zip(words, stems, strict=True) if index_word(w) != stem] == []


@pytest.mark.parametrize("text", ["cancer", "breast cancer", "lupus OR sle", "stem cells -placebo", "child*"])
def test_snippets_are_fts5_snippets(search_store: object, text: str) -> None:
    """The snippets cut in Python are those FTS5's snippet() cuts from the same rows."""
    from trialscope.search.run import _SUMMARY_COLUMN, SNIPPET_TOKENS, _mark, fetch_snippets
    from trialscope.search.sql import compile_text

    conn: sqlite3.Connection = search_store.conn  # type: ignore[attr-defined]
    match = compile_text(SearchQuery(text=text)).match
    ids = [
        r for (r,) in conn.execute("SELECT rowid FROM trials_fts WHERE trials_fts MATCH ? LIMIT 40", [match])
    ]
    ours, _ = fetch_snippets(conn, ids, match)
    sql = (
        f"SELECT rowid, snippet(trials_fts, {_SUMMARY_COLUMN}, char(2), char(3), '…', {SNIPPET_TOKENS}), "
        f"snippet(trials_fts, -1, char(2), char(3), '…', {SNIPPET_TOKENS}) FROM trials_fts "
        "WHERE trials_fts MATCH ? AND rowid IN (" + ",".join("?" * len(ids)) + ")"
    )
    theirs = {r: _mark(s if "\x02" in s else a) for r, s, a in conn.execute(sql, [match, *ids])}
    same = sum(ours[i] == theirs[i] for i in ids)
    assert ids and same >= 0.95 * len(ids), [(ours[i], theirs[i]) for i in ids if ours[i] != theirs[i]][:3]


_SNIPPET_ROWS = (
    {"title": "Stem Cells for Sjögren's Syndrome", "summary": "Patients with Sjögren's syndrome & dry eyes <b>receive</b> stem cellular therapy."},
    {"title": "Heart failure in children", "conditions": "Heart Failure", "summary": "No match here. " * 30,
     "description": ("Background words run on. " * 40) + "Children with heart failure: the trial. " + "More words. " * 40},
    {"title": "Lupus", "summary": "Lupus nephritis. " + "Systemic lupus erythematosus (SLE) is studied; lupus flares are counted. " * 3},
    {"title": "A childhood study", "mesh": "Child\nChild, Preschool\nInfant", "eligibility": "Children aged 2 to 11 years: healthy."},
)  # fmt: skip


@pytest.mark.parametrize(
    "text", ["sjogren", "stem cell*", "heart failure", "child*", "lupus", '"lupus nephritis"']
)
def test_snippets_match_fts5_on_hard_texts(text: str) -> None:
    """Accents, prefixes, phrases, a match deep in a long column, sentences, HTML in the text."""
    from trialscope.search.run import _SUMMARY_COLUMN, SNIPPET_TOKENS, _mark, fetch_snippets
    from trialscope.search.sql import compile_text
    from trialscope.store.schema import FTS_COLUMNS

    conn = sqlite3.connect(":memory:")
    conn.execute(
        f"CREATE VIRTUAL TABLE trials_fts USING fts5({', '.join(FTS_COLUMNS)}, "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    for rowid, row in enumerate(_SNIPPET_ROWS, 1):
        conn.execute(
            f"INSERT INTO trials_fts(rowid, {', '.join(FTS_COLUMNS)}) VALUES (?{', ?' * len(FTS_COLUMNS)})",
            [rowid, *(row.get(c, "") for c in FTS_COLUMNS)],
        )
    match = compile_text(SearchQuery(text=text)).match
    sql = (
        f"SELECT rowid, snippet(trials_fts, {_SUMMARY_COLUMN}, char(2), char(3), '…', {SNIPPET_TOKENS}), "
        f"snippet(trials_fts, -1, char(2), char(3), '…', {SNIPPET_TOKENS}) FROM trials_fts WHERE trials_fts MATCH ?"
    )
    theirs = {r: _mark(s if "\x02" in s else a) for r, s, a in conn.execute(sql, [match])}
    assert theirs
    ours, _ = fetch_snippets(conn, list(theirs), match)
    assert ours == theirs


def test_export_csv_streams_every_hit(search_store: object) -> None:
    from trialscope.search.export import write_csv, write_jsonl

    query = SearchQuery(text="breast cancer")
    total = search_trials(search_store, query).total
    out = io.StringIO()
    assert write_csv(iter_all_hits(search_store, query), out) == total
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == total and rows[0]["url"].startswith("https://clinicaltrials.gov/study/NCT")
    lines = io.StringIO()
    assert write_jsonl(iter_all_hits(search_store, query), lines) == total


def test_cli_csv_export_guards_cells_against_spreadsheet_formulas() -> None:
    """The CLI's CSV (like the web export) never hands a spreadsheet a formula from registry text."""
    from trialscope.search.export import write_csv
    from trialscope.search.run import SearchHit

    hostile = SearchHit(
        "NCT00000001", '=HYPERLINK("http://evil.example","click")', "COMPLETED", None, None,
        ("@SUM(1+1)", "-cmd|' /C calc'!A0"), None, None, -5, False, 1.5, "", None,
    )  # fmt: skip
    out = io.StringIO()
    assert write_csv([hostile], out) == 1
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["title"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["conditions"] == "'@SUM(1+1); -cmd|' /C calc'!A0"
    assert row["enrollment"] == "-5"  # a number stays a number


# --- facets and filters against counts made in Python -------------------------------


def test_facets_are_the_same_on_every_page(search_store: object) -> None:
    query = SearchQuery(text="cancer", countries=("France",), facets=("status", "country", "phase"), limit=5)
    first = search_trials(search_store, query)
    second = search_trials(search_store, SearchQuery(**{**query.__dict__, "page": 2, "sort": "enrollment"}))
    assert first.facets == second.facets and first.total == second.total
    assert {h.nct_id for h in first.hits}.isdisjoint(
        h.nct_id for h in search_trials(search_store, SearchQuery(**{**query.__dict__, "page": 2})).hits
    )


def test_facets_include_their_own_dimension(search_store: object) -> None:
    results = search_trials(search_store, SearchQuery(statuses=("recruiting",), facets=("status", "phase")))
    assert [(f.value, f.count) for f in results.facets["status"]] == [("RECRUITING", results.total)]


def _facts(trial: object) -> dict[str, object]:
    t = trial
    start = t.start_date.date if t.start_date else None  # type: ignore[attr-defined]
    return {
        "status": t.overall_status,  # type: ignore[attr-defined]
        "phases": set(t.design.phases) & set(PHASE_BITS),  # type: ignore[attr-defined]
        "study_type": t.design.study_type,  # type: ignore[attr-defined]
        "itypes": {i.type for i in t.interventions} & set(INTERVENTION_BITS),  # type: ignore[attr-defined]
        "sponsor_class": t.lead_sponsor.sponsor_class if t.lead_sponsor else None,  # type: ignore[attr-defined]
        "countries": {canonical_country(s.country) for s in t.locations if s.country},  # type: ignore[attr-defined]
        "has_results": t.has_results,  # type: ignore[attr-defined]
        "hv": t.eligibility.healthy_volunteers,  # type: ignore[attr-defined]
        "sex": t.eligibility.sex,  # type: ignore[attr-defined]
        "min_age": t.eligibility.minimum_age_days,  # type: ignore[attr-defined]
        "max_age": t.eligibility.maximum_age_days,  # type: ignore[attr-defined]
        "enrollment": t.design.enrollment_count,  # type: ignore[attr-defined]
        "start": start,
        "start_year": start[:4] if start else None,
    }


def _matches(f: dict[str, object], q: SearchQuery) -> bool:
    if q.statuses and f["status"] not in q.statuses:
        return False
    if q.phases and not (f["phases"] & set(q.phases)):  # type: ignore[operator]
        return False
    if q.study_types and f["study_type"] not in q.study_types:
        return False
    if q.intervention_types and not (f["itypes"] & set(q.intervention_types)):  # type: ignore[operator]
        return False
    if q.sponsor_classes and f["sponsor_class"] not in q.sponsor_classes:
        return False
    if q.countries and not (f["countries"] & {canonical_country(c) for c in q.countries}):  # type: ignore[operator]
        return False
    if q.has_results is not None and f["has_results"] != q.has_results:
        return False
    if q.healthy_volunteers is not None and f["hv"] != q.healthy_volunteers:
        return False
    if q.sex and f["sex"] is not None and f["sex"] not in {"ALL", q.sex}:
        return False
    if q.age_years is not None:
        days = round(q.age_years * DAYS_PER_YEAR, 6)
        if f["min_age"] is not None and f["min_age"] > days:  # type: ignore[operator]
            return False
        if f["max_age"] is not None and f["max_age"] < days:  # type: ignore[operator]
            return False
    if q.enrollment_min is not None and (f["enrollment"] is None or f["enrollment"] < q.enrollment_min):  # type: ignore[operator]
        return False
    if q.start_from and (f["start"] is None or f["start"] < q.start_from):  # type: ignore[operator]
        return False
    if q.start_to:
        bound, inclusive = date_upper_bound(q.start_to)
        if f["start"] is None or not (f["start"] <= bound if inclusive else f["start"] < bound):  # type: ignore[operator]
            return False
    return True


def _python_facets(rows: list[dict[str, object]]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    for f in rows:
        for name, key in (
            ("status", "status"),
            ("study_type", "study_type"),
            ("sponsor_class", "sponsor_class"),
            ("start_year", "start_year"),
        ):
            if f[key] is not None:
                counts[name][str(f[key])] += 1
        counts["has_results"]["true" if f["has_results"] else "false"] += 1
        for phase in f["phases"]:  # type: ignore[attr-defined]
            counts["phase"][phase] += 1
        for itype in f["itypes"]:  # type: ignore[attr-defined]
            counts["intervention_type"][itype] += 1
        for country in f["countries"]:  # type: ignore[attr-defined]
            counts["country"][country] += 1
    return counts


filters = st.fixed_dictionaries(
    {},
    optional={
        "statuses": st.lists(
            st.sampled_from(["RECRUITING", "COMPLETED", "UNKNOWN", "TERMINATED", "WITHDRAWN"]),
            min_size=1,
            max_size=2,
        ).map(tuple),
        "phases": st.lists(
            st.sampled_from(["EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA"]),
            min_size=1,
            max_size=2,
        ).map(tuple),
        "study_types": st.lists(
            st.sampled_from(["INTERVENTIONAL", "OBSERVATIONAL"]), min_size=1, max_size=1
        ).map(tuple),
        "intervention_types": st.lists(
            st.sampled_from(["DRUG", "BIOLOGICAL", "DEVICE", "BEHAVIORAL", "OTHER"]), min_size=1, max_size=2
        ).map(tuple),
        "sponsor_classes": st.lists(
            st.sampled_from(["INDUSTRY", "OTHER", "NIH"]), min_size=1, max_size=2
        ).map(tuple),
        "countries": st.lists(
            st.sampled_from(
                ["United States", "China", "France", "Korea, Republic of", "Russian Federation", "Belarus"]
            ),
            min_size=1,
            max_size=2,
        ).map(tuple),
        "has_results": st.booleans(),
        "healthy_volunteers": st.booleans(),
        "sex": st.sampled_from(["FEMALE", "MALE"]),
        "age_years": st.sampled_from([0.5, 10.0, 18.0, 45.0, 65.0, 90.0]),
        "enrollment_min": st.sampled_from([0, 10, 100, 1000]),
        "start_from": st.sampled_from(["2000", "2015-06", "2020-01-01"]),
        "start_to": st.sampled_from(["2010", "2019-12", "2022-06-30"]),
    },
)


@pytest.fixture(scope="module")
def stored_facts(stored_trials: list) -> list[dict[str, object]]:
    return [_facts(t) for t in stored_trials]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kw=filters, facets=st.lists(st.sampled_from(FACETS), min_size=1, max_size=5, unique=True))
def test_filters_and_facets_agree_with_python_counts(
    search_store: object, stored_facts: list, kw: dict[str, object], facets: list[str]
) -> None:
    assume(not (kw.get("start_from") and kw.get("start_to") and kw["start_from"] > kw["start_to"]))  # type: ignore[operator]
    query = SearchQuery(facets=tuple(facets), **kw)  # type: ignore[arg-type]
    rows = [f for f in stored_facts if _matches(f, query)]
    expected = _python_facets(rows)
    for engine in ("columns", "sql"):
        results = search_trials(search_store, query, engine=engine)
        assert results.total == len(rows), engine
        for name in facets:
            assert {v.value: v.count for v in results.facets[name]} == dict(expected[name]), (engine, name)


texts = st.sampled_from(
    ["", "cancer", "lupus OR asthma", "SLE", '"stem cells" -placebo', "-cancer", "diabet*"]
)
extra = st.fixed_dictionaries(
    {},
    optional={
        "near": st.sampled_from(["Minsk, Belarus", "Boston, MA", "48.85,2.35"]),
        "within_km": st.sampled_from([50.0, 300.0, 2000.0]),
        "conditions": st.sampled_from([("Neoplasms",), ("Autoimmune Diseases", "Asthma")]),
        "sponsor": st.sampled_from(["university", "national cancer institute"]),
        "cities": st.sampled_from([("Boston",), ("Paris", "Minsk")]),
        "sort": st.sampled_from(["relevance", "last_update", "start_date", "enrollment"]),
        "page": st.sampled_from([1, 2, 5]),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, kw=filters, more=extra)
def test_both_engines_give_the_same_results(
    search_store: object, text: str, kw: dict[str, object], more: dict[str, object]
) -> None:
    assume(not (kw.get("start_from") and kw.get("start_to") and kw["start_from"] > kw["start_to"]))  # type: ignore[operator]
    assume("within_km" not in more or "near" in more)
    query = SearchQuery(text=text, facets=("status", "country", "phase"), limit=10, **kw, **more)  # type: ignore[arg-type]
    a = search_trials(search_store, query, engine="columns")
    b = search_trials(search_store, query, engine="sql")
    assert a.total == b.total and a.facets == b.facets
    assert [h.nct_id for h in a.hits] == [h.nct_id for h in b.hits]
    assert [round(h.score, 3) for h in a.hits] == [round(h.score, 3) for h in b.hits]
    assert [h.distance_km for h in a.hits] == [h.distance_km for h in b.hits]
    if a.next_cursor:
        after = search_trials(
            search_store, SearchQuery(**{**query.__dict__, "cursor": a.next_cursor}), engine="columns"
        )
        page2 = search_trials(
            search_store, SearchQuery(**{**query.__dict__, "page": query.page + 1}), engine="sql"
        )
        assert [h.nct_id for h in after.hits] == [h.nct_id for h in page2.hits]


# --- exact SQL ----------------------------------------------------------------------


def test_search_sql_is_exact() -> None:
    sql, params = search_sql(
        SearchQuery(text='lupus -"open label"', statuses=("RECRUITING",), phases=("PHASE2",), limit=5, page=2)
    )
    assert sql == (
        "WITH hits AS MATERIALIZED (\n"
        "SELECT f.id AS id, -bm25(trials_fts, 10.0, 8.0, 5.0, 4.0, 4.0, 2.0, 1.0, 1.0, 0.5, 1.0) AS score, NULL AS skey\n"
        "FROM trials_fts JOIN search_facts f ON f.id = trials_fts.rowid\n"
        "WHERE trials_fts MATCH ? AND f.status IN (?) AND (f.phases & ?) != 0\n"
        ")\n"
        "SELECT (SELECT count(*) FROM hits) AS total, t.nct_id, coalesce(t.brief_title, t.official_title, t.nct_id), "
        "t.overall_status, t.phase, t.study_type,\n"
        "  (SELECT group_concat(name, char(31)) FROM (SELECT c.name FROM trial_conditions c WHERE c.trial_id = h.id "
        "ORDER BY c.rowid)),\n"
        "  t.last_update, t.start_date, t.enrollment, t.has_results, h.score, h.score, h.id, NULL\n"
        "FROM (SELECT id, score, skey FROM hits ORDER BY score DESC, id LIMIT ? OFFSET ?) h\n"
        "JOIN trials t ON t.id = h.id\n"
        "ORDER BY h.score DESC, h.id"
    )
    assert params == ['"lupus" NOT ("open label")', "RECRUITING", 4, 5, 5]


def test_search_sql_runs_and_agrees_with_search_trials(search_store: object) -> None:
    query = SearchQuery(text="lupus", countries=("United States",), limit=5)
    sql, params = search_sql(query)
    rows = search_store.conn.execute(sql, params).fetchall()  # type: ignore[attr-defined]
    results = search_trials(search_store, query)
    assert [r[1] for r in rows] == [h.nct_id for h in results.hits]
    assert rows[0][0] == results.total


def test_queries_without_text_never_touch_fts() -> None:
    sql, _ = hits_sql(SearchQuery(statuses=("COMPLETED",), age_years=40, countries=("France",)))
    assert "trials_fts" not in sql


def test_user_text_reaches_fts_only_as_quoted_tokens() -> None:
    sql, params = search_sql(SearchQuery(text="'; DROP TABLE trials; -- NEAR(a b) title:x {sponsors}:y ^z"))
    assert "DROP" not in sql
    assert (
        params[0]
        == '("drop" AND "table" AND "trials" AND "near" AND "a" AND "b" AND (title : "x") AND "sponsors y" AND "z")'
    )


_FTS_PIECE = re.compile(
    r'\s*(?:"[^\W_"]+(?: [^\W_"]+)*"\*?|AND|OR|NOT|[(){}:]|title|conditions|interventions|keywords|mesh|summary|description|outcomes|eligibility|sponsors)'
)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_any_text_compiles_to_safe_fts(text: str) -> None:
    from trialscope.search.sql import compile_text

    try:
        compiled = compile_text(SearchQuery(text=text))
    except QueryError:
        return
    for expr in filter(None, (compiled.match, compiled.exclude)):
        pos = 0
        while pos < len(expr):
            piece = _FTS_PIECE.match(expr, pos)
            assert piece is not None and piece.end() > pos, (text, expr[pos:])
            pos = piece.end()


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page": "-1"}, "page must be at least 1"),
        ({"page": "two"}, "whole number"),
        ({"limit": "5000"}, "at most 1,000"),
        ({"status": "recruting"}, "Unknown status"),
        ({"phase": "7"}, "Unknown phase"),
        ({"sort": "popularity"}, "Unknown sort"),
        ({"facets": "colour"}, "Unknown facet"),
        ({"age": "old"}, "Cannot read the age"),
        ({"age": "-4"}, "Cannot read the age"),
        ({"within": "far", "near": "Minsk"}, "Cannot read the distance"),
        ({"within": "50km"}, "needs a place"),
        ({"start_from": "2021-13"}, "must be a date"),
        ({"start_from": "2022", "start_to": "2021"}, "ends before it starts"),
        ({"enrollment_min": "1e3"}, "whole number"),
        ({"nct": "NCT123"}, "not an NCT id"),
        ({"has_results": "maybe"}, "yes or no"),
        ({"sex": "robot"}, "Unknown sex"),
    ],
)
def test_bad_params_give_a_clear_sentence(params: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        query_from_params(params)


def test_friendly_words_are_accepted() -> None:
    q = query_from_params(
        {
            "status": ["Recruiting", "active, not recruiting"],
            "phase": "phase 2,3,Early Phase 1",
            "type": "interventional",
            "intervention_type": "Dietary Supplement",
            "sponsor_class": "industry",
            "sex": "Female",
            "within": "300mi",
            "near": "Minsk, Belarus",
            "age": "18 months",
            "healthy_volunteers": "yes",
            "facets": "status,phase",
        }
    )
    assert q.statuses == ("RECRUITING", "ACTIVE_NOT_RECRUITING")
    assert q.phases == ("PHASE2", "PHASE3", "EARLY_PHASE1")
    assert q.intervention_types == ("DIETARY_SUPPLEMENT",) and q.sponsor_classes == ("INDUSTRY",)
    assert q.sex == "FEMALE" and q.age_years == 1.5 and q.healthy_volunteers is True
    assert q.within_km == pytest.approx(482.8032)
    assert query_from_params(query_to_params(q)) == q


def test_place_that_cannot_be_found(search_store: object) -> None:
    with pytest.raises(QueryError, match="Cannot find the place"):
        search_trials(search_store, SearchQuery(near="Qwxyzzy, Narnia"))
    with pytest.raises(QueryError, match="is a country"):
        search_trials(search_store, SearchQuery(near="Belarus"))


def test_ten_thousand_word_query_is_refused_clearly(search_store: object) -> None:
    with pytest.raises(QueryError, match="at most"):
        search_trials(search_store, SearchQuery(text=" ".join(["lupus"] * 10_000)))
    words = " ".join(f"word{i}" for i in range(150))
    with pytest.raises(QueryError, match="at most 100 are allowed"):
        search_trials(search_store, SearchQuery(text=words))


@pytest.mark.parametrize(
    "text",
    [
        '"unbalanced',
        "((lupus",
        "lupus))",
        "OR",
        "NOT",
        "a OR",
        "*",
        "title:",
        'NEAR("a" "b", 2)',
        "{title}: x",
        "lupus AND OR NOT cancer",
        "'; DELETE FROM trials; --",
        "col:val:more",
        "^start",
        "-",
        "--",
        "x" * 5000,
        "\x00\x01 lupus",
        "ñandú café",
        "日本語 テスト",
        '""',
        "lupus -lupus",
    ],
)
def test_hostile_text_works_or_says_why(search_store: object, text: str) -> None:
    try:
        search_trials(search_store, SearchQuery(text=text, facets=("status",)))
    except QueryError as exc:
        assert str(exc) and "fts5" not in str(exc).lower() and "syntax" not in str(exc).lower()
    assert search_store.count() > 0  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80))
def test_any_text_works_or_says_why(search_store: object, text: str) -> None:
    try:
        search_trials(search_store, SearchQuery(text=text))
    except QueryError as exc:
        assert "fts5" not in str(exc).lower()


def test_negation_alone_means_all_trials_but(search_store: object) -> None:
    every = search_trials(search_store, SearchQuery()).total
    lupus = search_trials(search_store, SearchQuery(text="lupus")).total
    assert search_trials(search_store, SearchQuery(text="-lupus")).total == every - lupus
    with pytest.raises(QueryError, match="nothing to subtract"):
        search_trials(search_store, SearchQuery(text="cancer OR -lupus"))


def test_time_limit_stops_a_search(search_store: object) -> None:
    with pytest.raises(QueryError, match="longer than"):
        search_trials(
            search_store, SearchQuery(text="patients OR study OR disease", facets=FACETS), timeout_s=1e-6
        )
    assert search_trials(search_store, SearchQuery(text="lupus")).total > 0  # the connection still works


# --- stores: read-only without search tables, and the CLI ---------------------------


def test_read_only_store_without_search_tables(tmp_path: Path) -> None:
    from conftest_search import SEED as SEED_FILE

    from trialscope.ingest import ingest_paths
    from trialscope.store import open_store

    path = tmp_path / "small.db"
    store = open_store(path)
    ingest_paths(store, [SEED_FILE], progress=False)
    store.close()
    readonly = open_store(path, readonly=True)
    results = search_trials(readonly, SearchQuery(text="lupus", facets=("country",)))
    assert [h.nct_id for h in results.hits] == [SEED]
    assert results.facets["country"][0].value == "Belarus"
    with pytest.raises(sqlite3.OperationalError):
        readonly.conn.execute("SELECT count(*) FROM main.search_facts").fetchone()


def test_cli_search(search_store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trialscope.cli import main

    db = ["--db", str(search_store_path)]
    assert (
        main(
            [
                "search",
                "mesenchymal",
                "stem",
                "cells",
                "lupus",
                "--status",
                "recruiting,completed",
                "--phase",
                "2",
                "--near",
                "Minsk, Belarus",
                "--within",
                "500km",
                "--age",
                "45",
                "--sex",
                "female",
                "--facets",
                "status,phase,country",
                *db,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert SEED in out and "Belarus" in out
    assert main(["search", "lupus", "--format", "csv", "--all", *db]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == search_trials_total(search_store_path, "lupus") + 1
    assert main(["search", "lupus", "--status", "recruiting", "--sql", *db]) == 0
    assert "CREATE TEMP TABLE ts_hits" in capsys.readouterr().out
    assert main(["search", "lupus", "--phase", "7", *db]) == 1
    assert "Unknown phase" in capsys.readouterr().err
    assert main(["search", "lupus", "--format", "json", "--limit", "2", *db]) == 0
    assert '"next_cursor"' in capsys.readouterr().out


def search_trials_total(path: Path, text: str) -> int:
    from trialscope.store import open_store

    store = open_store(path, readonly=True)
    try:
        return search_trials(store, SearchQuery(text=text)).total
    finally:
        store.close()


def test_distance_helper_is_the_haversine() -> None:
    assert haversine_km(53.9, 27.5667, 53.9, 27.5667) == 0
    assert 470 < haversine_km(53.9, 27.57, 52.23, 21.01) < 480
