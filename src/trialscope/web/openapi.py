"""The OpenAPI 3.1 description of the JSON API, written as data, and the docs page's view of it.

Kept by hand beside :mod:`trialscope.web.api` so it says exactly what the handlers do; the
schema test (``tests/test_api_schema.py``) sends generated requests to every operation
and checks each answer against these schemas.

>>> sorted(OPENAPI["paths"])[:2]
['/api/v1/search', '/api/v1/search/export']
>>> endpoints()[0].path
'/api/v1/search'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trialscope import __version__
from trialscope.search import FACETS, SORTS
from trialscope.search import values as query

# The vocabularies come from search, so the description cannot drift from what it accepts.
FACET_NAMES = list(FACETS)
STATUSES = list(query.STATUSES)
PHASES = list(query.PHASES)


def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def _param(
    name: str,
    description: str,
    schema: dict[str, Any],
    *,
    many: bool = False,
    where: str = "query",
    example: Any = None,
) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": where, "description": description}
    if many:
        param.update(schema={"type": "array", "items": schema}, style="form", explode=True)
    else:
        param["schema"] = schema
    if where == "path":
        param["required"] = True
    if example is not None:
        param["example"] = example
    return param


_STR = {"type": "string", "maxLength": 200}
_DATE = {"type": "string", "description": "YYYY, YYYY-MM or YYYY-MM-DD", "maxLength": 10}
_BOOL = {"type": "string", "enum": ["true", "false"]}

FILTER_PARAMETERS = [
    _param(
        "q",
        "Full-text query over titles, conditions, interventions, summaries, criteria and sponsors; "
        "quoted phrases, OR and a leading - to exclude.",
        _STR,
        example="lupus stem cell",
    ),
    _param(
        "status",
        "Overall recruitment status (repeat for several).",
        {"type": "string", "enum": STATUSES},
        many=True,
    ),
    _param("phase", "Phase (repeat for several).", {"type": "string", "enum": PHASES}, many=True),
    _param(
        "type",
        "Study type.",
        {"type": "string", "enum": ["INTERVENTIONAL", "OBSERVATIONAL", "EXPANDED_ACCESS"]},
        many=True,
    ),
    _param(
        "intervention_type", "Intervention type, e.g. DRUG, BIOLOGICAL, DEVICE, BEHAVIORAL.", _STR, many=True
    ),
    _param("condition", "Condition name (or MeSH term).", _STR, many=True),
    _param("sponsor", "Sponsor or collaborator name.", _STR),
    _param(
        "sponsor_class",
        "Lead sponsor class: INDUSTRY, NIH, FED, OTHER_GOV, INDIV, NETWORK, OTHER...",
        _STR,
        many=True,
    ),
    _param("country", "Country of at least one site.", _STR, many=True),
    _param("city", "City of at least one site.", _STR, many=True),
    _param(
        "near",
        "A place name or 'lat,lon'; hits carry distance_km and sort nearest first.",
        _STR,
        example="Boston",
    ),
    _param(
        "within",
        "Distance around 'near': a number of km, or with a unit (100km, 50mi); default 100 km.",
        {"type": "string", "maxLength": 20},
        example="100km",
    ),
    _param(
        "age",
        "Age the trial must accept: years (45, 45y) or another unit (18 months, 3 weeks).",
        {"type": "string", "maxLength": 20},
        example="45",
    ),
    _param("sex", "Sex the trial must accept.", {"type": "string", "enum": ["FEMALE", "MALE", "ALL"]}),
    _param("healthy_volunteers", "Whether the trial accepts healthy volunteers.", _BOOL),
    _param("has_results", "Whether results are posted.", _BOOL),
    _param("start_from", "Start date on or after.", _DATE),
    _param("start_to", "Start date on or before.", _DATE),
    _param("completion_from", "Completion date on or after.", _DATE),
    _param("completion_to", "Completion date on or before.", _DATE),
    _param("updated_from", "Last update on or after.", _DATE),
    _param("updated_to", "Last update on or before.", _DATE),
    _param("enrollment_min", "Enrollment at least.", {"type": "integer", "minimum": 0}),
    _param("enrollment_max", "Enrollment at most.", {"type": "integer", "minimum": 0}),
    _param("nct", "Only these NCT ids.", {"type": "string", "pattern": "^NCT[0-9]{8}$"}, many=True),
]
SORT_PARAMETER = _param(
    "sort",
    "Order of the hits.",
    {"type": "string", "enum": list(SORTS)},
)
PAGE_PARAMETERS = [
    SORT_PARAMETER,
    _param(
        "limit",
        "Hits per page.",
        {"type": "integer", "minimum": 1, "maximum": query.MAX_LIMIT, "default": 20},
    ),
    _param("page", "Page number, from 1.", {"type": "integer", "minimum": 1, "default": 1}),
    _param("cursor", "The next_cursor of the previous page (instead of page).", _STR),
    _param("facets", "Facets to count, comma-separated.", _STR, example="status,phase"),
]
NCT_PATH = _param(
    "nct_id",
    "The trial's NCT id.",
    {"type": "string", "pattern": "^NCT[0-9]{8}$"},
    where="path",
    example="NCT04184258",
)

_FACETS_SCHEMA = {
    "type": "object",
    "description": "Counts per value of each requested facet.",
    "additionalProperties": {"type": "array", "items": {"$ref": "#/components/schemas/FacetValue"}},
}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
            }
        },
    },
    "FacetValue": {
        "type": "object",
        "required": ["value", "count"],
        "properties": {"value": {"type": "string"}, "count": {"type": "integer", "minimum": 0}},
    },
    "Hit": {
        "type": "object",
        "required": ["nct_id", "title", "phases", "conditions", "has_results", "snippet", "url"],
        "properties": {
            "nct_id": {"type": "string"},
            "title": {"type": "string"},
            "status": _nullable("string"),
            "phases": {"type": "array", "items": {"type": "string"}},
            "study_type": _nullable("string"),
            "conditions": {"type": "array", "items": {"type": "string"}},
            "last_update": _nullable("string"),
            "start_date": _nullable("string"),
            "enrollment": _nullable("integer"),
            "has_results": {"type": "boolean"},
            "score": _nullable("number"),
            "snippet": {"type": "string", "description": "HTML: escaped text with <mark> around matches."},
            "distance_km": _nullable("number"),
            "url": {"type": "string", "description": "The trial's HTML page."},
        },
    },
    "SearchResults": {
        "type": "object",
        "required": ["total", "page", "limit", "hits", "facets", "links"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "limit": {"type": "integer", "minimum": 0},
            "next_cursor": _nullable("string"),
            "elapsed_ms": {"type": "number"},
            "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
            "facets": _FACETS_SCHEMA,
            "links": {
                "type": "object",
                "properties": {
                    name: _nullable("string")
                    for name in ("self", "next", "prev", "html", "export_csv", "export_jsonl")
                },
            },
        },
    },
    "Stats": {
        "type": "object",
        "required": ["total", "facets"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "facets": _FACETS_SCHEMA,
            "links": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Related": {
        "type": "object",
        "required": ["nct_id", "title", "score", "reasons", "has_results", "countries", "url"],
        "properties": {
            "nct_id": {"type": "string"},
            "title": {"type": "string"},
            "status": _nullable("string"),
            "phase": _nullable("string"),
            "score": {"type": "number"},
            "reasons": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Why it is related, in words: shared conditions, interventions...",
            },
            "has_results": {"type": "boolean"},
            "countries": {"type": "array", "items": {"type": "string"}},
            "url": {"type": "string"},
        },
    },
    "RelatedList": {
        "type": "object",
        "required": ["nct_id", "related"],
        "properties": {
            "nct_id": {"type": "string"},
            "related": {"type": "array", "items": {"$ref": "#/components/schemas/Related"}},
            "note": {
                "type": "string",
                "description": "Why the list is empty, when the store has no similarity index.",
            },
        },
    },
    "Block": {
        "type": "object",
        "description": "One block of a section; 'kind' says which of the other properties it has.",
        "required": ["kind"],
        "properties": {
            "kind": {"type": "string", "enum": ["text", "field", "bullets", "table", "entry", "subheading"]},
            "text": {"type": "string"},
            "label": {"type": "string"},
            "value": {"type": "string"},
            "code": {"type": ["string", "null"], "description": "The registry's raw enum behind a value."},
            "heading": {"type": "string"},
            "items": {"type": "array", "items": {"type": "string"}},
            "caption": {"type": "string"},
            "header": {"type": "array", "items": {"type": "string"}},
            "rows": {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
            "title": {"type": "string"},
            "blocks": {"type": "array", "items": {"$ref": "#/components/schemas/Block"}},
        },
    },
    "TrialPage": {
        "type": "object",
        "description": "The trial page context: the same sections, captions and blocks as the HTML and text pages.",
        "required": ["nct_id", "title", "sections"],
        "properties": {
            "nct_id": {"type": "string"},
            "title": {"type": "string"},
            "last_updated": _nullable("string"),
            "status": _nullable("string"),
            "phase": _nullable("string"),
            "conditions": {"type": "array", "items": {"type": "string"}},
            "sections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "title", "caption", "blocks"],
                    "properties": {
                        "key": {"type": "string"},
                        "title": {"type": "string"},
                        "caption": {"type": "string"},
                        "blocks": {"type": "array", "items": {"$ref": "#/components/schemas/Block"}},
                    },
                },
            },
            "related": {"type": "array", "items": {"type": "object"}},
        },
    },
    "TrialDocument": {
        "type": "object",
        "required": ["nct_id", "page", "trial", "links"],
        "properties": {
            "nct_id": {"type": "string"},
            "links": {"type": "object", "additionalProperties": {"type": "string"}},
            "page": {"$ref": "#/components/schemas/TrialPage"},
            "trial": {
                "type": "object",
                "description": "The parsed trial (trialscope.model.Trial) as data.",
                "required": ["nct_id"],
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "trials", "version"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "empty"]},
            "trials": {"type": "integer", "minimum": 0},
            "version": {"type": "string"},
        },
    },
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_ERRORS = {
    "400": _json("Error", "The query cannot run; the message says why."),
    "503": _json("Error", "The store holds no trials yet."),
}
_NOT_FOUND = {"404": _json("Error", "No trial with that NCT id.")}

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
        "/api/v1/search": {
            "get": {
                "operationId": "searchTrials",
                "summary": "Search trials",
                "description": "Ranked full-text search with filters; facet counts on request (facets=...).",
                "parameters": FILTER_PARAMETERS + PAGE_PARAMETERS,
                "responses": {"200": _json("SearchResults", "One page of hits."), **_ERRORS},
            }
        },
        "/api/v1/search/export": {
            "get": {
                "operationId": "exportSearch",
                "summary": "Download every hit of a search",
                "description": "The whole result set (not one page), streamed as CSV or JSON Lines.",
                "parameters": [
                    _param(
                        "format",
                        "csv or jsonl.",
                        {"type": "string", "enum": ["csv", "jsonl"], "default": "csv"},
                    ),
                    *FILTER_PARAMETERS,
                    SORT_PARAMETER,
                ],
                "responses": {
                    "200": {
                        "description": "One row (CSV) or one JSON object per line (JSONL) per trial.",
                        "content": {
                            "text/csv": {"schema": {"type": "string"}},
                            "application/x-ndjson": {"schema": {"type": "string"}},
                        },
                    },
                    **_ERRORS,
                },
            }
        },
        "/api/v1/stats": {
            "get": {
                "operationId": "registryStats",
                "summary": "Counts of the registry or of a search",
                "description": "Facet counts (status, phase, study type, country, sponsor class, start year...) "
                "of all trials matching the filters.",
                "parameters": [
                    *FILTER_PARAMETERS,
                    _param(
                        "facets",
                        "Facets to count, comma-separated (default: all of " + ", ".join(FACET_NAMES) + ").",
                        _STR,
                    ),
                ],
                "responses": {"200": _json("Stats", "The counts."), **_ERRORS},
            }
        },
        "/api/v1/trials/{nct_id}": {
            "get": {
                "operationId": "getTrial",
                "summary": "One trial: its page context and the parsed record",
                "parameters": [NCT_PATH],
                "responses": {
                    "200": _json("TrialDocument", "The trial."),
                    **_NOT_FOUND,
                    "503": _ERRORS["503"],
                },
            }
        },
        "/api/v1/trials/{nct_id}/related": {
            "get": {
                "operationId": "relatedTrials",
                "summary": "More related trials, with the reasons",
                "parameters": [
                    NCT_PATH,
                    _param(
                        "limit", "How many.", {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}
                    ),
                    _param(
                        "status",
                        "Only related trials with this status.",
                        {"type": "string", "enum": STATUSES},
                        many=True,
                    ),
                    _param(
                        "phase",
                        "Only related trials in this phase.",
                        {"type": "string", "enum": PHASES},
                        many=True,
                    ),
                    _param("has_results", "Only related trials with (or without) results.", _BOOL),
                    _param("country", "Only related trials with a site in this country.", _STR, many=True),
                ],
                "responses": {
                    "200": _json("RelatedList", "The related trials, most similar first."),
                    **_ERRORS,
                    **_NOT_FOUND,
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Whether the server is up and how many trials it serves",
                "responses": {"200": _json("Health", "Up.")},
            }
        },
    },
    "components": {"schemas": SCHEMAS},
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    summary: str
    description: str
    parameters: tuple[dict[str, Any], ...]
    responses: tuple[tuple[str, str], ...]
    example: str

    @property
    def anchor(self) -> str:
        return self.path.strip("/").replace("/", "-").replace("{", "").replace("}", "")


_EXAMPLES = {
    "/api/v1/search": "/api/v1/search?q=lupus&phase=PHASE2&limit=5&facets=status,phase",
    "/api/v1/search/export": "/api/v1/search/export?format=csv&q=lupus",
    "/api/v1/stats": "/api/v1/stats?q=mesenchymal",
    "/api/v1/trials/{nct_id}": "/api/v1/trials/NCT04184258",
    "/api/v1/trials/{nct_id}/related": "/api/v1/trials/NCT04184258/related?limit=5",
    "/healthz": "/healthz",
}


def schema_text(schema: dict[str, Any]) -> str:
    """A parameter's schema in a few words: ``integer, 1 to 100`` or ``one of: csv, jsonl``."""
    if schema.get("type") == "array":
        return "repeatable: " + schema_text(schema["items"])
    if "enum" in schema:
        return "one of: " + ", ".join(str(v) for v in schema["enum"])
    words = str(schema.get("type", "string"))
    if "minimum" in schema and "maximum" in schema:
        words += f", {schema['minimum']} to {schema['maximum']}"
    elif "minimum" in schema:
        words += f", at least {schema['minimum']}"
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
                )
            )
    return out
