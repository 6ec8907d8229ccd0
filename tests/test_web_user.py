"""What a new user hit on the web, each as a test: errors that name the form's fields, facets
that combine, unknown codes shown as such, plain words, "Not provided", singular counts, the
statistics the CLI shows, and one name per country."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED
from starlette.testclient import TestClient
from web_fixtures import SEED_ID, ingest_into

pytest_plugins = ["web_fixtures"]

FIRE_ID, KOREA_ID = "NCT09999992", "NCT09999993"


def _variant(folder: Path, nct_id: str, change: Any) -> Path:
    record = json.loads((SEED / "NCT04184258.json").read_text())
    record["protocolSection"]["identificationModule"]["nctId"] = nct_id
    change(record["protocolSection"])
    path = folder / f"{nct_id}.json"
    path.write_text(json.dumps(record))
    return path


def _on_fire(protocol: dict[str, Any]) -> None:
    protocol["statusModule"]["overallStatus"] = "ON_FIRE"
    protocol["designModule"]["phases"] = ["PHASE7"]


def _in_korea(protocol: dict[str, Any]) -> None:
    for site in protocol["contactsLocationsModule"]["locations"]:
        site["country"] = "Korea, Republic of"
        site.pop("geoPoint", None)


@pytest.fixture(scope="module")
def odd_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A store of the seed and two variants: codes outside the vocabulary, a country spelled
    the old way."""
    from trialscope.store import open_store
    from trialscope.web import create_app

    folder = tmp_path_factory.mktemp("odd")
    sources = (
        SEED / "NCT04184258.json",
        _variant(folder, FIRE_ID, _on_fire),
        _variant(folder, KOREA_ID, _in_korea),
    )
    db = ingest_into(folder / "odd.db", sources)
    store = open_store(db, readonly=True)
    with TestClient(create_app(db, store)) as test_client:
        yield test_client
    store.close()


def _fieldset(html: str, facet: str) -> str:
    part = html[html.index(f'id="facet-{facet}"') :]
    return part[: part.index("</fieldset>")]


# --- (6) errors name the form's fields -----------------------------------------------------

DISTANCE_ERROR = "A distance (Within) needs a place to measure from (Near)."


def test_errors_name_the_forms_fields_not_command_line_flags(client: TestClient) -> None:
    page = client.get("/", params={"q": "lupus", "within": "500km"})
    assert page.status_code == 400 and DISTANCE_ERROR in page.text
    # The sentence names fields the form shows under those labels.
    assert (
        '<label for="f-within">Within</label>' in page.text
        and '<label for="f-near">Near</label>' in page.text
    )
    api = client.get("/api/v1/search", params={"within": "500km"})
    assert api.status_code == 400
    assert api.json()["error"] == {"status": 400, "message": DISTANCE_ERROR, "parameters": ["within", "near"]}
    stats = client.get("/stats", params={"enrollment_min": "50", "enrollment_max": "10"})
    assert (
        stats.status_code == 400
        and "(Enrollment at least)" in stats.text
        and "(Enrollment at most)" in stats.text
    )
    for text in (page.text, api.text, stats.text):
        assert "--within" not in text and "--enrollment" not in text


# --- (8) facets that combine ---------------------------------------------------------------


def test_a_chosen_status_still_lists_the_others_with_their_counts(client: TestClient) -> None:
    one = client.get(
        "/api/v1/search", params={"q": "cancer", "status": "RECRUITING", "facets": "status"}
    ).json()
    counts = {f["value"]: f["count"] for f in one["facets"]["status"]}
    assert counts["RECRUITING"] == one["total"] and len(counts) > 3
    both = client.get(
        "/api/v1/search", params={"q": "cancer", "status": ["RECRUITING", "NOT_YET_RECRUITING"]}
    )
    assert both.json()["total"] == counts["RECRUITING"] + counts["NOT_YET_RECRUITING"]
    fieldset = _fieldset(client.get("/", params={"q": "cancer", "status": "RECRUITING"}).text, "status")
    assert re.search(r'value="RECRUITING" checked>', fieldset)
    other = re.search(
        r'value="NOT_YET_RECRUITING">\s*<label for="[^"]+">Not yet recruiting <span class="count">([\d,]+)<',
        fieldset,
    )
    assert other and int(other.group(1).replace(",", "")) == counts["NOT_YET_RECRUITING"]


# --- (12) codes outside the vocabulary -----------------------------------------------------


def test_unknown_codes_are_shown_as_unknown_values_everywhere(odd_client: TestClient) -> None:
    trial = odd_client.get(f"/trials/{FIRE_ID}").text
    assert "Unknown value (ON_FIRE)" in trial and "Unknown value (PHASE7)" in trial
    search = odd_client.get("/").text
    status = _fieldset(search, "status")
    assert "Unknown value (ON_FIRE)" in status
    assert 'value="ON_FIRE"' not in status, "a value search refuses offers no box to tick"
    assert "Unknown value (ON_FIRE)" in search and ">On fire<" not in search
    stats = odd_client.get("/stats").text
    assert re.search(r'<th scope="row">Unknown value \(ON_FIRE\)</th><td class="num">1</td>', stats)
    api = odd_client.get("/api/v1/stats", params={"facets": "status"}).json()
    assert {"value": "ON_FIRE", "count": 1, "label": "Unknown value (ON_FIRE)"} in api["facets"]["status"]


# --- (14) plain words, (15) Not provided ---------------------------------------------------


def test_the_web_page_says_codes_in_words(client: TestClient) -> None:
    html = client.get(f"/trials/{SEED_ID}").text
    sponsors = html[html.index('<section id="sponsors"') : html.index('<section id="party"')]
    assert (
        "Other organization (university, hospital, foundation)" in sponsors and "<p>OTHER</p>" not in sponsors
    )
    related = html[html.index('<section id="related"') :]
    assert not re.search(r">[^<]*\b(PHASE\d|EARLY_PHASE1|NOT_YET_RECRUITING)\b[^<]*<", related)
    # The text format keeps the registry's codes, as the reference page does.
    assert "\n\nOTHER\n\n" in client.get(f"/trials/{SEED_ID}", params={"format": "text"}).text


def test_no_field_is_left_as_a_bare_label(client: TestClient, web_store: Any) -> None:
    for nct_id in web_store.nct_ids()[:40]:
        html = client.get(f"/trials/{nct_id}").text
        assert not re.search(r"<dd>\s*</dd>", html), nct_id
        assert not re.search(r'<span class="label">[^<]*</span>:?\s*</p>', html), nct_id
    seed = client.get(f"/trials/{SEED_ID}").text
    description = seed[seed.index('<section id="description"') : seed.index('<section id="conditions"')]
    assert "Not provided." in description


# --- (16) one trial, not "1 trials" ---------------------------------------------------------

ONE_PLURAL = re.compile(r"(?<![\d,.])1 (trials|results|participants|sites|records|values)\b")


def test_one_is_singular_on_every_page(client: TestClient) -> None:
    one = {"nct": SEED_ID}
    search = client.get("/", params=one).text
    assert "<strong>1</strong> trial found" in search
    stats = client.get("/stats", params=one).text
    assert "<strong>1</strong> trial matches this search" in stats
    for html in (search, stats, client.get(f"/trials/{SEED_ID}").text):
        assert not ONE_PLURAL.search(re.sub(r"<[^>]+>", "", html))


# --- (18) the statistics the CLI shows ------------------------------------------------------


def test_stats_show_trials_without_a_phase_and_summary_only_records(
    client: TestClient, web_store: Any
) -> None:
    counts = web_store.stats()
    none = counts.by_phase["(none)"]
    html = client.get("/stats").text
    assert f'<th scope="row">No phase given</th><td class="num">{none:,}</td>' in html
    assert f"{counts.summary_only:,} summary-only record" in html
    api = client.get("/api/v1/stats").json()
    assert api["without_phase"] == none and api["summary_only"] == counts.summary_only
    # Like the phase facet, the count ignores the search's own phase filter.
    lupus = client.get("/api/v1/stats", params={"q": "cancer"}).json()
    phased = client.get("/api/v1/stats", params={"q": "cancer", "phase": "PHASE2"}).json()
    assert 0 < lupus["without_phase"] == phased["without_phase"] and phased["summary_only"] is None
    # Chart numbers have thousands separators (the years of the start-year axis are years).
    svgs = "".join(re.findall(r"<svg.*?</svg>", html, flags=re.DOTALL))
    assert re.search(r">\d{1,3}(,\d{3})+<", svgs) and not re.search(r">(?!(19|20)\d\d<)\d{4,}<", svgs)


# --- (20) one name per country --------------------------------------------------------------


def test_one_name_per_country_on_pages_facets_and_filters(odd_client: TestClient) -> None:
    trial = odd_client.get(f"/trials/{KOREA_ID}").text
    assert "South Korea" in trial and "Korea, Republic of" not in trial
    search = odd_client.get("/", params={"country": "Korea, Republic of"})
    assert KOREA_ID in search.text
    assert "Country: South Korea" in search.text and "Korea, Republic of</" not in search.text
    assert "South Korea" in _fieldset(search.text, "country")


def test_related_trials_name_countries_one_way(client: TestClient) -> None:
    from trialscope.search.geo import canonical_country

    related = client.get(f"/api/v1/trials/{SEED_ID}/related", params={"limit": 20}).json()["related"]
    countries = [c for r in related for c in r["countries"]]
    assert countries and all(canonical_country(c) == c for c in countries)
