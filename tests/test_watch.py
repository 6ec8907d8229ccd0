"""Saved searches that alert: watches over real records synced from the stand-in registry, checked
before and after the registry changes them, their alerts e-mailed to a real SMTP server on loopback
(aiosmtpd), through the library, the CLI and the web app."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from freshness_fixtures import find, post, study, sync_changes
from starlette.testclient import TestClient

from trialscope.cli import main
from trialscope.errors import WatchError
from trialscope.mail import MailSettings, deliver_by_mail, send_reports
from trialscope.search import SearchQuery
from trialscope.watch import add_watch, check_watch, get_watch, list_watches, remove_watch, watch_events
from trialscope.web import create_app

pytest_plugins = ["ctgov_server", "freshness_fixtures"]

ATOM = "{http://www.w3.org/2005/Atom}"


def _status(record: dict[str, Any]) -> str | None:
    return record["protocolSection"].get("statusModule", {}).get("overallStatus")


def _five_recruiting(server: Any) -> list[str]:
    """Five recruiting trials without results (a watch follows them by id)."""
    return [
        find(server, lambda r: _status(r) == "RECRUITING" and not r.get("hasResults"), skip=n)
        for n in range(5)
    ]


@pytest.fixture
def watched(synced: Any, ctgov_server: Any) -> dict[str, Any]:
    """Two watches over the same five trials: one of recruiting trials only, one of all five."""
    ids = _five_recruiting(ctgov_server)
    add_watch(synced, "recruiting five", SearchQuery(nct_ids=tuple(ids), statuses=("recruiting",)))
    watch, matches = add_watch(synced, "All five", SearchQuery(nct_ids=tuple(ids)), email="five@example.org")
    assert matches == 5 and watch.email == "five@example.org"
    return {"store": synced, "server": ctgov_server, "ids": ids}


def _change_the_five(server: Any, ids: list[str]) -> None:
    """The registry changes them: a status, results, another field, one removed; one is left alone."""
    record = study(server, ids[0])
    record["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    post(server, record)
    donor = study(server, find(server, lambda r: bool(r.get("resultsSection"))))
    record = study(server, ids[1])
    record.update(resultsSection=donor["resultsSection"], hasResults=True)
    post(server, record)
    record = study(server, ids[2])
    record["protocolSection"].setdefault("conditionsModule", {}).setdefault("conditions", []).append(
        "Fatigue"
    )
    post(server, record)
    server.remove_study(ids[3])


def test_a_check_reports_only_what_changed_since_the_last(watched: dict[str, Any]) -> None:
    store, server, ids = watched["store"], watched["server"], watched["ids"]
    first = check_watch(store, "recruiting five")
    assert first.events == [] and first.matches == 5
    _change_the_five(server, ids)
    sync_changes(store, server, check_removed=True)

    report = check_watch(store, "All five")
    events = {e.nct_id: e for e in report.events}
    assert set(events) == set(ids[:4])  # the fifth did not change
    assert events[ids[0]].kind == "status"
    assert events[ids[0]].summary == "Recruitment status: Recruiting → Completed"
    assert events[ids[1]].kind == "results" and "Results: first posted" in events[ids[1]].summary
    assert events[ids[2]].kind == "updated" and events[ids[2]].summary == "Conditions: 1 added (Fatigue)"
    assert events[ids[3]].kind == "removed"
    assert report.matches == 4  # the removed trial is left out of the search
    assert report.since == get_watch(store, "All five").created_at  # first check: since it was added

    # The recruiting watch: the completed trial no longer matches, and says why.
    recruiting = {e.nct_id: e for e in check_watch(store, "Recruiting Five").events}  # names ignore case
    assert recruiting[ids[0]].summary == "Recruitment status: Recruiting → Completed (no longer matches)"

    # Nothing changed since: the next check reports nothing; the reports are kept for the feed.
    assert check_watch(store, "All five").events == []
    kept = watch_events(store, "All five")
    assert {e.nct_id for e in kept} == set(ids[:4])

    # A trial the registry adds that matches shows as new.
    add_watch(store, "with the new one", SearchQuery(statuses=("recruiting",), nct_ids=(*ids, "NCT99000777")))
    new = study(server, ids[4])
    new["protocolSection"]["identificationModule"]["nctId"] = "NCT99000777"
    post(server, new, on="2030-05-01")
    sync_changes(store, server)
    [event] = check_watch(store, "with the new one").events
    assert (event.nct_id, event.kind, event.summary) == ("NCT99000777", "new", "Recruiting")
    remove_watch(store, "with the new one")
    assert [w.name for w in list_watches(store)] == ["All five", "recruiting five"]
    assert watch_events(store, "All five")  # the other watches' reports are kept


def test_watch_names_and_searches_are_checked(synced: Any) -> None:
    add_watch(synced, "mine", SearchQuery(text="lupus"))
    with pytest.raises(WatchError, match="exists already"):
        add_watch(synced, "MINE", SearchQuery(text="asthma"))
    with pytest.raises(WatchError, match="cannot name a watch"):
        add_watch(synced, "!bad", SearchQuery(text="lupus"))
    with pytest.raises(WatchError, match="not an e-mail address"):
        add_watch(synced, "other", SearchQuery(text="lupus"), email="nobody")
    with pytest.raises(WatchError, match=r"No watch named 'gone' \(watches: mine\)"):
        check_watch(synced, "gone")


# The SMTP server of this test is on loopback and logs in without TLS on purpose (aiosmtpd warns).
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_alerts_go_out_through_a_real_smtp_server(watched: dict[str, Any], smtp_server: Any) -> None:
    store, server, ids = watched["store"], watched["server"], watched["ids"]
    _change_the_five(server, ids)
    sync_changes(store, server, check_removed=True)
    reports = [check_watch(store, "All five"), check_watch(store, "recruiting five")]
    watches = {w.name: w for w in list_watches(store)}

    inbox = smtp_server(login=("alerts", "s3cret"))
    mail = MailSettings(inbox.host, inbox.port, user="alerts", password="s3cret", sender="ts@example.org",
                        to=("team@example.org",), site_url="https://trials.example.org")  # fmt: skip
    assert send_reports(mail, reports, watches) == 2
    assert inbox.logins == ["alerts"]
    assert inbox.recipients == [["five@example.org"], ["team@example.org"]]  # the watch's own address first
    message = inbox.messages[0]
    assert message["Subject"] == "TrialScope: 4 changes for 'All five'"
    assert message["From"] == "ts@example.org"
    body = message.get_payload(decode=True).decode()
    assert "Status changed: Recruitment status: Recruiting → Completed" in body
    assert f"https://trials.example.org/trials/{ids[0]}" in body
    for nct_id in ids[:4]:
        assert nct_id in body

    # An alert that cannot be sent leaves its check unrecorded: the next check reports it again.
    post(server, dict(study(server, ids[4]), hasResults=True), on="2030-05-01")
    sync_changes(store, server)
    down = MailSettings("127.0.0.1", 1, to=("x@example.org",))
    with pytest.raises(WatchError, match="Could not send the alert e-mail through 127.0.0.1:1"):
        check_watch(store, "All five", deliver=deliver_by_mail(down))
    [event] = check_watch(store, "All five", deliver=deliver_by_mail(mail)).events
    assert (event.nct_id, event.kind) == (ids[4], "results")
    assert inbox.messages[-1]["Subject"] == "TrialScope: 1 change for 'All five'"
    assert check_watch(store, "All five", deliver=deliver_by_mail(down)).events == []  # nothing to send

    wrong = MailSettings(inbox.host, inbox.port, user="alerts", password="wrong", to=("x@example.org",))
    with pytest.raises(WatchError, match=rf"through 127\.0\.0\.1:{inbox.port}: the server answered 535"):
        send_reports(wrong, reports, watches)
    closed = MailSettings("127.0.0.1", 1, to=("x@example.org",))
    with pytest.raises(WatchError, match="Could not send the alert e-mail through 127.0.0.1:1"):
        send_reports(closed, reports, watches)


def test_the_cli_adds_lists_checks_emails_and_removes(
    watched: dict[str, Any],
    smtp_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, server, ids = watched["store"], watched["server"], watched["ids"]
    store.close()
    db = store.path
    assert main(["watch", "add", "sle", "lupus", "--status", "recruiting,completed", "--db", db]) == 0
    assert "Watch 'sle' saved: ?q=lupus&status=RECRUITING%2CCOMPLETED;" in capsys.readouterr().out
    assert main(["watch", "add", "bad", "--phase", "7", "--db", db]) == 1
    assert "Unknown phase '7'" in capsys.readouterr().err
    assert main(["watch", "list", "--format", "json", "--db", db]) == 0
    listed = {w["name"]: w for w in json.loads(capsys.readouterr().out)}
    assert listed["sle"]["search"] == {"q": "lupus", "status": "RECRUITING,COMPLETED"}

    _change_the_five(server, ids)
    from trialscope.store import open_store

    again = open_store(db)
    sync_changes(again, server, check_removed=True)
    again.close()
    inbox = smtp_server()
    monkeypatch.setenv("TRIALSCOPE_SMTP_HOST", inbox.host)
    monkeypatch.setenv("TRIALSCOPE_SMTP_PORT", str(inbox.port))
    monkeypatch.setenv("TRIALSCOPE_SMTP_TO", "team@example.org")
    monkeypatch.delenv("TRIALSCOPE_SMTP_TO")
    assert main(["watch", "check", "--db", db]) == 1  # a watch without an address: said before any check
    assert "No one to send the alerts of watch 'recruiting five' to" in capsys.readouterr().err
    monkeypatch.setenv("TRIALSCOPE_SMTP_TO", "team@example.org")
    assert main(["watch", "check", "All five", "--db", db]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("All five: 4 changes since ")
    assert f"  {ids[0]}  Status changed: Recruitment status: Recruiting → Completed" in out.out
    assert "1 alert e-mail sent through 127.0.0.1" in out.err
    assert [m["Subject"] for m in inbox.messages] == ["TrialScope: 4 changes for 'All five'"]
    assert main(["watch", "check", "--no-email", "--format", "json", "--db", db]) == 0
    reports = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert reports["All five"]["events"] == [] and len(reports["recruiting five"]["events"]) == 4
    assert len(inbox.messages) == 1
    assert main(["watch", "remove", "sle", "--db", db]) == 0
    assert main(["watch", "remove", "sle", "--db", db]) == 1
    assert "No watch named 'sle'" in capsys.readouterr().err


def test_the_web_app_saves_a_search_as_a_watch_with_its_feed(watched: dict[str, Any]) -> None:
    store, server, ids = watched["store"], watched["server"], watched["ids"]
    app = create_app(store.path)
    with TestClient(app) as client:
        page = client.get("/", params={"q": "lupus", "status": "RECRUITING"})
        assert 'form="save-watch"' in page.text and 'action="/watches"' in page.text
        assert '<input type="hidden" name="status" value="RECRUITING">' in page.text
        saved = client.post("/watches", data={"name": "Lupus, recruiting", "q": "lupus", "status": "RECRUITING"},
                            follow_redirects=False)  # fmt: skip
        assert saved.status_code == 303 and saved.headers["location"] == "/watches?saved=Lupus%2C+recruiting"
        assert get_watch(store, "lupus, recruiting").params == {"q": "lupus", "status": "RECRUITING"}
        listing = client.get("/watches?saved=Lupus%2C+recruiting")
        assert "Saved “Lupus, recruiting”" in listing.text
        assert "/feeds/watches/Lupus%2C%20recruiting.atom" in listing.text
        again = client.post("/watches", data={"name": "lupus, RECRUITING", "q": "lupus"})
        assert again.status_code == 400 and "exists already" in again.text
        bad = client.post("/watches", data={"name": "x", "status": "on fire"})
        assert bad.status_code == 400 and "Unknown status &#39;on fire&#39;" in bad.text
        foreign = client.post(
            "/watches", data={"name": "evil"}, headers={"origin": "https://elsewhere.example"}
        )
        assert foreign.status_code == 403
        assert [w.name for w in list_watches(store)] == ["All five", "Lupus, recruiting", "recruiting five"]

        _change_the_five(server, ids)
        sync_changes(store, server, check_removed=True)
        check_watch(store, "All five")
        feed = client.get("/feeds/watches/All%20five.atom")
        assert feed.status_code == 200
        root = ET.fromstring(feed.content)
        summaries = {
            e.find(f"{ATOM}link").get("href"): e.findtext(f"{ATOM}summary")  # type: ignore[union-attr]
            for e in root.findall(f"{ATOM}entry")
        }
        assert (
            summaries[f"http://testserver/trials/{ids[0]}"]
            == "Status changed: Recruitment status: Recruiting → Completed"
        )
        assert len(summaries) == 4
        assert client.get("/feeds/watches/nope.atom").status_code == 404
