"""The trialscope command: ingest, show, stats, and clear errors with exit codes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CTGOV, SEED

from trialscope.cli import build_parser, main


@pytest.fixture()
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.db")
    assert (
        main(
            [
                "ingest",
                str(CTGOV / "v2_json/aact_fixtures"),
                str(SEED / "NCT04184258.json"),
                "--db",
                path,
                "--no-progress",
            ]
        )
        == 0
    )
    return path


def test_ingest_prints_a_summary_and_writes_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.json").write_text("{oops")
    report = tmp_path / "rejects.jsonl"
    code = main(
        [
            "ingest",
            str(tmp_path / "in"),
            str(SEED),
            "--db",
            str(tmp_path / "x.db"),
            "--report",
            str(report),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "1 new trial," in out and "1 rejected" in out and "bad.json" in out
    assert "now holds 1 trial." in out
    rows = [json.loads(line) for line in report.read_text().splitlines()]
    assert rows[0]["source"].endswith("bad.json") and "malformed JSON" in rows[0]["reason"]


def test_show_in_every_format(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt, marker in (
        ("text", "NCT ID: NCT04184258"),
        ("markdown", "## Basic Information"),
        ("html", "<!DOCTYPE html>"),
        ("json", '"nct_id":"NCT04184258"'),
    ):
        assert main(["show", "nct04184258", "--format", fmt, "--db", db]) == 0
        assert marker in capsys.readouterr().out


def test_show_json_carries_the_typed_criteria(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "NCT04184258", "--format", "json", "--db", db]) == 0
    criteria = json.loads(capsys.readouterr().out)["criteria"]
    assert any(c["type"] == "age" and c["source"] == "field" for c in criteria)
    assert any(c["label"] == "No dialysis" and c["kind"] == "exclusion" for c in criteria)


def test_show_unknown_trial_says_so_and_fails(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "NCT99999999", "--db", db]) == 1
    err = capsys.readouterr().err
    assert "No trial NCT99999999" in err and "Traceback" not in err


def test_show_without_a_store_explains_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "NCT04184258", "--db", str(tmp_path / "none.db")]) == 1
    assert "trialscope ingest" in capsys.readouterr().err


def test_stats_counts(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Trials: 15" in out and "COMPLETED" in out and "INTERVENTIONAL" in out


def test_missing_path_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(tmp_path / "nope"), "--db", str(tmp_path / "x.db"), "--no-progress"]) == 1
    assert "No such file" in capsys.readouterr().err


def test_serve_rejects_a_worker_count_that_is_not_a_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIALSCOPE_WORKERS", "many")
    assert main(["serve", "--db", str(tmp_path / "x.db")]) == 1
    assert "not a number" in capsys.readouterr().err


def test_serve_runs_one_worker_per_core_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from trialscope import settings

    monkeypatch.delenv("TRIALSCOPE_WORKERS", raising=False)
    monkeypatch.setattr(settings.os, "cpu_count", lambda: 3)
    assert settings.resolve("workers", None) == "3"
    monkeypatch.setattr(settings.os, "cpu_count", lambda: None)
    assert settings.resolve("workers", None) == "1"


def test_a_report_is_written_only_when_there_is_something_to_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "rejects.jsonl"
    args = ["ingest", str(SEED), "--db", str(tmp_path / "x.db"), "--report", str(report), "--no-progress"]
    assert main(args) == 0
    assert not report.exists() and "written to" not in capsys.readouterr().out


def test_a_value_no_vocabulary_knows_is_stored_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = json.loads((SEED / "NCT04184258.json").read_text())
    study["protocolSection"]["statusModule"]["overallStatus"] = "ON_FIRE"
    study["protocolSection"]["designModule"]["phases"] = ["PHASE7"]
    (tmp_path / "odd.json").write_text(json.dumps(study))
    report = tmp_path / "report.jsonl"
    db = str(tmp_path / "x.db")
    assert (
        main(["ingest", str(tmp_path / "odd.json"), "--db", db, "--report", str(report), "--no-progress"])
        == 0
    )
    out = capsys.readouterr().out
    assert "2 warnings" in out and "status 'ON_FIRE' is not one the registry uses" in out
    assert {json.loads(line)["what"] for line in report.read_text().splitlines()} == {"warning"}
    assert main(["show", "NCT04184258", "--format", "json", "--db", db]) == 0
    assert '"status":"ON_FIRE"' in capsys.readouterr().out  # kept as written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "garbage"], "'garbage' is not a valid NCT id"),
        (["search", "lupus", "--within", "-5km", "--near", "Minsk"], "distance must be more than 0"),
        (["search", "lupus", "--timeout", "-1"], "time limit must be more than 0 seconds"),
        (["search", "foo:lupus"], "Unknown field 'foo:' in the search; use one of condition:"),
        (["search", "condition:"], "'condition:' needs a word"),
        (
            ["search", "lupus", "--near", "Paris, Nowhere"],
            "'Nowhere' in 'Paris, Nowhere' is neither a country",
        ),
        (
            ["search", "lupus", "--within", "50km"],
            "A distance (--within) needs a place to measure from (--near)",
        ),
    ],
)
def test_bad_input_is_one_clear_sentence_naming_the_fix(
    db: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*args, "--db", db]) == 1
    err = capsys.readouterr().err
    assert message in err and "usage:" not in err and "Traceback" not in err


def test_a_page_past_the_end_says_so_and_a_place_says_where_it_is(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "--page", "99999", "--db", db]) == 0
    assert "page 99,999 is past the end" in capsys.readouterr().out
    assert main(["search", "lupus", "--near", "Minsk, Belarus", "--db", db]) == 0
    assert "Distances from Minsk, Belarus (53.9" in capsys.readouterr().out


def _commands(parser: argparse.ArgumentParser) -> Iterator[tuple[argparse.ArgumentParser, str, Any]]:
    """(parent, name, choice action) of every sub-command, at any depth (``watch check``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield parser, choice.dest, choice
                yield from _commands(action.choices[choice.dest])


def test_every_command_is_listed_with_a_line_saying_what_it_does() -> None:
    # A command's help is its handler's docstring: a handler without one would be listed bare.
    commands = list(_commands(build_parser()))
    assert {"search", "match", "check", "serve"} <= {name for _, name, _ in commands}
    for parent, name, choice in commands:
        assert choice.help and choice.help.strip(), name
        listing = " ".join(parent.format_help().split())
        assert f"{name} {' '.join(choice.help.split())}" in listing, name
