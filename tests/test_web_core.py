"""The web on the one core: one CSV for the CLI and the export, an API that does not import
the pages, and an OpenAPI description generated from the filter table and the answers' types."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
from starlette.testclient import TestClient

pytest_plugins = ["web_fixtures"]

WEB = Path(__file__).resolve().parents[1] / "src" / "trialscope" / "web"


def test_cli_csv_and_web_export_are_the_same_bytes(client: TestClient, web_store_path: Path) -> None:
    """`trialscope search lupus --format csv --all` and the web export of the same search
    write the same header and rows, line endings included."""
    command = [sys.executable, "-m", "trialscope", "search", "lupus", "--format", "csv", "--all",
               "--db", str(web_store_path)]  # fmt: skip
    cli = subprocess.run(command, capture_output=True, check=True, timeout=300).stdout
    web = client.get("/api/v1/search/export", params={"q": "lupus", "format": "csv"}).content
    assert cli.count(b"\r\n") > 10, "a header and rows, each ended by CRLF"
    assert cli == web


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_json_api_does_not_import_the_html_views() -> None:
    """The API and what it imports of the web package never reach the pages' module."""
    seen: set[str] = set()
    todo = ["api"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        imported = _imports(WEB / f"{name}.py")
        assert "trialscope.web.views" not in imported, f"web/{name}.py imports the views"
        modules = {m.rsplit(".", 1)[-1] for m in imported if m.startswith("trialscope.web.")}
        todo += [m for m in modules if (WEB / f"{m}.py").exists()]
    assert {"api", "common", "params", "schemas", "openapi"} <= seen
    assert "trialscope.web.common" in _imports(WEB / "views.py")


def test_openapi_parameters_are_the_filter_table(client: TestClient) -> None:
    from trialscope.search import FILTERS
    from trialscope.search import values as vocabularies

    spec = client.get("/api/openapi.json").json()
    for path in ("/api/v1/search", "/api/v1/search/export", "/api/v1/stats"):
        params = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        for name, f in FILTERS.items():
            param = params[name]
            assert param["description"].lower().startswith(f.help[:20].lower()), (path, name)
            schema = param["schema"]["items"] if f.many else param["schema"]
            assert (param["schema"]["type"] == "array") == f.many
            assert schema["type"] == f.kind
    status = next(p for p in spec["paths"]["/api/v1/search"]["get"]["parameters"] if p["name"] == "status")
    assert status["schema"]["items"]["enum"] == list(vocabularies.STATUSES)


def test_openapi_responses_are_the_answers_types(client: TestClient) -> None:
    """Each response schema has the fields of the struct the handler encodes."""
    from trialscope.web import schemas

    spec = client.get("/api/openapi.json").json()
    components = spec["components"]["schemas"]
    for struct in schemas.RESPONSES:
        assert set(components[struct.__name__]["properties"]) == set(struct.__struct_fields__)
    search = client.get("/api/v1/search", params={"q": "lupus", "limit": 2, "facets": "status"}).json()
    assert set(search) == set(schemas.SearchResponse.__struct_fields__)
    decoded = msgspec.convert(search, schemas.SearchResponse)
    assert decoded.hits and decoded.hits[0].url.startswith("https://clinicaltrials.gov/study/NCT")
    answer = spec["paths"]["/api/v1/search"]["get"]["responses"]["200"]["content"]["application/json"]
    assert answer["schema"]["$ref"] == "#/components/schemas/SearchResponse"


def test_the_trial_answer_decodes_as_the_described_trial(client: TestClient) -> None:
    from trialscope.model import Trial
    from trialscope.web import schemas

    body: dict[str, Any] = client.get("/api/v1/trials/NCT04184258").json()
    document = msgspec.convert(body, schemas.TrialDocument)
    assert isinstance(document.trial, Trial) and document.trial.nct_id == "NCT04184258"
    kinds = {b["kind"] for s in body["page"]["sections"] for b in s["blocks"]}
    assert {"field", "text", "entry", "subheading"} <= kinds
