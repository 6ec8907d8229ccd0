"""Shared fixtures: paths to the real records, and one real store ingested from all of them."""

from __future__ import annotations

from pathlib import Path

import pytest

# A throwaway PostgreSQL server (session scope) and a new database per test that asks for one;
# the freshness and web fixtures registered here, before test modules import their helpers.
pytest_plugins = ["pg_server", "freshness_fixtures", "web_fixtures"]

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CTGOV = SHARED / "data" / "ctgov"
SEED = SHARED / "seed"
EVAL = SHARED / "eval"


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Caches that outlive a process (search postings) go to the session's own directory."""
    import os

    os.environ["TRIALSCOPE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files from current output")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def full_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real SQLite store holding every record in shared/data/ctgov plus the seed record."""
    from trialscope.ingest import ingest_paths
    from trialscope.store import open_store

    path = tmp_path_factory.mktemp("store") / "trials.db"
    store = open_store(path)
    # The seed first: on equal last-update dates the record read first is kept.
    summary = ingest_paths(store, [SEED / "NCT04184258.json", CTGOV], progress=False)
    store.close()
    # Keep the summary beside the store for tests that check what the ingest said.
    (path.parent / "summary.txt").write_text("\n".join(summary.lines()))
    return path


@pytest.fixture(scope="session")
def full_store(full_store_path: Path):  # type: ignore[no-untyped-def]
    from trialscope.store import open_store

    store = open_store(full_store_path, readonly=True)
    yield store
    store.close()
