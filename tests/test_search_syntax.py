"""Search's pure parts, without a store: text syntax, synonyms, places, query checks, cursors."""

from __future__ import annotations

import doctest
import importlib
import io
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trialscope.errors import QueryError
from trialscope.search.geo import bounding_box, canonical_country, country_code, haversine_km, locate_place
from trialscope.search.query import SearchQuery, date_upper_bound, normalize_query, parse_age_years
from trialscope.search.synonyms import (
    Synonym,
    SynonymTable,
    acronym_evidence,
    choose_synonyms,
    initials_match,
    is_abbreviation,
)
from trialscope.search.text import AllOf, AnyOf, Negated, Term, compile_match, parse_text, tokenize


@pytest.mark.parametrize(
    "module",
    ["query", "text", "synonyms", "geo", "sql", "index", "run", "export"],
)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"trialscope.search.{module}"))
    assert result.failed == 0


# --- text -------------------------------------------------------------------------


def test_words_are_anded_and_or_binds_tighter() -> None:
    node = parse_text("lupus OR sle nephritis")
    assert isinstance(node, AllOf) and isinstance(node.items[0], AnyOf)
    assert compile_match(node).match == '(("lupus" OR "sle") AND "nephritis")'


def test_phrases_prefixes_fields_and_hyphens() -> None:
    assert compile_match(parse_text('"stem cells"')).match == '"stem cells"'
    assert compile_match(parse_text("immuno*")).match == '"immuno"*'
    assert compile_match(parse_text("a*")).match == '"a"'  # a one-letter prefix would read the whole index
    assert compile_match(parse_text("COVID-19")).match == '"covid 19"'
    assert compile_match(parse_text("sponsor:(pfizer OR merck)")).match == (
        '((sponsors : "pfizer") OR (sponsors : "merck"))'
    )
    assert compile_match(parse_text("title: lupus")).match == '(title : "lupus")'
    assert compile_match(parse_text("http://x.org")).match == '"http x org"'


def test_negation_forms() -> None:
    assert compile_match(parse_text('lupus NOT placebo -"open label"')).match == (
        '"lupus" NOT ("placebo" OR "open label")'
    )
    only = compile_match(parse_text("-placebo -sham"))
    assert only.match is None and only.exclude == '("placebo" OR "sham")'
    assert isinstance(parse_text("-x"), Negated)
    with pytest.raises(QueryError):
        parse_text("(a OR -b)")


def test_limits() -> None:
    with pytest.raises(QueryError, match="nests parentheses"):
        parse_text("(" * 40 + "x")
    with pytest.raises(QueryError, match="at most 100"):
        parse_text(" ".join(f"w{i}" for i in range(101)))
    assert parse_text("   ") is None and parse_text("OR AND") is None


@given(st.text(max_size=100))
def test_parser_never_raises_anything_but_query_error(text: str) -> None:
    try:
        compile_match(parse_text(text))
    except QueryError:
        pass


def test_tokenize_matches_unicode61() -> None:
    assert tokenize("Crohn's disease, 5-FU; naïve_T") == ("crohn", "s", "disease", "5", "fu", "naïve", "t")


# --- synonyms -----------------------------------------------------------------------


def test_abbreviations_and_initials() -> None:
    assert is_abbreviation("NSCLC") and is_abbreviation("T2DM") and not is_abbreviation("Lupus")
    assert not is_abbreviation("III") and not is_abbreviation("2019")
    words = ["advanced", "non", "small", "cell", "lung", "cancer"]
    assert initials_match("NSCLC", words) == ["non", "small", "cell", "lung", "cancer"]
    assert initials_match("COPD", ["chronic", "obstructive", "pulmonary", "disease"]) is not None
    assert initials_match("AML", ["acute", "lymphoblastic", "leukemia"]) is None


def test_evidence_from_conditions_titles_and_mesh() -> None:
    found = acronym_evidence(
        ["COPD"],
        ["Inhaled Therapy in Chronic Obstructive Pulmonary Disease (COPD)"],
        ["Pulmonary Disease, Chronic Obstructive"],
    )
    kinds = {(e.expansion, e.columns, e.kind) for e in found}
    assert ("chronic obstructive pulmonary disease", "", "paren") in kinds
    assert ("pulmonary disease chronic obstructive", "mesh", "mesh") in kinds


def test_cooccurrence_needs_support_unless_spelled() -> None:
    counts = [
        ("HIV", "hiv infections", "mesh", "cooc", 6),
        ("HIV", "hypertension", "mesh", "cooc", 1),
        ("SLE", "lupus nephritis", "mesh", "cooc", 3),
    ]
    chosen = {(s.abbr, s.expansion) for s in choose_synonyms(counts, {"HIV": 8, "SLE": 10})}
    assert chosen == {("HIV", "hiv infections")}


def test_lower_case_everyday_words_are_not_expanded() -> None:
    table = SynonymTable(
        [
            Synonym("ALL", "acute lymphoblastic leukemia", "", 6, "paren"),
            Synonym("SLE", "lupus erythematosus systemic", "mesh", 2, "mesh"),
        ]
    )
    assert table.expand(Term(("all",), written="all")) == ()
    assert table.expand(Term(("all",), written="ALL"))[0].tokens == ("acute", "lymphoblastic", "leukemia")
    sle = table.expand(Term(("sle",), written="sle"))
    assert sle and sle[0].columns == ("mesh",)
    assert table.expand(Term(("sle",), written="SLE", quoted=True)) == ()  # a phrase is taken as written
    within = table.expand(Term(("sle",), written="SLE", columns=("conditions", "mesh")))
    assert within[0].columns == ("mesh",)
    match = compile_match(parse_text("SLE nephritis"), table.expand).match
    assert match == '(("sle" OR (mesh : "lupus erythematosus systemic")) AND "nephritis")'


# --- places -------------------------------------------------------------------------


def test_countries_have_one_name() -> None:
    assert canonical_country("Korea, Republic of") == canonical_country("South Korea") == "South Korea"
    assert canonical_country("Turkey") == canonical_country("Turkey (Türkiye)")
    assert canonical_country("Netherlands") == canonical_country("The Netherlands") == "Netherlands"
    assert country_code("usa") == "US" and country_code("Narnia") is None


def test_places_people_type() -> None:
    minsk = locate_place("Minsk, Belarus")
    assert round(minsk.lat) == 54 and minsk.country_code == "BY"
    assert locate_place("Boston, MA").country_code == "US"
    assert locate_place("Indianapolis, IN").country_code == "US"
    assert locate_place("Mumbai, IN").country_code == "IN"
    assert locate_place("-33.87,151.21").lat == -33.87
    with pytest.raises(QueryError):
        locate_place("95,10")
    with pytest.raises(QueryError, match="is a country"):
        locate_place("France")


@given(
    lat=st.floats(-80, 80),
    lon=st.floats(-170, 170),
    km=st.floats(1, 2000),
    u=st.floats(-1, 1),
    v=st.floats(-1, 1),
)
def test_inner_box_lies_inside_the_circle(lat: float, lon: float, km: float, u: float, v: float) -> None:
    from trialscope.search.geo import inner_box

    box = inner_box(lat, lon, km)
    if box is None:
        return
    lat_min, lat_max, lon_min, lon_max = box
    point_lat = lat + u * (lat_max - lat) if u >= 0 else lat + u * (lat - lat_min)
    point_lon = lon + v * (lon_max - lon) if v >= 0 else lon + v * (lon - lon_min)
    assert haversine_km(lat, lon, point_lat, point_lon) <= km * (1 + 1e-9)


def test_bounding_box_holds_the_circle() -> None:
    lat_min, lat_max, lon_min, lon_max = bounding_box(60.0, 10.0, 500)
    assert lon_min is not None and lon_max is not None
    for bearing in range(0, 360, 15):
        # a point 499 km away in each direction lies inside the box
        d = 499 / 6371.0088
        b = math.radians(bearing)
        lat1, lon1 = math.radians(60.0), math.radians(10.0)
        lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(b))
        lon2 = lon1 + math.atan2(
            math.sin(b) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2)
        )
        lat_deg, lon_deg = math.degrees(lat2), math.degrees(lon2)
        assert haversine_km(60.0, 10.0, lat_deg, lon_deg) == pytest.approx(499, rel=1e-6)
        assert lat_min <= lat_deg <= lat_max and lon_min <= lon_deg <= lon_max
    assert bounding_box(0.0, 179.5, 200)[2] is None  # across the antimeridian: latitude only
    assert bounding_box(89.0, 0.0, 300)[2] is None  # over the pole


# --- query checks and cursors ---------------------------------------------------------


def test_dates_ages_and_distances() -> None:
    assert date_upper_bound("2021-12") == ("2022-01", False)
    assert parse_age_years("6 months") == 0.5 and parse_age_years("3 weeks") == pytest.approx(21 / 365.25)
    q = normalize_query(SearchQuery(near="Minsk", within_km="300 mi"))  # type: ignore[arg-type]
    assert q.within_km == pytest.approx(482.8032)
    assert normalize_query(SearchQuery(near="Minsk")).within_km == 100.0
    assert normalize_query(SearchQuery(statuses="recruiting,completed")).statuses == (
        "RECRUITING",
        "COMPLETED",
    )  # type: ignore[arg-type]
    assert normalize_query(SearchQuery(countries=("Korea, Republic of", "France,Spain"))).countries == (
        "Korea, Republic of",
        "France",
        "Spain",
    )


def test_cursor_round_trip() -> None:
    from trialscope.search.run import decode_cursor, encode_cursor

    query = normalize_query(SearchQuery(text="lupus", sort="enrollment"))
    token = encode_cursor(query, 120, 42)
    assert decode_cursor(SearchQuery(**{**query.__dict__, "cursor": token, "limit": 50})) == (120, 42)
    with pytest.raises(QueryError):
        decode_cursor(SearchQuery(**{**query.__dict__, "cursor": token, "sort": "start_date"}))


def test_text_export_of_a_page() -> None:
    from trialscope.search.export import plain_snippet, write_results_text
    from trialscope.search.run import FacetValue, SearchHit, SearchResults

    hit = SearchHit("NCT04184258", "Treatment of SLE", "COMPLETED", "PHASE1/PHASE2", "INTERVENTIONAL",
                    ("Systemic Lupus Erythematosus",), "2021-01-22", "2019-07-01", 7, False, 7.29,
                    "Systemic <mark>Lupus</mark> &amp; stem cells", 0.0)  # fmt: skip
    results = SearchResults(SearchQuery(text="lupus"), 1, (hit,), {"status": (FacetValue("COMPLETED", 1),)},
                            1, 20, None, 3.0)  # fmt: skip
    out = io.StringIO()
    write_results_text(results, out)
    text = out.getvalue()
    assert "1 trials found" in text and "NCT04184258" in text and "COMPLETED" in text
    assert plain_snippet(hit.snippet) == "Systemic *Lupus* & stem cells"
