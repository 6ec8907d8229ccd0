"""What the page ``/match`` (:mod:`trialscope.web.match`) and ``POST /api/v1/match`` share: the
request's shape and bounds, reading the patient, and running the match.

Both call :func:`trialscope.match.find_matches`, as ``trialscope match`` does. Requests are
bounded before anything is read: a body over :data:`MAX_BODY` bytes is refused with 413, a
note over :data:`MAX_NOTE` characters with 400. Nothing entered is stored.

>>> check_filters({"status": "recruiting", "near": "Boston"})
{'status': 'recruiting', 'near': 'Boston'}
>>> check_filters({"colour": "blue"})
Traceback (most recent call last):
...
trialscope.errors.QueryError: Unknown filter 'colour'; a match takes any of: status, phase, type, intervention_type, condition, sponsor, sponsor_class, country, city, near, within, age, sex, healthy_volunteers, has_results, start_from, start_to, completion_from, completion_to, updated_from, updated_to, enrollment_min, enrollment_max.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request

from trialscope.errors import QueryError
from trialscope.match import MatchResult, find_matches
from trialscope.match.find import MAX_CANDIDATES, MAX_NAMED, check_note
from trialscope.patient import Patient, PatientError, patient_from_document, patient_from_note
from trialscope.search import FILTERS, query_from_params
from trialscope.web.params import Params
from trialscope.web.stores import lock_of

MAX_BODY = 2_000_000  # bytes of a request (a FHIR bundle of one patient is far smaller)
MAX_NOTE = 20_000  # characters of a note (a long discharge summary is about 10,000)
MAX_SHOWN = 100  # trials a match may show
DEFAULT_SHOWN = 10
# Filters the match form and body take: every search filter but "only these NCT ids" (named trials
# are screened besides the candidates, with nct_ids) and the removed trials switch.
MATCH_FILTERS = tuple(name for name in FILTERS if name not in ("nct", "include_removed"))


class MatchRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``POST /api/v1/match``: a patient (a ``note``, or a ``patient`` JSON profile or FHIR R4
    Bundle), search ``filters`` by their URL names (``{"status": ["RECRUITING"], "near":
    "Boston"}``), trials to screen besides the candidates (``nct_ids``), how many to show."""

    note: Annotated[str, msgspec.Meta(max_length=MAX_NOTE)] | None = None
    patient: dict[str, Any] | None = None
    filters: dict[str, str | list[str]] = {}
    nct_ids: Annotated[list[str], msgspec.Meta(max_length=MAX_NAMED)] = []
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_SHOWN)] = DEFAULT_SHOWN
    candidates: Annotated[int, msgspec.Meta(ge=0, le=MAX_CANDIDATES)] = 200


@dataclass(frozen=True, slots=True)
class MatchInput:
    """A match asked for, from a form or a JSON body: the patient and how to find the trials."""

    note: str | None = None
    document: bytes | dict[str, Any] | None = None
    filters: Params = field(default_factory=dict)
    nct_ids: tuple[str, ...] = ()
    limit: int = DEFAULT_SHOWN
    candidates: int = 200


def check_filters(filters: Params) -> Params:
    """The filters of a match, by their URL names; QueryError naming any unknown one."""
    unknown = [name for name in filters if name not in MATCH_FILTERS]
    if unknown:
        raise QueryError(
            f"Unknown filter {unknown[0][:40]!r}; a match takes any of: {', '.join(MATCH_FILTERS)}."
        )
    return filters


def read_patient(given: MatchInput) -> tuple[Patient, str | None]:
    """The patient (and the note text, when it came as one); PatientError when neither or both."""
    if given.note is not None and given.note.strip() and given.document is not None:
        raise PatientError("Give either a note or a patient profile, not both.")
    if given.document is not None:
        return patient_from_document(given.document), None
    if given.note is None or not given.note.strip():
        raise PatientError("Describe the patient: paste a note, or give a JSON profile or a FHIR R4 Bundle.")
    if len(given.note) > MAX_NOTE:
        raise PatientError(
            f"The note is {len(given.note):,} characters long; at most {MAX_NOTE:,} are read here, "
            "so keep the patient's history and leave the rest out."
        )
    return patient_from_note(check_note(given.note)), given.note


def run_match(request: Request, given: MatchInput) -> MatchResult:
    """The match, on the process's search store under its lock (run it in a worker thread).

    Raises PatientError, QueryError or TrialNotFoundError (a named trial not stored)."""
    patient, text = read_patient(given)
    query = query_from_params(check_filters(given.filters))
    shared = request.app.state.stores.search_store()
    if shared is None:
        raise HTTPException(503, "The store holds no trials yet; load records with `trialscope ingest PATH`.")
    timeout = float(request.app.state.settings.query_timeout)
    with lock_of(shared):
        return find_matches(
            shared, patient, text=text, query=query, nct_ids=given.nct_ids, candidates=given.candidates,
            limit=given.limit, timeout_s=timeout,
        )  # fmt: skip


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused with 413 past ``limit`` bytes (before it is read, when the client
    says its length)."""
    too_large = HTTPException(
        413, f"The request is larger than {limit // 1_000_000} MB; send one patient's note or profile."
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
