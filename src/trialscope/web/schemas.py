"""The JSON API's answers as typed structs: the handlers build and encode these, and the
OpenAPI description takes its response schemas from the same classes, so the two cannot drift.

A search answer is the search's own results page (:class:`~trialscope.search.hits.ResultsPage`)
with its hits typed, facet values in words and links; a trial answer carries the parsed
trial (:class:`~trialscope.model.Trial`) and its page context.

>>> encode(Health(status="ok", trials=2, version="1.0"))
b'{"status":"ok","trials":2,"version":"1.0"}'
>>> encode(ErrorBody(ErrorDetail(400, "No.")))
b'{"error":{"status":400,"message":"No.","parameters":[]}}'
"""

from __future__ import annotations

from typing import Literal

import msgspec

from trialscope.changes import ChangeList
from trialscope.history import RecordHistory
from trialscope.match import MatchResult
from trialscope.model import Trial
from trialscope.render.context import TrialPage
from trialscope.search.hits import FacetValue, ResultsPage, SearchHit
from trialscope.web.matching import MatchRequest


class ApiHit(SearchHit, frozen=True):
    """A search hit with its link to the trial's page on ClinicalTrials.gov."""

    url: str


class FacetCount(FacetValue, frozen=True):
    """A facet value, its count, and how a page says it ("Recruiting"; "Unknown value (X)"
    for a value outside the registry's vocabulary)."""

    label: str


class SearchLinks(msgspec.Struct, frozen=True):
    self: str
    next: str | None
    prev: str | None
    html: str
    export_csv: str
    export_jsonl: str


class SearchResponse(ResultsPage, frozen=True, kw_only=True):
    """``/api/v1/search``: one page of hits, the facets asked for, links to other pages."""

    # The search's page with its hits and facet values typed for the API (narrower types of
    # the same fields, which msgspec allows and mypy calls an override).
    hits: list[ApiHit]  # type: ignore[assignment]
    facets: dict[str, list[FacetCount]]  # type: ignore[assignment]
    links: SearchLinks


class StatsLinks(msgspec.Struct, frozen=True):
    html: str
    search: str


class StatsResponse(msgspec.Struct, frozen=True):
    """``/api/v1/stats``: counts of the trials matching the filters.

    ``without_phase`` counts the trials that give no phase (most observational studies),
    which the phase facet cannot list; ``summary_only`` counts the trials loaded from a CSV
    export without their details, for the whole registry (None for the counts of a search).
    """

    total: int
    facets: dict[str, list[FacetCount]]
    without_phase: int | None
    summary_only: int | None
    links: StatsLinks


class RelatedItem(msgspec.Struct, frozen=True):
    nct_id: str
    title: str
    status: str | None
    phase: str | None
    score: float
    reasons: list[str]
    has_results: bool
    countries: list[str]
    url: str


class RelatedResponse(msgspec.Struct, frozen=True, omit_defaults=True):
    """``/api/v1/trials/{nct_id}/related``; ``note`` says why the list is empty, when it is."""

    nct_id: str
    related: list[RelatedItem]
    note: str | None = None


class Health(msgspec.Struct, frozen=True):
    status: Literal["ok", "empty"]
    trials: int
    version: str


class ErrorDetail(msgspec.Struct, frozen=True):
    """What went wrong, in one sentence; ``parameters`` names the query parameters it is about."""

    status: int
    message: str
    parameters: list[str] = []


class ErrorBody(msgspec.Struct, frozen=True):
    error: ErrorDetail


class TrialLinks(msgspec.Struct, frozen=True):
    html: str
    related: str


class TrialDocument(msgspec.Struct, frozen=True):
    """``/api/v1/trials/{nct_id}``: the page context (the JSON rendering of the trial page)
    and the parsed trial."""

    nct_id: str
    links: TrialLinks
    page: TrialPage
    trial: Trial


class HistoryLinks(msgspec.Struct, frozen=True):
    html: str
    trial: str


class HistoryResponse(RecordHistory, frozen=True, kw_only=True):
    """``/api/v1/trials/{nct_id}/history``: every kept version of the record, oldest first, each with
    what changed since the one before (in words, and the raw record's JSON paths)."""

    links: HistoryLinks


class ChangesLinks(msgspec.Struct, frozen=True):
    self: str
    atom: str
    search: str


class ChangesResponse(ChangeList, frozen=True, kw_only=True):
    """``/api/v1/changes``: trials new, updated, with results first posted or removed since a day
    (registry dates), newest first."""

    links: ChangesLinks


RESPONSES = (
    SearchResponse,
    MatchResult,
    StatsResponse,
    RelatedResponse,
    Health,
    ErrorBody,
    TrialDocument,
    HistoryResponse,
    ChangesResponse,
)

# The bodies requests send (POST /api/v1/match).
REQUESTS = (MatchRequest,)

_encoder = msgspec.json.Encoder()


def encode(answer: msgspec.Struct) -> bytes:
    """An answer as JSON bytes."""
    return _encoder.encode(answer)
