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
from trialscope.search.query import SearchQuery, normalize_query
from trialscope.search.synonyms import (
    Synonym,
    SynonymTable,
    acronym_evidence,
    choose_synonyms,
    initials_match,
    is_abbreviation,
)
from trialscope.search.syntax import AllOf, AnyOf, Negated, Node, Term, parse_text, tokenize
from trialscope.search.values import date_upper_bound, parse_age_years


@pytest.mark.parametrize(
    "module",
    ["query", "syntax", "synonyms", "geo", "values", "filters", "postings", "match", "rank", "snippets", "hits",
     "index", "engine", "facts", "document"],
)  # fmt: skip
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"trialscope.search.{module}"))
    assert result.failed == 0


def show(node: Node | None, expand: object = None) -> str | None:
    """A tree written out compactly: words quoted, fields before a colon, groups in brackets."""
    if node is None:
        return None
    if isinstance(node, Term):
        alternatives = (node, *(expand(node) if callable(expand) else ()))
        out = []
        for t in alternatives:
            body = '"' + " ".join(t.tokens) + '"' + ("*" if t.prefix else "")
            out.append(f"({' '.join(t.columns)} : {body})" if t.columns else body)
        return out[0] if len(out) == 1 else "(" + " OR ".join(out) + ")"
    if isinstance(node, Negated):
        return "NOT " + str(show(node.item, expand))
    if isinstance(node, AnyOf):
        return "(" + " OR ".join(str(show(i, expand)) for i in node.items) + ")"
    return "(" + " AND ".join(str(show(i, expand)) for i in node.items) + ")"


# --- text -------------------------------------------------------------------------


def test_words_are_anded_and_or_binds_tighter() -> None:
    node = parse_text("lupus OR sle nephritis")
    assert isinstance(node, AllOf) and isinstance(node.items[0], AnyOf)
    assert show(node) == '(("lupus" OR "sle") AND "nephritis")'


def test_phrases_prefixes_fields_and_hyphens() -> None:
    assert show(parse_text('"stem cells"')) == '"stem cells"'
    assert show(parse_text("immuno*")) == '"immuno"*'
    assert show(parse_text("a*")) == '"a"'  # a one-letter prefix would read the whole index
    assert show(parse_text("COVID-19")) == '"covid 19"'
    assert show(parse_text("sponsor:(pfizer OR merck)")) == '((sponsors : "pfizer") OR (sponsors : "merck"))'
    assert show(parse_text("title: lupus")) == '(title : "lupus")'
    assert show(parse_text("http://x.org")) == '"http x org"'


def test_unknown_or_empty_field_prefixes_are_errors() -> None:
    with pytest.raises(QueryError, match="Unknown field 'foo:'.*condition:"):
        parse_text("foo:lupus")
    for text in ("condition:", "(title:)", "title: OR x"):
        with pytest.raises(QueryError, match="needs a word"):
            parse_text(text)
    assert show(parse_text('"foo:lupus"')) == '"foo lupus"'  # quoted, it is only words


def test_negation_forms() -> None:
    assert (
        show(parse_text('lupus NOT placebo -"open label"'))
        == '("lupus" AND NOT "placebo" AND NOT "open label")'
    )
    assert show(parse_text("-placebo -sham")) == '(NOT "placebo" AND NOT "sham")'
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
        parse_text(text)
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
    assert show(parse_text("SLE nephritis"), table.expand) == (
        '(("sle" OR (mesh : "lupus erythematosus systemic")) AND "nephritis")'
    )


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
    from trialscope.search.engine import decode_cursor, encode_cursor

    query = normalize_query(SearchQuery(text="lupus", sort="enrollment"))
    token = encode_cursor(query, 120, 42)
    assert decode_cursor(SearchQuery(**{**query.__dict__, "cursor": token, "limit": 50})) == (120, 42)
    with pytest.raises(QueryError):
        decode_cursor(SearchQuery(**{**query.__dict__, "cursor": token, "sort": "start_date"}))


def test_text_of_a_page_says_one_trial_and_where_distances_are_from() -> None:
    from trialscope.cli.search import plain_snippet, write_results_text
    from trialscope.search import SearchResults
    from trialscope.search.hits import FacetValue, PlaceUsed, SearchHit

    hit = SearchHit("NCT04184258", "Treatment of SLE", "COMPLETED", ("PHASE1", "PHASE2"), "INTERVENTIONAL",
                    ("Systemic Lupus Erythematosus",), "2021-01-22", "2019-07-01", 1, False, 7.29,
                    "Systemic <mark>Lupus</mark> &amp; stem cells", 0.0)  # fmt: skip
    place = PlaceUsed("Minsk", "BY", 53.9, 27.5667, 100.0)
    results = SearchResults(SearchQuery(text="lupus"), 1, (hit,), {"status": (FacetValue("COMPLETED", 1),)},
                            1, 20, None, 3.0, place)  # fmt: skip
    out = io.StringIO()
    write_results_text(results, out)
    text = out.getvalue()
    assert "1 trial found" in text and "NCT04184258" in text and "COMPLETED" in text
    assert "1 participant " in text and "PHASE1/PHASE2" in text
    assert "Distances from Minsk, BY (53.9000, 27.5667), within 100 km" in text
    assert plain_snippet(hit.snippet) == "Systemic *Lupus* & stem cells"


def test_a_page_past_the_end_says_so() -> None:
    from trialscope.cli.search import write_results_text
    from trialscope.search import SearchResults

    results = SearchResults(SearchQuery(text="lupus", page=99999), 184, (), {}, 99999, 20, None, 1.0)
    out = io.StringIO()
    write_results_text(results, out)
    assert "page 99,999 is past the end: there are 10 pages of 20" in out.getvalue()
