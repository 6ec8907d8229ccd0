"""A real server and a real browser: `trialscope serve` on a free loopback port, headless Chromium.

The browser is Debian's chromium driven by Playwright (no browser download). It searches,
applies a filter, opens a trial, checks its sections and related trials, opens the
statistics charts, and saves screenshots to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_fixtures import SEED_ID

pytest_plugins = ["web_fixtures"]

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("TRIALSCOPE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
SECTION_TITLES = [
    "Study Results",
    "Basic Information",
    "Brief Summary",
    "Detailed Description",
    "Conditions",
    "Study Design",
    "Study Groups",
    "Interventions",
    "Eligibility Criteria",
    "Sponsors",
    "Responsible Party",
    "Principal Investigators",
    "Locations",
    "Countries",
    "Other Identifiers",
    "More Related Trials",
    "Record History",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(web_store_path: Path) -> Iterator[str]:
    """`trialscope serve` in a subprocess, on a free loopback port."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trialscope",
            "serve",
            "--db",
            str(web_store_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    if json.load(response)["trials"] > 0:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    output = (ARTIFACTS / "server.log").read_text()
                    pytest.fail(f"trialscope serve did not start:\n{output}")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records console errors (a CSP violation is one) and script errors."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.problems = []
    tab.on("console", lambda message: tab.problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: tab.problems.append(str(error)))
    yield tab
    problems = list(tab.problems)
    context.close()
    assert not problems, problems


def shot(page: Any, name: str, *, full: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


def hit_count(page: Any) -> int:
    return int(page.locator("li.hit").count())


def test_search_filter_open_trial_and_related(server: str, page: Any) -> None:
    page.goto(server + "/")
    assert page.locator("h1").inner_text() == "Find clinical trials"
    page.get_by_label("Search trials").fill("lupus")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url("**/?q=lupus*")
    assert hit_count(page) > 0
    assert page.locator("li.hit mark").count() > 0, "matches are highlighted"
    total_before = page.locator("p.total strong").inner_text()
    shot(page, "01-search-lupus")

    # Apply a filter: the first status with a count, then "Apply filters".
    status = page.locator("#facet-status input[type=checkbox]").first
    value = status.get_attribute("value")
    status.check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(f"**status={value}*")
    assert page.locator(f'#facet-status input[value="{value}"]').is_checked()
    total_after = page.locator("p.total strong").inner_text()
    assert int(total_after.replace(",", "")) <= int(total_before.replace(",", ""))
    badges = page.locator("li.hit .badge").all_inner_texts()
    assert badges, "hits show their status"
    shot(page, "02-search-filtered")

    # Open the first hit: every section in order, each with its heading.
    page.locator("li.hit h3 a").first.click()
    page.wait_for_url("**/trials/NCT*")
    headings = page.locator("article.trial section > h2").all_inner_texts()
    assert headings == SECTION_TITLES
    shot(page, "03-trial-from-search")

    # The seed trial: related trials with reasons, and a click through to one of them.
    page.goto(f"{server}/trials/{SEED_ID}")
    related = page.locator("ol.related-list > li")
    assert related.count() >= 3
    assert related.first.locator("ul.reasons li").count() >= 1
    eligibility = page.locator("section#eligibility .bullets h3").all_inner_texts()
    assert eligibility[:2] == ["Inclusion Criteria", "Exclusion Criteria"]
    shot(page, "04-trial-seed", full=True)
    first_related = related.first.locator("a").get_attribute("href")
    related.first.locator("a").click()
    page.wait_for_url(f"**{first_related}")
    assert page.locator("article.trial h1").is_visible()


def test_distances_from_a_searched_place(server: str, page: Any) -> None:
    page.goto(f"{server}/trials/{SEED_ID}")
    page.get_by_label("Distance of each site from").fill("Warsaw")
    page.get_by_role("button", name="Show distances").click()
    page.wait_for_url("**near=Warsaw*")
    assert "km from Warsaw" in page.locator("section#locations").inner_text()
    page.locator("section#locations").scroll_into_view_if_needed()
    shot(page, "05-trial-distances")


def test_stats_charts_open_and_link_to_searches(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.get_by_role("link", name="Statistics").click()
    page.wait_for_url("**/stats")
    charts = page.locator("svg.chart")
    assert charts.count() >= 5
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    shot(page, "06-stats", full=True)
    status_chart = page.locator("#chart-status")
    status_chart.locator("summary").click()
    table = status_chart.locator("table")
    assert table.is_visible()
    link = table.locator("a").first
    label = link.inner_text()
    link.click()
    page.wait_for_url("**/?status=*")
    assert page.locator("#facet-status input:checked").count() == 1
    assert label


def test_keyboard_skip_link_and_focus(server: str, page: Any) -> None:
    page.goto(server + "/stats")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip-link"
    assert page.locator(".skip-link").is_visible()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    shot(page, "07-skip-link")
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_mobile_and_print_layouts(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    tab = context.new_page()
    tab.goto(server + "/?q=cancer")
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, "no sideways scrolling on a phone"
    tab.screenshot(path=str(ARTIFACTS / "08-search-mobile.png"))
    tab.goto(f"{server}/trials/{SEED_ID}")
    tab.emulate_media(media="print")
    assert not tab.locator(".trial-tools").is_visible()
    tab.pdf(path=str(ARTIFACTS / "09-trial-print.pdf"))
    tab.set_viewport_size({"width": 800, "height": 1100})
    tab.screenshot(path=str(ARTIFACTS / "09-trial-print.png"))
    context.close()


def test_choosing_a_second_status_adds_its_trials(server: str, page: Any) -> None:
    """With Recruiting chosen the other statuses stay listed with their counts, so a person
    can add Not yet recruiting; the total is then the two counts together."""
    page.goto(server + "/?q=cancer")
    page.locator('#facet-status input[value="RECRUITING"]').check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**status=RECRUITING*")
    other = page.locator('#facet-status input[value="NOT_YET_RECRUITING"]')
    assert not other.is_checked()

    def count(value: str) -> int:
        label = page.locator(f'#facet-status input[value="{value}"] + label .count')
        return int(label.inner_text().replace(",", ""))

    recruiting, not_yet = count("RECRUITING"), count("NOT_YET_RECRUITING")
    assert int(page.locator("p.total strong").inner_text().replace(",", "")) == recruiting
    other.check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**status=NOT_YET_RECRUITING*")
    assert page.locator("#facet-status input:checked").count() == 2
    assert int(page.locator("p.total strong").inner_text().replace(",", "")) == recruiting + not_yet
    shot(page, "11-two-statuses")


def _phone(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    return context, context.new_page()


def test_a_trial_on_a_phone_starts_with_its_facts(server: str, browser: Any) -> None:
    """At 390x844 the first screen holds the status, phase, conditions and the nearest site,
    and the sections are a tap away; nothing scrolls sideways."""
    context, tab = _phone(browser)
    tab.goto(f"{server}/trials/{SEED_ID}?near=Warsaw")
    facts = tab.locator("dl.facts")
    box = facts.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844, "the facts fit the first screen"
    text = facts.inner_text()
    for words in ("Completed", "Phase 1 / Phase 2", "Systemic Lupus Erythematosus", "476 km from Warsaw"):
        assert words in text
    first_link = tab.locator("nav.sections-nav a").first
    link_box = first_link.bounding_box()
    assert link_box is not None and link_box["y"] + link_box["height"] <= 844, "sections are a tap away"
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    tab.screenshot(path=str(ARTIFACTS / "12-trial-phone.png"))
    first_link.click()
    assert tab.evaluate("location.hash") == "#results"
    context.close()


def test_chart_text_is_readable_on_a_phone(server: str, browser: Any) -> None:
    """Chart labels and numbers keep their size at 390 px (a scaled drawing made them ~6 px)."""
    context, tab = _phone(browser)
    tab.goto(server + "/stats")
    sizes = tab.evaluate(
        """[...document.querySelectorAll('svg.chart text')]
             .filter(t => t.getBoundingClientRect().height > 0)
             .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)"""
    )
    assert len(sizes) > 20 and min(sizes) >= 11, min(sizes)
    assert tab.evaluate("document.documentElement.scrollWidth") <= 390
    tab.screenshot(path=str(ARTIFACTS / "13-stats-phone.png"), full_page=True)
    context.close()


def test_empty_store_page_in_the_browser(tmp_path: Path, browser: Any) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trialscope",
            "serve",
            "--db",
            str(tmp_path / "empty.db"),
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        tab = browser.new_page()
        for _ in range(100):
            try:
                tab.goto(f"http://127.0.0.1:{port}/")
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                time.sleep(0.1)
        assert "Welcome to TrialScope" in tab.locator("h1").inner_text()
        assert "trialscope ingest" in tab.locator("main").inner_text()
        tab.screenshot(path=str(ARTIFACTS / "10-empty-store.png"))
        tab.close()
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_record_history_and_saving_a_search_as_a_watch(server: str, page: Any) -> None:
    """A trial kept in two versions (two legacy XML files of NCT00513591): the trial page's Record
    History line leads to every version and the two side by side; then a search is saved as a
    watch from the search page and listed with its feed."""
    page.goto(f"{server}/trials/NCT00513591")
    section = page.locator("section#record-history")
    assert "Last change (2017-06-16): " in section.inner_text()
    section.get_by_role("link", name="Every version (2) and a side-by-side comparison").click()
    page.wait_for_url("**/trials/NCT00513591/history")
    assert page.locator("li.version h2").all_inner_texts() == [
        "Version 2: 2017-06-16",
        "Version 1: 2016-06-14",
    ]
    changed = page.locator("table.side-by-side tr.changed")
    assert changed.count() >= 2
    enrollment = page.locator("table.side-by-side tr.changed", has_text="Enrollment")
    assert (
        enrollment.locator("del").inner_text() == "500 (estimated)"
        and enrollment.locator("ins").inner_text() == "1,000 (estimated)"
    )
    shot(page, "11-record-history", full=True)

    page.goto(f"{server}/?q=lupus&status=RECRUITING")
    page.get_by_label("Save this search as a watch").fill("Lupus trials recruiting")
    page.locator(".save-watch").get_by_role("button", name="Save").click()
    page.wait_for_url("**/watches?saved=*")
    assert page.get_by_role("status").inner_text().startswith("Saved “Lupus trials recruiting”")
    watch = page.locator("li.watch", has_text="Lupus trials recruiting")
    assert watch.get_by_role("link", name="The search").get_attribute("href") == "/?q=lupus&status=RECRUITING"
    assert watch.get_by_role("link", name="Alerts (Atom)").get_attribute("href") == (
        "/feeds/watches/Lupus%20trials%20recruiting.atom"
    )
    shot(page, "12-watches")


def test_matching_a_patient_note(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.get_by_role("link", name="Match a patient").click()
    page.wait_for_url("**/match")
    note = (
        "55-year-old woman with early breast cancer after surgery, ECOG performance status 1, "
        "ANC 2100/uL, platelets 180,000/uL. She is not pregnant. <b>not bold</b>"
    )
    page.get_by_label("The patient, in words").fill(note)
    page.get_by_label("Also screen these trials").fill("NCT02513394")
    page.get_by_role("button", name="Find trials").click()
    page.wait_for_selector("#understood-h")
    understood = page.locator("ul.profile-lines").inner_text()
    assert "Age: 55 years" in understood and "Sex: female" in understood
    assert page.locator("b", has_text="not bold").count() == 0  # the note stays text
    assert page.get_by_label("The patient, in words").input_value() == note  # kept in the form
    groups = page.locator("section.verdict-group h3").all_inner_texts()
    assert groups and all(g.split(" (")[0] in ("Eligible", "Maybe", "Ineligible") for g in groups)
    pallas = page.locator('li.match-trial[data-nct-id="NCT02513394"]')
    assert pallas.count() == 1
    criteria = pallas.locator("details.criteria")
    if criteria.get_attribute("open") is None:  # the first trial of a group shows them already
        criteria.locator("summary").click()
    rows = pallas.locator("table.criteria-table tbody tr")
    assert rows.count() > 10
    assert "ECOG performance status 1" in pallas.locator("table.criteria-table").inner_text()
    shot(page, "10-match", full=True)
    # Correct the profile and match again: the page comes back with the corrected patient.
    page.locator(".understood summary").click()
    profile = json.loads(page.locator("#f-profile-again").input_value())
    profile["age"] = 80
    page.locator("#f-profile-again").fill(json.dumps(profile))
    page.get_by_role("button", name="Match again").click()
    page.wait_for_selector("#understood-h")
    assert "Age: 80 years" in page.locator("ul.profile-lines").inner_text()
