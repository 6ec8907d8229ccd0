"""Fixtures of the web tests: a store of real records with its indexes, an app, a client.

Test modules import the fixtures they use from here (``from web_fixtures import ...``):
the session store is built once per test session and shared by the web, API-schema and
browser tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import CTGOV, SEED
from starlette.testclient import TestClient

# Real API v2 and legacy XML records (with results among them) and the seed trial.
WEB_SOURCES = (CTGOV / "v2_json", CTGOV / "legacy_xml", SEED / "NCT04184258.json")
SEED_ID = "NCT04184258"


def build_indexes(store: Any) -> None:
    """The post-ingest steps: the search tables and the similarity index."""
    from trialscope.indexes import refresh_all

    refresh_all(store)


def ingest_into(path: Path, sources: tuple[Path, ...] = WEB_SOURCES) -> Path:
    """A new store at ``path`` holding ``sources``, with its indexes built."""
    from trialscope.ingest import ingest_paths
    from trialscope.store import open_store

    store = open_store(path)
    try:
        summary = ingest_paths(store, list(sources), progress=False)
        assert summary.stored > 0, list(summary.lines())
        build_indexes(store)
    finally:
        store.close()
    return path


@pytest.fixture(scope="session")
def web_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingest_into(tmp_path_factory.mktemp("web") / "trials.db")


@pytest.fixture(scope="session")
def web_store(web_store_path: Path) -> Iterator[Any]:
    from trialscope.store import open_store

    store = open_store(web_store_path, readonly=True)
    yield store
    store.close()


@pytest.fixture(scope="session")
def web_app(web_store_path: Path, web_store: Any) -> Any:
    from trialscope.web import create_app

    return create_app(web_store_path, web_store)


@pytest.fixture(scope="session")
def client(web_app: Any) -> Iterator[TestClient]:
    with TestClient(web_app) as test_client:
        yield test_client


def hostile_record(tmp_path: Path) -> Path:
    """The seed record with markup and script in its title, summary and a condition."""
    record = json.loads((SEED / "NCT04184258.json").read_text())
    protocol = record["protocolSection"]
    protocol["identificationModule"]["nctId"] = "NCT09999991"
    protocol["identificationModule"]["briefTitle"] = 'Hostile <img src=x onerror="alert(2)"> trial'
    protocol["descriptionModule"]["briefSummary"] = (
        "Before <script>alert(1)</script> after; xylophonic marker."
    )
    protocol["conditionsModule"]["conditions"] = ['Lupus"><svg onload=alert(3)>']
    path = tmp_path / "hostile" / "NCT09999991.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


class PageParser(HTMLParser):
    """What the accessibility and safety checks look at in a page: tags, labels, headings."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[int] = []
        self.label_for: set[str] = set()
        self.inputs: list[dict[str, str | None]] = []
        self.html_lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "html":
            self.html_lang = attributes.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "label" and attributes.get("for"):
            self.label_for.add(str(attributes["for"]))
        if tag in ("input", "select", "textarea"):
            self.inputs.append(attributes)


def parse_page(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser
