"""The web app in process: every HTML page and JSON route on a store of real records."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from web_fixtures import SEED_ID, parse_page

pytest_plugins = ["web_fixtures"]

SECTION_ORDER = [
    "results",
    "basic",
    "summary",
    "description",
    "conditions",
    "design",
    "groups",
    "interventions",
    "eligibility",
    "sponsors",
    "party",
    "investigators",
    "locations",
    "countries",
    "identifiers",
    "related",
]


def api_search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def results_trial(client: TestClient) -> str:
    """A trial with posted results whose record carries the results tables."""
    hits = api_search(client, has_results="true", limit=50)["hits"]
    for hit in hits:
        page = client.get(f"/api/v1/trials/{hit['nct_id']}").json()["page"]
        results = next(s for s in page["sections"] if s["key"] == "results")
        if any(b["kind"] == "table" for b in _walk(results["blocks"])):
            return str(hit["nct_id"])
    pytest.fail("no trial with results tables among the real records")


def _walk(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for block in blocks:
        out.append(block)
        out += _walk(block.get("blocks", []))
    return out


# --- search page ------------------------------------------------------------------------


def test_front_page_lists_trials_with_facets_and_downloads(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert "<h1>Find clinical trials</h1>" in html
    for legend in ("Recruitment status", "Phase", "Study type", "Country"):
        assert f"<legend>{legend}</legend>" in html
    assert re.search(r'<span class="count">[\d,]+</span>', html)
    assert 'href="/trials/NCT' in html
    assert "/api/v1/search/export?format=csv" in html and "format=jsonl" in html


def test_search_highlights_matches_in_snippets(client: TestClient) -> None:
    html = client.get("/", params={"q": "lupus"}).text
    assert "<mark>" in html.lower()
    assert SEED_ID in html


def test_filter_checkbox_narrows_results_and_stays_checked(client: TestClient) -> None:
    everything = api_search(client, q="cancer")["total"]
    recruiting = api_search(client, q="cancer", status="RECRUITING")
    assert 0 < recruiting["total"] < everything
    assert {h["status"] for h in recruiting["hits"]} == {"RECRUITING"}
    html = client.get("/", params={"q": "cancer", "status": "RECRUITING"}).text
    assert re.search(r'name="status" value="RECRUITING" checked', html)
    assert html.count('class="badge status-recruiting"') == len(re.findall(r'<li class="hit">', html))
    # The filter in use is listed, with a link to the same search without it.
    assert '<a href="/?q=cancer" aria-label="Remove the filter Recruitment status: Recruiting">' in html


def test_pagination_links_move_through_the_results(client: TestClient) -> None:
    first = client.get("/", params={"q": "cancer", "limit": "10"}).text
    assert 'rel="next"' in first and "Showing 1–10 of" in first
    second = client.get("/", params={"q": "cancer", "limit": "10", "page": "2"}).text
    assert "Showing 11–20 of" in second and 'rel="prev"' in second
    ids = lambda html: set(re.findall(r'<span class="nct">(NCT\d{8})</span>', html))
    assert ids(first).isdisjoint(ids(second))
    beyond = client.get("/", params={"q": "cancer", "page": "9999"}).text
    assert "past the last" in beyond and 'href="/?q=cancer"' in beyond


def test_bad_query_is_a_400_with_the_reason(client: TestClient) -> None:
    response = client.get("/", params={"age": "old"})
    assert response.status_code == 400
    assert "Cannot read the age" in response.text and 'role="alert"' in response.text
    api = client.get("/api/v1/search", params={"start_from": "yesterday"})
    assert api.status_code == 400
    assert "date" in api.json()["error"]["message"]


def test_user_text_never_reaches_html_unescaped(client: TestClient) -> None:
    hostile = '"><script>alert(1)</script>'
    response = client.get("/", params={"q": hostile, "condition": hostile})
    assert response.status_code in (200, 400)
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;script" in response.text


def test_sql_like_text_is_only_text(client: TestClient, web_store: Any) -> None:
    before = web_store.count()
    for q in ("'; DROP TABLE trials; --", 'lupus" OR 1=1 --', "NEAR(a b)", "*", '"unbalanced'):
        assert client.get("/", params={"q": q}).status_code in (200, 400)
        assert client.get("/api/v1/search", params={"q": q}).status_code in (200, 400)
    assert web_store.count() == before


def test_export_streams_the_whole_result_set(client: TestClient) -> None:
    total = api_search(client, q="cancer", limit=5)["total"]
    assert total > 5
    response = client.get("/api/v1/search/export", params={"format": "csv", "q": "cancer"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == total
    assert all(re.fullmatch(r"NCT\d{8}", r["nct_id"]) for r in rows)
    jsonl = client.get("/api/v1/search/export", params={"format": "jsonl", "q": "cancer"})
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert len(lines) == total and {r["nct_id"] for r in lines} == {r["nct_id"] for r in rows}
    assert client.get("/api/v1/search/export", params={"format": "xlsx"}).status_code == 400


def test_export_cells_cannot_become_spreadsheet_formulas() -> None:
    from trialscope.search.hits import csv_cell

    assert csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert csv_cell("-12") == "-12" and csv_cell(("a", "b")) == "a; b" and csv_cell(None) == ""


# --- trial page -------------------------------------------------------------------------


def test_trial_page_has_every_section_in_order_with_captions(client: TestClient) -> None:
    response = client.get(f"/trials/{SEED_ID}")
    assert response.status_code == 200
    html = response.text
    positions = [html.index(f'<section id="{key}"') for key in SECTION_ORDER]
    assert positions == sorted(positions)
    assert "Get a concise snapshot of the trial" in html
    assert (
        "<h1>Treatment of Systemic Lupus Erythematosus With Pooled Allogenic Mesenchymal Stem Cells</h1>"
        in html
    )


def test_trial_page_uses_plain_words_and_keeps_raw_codes(client: TestClient) -> None:
    html = client.get(f"/trials/{SEED_ID}").text
    assert "Phase 1 / Phase 2" in html and '<code class="raw">PHASE1/PHASE2</code>' in html
    assert "Non-randomized" in html and '<code class="raw">NON_RANDOMIZED</code>' in html


def test_eligibility_is_two_lists(client: TestClient) -> None:
    html = client.get(f"/trials/{SEED_ID}").text
    block = html[html.index('<div class="eligibility">') :]
    block = block[: block.index("</section>")]
    assert "Inclusion Criteria" in block and "Exclusion Criteria" in block
    assert block.count("<ul>") == 2
    assert "SLE diagnosis" in block and "need for dialysis" in block


def test_trial_page_shows_each_criterion_typed_beside_its_text(client: TestClient) -> None:
    html = client.get("/trials/NCT04184258").text
    assert '<span class="criterion-label">SLEDAI ≥ 6</span>' in html
    assert '<span class="criterion-label">No pregnancy, No breastfeeding</span>' in html
    page = client.get("/api/v1/trials/NCT04184258").json()["page"]
    by_type = {c["type"] for c in page["criteria"]}
    assert {"age", "sex", "lab", "pregnancy", "condition", "administrative"} <= by_type
    sledai = next(c for c in page["criteria"] if c["facts"] and c["facts"][0].get("variable") == "sledai")
    assert (sledai["kind"], sledai["label"]) == ("inclusion", "SLEDAI ≥ 6")


def test_related_trials_are_listed_with_reasons(client: TestClient) -> None:
    html = client.get(f"/trials/{SEED_ID}").text
    related = html[html.index('<section id="related"') :]
    items = re.findall(r'<li class="related"><a href="(/trials/NCT\d{8})">', related)
    assert len(items) >= 3
    assert '<ul class="reasons"><li>' in related
    assert client.get(items[0]).status_code == 200


def test_results_are_tables_with_charts(client: TestClient, results_trial: str) -> None:
    html = client.get(f"/trials/{results_trial}").text
    results = html[html.index('<section id="results"') : html.index('<section id="basic"')]
    assert "<table>" in results and '<th scope="col">' in results
    assert '<svg class="chart" role="img"' in results


def test_near_lists_sites_by_distance(client: TestClient) -> None:
    html = client.get(f"/trials/{SEED_ID}", params={"near": "Warsaw"}).text
    assert "476 km from Warsaw" in html and "nearest first" in html
    # Related trials keep the place, so their pages show distances too.
    assert re.search(r'href="/trials/NCT\d{8}\?near=Warsaw"', html)
    unknown = client.get(f"/trials/{SEED_ID}", params={"near": "Xqzzyville"})
    assert unknown.status_code == 200 and "Xqzzyville" in unknown.text and " km from " not in unknown.text


def test_trial_id_is_canonicalised(client: TestClient) -> None:
    response = client.get(f"/trials/{SEED_ID.lower()}?near=Minsk", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == f"/trials/{SEED_ID}?near=Minsk"


@pytest.mark.parametrize("nct_id", ["NCT99999999", "not-a-trial", "NCT1"])
def test_unknown_trial_is_a_404_that_offers_a_search(client: TestClient, nct_id: str) -> None:
    response = client.get(f"/trials/{nct_id}")
    assert response.status_code == 404
    assert "Trial not found" in response.text
    assert (
        '<form class="search-form" method="get" action="/"' in response.text and 'name="q"' in response.text
    )


def test_unknown_page_is_a_404(client: TestClient) -> None:
    assert client.get("/no/such/page").status_code == 404
    api = client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.json()["error"]["status"] == 404


def test_trial_page_in_other_formats(client: TestClient) -> None:
    text = client.get(f"/trials/{SEED_ID}", params={"format": "text"})
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text.startswith("Treatment of Systemic Lupus") and "NCT ID: NCT04184258" in text.text
    markdown = client.get(f"/trials/{SEED_ID}", params={"format": "markdown"})
    assert "## Basic Information" in markdown.text
    assert client.get(f"/trials/{SEED_ID}", params={"format": "pdf"}).status_code == 400


def test_trial_page_revalidates_with_etag(client: TestClient) -> None:
    first = client.get(f"/trials/{SEED_ID}")
    etag = first.headers["etag"]
    again = client.get(f"/trials/{SEED_ID}", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    other = client.get(f"/trials/{SEED_ID}?near=Minsk", headers={"if-none-match": etag})
    assert other.status_code == 200


# --- statistics -------------------------------------------------------------------------


def test_stats_page_charts_the_registry(client: TestClient) -> None:
    response = client.get("/stats")
    assert response.status_code == 200
    html = response.text
    for title in (
        "Trials by start year",
        "Trials by recruitment status",
        "Trials by phase",
        "Trials by country (top 20)",
        "Trials by lead sponsor class",
    ):
        assert f'aria-label="{title}"' in html
    assert html.count('<svg class="chart"') >= 5
    assert re.search(r'<a href="/\?start_from=\d{4}-01-01&amp;start_to=\d{4}-12-31">\d{4}</a>', html)


def test_stats_of_a_search_count_only_its_trials(client: TestClient) -> None:
    registry = client.get("/api/v1/stats").json()
    lupus = client.get("/api/v1/stats", params={"q": "lupus"}).json()
    assert 0 < lupus["total"] < registry["total"]
    assert sum(v["count"] for v in lupus["facets"]["status"]) == lupus["total"]
    html = client.get("/stats", params={"q": "lupus"}).text
    assert "Statistics of a search" in html and f"<strong>{lupus['total']:,}</strong>" in html
    assert client.get("/stats", params={"enrollment_min": "many"}).status_code == 400


# --- JSON API ---------------------------------------------------------------------------


def test_api_trial_is_the_page_context_and_the_trial(client: TestClient) -> None:
    body = client.get(f"/api/v1/trials/{SEED_ID.lower()}").json()
    assert body["nct_id"] == SEED_ID and body["trial"]["nct_id"] == SEED_ID
    assert [s["key"] for s in body["page"]["sections"]] == SECTION_ORDER
    basic = next(s for s in body["page"]["sections"] if s["key"] == "basic")
    assert {"kind": "field", "label": "Clinical Phase"}.items() <= basic["blocks"][1].items()
    assert body["page"]["related"], "related trials belong to the page context"
    assert client.get("/api/v1/trials/NCT99999999").status_code == 404


def test_api_search_returns_hits_facets_and_links(client: TestClient) -> None:
    body = api_search(client, q="lupus", limit=3, facets="status,phase")
    assert body["total"] >= 3 and len(body["hits"]) == 3
    assert set(body["facets"]) == {"status", "phase"}
    assert body["links"]["next"] and "page=2" in body["links"]["next"]
    hit = body["hits"][0]
    assert hit["url"] == f"https://clinicaltrials.gov/study/{hit['nct_id']}"


def test_api_related_with_filters(client: TestClient) -> None:
    body = client.get(f"/api/v1/trials/{SEED_ID}/related", params={"limit": 5}).json()
    assert 1 <= len(body["related"]) <= 5
    assert all(r["reasons"] for r in body["related"])
    completed = client.get(f"/api/v1/trials/{SEED_ID}/related", params={"status": "COMPLETED"}).json()
    assert all(r["status"] == "COMPLETED" for r in completed["related"])
    assert client.get(f"/api/v1/trials/{SEED_ID}/related", params={"limit": "0"}).status_code == 400
    assert client.get(f"/api/v1/trials/{SEED_ID}/related", params={"has_results": "maybe"}).status_code == 400
    assert client.get("/api/v1/trials/NCT99999999/related").status_code == 404


def test_api_stats_facets(client: TestClient) -> None:
    body = client.get("/api/v1/stats", params={"facets": "phase"}).json()
    assert list(body["facets"]) == ["phase"]
    bad = client.get("/api/v1/stats", params={"facets": "colour"})
    assert bad.status_code == 400 and "colour" in bad.json()["error"]["message"]


def test_openapi_describes_every_api_route(client: TestClient, web_app: Any) -> None:
    spec = client.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    app_paths = {r.path for r in web_app.routes if r.path.startswith("/api/v1")}
    assert app_paths == {p for p in spec["paths"] if p.startswith("/api/v1")}
    search_params = {p["name"] for p in spec["paths"]["/api/v1/search"]["get"]["parameters"]}
    from trialscope.search import FILTERS

    assert {*FILTERS, "q", "sort", "limit", "page", "cursor", "facets"} == search_params
    docs = client.get("/api/docs").text
    for path in spec["paths"]:
        assert path in docs
    assert "<script" not in docs


def test_health(client: TestClient, web_store: Any) -> None:
    assert client.get("/healthz").json() == {
        "status": "ok",
        "trials": web_store.count(),
        "version": client.get("/api/openapi.json").json()["info"]["version"],
    }


# --- headers, safety, accessibility -----------------------------------------------------

PAGES = [
    "/",
    "/?q=lupus",
    f"/trials/{SEED_ID}",
    "/stats",
    "/match",
    "/api/docs",
    "/trials/NCT99999999",
    "/?age=old",
]


@pytest.mark.parametrize(
    "url",
    [
        *PAGES,
        "/api/v1/search?q=x",
        "/api/openapi.json",
        "/healthz",
        "/static/style.css",
        "/api/v1/trials/NCT99999999",
        "/nowhere",
    ],
)
def test_security_headers_on_every_response(client: TestClient, url: str) -> None:
    headers = client.get(url).headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"]


def test_static_assets_are_cached_and_pages_gzipped(client: TestClient) -> None:
    html = client.get("/").text
    css_url = re.search(r'href="(/static/style\.css\?v=[0-9a-f]+)"', html).group(1)  # type: ignore[union-attr]
    css = client.get(css_url)
    assert "immutable" in css.headers["cache-control"] and "max-age=31536000" in css.headers["cache-control"]
    raw = client.get(f"/trials/{SEED_ID}", headers={"accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    plain = client.get(f"/trials/{SEED_ID}", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and len(plain.content) > 3 * int(
        raw.headers["content-length"]
    )
    assert gzip.decompress(gzip.compress(plain.content))  # the body itself is whole HTML


@pytest.mark.parametrize("url", PAGES)
def test_pages_are_accessible_and_script_free(client: TestClient, url: str) -> None:
    html = client.get(url).text
    page = parse_page(html)
    assert page.html_lang == "en"
    assert 'class="skip-link" href="#main"' in html and 'id="main"' in html
    assert page.headings and page.headings[0] == 1 and page.headings.count(1) == 1
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, f"heading h{before} is followed by h{after} on {url}"
    for attrs in page.inputs:
        if attrs.get("type") in ("hidden", "submit"):
            continue
        assert attrs.get("id") in page.label_for, f"input {attrs} has no label on {url}"
    assert not any(tag == "script" for tag, _ in page.tags)
    assert not any("style" in attrs or any(k.startswith("on") for k in attrs) for _, attrs in page.tags)


def test_print_styles_and_focus_styles_exist(client: TestClient) -> None:
    css = client.get("/static/style.css").text
    assert "@media print" in css and ":focus-visible" in css and ".skip-link:focus" in css


# --- untrusted records, empty stores, the command ---------------------------------------


def test_script_in_a_record_renders_as_text(tmp_path: Path) -> None:
    from web_fixtures import hostile_record, ingest_into

    from trialscope.store import open_store
    from trialscope.web import create_app

    db = ingest_into(tmp_path / "hostile.db", (hostile_record(tmp_path),))
    store = open_store(db, readonly=True)
    with TestClient(create_app(db, store)) as test_client:
        html = test_client.get("/trials/NCT09999991").text
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x" not in html and "&lt;img src=x onerror=" in html
        assert "<svg onload" not in html
        found = test_client.get("/", params={"q": "xylophonic"}).text
        assert "NCT09999991" in found
        assert "<script>alert(1)" not in found and "<img src=x" not in found
        api = test_client.get("/api/v1/trials/NCT09999991").json()
        assert api["trial"]["brief_summary"].startswith("Before <script>")  # JSON keeps the text as text
    store.close()


def test_empty_store_shows_how_to_load_records(tmp_path: Path) -> None:
    from trialscope.web import create_app

    app = create_app(tmp_path / "nothing-yet.db")
    with TestClient(app) as test_client:
        page = test_client.get("/")
        assert page.status_code == 200 and "trialscope ingest PATH" in page.text
        assert str(tmp_path / "nothing-yet.db") in page.text
        assert test_client.get("/stats").status_code == 200
        assert test_client.get(f"/trials/{SEED_ID}").status_code == 404
        api = test_client.get("/api/v1/search")
        assert api.status_code == 503 and "trialscope ingest" in api.json()["error"]["message"]
        assert test_client.get("/healthz").json()["status"] == "empty"


def test_server_notices_a_store_loaded_after_it_started(tmp_path: Path) -> None:
    from conftest import SEED
    from web_fixtures import ingest_into

    from trialscope.web import create_app

    db = tmp_path / "later.db"
    app = create_app(db)
    app.state.stores.RETRY_S = 0.0
    with TestClient(app) as test_client:
        assert "trialscope ingest" in test_client.get("/").text
        ingest_into(db, (SEED / "NCT04184258.json",))
        assert test_client.get(f"/trials/{SEED_ID}").status_code == 200


def test_serve_command_is_registered() -> None:
    from trialscope.cli import build_parser

    args = build_parser().parse_args(["serve", "--port", "9001", "--workers", "2", "--db", "x.db"])
    assert args.port == 9001 and args.workers == 2 and args.db == "x.db"


def test_repeated_searches_come_from_the_cache(client: TestClient, web_app: Any) -> None:
    cache = web_app.state.search_cache
    first = client.get("/", params={"q": "bronchiolitis"}).text
    hits = cache.hits
    again = client.get("/", params={"q": "bronchiolitis"}).text
    assert cache.hits == hits + 1
    strip = lambda html: re.sub(r"\(\d+ ms\)", "", html)
    assert strip(first) == strip(again)


def test_settings_come_from_the_environment_in_worker_processes() -> None:
    from trialscope.errors import TrialScopeError
    from trialscope.web.app import WebSettings

    env = {"TRIALSCOPE_DB": "/x/trials.db", "TRIALSCOPE_QUERY_TIMEOUT": "2.5", "TRIALSCOPE_SEARCH_CACHE": "0"}
    assert WebSettings.from_env(env) == WebSettings(db="/x/trials.db", query_timeout=2.5, search_cache=0)
    with pytest.raises(TrialScopeError, match="TRIALSCOPE_SEARCH_CACHE"):
        WebSettings.from_env({**env, "TRIALSCOPE_SEARCH_CACHE": "lots"})


def test_serve_with_two_workers_answers_concurrent_requests(web_store_path: Path, web_store: Any) -> None:
    """`trialscope serve --workers 2` builds each worker's app from the factory and the environment,
    and answers many requests at once: each request thread reads through its own connection."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "trialscope", "serve", "--db", str(web_store_path), "--port", str(port)]
    process = subprocess.Popen([*command, "--workers", "2", "--no-access-log", "--log-level", "warning"])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/trials/{SEED_ID}", timeout=5
                ) as response:
                    assert response.status == 200 and b"Pooled Allogenic" in response.read()
                    break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
                time.sleep(0.2)
        ids = web_store.nct_ids()[:150]
        paths = [f"/trials/{nct_id}" for nct_id in ids] + [f"/?q=cancer&page={n}" for n in range(1, 11)]

        def status(path: str) -> int:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as response:
                return int(response.status)

        with ThreadPoolExecutor(24) as pool:
            statuses = list(pool.map(status, paths * 2))
        assert statuses == [200] * len(statuses)
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_an_unexpected_error_is_a_500_page_with_the_same_headers(
    web_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialscope.web import common

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(common, "build_page", broken)
    with TestClient(web_app, raise_server_exceptions=False) as test_client:
        page = test_client.get(f"/trials/{SEED_ID}")
        assert page.status_code == 500 and "Something went wrong" in page.text and "boom" not in page.text
        assert page.headers["x-frame-options"] == "DENY" and 'class="skip-link"' in page.text
        api_error = test_client.get(f"/api/v1/trials/{SEED_ID}")
        assert api_error.status_code == 500 and api_error.json()["error"]["status"] == 500


def test_facet_counts_are_counted_once_per_set_of_filters(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialscope.web import common

    asked: list[tuple[int, tuple[str, ...]]] = []
    real = common.search_trials

    def spy(store: Any, query: Any, **kwargs: Any) -> Any:
        asked.append((query.page, query.facets))
        return real(store, query, **kwargs)

    monkeypatch.setattr(common, "search_trials", spy)
    first = client.get("/", params={"q": "pneumonia", "limit": "10"}).text
    second = client.get("/", params={"q": "pneumonia", "limit": "10", "page": "2"}).text
    client.get("/", params={"q": "pneumonia", "limit": "10"})
    assert [page for page, _ in asked] == [1, 2]
    assert asked[0][1] and asked[1][1] == ()
    counts = lambda html: re.findall(r'<span class="count">([\d,]+)</span>', html)
    assert counts(first) == counts(second) and counts(first)


def test_closing_the_stores_waits_for_a_thread_reading_through_one(web_store_path: Path) -> None:
    """At shutdown the start-up thread warming search may still be reading: closing its
    connection under a running statement would crash the server, so close waits for it."""
    import threading
    import time

    from trialscope.web.stores import StoreHolder, lock_of

    holder = StoreHolder(str(web_store_path))
    store = holder.search_store()
    assert store is not None
    counted: list[int] = []
    holding = threading.Event()

    def read_slowly() -> None:
        with lock_of(store):
            holding.set()
            time.sleep(0.3)
            counted.append(store.conn.execute("SELECT count(*) FROM trials").fetchone()[0])

    reader = threading.Thread(target=read_slowly)
    reader.start()
    assert holding.wait(5)
    started = time.monotonic()
    holder.close()
    assert time.monotonic() - started >= 0.2  # it waited for the reader
    reader.join()
    assert counted and counted[0] > 0
