"""Search on a real store: known trials, filters, facets and ranking against a plain Python
search (tests/search_oracle.py), pagination, exports, the CLI, and bad input."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
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
    search_trials,
)
from trialscope.search.geo import haversine_km
from trialscope.search.values import DAYS_PER_YEAR

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
    top = search_trials(search_store, SearchQuery(text="mesenchymal stem cells lupus", limit=5)).hits
    assert SEED in [h.nct_id for h in top]
    assert all("mesenchymal" in h.title.lower() and "lupus" in h.title.lower() for h in top)


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
    from trialscope.search.document import field_texts
    from trialscope.search.syntax import tokenize

    def words(t: object) -> set[str]:
        return set(tokenize(" ".join(field_texts(t))))  # type: ignore[arg-type]

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
    trial = next(t for t in search_store.iter_trials() if any(s.geo for s in t.locations))  # type: ignore[attr-defined]
    nct_id = trial.nct_id
    lat, lon = next((s.geo.lat, s.geo.lon) for s in trial.locations if s.geo)
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


def test_sex_filter(search_store: object, stored_trials: list) -> None:
    female = search_trials(search_store, SearchQuery(sex="female", facets=()))
    rows = Counter(t.eligibility.sex or "-" for t in stored_trials)
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


def test_the_index_holds_the_analyzer_terms_of_each_trial(search_store: object) -> None:
    """What the index holds for the seed is what the analyzer makes of its text, field by field."""
    from trialscope.analyze import terms
    from trialscope.search import search_reader
    from trialscope.search.document import FIELDS, field_texts

    reader = search_reader(search_store)  # type: ignore[arg-type]
    trial_id = search_store.ids_of([SEED])[SEED]  # type: ignore[attr-defined]
    seed = search_store.get_trial(SEED)  # type: ignore[attr-defined]
    for field, text in zip(FIELDS, field_texts(seed), strict=True):
        for term, count in Counter(terms(text)).items():
            entries, _ = reader.matcher.entries(term)
            mine = (entries.docs == trial_id) & (entries.fields == FIELDS.index(field))
            assert entries.counts[mine].tolist() == [count], (field, term)


def _fts5_snippets(rows: list[tuple[int, tuple[str, ...]]], match: str) -> dict[int, str]:
    """SQLite FTS5's own snippets of some texts, as the oracle of the snippet cutter."""
    from trialscope.search.document import FIELDS, SUMMARY
    from trialscope.search.snippets import SNIPPET_TOKENS, _mark

    conn = sqlite3.connect(":memory:")
    conn.execute(
        f"CREATE VIRTUAL TABLE t USING fts5({', '.join(FIELDS)}, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.executemany(
        f"INSERT INTO t(rowid, {', '.join(FIELDS)}) VALUES (?{', ?' * len(FIELDS)})",
        [(r, *texts) for r, texts in rows],
    )
    sql = (
        f"SELECT rowid, snippet(t, {SUMMARY}, char(2), char(3), '…', {SNIPPET_TOKENS}), "
        f"snippet(t, -1, char(2), char(3), '…', {SNIPPET_TOKENS}) FROM t WHERE t MATCH ?"
    )
    return {r: _mark(s if "\x02" in s else a) for r, s, a in conn.execute(sql, [match])}


@pytest.mark.parametrize(
    ("text", "match"),
    [("cancer", '"cancer"'), ("breast cancer", '"breast" AND "cancer"'), ("lupus OR sle", '"lupus" OR "sle"'),
     ("stem cells -placebo", '("stem" AND "cells") NOT "placebo"'), ("child*", '"child"*')],
)  # fmt: skip
def test_snippets_are_those_fts5_cuts(search_store: object, text: str, match: str) -> None:
    """The snippets search cuts are those SQLite FTS5's snippet() cuts from the same texts."""
    from trialscope.search.document import field_texts

    hits = search_trials(search_store, SearchQuery(text=text, limit=40), use_synonyms=False).hits
    trials = search_store.get_trials([h.nct_id for h in hits])  # type: ignore[attr-defined]
    theirs = _fts5_snippets([(i, field_texts(trials[h.nct_id])) for i, h in enumerate(hits)], match)
    same = sum(h.snippet == theirs.get(i) for i, h in enumerate(hits))
    assert hits and same >= 0.9 * len(hits), [(h.snippet, theirs.get(i)) for i, h in enumerate(hits)][:3]


_SNIPPET_ROWS = (
    {"title": "Stem Cells for Sjögren's Syndrome", "summary": "Patients with Sjögren's syndrome & dry eyes <b>receive</b> stem cellular therapy."},
    {"title": "Heart failure in children", "conditions": "Heart Failure", "summary": "No match here. " * 30,
     "description": ("Background words run on. " * 40) + "Children with heart failure: the trial. " + "More words. " * 40},
    {"title": "Lupus", "summary": "Lupus nephritis. " + "Systemic lupus erythematosus (SLE) is studied; lupus flares are counted. " * 3},
    {"title": "A childhood study", "mesh": "Child\nChild, Preschool\nInfant", "eligibility": "Children aged 2 to 11 years: healthy."},
)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "match"),
    [("sjogren", '"sjogren"'), ("stem cell*", '"stem" AND "cell"*'), ("heart failure", '"heart" AND "failure"'),
     ("child*", '"child"*'), ("lupus", '"lupus"'), ('"lupus nephritis"', '"lupus nephritis"')],
)  # fmt: skip
def test_snippets_match_fts5_on_hard_texts(text: str, match: str) -> None:
    """Accents, prefixes, phrases, a match deep in a long field, sentences, HTML in the text."""
    from trialscope.search.document import FIELDS
    from trialscope.search.match import scored_terms
    from trialscope.search.snippets import match_phrases, snippet_of
    from trialscope.search.syntax import parse_text

    rows = [(i, tuple(row.get(f, "") for f in FIELDS)) for i, row in enumerate(_SNIPPET_ROWS, 1)]
    theirs = _fts5_snippets(rows, match)
    assert theirs
    phrases = match_phrases(scored_terms(parse_text(text)))
    ours = {i: snippet_of(texts, phrases) for i, texts in rows if i in theirs}
    assert ours == theirs


def test_export_csv_streams_every_hit(search_store: object) -> None:
    from trialscope.search.hits import csv_lines, jsonl_lines

    query = SearchQuery(text="breast cancer")
    total = search_trials(search_store, query).total
    rows = list(csv.DictReader(io.StringIO("".join(csv_lines(iter_all_hits(search_store, query))))))
    assert len(rows) == total and rows[0]["url"].startswith("https://clinicaltrials.gov/study/NCT")
    lines = b"".join(jsonl_lines(iter_all_hits(search_store, query))).splitlines()
    assert len(lines) == total


def test_csv_guards_cells_against_spreadsheet_formulas() -> None:
    """The one CSV writer never hands a spreadsheet a formula from registry text."""
    from trialscope.search.hits import SearchHit, csv_lines

    hostile = SearchHit(
        "NCT00000001", '=HYPERLINK("http://evil.example","click")', "COMPLETED", (), None,
        ("@SUM(1+1)", "-cmd|' /C calc'!A0"), None, None, -5, False, 1.5, "", None,
    )  # fmt: skip
    row = next(csv.DictReader(io.StringIO("".join(csv_lines([hostile])))))
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


def test_facets_ignore_their_own_selection(search_store: object) -> None:
    """With Recruiting chosen, the status facet still offers the other statuses and what each adds."""
    results = search_trials(search_store, SearchQuery(statuses=("recruiting",), facets=("status", "phase")))
    every = search_trials(search_store, SearchQuery(facets=("status",)))
    assert results.facets["status"] == every.facets["status"]
    assert {f.value: f.count for f in results.facets["status"]}["RECRUITING"] == results.total
    phases = search_trials(
        search_store, SearchQuery(statuses=("recruiting",), phases=("2",), facets=("phase",))
    )
    assert phases.facets["phase"] == results.facets["phase"]  # phases counted among recruiting trials


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


@pytest.fixture(scope="module")
def oracle(search_store: object) -> object:
    from search_oracle import Oracle

    from trialscope.search import search_reader

    store = search_store
    trials = store.trials_by_id(store.trial_ids())  # type: ignore[attr-defined]
    return Oracle(trials, search_reader(store).synonyms)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=texts,
    kw=filters,
    more=extra,
    facets=st.lists(st.sampled_from(FACETS), min_size=1, max_size=4, unique=True),
)
def test_search_agrees_with_a_plain_python_search(
    search_store: object,
    oracle: object,
    text: str,
    kw: dict[str, object],
    more: dict[str, object],
    facets: list[str],
) -> None:
    """Totals, disjunctive facets, the order of a page and its scores, the next page by cursor."""
    assume(not (kw.get("start_from") and kw.get("start_to") and kw["start_from"] > kw["start_to"]))  # type: ignore[operator]
    assume("within_km" not in more or "near" in more)
    query = SearchQuery(text=text, facets=tuple(facets), limit=10, **kw, **more)  # type: ignore[arg-type]
    got = search_trials(search_store, query)
    want = oracle.search(query)  # type: ignore[attr-defined]
    assert got.total == want.total
    assert {k: {v.value: v.count for v in vs} for k, vs in got.facets.items()} == want.facets
    ids = search_store.ids_of([h.nct_id for h in got.hits])  # type: ignore[attr-defined]
    start = (got.page - 1) * got.limit
    assert [ids[h.nct_id] for h in got.hits] == want.ids[start : start + got.limit]
    if want.scores:
        assert [h.score for h in got.hits] == [round(want.scores[ids[h.nct_id]], 4) for h in got.hits]
    if got.next_cursor:
        after = search_trials(search_store, SearchQuery(**{**query.__dict__, "cursor": got.next_cursor}))
        page2 = search_trials(search_store, SearchQuery(**{**query.__dict__, "page": query.page + 1}))
        assert [h.nct_id for h in after.hits] == [h.nct_id for h in page2.hits]


def test_explain_says_how_the_text_was_read(search_store: object) -> None:
    from trialscope.search import explain_search

    lines = explain_search(search_store, SearchQuery(text="SLE stem*", statuses=("recruiting",)))  # type: ignore[arg-type]
    assert any("phrase 'systemic lupus erythematosus'" in line for line in lines)  # a synonym of SLE
    assert any("phrase 'stem'*" in line for line in lines)
    assert any(line.startswith("filter status") for line in lines)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo:lupus", "Unknown field 'foo:'"),
        ("condition:", "needs a word"),
        ("lupus title: ", "needs a word"),
    ],
)
def test_field_prefixes_are_checked(search_store: object, text: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)) as error:
        search_trials(search_store, SearchQuery(text=text))
    if "Unknown" in message:
        assert "condition:" in str(error.value) and "intervention:" in str(error.value)


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
        search_trials(search_store, SearchQuery(near="Qwxyzzy, France"))
    with pytest.raises(QueryError, match="'Narnia' in 'Paris, Narnia' is neither a country nor a US state"):
        search_trials(search_store, SearchQuery(near="Paris, Narnia"))
    with pytest.raises(QueryError, match="is a country"):
        search_trials(search_store, SearchQuery(near="Belarus"))


def test_a_long_description_is_read_for_its_telling_words(search_store: object) -> None:
    """A patient description never finds nothing because one word is missing, nor fails for its length."""
    topic = (
        "A 24-year-old woman with systemic lupus erythematosus diagnosed three years ago presents with "
        "proteinuria and hematuria; a kidney biopsy shows class IV lupus nephritis. She has failed "
        "mycophenolate and cyclophosphamide and asks about trials of mesenchymal stem cells. zzyzzyx"
    )
    results = search_trials(search_store, SearchQuery(text=topic, limit=10))
    assert results.total > 10 and results.note and results.note.startswith("Read as a description")
    assert "nephritis" in results.note and "zzyzzyx" not in results.note
    assert any("lupus" in h.title.lower() for h in results.hits[:5])
    huge = search_trials(search_store, SearchQuery(text=" ".join([topic] * 600)))  # ~35,000 words
    assert huge.total > 0
    with pytest.raises(QueryError, match="None of the words"):
        search_trials(search_store, SearchQuery(text=" ".join(f"qqword{i}" for i in range(150))))
    words = 'lupus "stem cells" ' + " ".join(f"w{i}" for i in range(120))
    with pytest.raises(QueryError, match="at most 100 are allowed"):  # search syntax: not a description
        search_trials(search_store, SearchQuery(text=words))


def test_a_clinical_note_with_colons_and_brackets_is_read_as_a_description(search_store: object) -> None:
    """A note's "BP: 130/80 (sitting)" or "taken to the OR" is not search syntax: past a few dozen
    words, only quotes or a field prefix make a text a query."""
    note = (
        "Past Medical History: systemic lupus erythematosus (diagnosed 2015), lupus nephritis class IV "
        "on kidney biopsy. Medications: mycophenolate (stopped), prednisone 10 mg daily. Vital signs: "
        "BP: 150/95, HR: 88/min. She was taken to the OR last year for a cholecystectomy. Labs: "
        "creatinine 1.8 mg/dL, proteinuria 3 g/day. She asks about trials of new treatments."
    )
    results = search_trials(search_store, SearchQuery(text=note, limit=10))
    assert results.note and results.note.startswith("Read as a description")
    assert any("lupus" in h.title.lower() for h in results.hits[:5])
    with pytest.raises(QueryError, match="Unknown field 'History:'"):  # a field prefix: read as a query
        search_trials(search_store, SearchQuery(text=note + " condition:lupus"))


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


def test_read_only_store_without_a_search_index_is_indexed_on_first_search(tmp_path: Path) -> None:
    from conftest_search import SEED as SEED_FILE

    from trialscope.ingest import ingest_paths
    from trialscope.store import open_store

    path = tmp_path / "small.db"
    store = open_store(path)
    ingest_paths(store, [SEED_FILE], progress=False)  # no index refresh: as `ingest --no-index`
    store.close()
    readonly = open_store(path, readonly=True)
    results = search_trials(readonly, SearchQuery(text="lupus", facets=("country",)))
    assert [h.nct_id for h in results.hits] == [SEED]
    assert results.facets["country"][0].value == "Belarus"


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
    assert main(["search", "lupus", "--status", "recruiting", "--explain", *db]) == 0
    assert "filter status" in capsys.readouterr().out
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


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(-85, 85),
    lon=st.floats(-180, 180),
    km=st.sampled_from([0.5, 5.0, 50.0, 300.0, 2000.0, 15000.0]),
    seed=st.integers(0, 2**16),
)
def test_near_finds_exactly_the_sites_haversine_puts_inside(
    lat: float, lon: float, km: float, seed: int
) -> None:
    """The dot-product test of near_rows keeps the same sites as measuring each one would,
    sites on the very edge included."""
    import numpy as np

    from trialscope.search.facts import Columns, near_rows, site_distances
    from trialscope.search.geo import EARTH_RADIUS_KM, Place

    rng = np.random.default_rng(seed)
    n = 3000
    # Sites scattered near the place, some on the edge of the circle, some anywhere.
    bearing = rng.uniform(0, 2 * np.pi, n)
    spread = np.concatenate(
        [rng.uniform(0, 2 * km, n // 3), np.full(n // 3, km), rng.uniform(0, 20000, n - 2 * (n // 3))]
    )
    delta = spread / EARTH_RADIUS_KM
    phi1, lam1 = np.radians(lat), np.radians(lon)
    phi2 = np.arcsin(np.sin(phi1) * np.cos(delta) + np.cos(phi1) * np.sin(delta) * np.cos(bearing))
    lam2 = lam1 + np.arctan2(
        np.sin(bearing) * np.sin(delta) * np.cos(phi1), np.cos(delta) - np.sin(phi1) * np.sin(phi2)
    )
    site_lat, site_lon = np.degrees(phi2), (np.degrees(lam2) + 540) % 360 - 180
    order = np.argsort(site_lat, kind="stable")
    cols = Columns.__new__(Columns)
    cols._points = (site_lat[order], site_lon[order], np.arange(n, dtype=np.int64)[order])
    cols._unit = None
    cols._lock = threading.Lock()
    place = Place("here", lat, lon)
    rows, at = near_rows(cols, place, km)
    measured = np.asarray([haversine_km(lat, lon, a, b) for a, b in zip(site_lat, site_lon, strict=True)])
    expected = set(np.flatnonzero(measured <= km * (1 - 1e-9)).tolist())
    found = set(rows.tolist())
    assert expected <= found
    assert all(measured[r] <= km * (1 + 1e-9) for r in found - expected)
    assert np.allclose(site_distances(cols, place, at), measured[rows], atol=1e-6)
