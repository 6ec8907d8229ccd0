"""The OpenAPI 3.1 description of the JSON API, generated from the code it describes.

- The search, export and stats parameters come from the filter table
  (:data:`trialscope.search.FILTERS`: each filter's name, help, kind, whether it repeats, and
  an example), with the choices of each vocabulary from :mod:`trialscope.search.values`.
- The response schemas come from the typed answers the handlers encode
  (:mod:`trialscope.web.schemas`: the search's hit and results page, the parsed trial, the
  trial page context with its tagged blocks) through ``msgspec.json.schema_components``.
  Nothing in them is written by hand.

The schema test (``tests/test_api_schema.py``) sends generated requests to every operation
and checks each answer against these schemas.

>>> sorted(OPENAPI["paths"])[:2]
['/api/v1/search', '/api/v1/search/export']
>>> endpoints()[0].path
'/api/v1/search'
>>> next(p for p in OPENAPI["paths"]["/api/v1/search"]["get"]["parameters"] if p["name"] == "phase")["example"]
['PHASE2']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from trialscope import __version__
from trialscope.search import FACETS, FILTERS, SORTS
from trialscope.search import values as vocabularies
from trialscope.search.filters import Filter
from trialscope.search.query import MAX_PAGE
from trialscope.web.matching import MATCH_FILTERS, MAX_BODY
from trialscope.web.schemas import REQUESTS, RESPONSES

REF = "#/components/schemas/{name}"
# The choices of each filter whose values come from a registry vocabulary (friendly words are
# read too; these are the registry's own spellings).
CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    "status": vocabularies.STATUSES, "phase": vocabularies.PHASES, "type": vocabularies.STUDY_TYPES,
    "intervention_type": vocabularies.INTERVENTION_TYPES, "sponsor_class": vocabularies.SPONSOR_CLASSES,
    "sex": vocabularies.SEXES,
}  # fmt: skip


# --- parameters ---------------------------------------------------------------------------


def _param(
    name: str, description: str, schema: dict[str, Any], *, many: bool = False, where: str = "query",
    example: Any = None,
) -> dict[str, Any]:  # fmt: skip
    param: dict[str, Any] = {"name": name, "in": where, "description": description}
    if many:
        param.update(schema={"type": "array", "items": schema}, style="form", explode=True)
    else:
        param["schema"] = schema
    if where == "path":
        param["required"] = True
    if example is not None:
        param["example"] = [example] if many else example
    return param


def _example(spec: Filter) -> Any:
    """The filter's example as a value of its schema (``2`` for a phase is ``PHASE2``)."""
    if spec.kind == "boolean":
        return spec.read([spec.example])
    if spec.kind == "integer":
        return int(spec.example)
    if spec.name in CHOICES:
        read = spec.read([spec.example])
        return read[0] if isinstance(read, tuple) else read
    return spec.example


def filter_parameter(spec: Filter, description: str | None = None) -> dict[str, Any]:
    """A filter of the filter table as an OpenAPI query parameter."""
    schema: dict[str, Any] = {"type": spec.kind}
    if spec.name in CHOICES:
        schema["enum"] = list(CHOICES[spec.name])
    help_text = description or spec.help[:1].upper() + spec.help[1:] + "."
    return _param(spec.name, help_text, schema, many=spec.many, example=_example(spec))


FILTER_PARAMETERS = [
    _param(
        "q",
        "Full-text query over titles, conditions, interventions, summaries, criteria and sponsors; "
        "quoted phrases, OR, a leading - to exclude, and field prefixes (condition:, title:, sponsor: ...).",
        {"type": "string"},
        example="lupus stem cell",
    ),
    *(filter_parameter(spec) for spec in FILTERS.values()),
]
SORT_PARAMETER = _param("sort", "Order of the hits.", {"type": "string", "enum": list(SORTS)})
FACETS_PARAMETER = _param(
    "facets", "Facets to count (repeat, or a comma list; all for every one).",
    {"type": "string", "enum": [*FACETS, "all"]}, many=True, example="status",
)  # fmt: skip
PAGE_PARAMETERS = [
    SORT_PARAMETER,
    _param(
        "limit", "Hits per page.",
        {"type": "integer", "minimum": 1, "maximum": vocabularies.MAX_LIMIT, "default": 20},
    ),
    _param("page", "Page number, from 1.",
           {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}),
    _param("cursor", "The next_cursor of the previous page (instead of page).", {"type": "string"}),
    FACETS_PARAMETER,
]  # fmt: skip
NCT_PATH = _param(
    "nct_id", "The trial's NCT id.", {"type": "string", "pattern": "^NCT[0-9]{8}$"}, where="path",
    example="NCT04184258",
)  # fmt: skip
RELATED_PARAMETERS = [
    _param("limit", "How many.", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}),
    filter_parameter(FILTERS["status"], "Only related trials with this status."),
    filter_parameter(FILTERS["phase"], "Only related trials in this phase."),
    filter_parameter(FILTERS["has_results"], "Only related trials with (or without) posted results."),
    filter_parameter(FILTERS["country"], "Only related trials with a site in this country."),
]


# --- schemas ------------------------------------------------------------------------------


def response_schemas() -> dict[str, Any]:
    """Every schema the requests and responses use, generated from their types (the trial page
    context's blocks included: each is a struct tagged with its ``kind``)."""
    _, components = msgspec.json.schema_components((*REQUESTS, *RESPONSES), ref_template=REF)
    return components


# --- the document -------------------------------------------------------------------------


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(name=schema)}}},
    }


_ERRORS = {
    "400": _json("ErrorBody", "The query cannot run; the message says why."),
    "503": _json("ErrorBody", "The store holds no trials yet."),
}
_NOT_FOUND = {"404": _json("ErrorBody", "No trial with that NCT id.")}


def _operation(operation_id: str, summary: str, parameters: list[dict[str, Any]], responses: dict[str, Any],
               description: str = "", *, body: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A GET operation, or a POST one when it takes a JSON ``body`` (the name of its schema)."""
    op: dict[str, Any] = {"operationId": operation_id, "summary": summary}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(name=body)}}},
        }
    op["responses"] = responses
    return {"post" if body is not None else "get": op}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "TrialScope API",
        "version": __version__,
        "description": "ClinicalTrials.gov records as served by this TrialScope: trial pages, search with "
        "facets, related trials and registry statistics. Read-only; no authentication.",
    },
    "servers": [{"url": "/"}],
    "paths": {
        "/api/v1/search": _operation(
            "searchTrials", "Search trials", FILTER_PARAMETERS + PAGE_PARAMETERS,
            {"200": _json("SearchResponse", "One page of hits."), **_ERRORS},
            "Ranked full-text search with filters; facet counts on request (facets=...). A facet's counts "
            "ignore its own filter, so they say what choosing another value would add.",
        ),
        "/api/v1/search/export": _operation(
            "exportSearch", "Download every hit of a search",
            [_param("format", "csv or jsonl.",
                    {"type": "string", "enum": ["csv", "jsonl"], "default": "csv"}),
             *FILTER_PARAMETERS, SORT_PARAMETER],
            {"200": {"description": "One row (CSV) or one JSON object per line (JSONL) per trial.",
                     "content": {"text/csv": {"schema": {"type": "string"}},
                                 "application/x-ndjson": {"schema": {"type": "string"}}}},
             **_ERRORS},
            "The whole result set (not one page), streamed as CSV or JSON Lines; the CSV is the one "
            "`trialscope search --format csv --all` writes.",
        ),
        "/api/v1/stats": _operation(
            "registryStats", "Counts of the registry or of a search",
            [*FILTER_PARAMETERS, FACETS_PARAMETER],
            {"200": _json("StatsResponse", "The counts."), **_ERRORS},
            "Facet counts (status, phase, study type, country, sponsor class, start year...) of all trials "
            "matching the filters (all facets unless some are asked for), the trials without a phase, and "
            "for the whole registry the summary-only records.",
        ),
        "/api/v1/match": _operation(
            "matchPatient", "Screen a patient against trials, criterion by criterion", [],
            {"200": _json("MatchResult", "The trials, eligible then maybe then ineligible, and the patient as read."),
             "400": _json("ErrorBody", "The patient, a filter or a named trial cannot be used; the message says why."),
             "413": _json("ErrorBody", f"The body is larger than {MAX_BODY:,} bytes."),
             "503": _ERRORS["503"]},
            "The body gives the patient as a note (free text, read offline: conditions with negation and "
            "history, labs with units, treatments) or as a patient profile (a JSON profile, or a FHIR R4 "
            "Bundle of Patient, Condition, Observation, MedicationStatement). Candidates are the trials the "
            "search finds for the note's telling words and the patient's conditions, with any search filter "
            f"(by its query-parameter name: {', '.join(MATCH_FILTERS)}), plus the trials named in nct_ids. "
            "Each criterion gets met, not_met, unknown or not_applicable with its evidence (a span of the "
            "note or a field of the profile); a trial is eligible, maybe (with the questions that would "
            "decide it) or ineligible. Nothing sent is stored.",
            body="MatchRequest",
        ),
        "/api/v1/trials/{nct_id}": _operation(
            "getTrial", "One trial: its page context and the parsed record", [NCT_PATH],
            {"200": _json("TrialDocument", "The trial."), **_NOT_FOUND, "503": _ERRORS["503"]},
        ),
        "/api/v1/trials/{nct_id}/related": _operation(
            "relatedTrials", "More related trials, with the reasons", [NCT_PATH, *RELATED_PARAMETERS],
            {"200": _json("RelatedResponse", "The related trials, most similar first."),
             **_ERRORS, **_NOT_FOUND},
        ),
        "/api/v1/trials/{nct_id}/history": _operation(
            "trialHistory", "Every kept version of a record and what changed in each", [NCT_PATH],
            {"200": _json("HistoryResponse", "The versions, oldest first."), **_NOT_FOUND,
             "503": _ERRORS["503"]},
            "Each version the store kept (from files, the bulk download, syncs and the registry's own "
            "history), ordered by the registry's dates, with what changed since the version before: field by "
            "field in words, and the JSON paths of the raw record that changed.",
        ),
        "/api/v1/changes": _operation(
            "registryChanges", "What changed in the registry since a day",
            [_param("since", "The first day to report (registry dates); 30 days before the newest "
                    "last-update date in the store by default.", {"type": "string"}, example="2026-11-01"),
             _param("limit", "Changes to list, newest first (the counts are of all).",
                    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
             *FILTER_PARAMETERS],
            {"200": _json("ChangesResponse", "The changes, newest first."), **_ERRORS},
            "Trials first posted, updated (with the fields that changed), with results first posted, or "
            "removed on or after a day, judged by the registry's own dates, not by when they were fetched. "
            "Search parameters narrow it to the trials that search matches; /feeds/changes.atom takes the "
            "same parameters and gives the same list as an Atom feed.",
        ),
        "/healthz": _operation(
            "health", "Whether the server is up and how many trials it serves", [],
            {"200": _json("Health", "Up.")},
        ),
    },
    "components": {"schemas": response_schemas()},
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    summary: str
    description: str
    parameters: tuple[dict[str, Any], ...]
    responses: tuple[tuple[str, str], ...]
    example: str
    body: str = ""  # an example JSON body, for a POST

    @property
    def anchor(self) -> str:
        return self.path.strip("/").replace("/", "-").replace("{", "").replace("}", "")


_EXAMPLES = {
    "/api/v1/search": "/api/v1/search?q=lupus&phase=PHASE2&limit=5&facets=status,phase",
    "/api/v1/search/export": "/api/v1/search/export?format=csv&q=lupus",
    "/api/v1/stats": "/api/v1/stats?q=mesenchymal",
    "/api/v1/trials/{nct_id}": "/api/v1/trials/NCT04184258",
    "/api/v1/trials/{nct_id}/related": "/api/v1/trials/NCT04184258/related?limit=5",
    "/api/v1/trials/{nct_id}/history": "/api/v1/trials/NCT04184258/history",
    "/api/v1/changes": "/api/v1/changes?since=2026-11-01&q=lupus",
    "/healthz": "/healthz",
}
_BODIES = {
    "/api/v1/match": '{"note": "A 62-year-old woman with metastatic breast cancer, ECOG 1, creatinine 1.1 mg/dL.", '
    '"filters": {"status": ["RECRUITING"]}, "limit": 5}',
}


def schema_text(schema: dict[str, Any]) -> str:
    """A parameter's schema in a few words: ``integer, 1 to 100`` or ``one of: csv, jsonl``."""
    if schema.get("type") == "array":
        return "repeatable: " + schema_text(schema["items"])
    if "enum" in schema:
        return "one of: " + ", ".join(str(v) for v in schema["enum"])
    words = str(schema.get("type", "string"))
    if "minimum" in schema and "maximum" in schema:
        words += f", {schema['minimum']:,} to {schema['maximum']:,}"
    elif "minimum" in schema:
        words += f", at least {schema['minimum']:,}"
    if "pattern" in schema:
        words += f", like {schema['pattern']}"
    return words


def endpoints() -> list[Endpoint]:
    """The operations of :data:`OPENAPI`, in order, for the docs page."""
    out = []
    for path, methods in OPENAPI["paths"].items():
        for method, op in methods.items():
            out.append(
                Endpoint(
                    method=method.upper(),
                    path=path,
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    parameters=tuple(op.get("parameters", ())),
                    responses=tuple((code, r["description"]) for code, r in op["responses"].items()),
                    example=_EXAMPLES.get(path, path),
                    body=_BODIES.get(path, ""),
                )
            )
    return out
