"""What changed since a day: real records changed, added, given results and removed on the stand-in
registry, synced, and listed by the registry's own dates (never by when they were fetched), narrowed
by a search, through the library, the CLI, the JSON API and the Atom feed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import orjson
import pytest
from freshness_fixtures import POSTED, client_of, find, post, study, sync_changes, today
from starlette.testclient import TestClient

from trialscope.changes import changes_since
from trialscope.cli import main
from trialscope.search import SearchQuery, iter_all_hits
from trialscope.sync import backfill_history
from trialscope.web import create_app

pytest_plugins = ["ctgov_server", "freshness_fixtures"]

ATOM = "{http://www.w3.org/2005/Atom}"
NEW_ID = "NCT99000123"


def _status(record: dict[str, Any]) -> str | None:
    return record["protocolSection"].get("statusModule", {}).get("overallStatus")


def _first_post(record: dict[str, Any]) -> str:
    return (
        record["protocolSection"].get("statusModule", {}).get("studyFirstPostDateStruct", {}).get("date", "~")
    )


def _last_update(record: dict[str, Any]) -> str:
    return (
        record["protocolSection"].get("statusModule", {}).get("lastUpdatePostDateStruct", {}).get("date", "")
    )


def _conditions(record: dict[str, Any]) -> list[str]:
    return record["protocolSection"].get("conditionsModule", {}).get("conditions", [])


@pytest.fixture
def changed(synced: Any, ctgov_server: Any) -> dict[str, Any]:
    """One of each change on the stand-in, synced: an update, results posted, a new trial, a
    removal; and a trial whose registry history (from years ago) is backfilled today."""
    server = ctgov_server
    updated = find(server, lambda r: _status(r) == "RECRUITING" and bool(_conditions(r)))
    record = study(server, updated)
    record["protocolSection"]["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    post(server, record)

    donor = study(server, find(server, lambda r: bool(r.get("resultsSection"))))
    results = find(server, lambda r: not r.get("hasResults") and _status(r) == "COMPLETED")
    record = study(server, results)
    record.update(resultsSection=donor["resultsSection"], hasResults=True)
    record["protocolSection"]["statusModule"]["resultsFirstPostDateStruct"] = {
        "date": POSTED,
        "type": "ACTUAL",
    }
    post(server, record)

    new = study(server, updated)
    new["protocolSection"]["identificationModule"]["nctId"] = NEW_ID
    new["protocolSection"]["identificationModule"]["briefTitle"] = "A trial first posted in the window"
    new["protocolSection"]["statusModule"]["studyFirstPostDateStruct"] = {"date": POSTED, "type": "ACTUAL"}
    post(server, new)

    removed = find(server, lambda r: _status(r) == "COMPLETED", skip=3)
    server.remove_study(removed)

    backfilled = find(
        server, lambda r: _status(r) == "COMPLETED" and _first_post(r) < _last_update(r), skip=5
    )
    current = server.study_bytes(backfilled)
    older = orjson.loads(current)
    # The registry's first version, dated the day it was first posted.
    first_posted = _first_post(older)
    older["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {
        "date": first_posted,
        "type": "ACTUAL",
    }
    older["protocolSection"]["statusModule"]["overallStatus"] = "RECRUITING"
    server.put_study(older)
    server.add_version(current)

    sync_changes(synced, server, check_removed=True)
    with client_of(server) as client:
        assert backfill_history(synced, client, backfilled) == 1
    return {
        "store": synced,
        "updated": updated,
        "results": results,
        "new": NEW_ID,
        "removed": removed,
        "backfilled": backfilled,
        "condition": _conditions(study(server, updated))[0],
        "first_posted": first_posted,
    }


def test_each_kind_of_change_by_registry_dates(changed: dict[str, Any]) -> None:
    store = changed["store"]
    since = today()  # the removal is dated today; the posted versions later; every real record before
    found = changes_since(store, since)
    kinds = {e.nct_id: e.kind for e in found.entries}
    assert kinds == {
        changed["updated"]: "updated",
        changed["results"]: "results",
        changed["new"]: "new",
        changed["removed"]: "removed",
    }
    # The backfilled versions are today's fetch of years-old history: no change of today.
    assert changed["backfilled"] not in kinds
    assert found.counts == {"new": 1, "updated": 1, "results": 1, "removed": 1} and found.total == 4
    entries = {e.nct_id: e for e in found.entries}
    update = entries[changed["updated"]]
    assert update.date == POSTED
    assert [c.line for c in update.changes] == ["Recruitment status: Recruiting → Active, not recruiting"]
    result = entries[changed["results"]]
    assert any(c.line == f"Results: first posted {POSTED} (actual)" for c in result.changes)
    assert entries[changed["removed"]].date == today()
    assert entries[NEW_ID].title == "A trial first posted in the window"
    assert [e.date for e in found.entries] == sorted((e.date for e in found.entries), reverse=True)

    # Judged by the registry's date: from before the backfilled versions' dates, that trial's
    # change (its registry history) shows, with what changed.
    day_after = (dt.date.fromisoformat(changed["first_posted"]) + dt.timedelta(days=1)).isoformat()
    older = changes_since(store, day_after, query=SearchQuery(nct_ids=(changed["backfilled"],)))
    [entry] = older.entries
    assert entry.kind == "updated"
    assert [c.line for c in entry.changes] == ["Recruitment status: Recruiting → Completed"]


def test_a_search_narrows_the_changes(changed: dict[str, Any]) -> None:
    store = changed["store"]
    query = SearchQuery(conditions=(changed["condition"],))
    found = changes_since(store, today(), query=query)
    ids = {e.nct_id for e in found.entries}
    assert changed["updated"] in ids and NEW_ID in ids  # the new trial copies its conditions
    everything = {changed[k] for k in ("updated", "results", "new", "removed")}
    matching = {h.nct_id for h in iter_all_hits(store, replace(query, include_removed=True))}
    assert ids == everything & matching
    assert found.total == len(ids) < 4 or matching >= everything
    limited = changes_since(store, today(), limit=2)
    assert len(limited.entries) == 2 and limited.total == 4


def test_the_cli_lists_changes_as_text_json_and_csv(
    changed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    store = changed["store"]
    store.close()
    db = store.path
    assert main(["changes", "--since", today(), "--db", db]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Since {today()}: 1 new, 1 updated, 1 with results first posted, 1 removed.")
    assert "Recruitment status: Recruiting → Active, not recruiting" in text
    assert main(["changes", "--since", today(), "--format", "json", "--db", db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {e["kind"] for e in data["entries"]} == {"new", "updated", "results", "removed"}
    assert main(["changes", "--since", today(), "--format", "csv", "--db", db,
                 "--condition", changed["condition"]]) == 0  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by_id = {r["nct_id"]: r for r in rows}
    assert by_id[changed["updated"]]["fields"] == "overall_status"
    assert main(["changes", "--since", "last week", "--db", db]) == 1
    assert "--since must be a date like 2021" in capsys.readouterr().err


def test_the_api_and_the_atom_feed(changed: dict[str, Any]) -> None:
    store = changed["store"]
    app = create_app(store.path, store)
    with TestClient(app) as client:
        answer = client.get(f"/api/v1/changes?since={today()}")
        assert answer.status_code == 200
        data = answer.json()
        assert data["counts"] == {"new": 1, "updated": 1, "results": 1, "removed": 1}
        assert data["links"]["atom"] == f"/feeds/changes.atom?since={today()}"
        assert client.get("/api/v1/changes?since=soon").status_code == 400
        assert client.get("/api/v1/changes?limit=0").status_code == 400

        condition = changed["condition"]
        feed = client.get("/feeds/changes.atom", params={"since": today(), "condition": condition})
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
        root = ET.fromstring(feed.content)
        entries = root.findall(f"{ATOM}entry")
        linked = {e.find(f"{ATOM}link").get("href").rsplit("/", 1)[1] for e in entries}  # type: ignore[union-attr]
        assert changed["updated"] in linked and changed["results"] not in linked
        update = next(e for e in entries if e.find(f"{ATOM}link").get("href").endswith(changed["updated"]))  # type: ignore[union-attr]
        assert (
            update.findtext(f"{ATOM}summary")
            == "Updated: Recruitment status: Recruiting → Active, not recruiting"
        )
        assert update.findtext(f"{ATOM}updated") == f"{POSTED}T00:00:00Z"
        alternate = root.find(f"{ATOM}link[@rel='alternate']")
        assert alternate is not None and "condition=" in alternate.get("href", "")
        # The search page links to the feed of its own search.
        page = client.get("/", params={"condition": condition})
        assert "/feeds/changes.atom?condition=" in page.text
