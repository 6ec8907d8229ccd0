"""The history of a record: real records from the stand-in registry changed and synced, the registry's
own earlier versions backfilled, real versions of two shapes from the shared files, and what
`trialscope history` says about them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import CTGOV
from freshness_fixtures import POSTED, find, post, study, sync_changes

from trialscope.cli import main
from trialscope.diff import json_paths
from trialscope.history import compare_versions, latest_change, parse_version, record_history
from trialscope.ingest import ingest_paths
from trialscope.store import open_store

pytest_plugins = ["ctgov_server", "freshness_fixtures"]


def _recruiting_with_sites(record: dict[str, Any]) -> bool:
    p = record["protocolSection"]
    sites = p.get("contactsLocationsModule", {}).get("locations", [])
    enrollment = p.get("designModule", {}).get("enrollmentInfo", {})
    return (
        p.get("statusModule", {}).get("overallStatus") == "RECRUITING"
        and len(sites) >= 3
        and all(s.get("facility") and s.get("country") for s in sites)
        and enrollment.get("type") == "ESTIMATED"
        and bool(enrollment.get("count"))
        and bool(p.get("eligibilityModule", {}).get("eligibilityCriteria"))
        and bool(p.get("conditionsModule", {}).get("conditions"))
    )


def _site_words(site: dict[str, Any]) -> str:
    place = ", ".join(site[k] for k in ("city", "state", "country") if site.get(k))
    return f"{site['facility']}, {place}"


def test_a_synced_change_reads_field_by_field_with_its_json_paths(synced: Any, ctgov_server: Any) -> None:
    server = ctgov_server
    nct_id = find(server, _recruiting_with_sites)
    donor = study(server, find(server, lambda r: _recruiting_with_sites(r) and r != study(server, nct_id)))
    record = study(server, nct_id)
    p = record["protocolSection"]
    before_count = p["designModule"]["enrollmentInfo"]["count"]
    gone_site = p["contactsLocationsModule"]["locations"].pop(0)
    new_site = donor["protocolSection"]["contactsLocationsModule"]["locations"][0]
    p["contactsLocationsModule"]["locations"].append(new_site)
    p["statusModule"]["overallStatus"] = "COMPLETED"
    p["designModule"]["enrollmentInfo"] = {"count": 7, "type": "ACTUAL"}
    p["conditionsModule"]["conditions"].append("Fatigue")
    p["eligibilityModule"]["eligibilityCriteria"] += "\n* Able to swim 50 metres"
    post(server, record)
    sync_changes(synced, server)

    history = record_history(synced, nct_id)
    assert [v.origin for v in history.versions] == ["bulk", "sync"]
    assert [v.last_update for v in history.versions][-1] == POSTED
    first, last = history.versions
    assert first.changes == [] and first.note == "The first version kept."
    lines = {c.field: c.line for c in last.changes}
    assert lines["overall_status"] == "Recruitment status: Recruiting → Completed"
    assert lines["enrollment"] == f"Enrollment: {before_count:,} (estimated) → 7 (actual)"
    assert lines["conditions"] == "Conditions: 1 added (Fatigue)"
    assert lines["eligibility"] == "Eligibility criteria: changed (1 line added, 0 removed)"
    sites = lines["sites"]
    assert sites.startswith("Sites: 1 added (") and ", 1 removed (" in sites
    assert _site_words(new_site) in sites and _site_words(gone_site) in sites
    # Exactly these fields changed: nothing else is reported, not even as "Other fields".
    assert set(lines) == {"overall_status", "enrollment", "conditions", "eligibility", "sites"}
    by_field = {c.field: c.paths for c in last.changes}
    assert by_field["overall_status"] == ["protocolSection.statusModule.overallStatus"]
    n = len(p["contactsLocationsModule"]["locations"])
    where = "protocolSection.contactsLocationsModule.locations"
    assert sorted(by_field["sites"]) == [f"{where}[0]", f"{where}[{n - 1}]"]
    paths = {c.path: c.change for c in last.paths}
    assert paths[f"{where}[0]"] == "removed" and paths[f"{where}[{n - 1}]"] == "added"
    assert paths["protocolSection.statusModule.lastUpdatePostDateStruct.date"] == "changed"

    # The trial page's one line is the same comparison; two versions side by side mark it.
    latest = latest_change(synced, nct_id)
    assert latest.versions == 2 and latest.latest is not None
    assert latest.latest.summary.startswith("Recruitment status: Recruiting → Completed; Enrollment: ")
    pair = compare_versions(synced, nct_id, 1, 2)
    rows = {row.field: row for row in pair.fields}
    assert rows["overall_status"].changed and not rows["brief_title"].changed
    assert [line.text for line in rows["overall_status"].before] == ["Recruiting"]
    assert [(x.text, x.mark) for x in rows["overall_status"].after] == [("Completed", "added")]
    added = [x.text for x in rows["eligibility"].after if x.mark == "added"]
    assert added == ["* Able to swim 50 metres"]


def test_results_first_posted_reads_with_its_date(synced: Any, ctgov_server: Any) -> None:
    server = ctgov_server
    donor = study(server, find(server, lambda r: bool(r.get("resultsSection"))))
    nct_id = find(server, lambda r: not r.get("hasResults") and not r.get("resultsSection"))
    record = study(server, nct_id)
    record["resultsSection"] = donor["resultsSection"]
    record["hasResults"] = True
    record["protocolSection"]["statusModule"]["resultsFirstPostDateStruct"] = {
        "date": POSTED,
        "type": "ACTUAL",
    }
    post(server, record)
    sync_changes(synced, server)
    last = record_history(synced, nct_id).versions[-1]
    results = next(c for c in last.changes if c.field == "results")
    assert results.line == f"Results: first posted {POSTED} (actual)"
    assert "resultsSection" in results.paths and "hasResults" in results.paths


def test_backfilled_registry_versions_start_the_history(
    synced: Any, ctgov_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The registry's own earlier version, fetched with --backfill, becomes version 1; the CLI
    says what changed from it, in text and in JSON with the JSON paths."""
    server = ctgov_server
    nct_id = find(
        server, lambda r: r["protocolSection"].get("statusModule", {}).get("overallStatus") == "COMPLETED"
    )
    current = server.study_bytes(nct_id)
    older = orjson.loads(current)
    older["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"
    older["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {
        "date": "2000-01-03",
        "type": "ACTUAL",
    }
    server.put_study(older)  # the registry's history: the older version, then the current one
    server.add_version(current)
    synced.close()
    db = synced.path

    assert main(["history", nct_id, "--backfill", "--api-url", server.url, "--db", db]) == 0
    out = capsys.readouterr()
    assert "1 earlier version kept" in out.err
    assert "2 versions kept." in out.out
    assert "Recruitment status: Recruiting → Completed" in out.out

    assert main(["history", nct_id, "--format", "json", "--db", db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [v["registry_version"] for v in data["versions"]] == [0, 1]
    assert [v["origin"] for v in data["versions"]] == ["history", "bulk"]
    status = next(c for c in data["versions"][1]["changes"] if c["field"] == "overall_status")
    assert status["paths"] == ["protocolSection.statusModule.overallStatus"]

    assert main(["history", nct_id, "--compare", "2,1", "--db", db]) == 0
    assert "Recruitment status: Completed → Recruiting" in capsys.readouterr().out
    assert main(["history", nct_id, "--compare", "1,9", "--db", db]) == 1
    assert "has 2 kept versions; there is no version 9" in capsys.readouterr().err


def test_versions_of_real_files_in_two_shapes(tmp_path: Path) -> None:
    """NCT00513591 comes as two legacy XML files of 2016 and 2017, NCT02513394 as legacy XML and
    then API v2: the history reads both pairs from the shared records themselves."""
    import datetime as dt

    from lxml import etree

    folder = CTGOV / "legacy_xml" / "aact_fixtures"
    files = [folder / "NCT00513591.xml", folder / "NCT00513591_redownloaded.xml"]
    store = open_store(tmp_path / "t.db")
    ingest_paths(store, files, progress=False)
    dated = []
    for file in files:
        root = etree.parse(str(file)).getroot()
        day = root.findtext("last_update_posted") or root.findtext("lastchanged_date")
        dated.append((dt.datetime.strptime(day, "%B %d, %Y"), int(root.findtext("enrollment"))))
    history = record_history(store, "NCT00513591")
    assert [v.source_format for v in history.versions] == ["xml", "xml"]
    assert history.versions[0].last_update < history.versions[1].last_update  # type: ignore[operator]
    (_, old), (_, new) = sorted(dated)
    line = next(c.line for c in history.versions[1].changes if c.field == "enrollment")
    assert line.startswith(f"Enrollment: {old:,}") and f"→ {new:,}" in line
    assert history.versions[1].paths == []  # XML has no JSON paths
    assert history.versions[1].note is None  # same shape: compared whole

    ingest_paths(store, sorted(CTGOV.rglob("*NCT02513394*")), progress=False)
    mixed = record_history(store, "NCT02513394")
    shapes = [v.source_format for v in mixed.versions]
    assert shapes == ["xml", "v2"]
    assert mixed.versions[1].note is not None and "legacy XML → API v2 JSON" in mixed.versions[1].note
    trial = store.get_trial("NCT02513394")
    assert trial.has_results
    results = next(c.line for c in mixed.versions[1].changes if c.field == "results")
    assert results == f"Results: first posted {trial.results_first_post_date.date} (actual)"  # type: ignore[union-attr]


def test_every_kept_version_parses_again_into_the_stored_trial(full_store: Any) -> None:
    """parse_version reads every shape the ingest keeps (v2, v1, StudyFields, XML, CSV rows): the
    current version of a sample of trials parses into exactly the stored trial."""
    shapes: set[str] = set()
    for n, (nct_id, content_hash) in enumerate(full_store.select("trials", ("nct_id", "content_hash"))):
        if n % 7:
            continue
        version = next(v for v in full_store.versions(nct_id) if v.hash == content_hash)
        trial = parse_version(version.raw, version.source)
        assert trial == full_store.get_trial(nct_id), nct_id
        shapes.add(trial.source_format)
    assert shapes >= {"v2", "v1", "v1-fields", "xml", "csv"}


def test_json_paths_of_a_real_record(ctgov_server: Any) -> None:
    record = study(ctgov_server, find(ctgov_server, _recruiting_with_sites))
    changed = orjson.loads(orjson.dumps(record))
    sites = changed["protocolSection"]["contactsLocationsModule"]["locations"]
    sites.insert(0, dict(sites[-1], facility="A new site"))
    sites[2]["status"] = "COMPLETED" if sites[2].get("status") != "COMPLETED" else "RECRUITING"
    changed["protocolSection"]["designModule"].pop("phases", None)
    found = {(p.path, p.change) for p in json_paths(record, changed)}
    where = "protocolSection.contactsLocationsModule.locations"
    had_status = "status" in record["protocolSection"]["contactsLocationsModule"]["locations"][1]
    # The new first site is added; every other site moved down one and is not reported; the
    # second site's status changed where it now stands.
    expected = {(f"{where}[0]", "added"), (f"{where}[2].status", "changed" if had_status else "added")}
    if "phases" in record["protocolSection"]["designModule"]:
        expected.add(("protocolSection.designModule.phases", "removed"))
    assert found == expected


def test_the_trial_page_history_page_and_api(synced: Any, ctgov_server: Any) -> None:
    from starlette.testclient import TestClient

    from trialscope.web import create_app

    server = ctgov_server
    nct_id = find(server, _recruiting_with_sites)
    record = study(server, nct_id)
    record["protocolSection"]["statusModule"]["overallStatus"] = "SUSPENDED"
    record["protocolSection"]["statusModule"]["whyStopped"] = "Funding paused"
    post(server, record)
    sync_changes(synced, server)
    unchanged = find(server, lambda r: r["protocolSection"]["identificationModule"]["nctId"] != nct_id)
    with TestClient(create_app(synced.path)) as client:
        page = client.get(f"/trials/{nct_id}")
        assert page.status_code == 200
        assert (
            f'<p class="latest-change">Last change ({POSTED}): Recruitment status: Recruiting → Suspended; '
            "Why stopped: (none) → Funding paused</p>" in page.text
        )
        assert f'href="/trials/{nct_id}/history">Every version (2)' in page.text
        assert "One version of this record is kept" in client.get(f"/trials/{unchanged}").text

        history = client.get(f"/trials/{nct_id}/history")
        assert history.status_code == 200
        assert "<h2>Version 2: " + POSTED + "</h2>" in history.text
        assert '<span class="label">Recruitment status:</span> Recruiting → Suspended' in history.text
        assert (
            "<td><del>Recruiting</del></td>" in history.text
            and "<td><ins>Suspended</ins></td>" in history.text
        )
        assert client.get(f"/trials/{nct_id}/history?a=1&b=9").status_code == 400
        assert client.get("/trials/NCT00000000/history").status_code == 404

        data = client.get(f"/api/v1/trials/{nct_id.lower()}/history").json()
        assert data["links"] == {"html": f"/trials/{nct_id}/history", "trial": f"/api/v1/trials/{nct_id}"}
        assert [v["number"] for v in data["versions"]] == [1, 2]
        why = next(c for c in data["versions"][1]["changes"] if c["field"] == "why_stopped")
        assert why == {"field": "why_stopped", "label": "Why stopped", "text": "(none) → Funding paused",
                       "paths": ["protocolSection.statusModule.whyStopped"]}  # fmt: skip
        assert client.get("/api/v1/trials/NCT00000000/history").status_code == 404


def test_a_trial_stored_before_versions_were_kept(synced: Any) -> None:
    """A store upgraded from schema 1 has trials without kept versions: their history is empty,
    not missing, and the trial page says so."""
    import sqlite3

    from starlette.testclient import TestClient

    from trialscope.store.blobs import compress
    from trialscope.store.records import trial_json
    from trialscope.web import create_app

    nct_id = synced.nct_ids()[0]
    protocol, results = trial_json(synced.get_trial(nct_id))
    synced.close()
    with sqlite3.connect(synced.path) as conn:  # as schema 1 wrote it: each value compressed alone
        conn.execute("DELETE FROM trial_versions WHERE nct_id = ?", (nct_id,))
        conn.execute(
            "UPDATE trials SET trial = ?, results = ? WHERE nct_id = ?",
            (compress(protocol), results and compress(results), nct_id),
        )
    store = open_store(synced.path)
    history = record_history(store, nct_id)
    assert history.versions == [] and history.title == store.get_trial(nct_id).title
    assert latest_change(store, nct_id).versions == 0
    with TestClient(create_app(store.path)) as client:
        assert "No version of this record is kept yet" in client.get(f"/trials/{nct_id}").text
        assert client.get(f"/api/v1/trials/{nct_id}/history").json()["versions"] == []
        assert client.get(f"/trials/{nct_id}/history").status_code == 200
    store.close()
