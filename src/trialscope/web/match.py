"""The page ``/match``: a patient (a note, or a JSON profile or FHIR R4 Bundle typed or uploaded)
and any search filter in; the patient as understood (with the profile's JSON to correct and send
again) and the trials out, grouped eligible, maybe, ineligible, each criterion with its verdict
and evidence, and the questions that would decide a ``maybe``.

Everything shown is escaped (the template autoescapes): the note is the user's own text, the
criteria the registry's. The request is bounded and read by :mod:`trialscope.web.matching`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from trialscope.errors import QueryError, TrialNotFoundError
from trialscope.match import MatchResult
from trialscope.patient import PatientError, describe
from trialscope.search import FILTERS
from trialscope.search.values import split_values
from trialscope.web.common import query_message, store_of
from trialscope.web.matching import (
    DEFAULT_SHOWN,
    MATCH_FILTERS,
    MAX_BODY,
    MAX_NOTE,
    MAX_SHOWN,
    MatchInput,
    read_body,
    run_match,
)
from trialscope.web.params import Params, search_params
from trialscope.web.responses import render
from trialscope.web.views import empty_page

VERDICTS = (
    ("eligible", "Eligible", "Every criterion the record lets us decide is met."),
    ("maybe", "Maybe", "Nothing rules the patient out, but some criteria are unknown: the questions decide."),
    ("ineligible", "Ineligible", "An inclusion criterion is not met, or an exclusion criterion is."),
)


async def _form(request: Request) -> list[tuple[str, str | bytes]]:
    """A form post's fields (an uploaded file as its bytes), its body bounded first."""
    body = await read_body(request)

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=100, max_part_size=MAX_BODY)
    items: list[tuple[str, str | bytes]] = []
    for key, value in form.multi_items():
        if isinstance(value, str):
            items.append((key, value))
        elif value.filename:
            items.append((key, await value.read()))
    return items


def input_from_form(items: Sequence[tuple[str, str | bytes]]) -> MatchInput:
    """What the /match form asks: the note, or a profile typed or uploaded, the filters, the ids."""
    texts = [(k, v) for k, v in items if isinstance(v, str)]
    fields = dict(texts)
    upload = next((v for k, v in items if k == "patient_file" and isinstance(v, bytes) and v.strip()), None)
    typed = fields.get("patient", "").strip()
    document: bytes | None = upload if upload is not None else (typed.encode() if typed else None)
    filters = search_params(texts, MATCH_FILTERS)
    limit = fields.get("limit", "").strip()
    if limit and not (limit.isdigit() and 1 <= int(limit) <= MAX_SHOWN):
        raise QueryError(f"Show must be a whole number from 1 to {MAX_SHOWN}, not {limit[:20]!r}.")
    return MatchInput(
        note=fields.get("note") or None,
        document=document,
        filters=filters,
        nct_ids=tuple(split_values([fields.get("nct", "")])),
        limit=int(limit) if limit else DEFAULT_SHOWN,
    )


# --- the page ---------------------------------------------------------------------------


def _filter_fields(filters: Params) -> list[dict[str, str]]:
    out = []
    for name in MATCH_FILTERS:
        spec = FILTERS[name]
        value = filters.get(name, "")
        out.append(
            {
                "name": name,
                "label": spec.label,
                "hint": spec.help[:1].upper() + spec.help[1:],
                "value": ", ".join(value) if isinstance(value, list) else value,
            }
        )
    return out


def _groups(result: MatchResult) -> list[dict[str, Any]]:
    groups = []
    for verdict, title, meaning in VERDICTS:
        trials = [t for t in result.trials if t.verdict == verdict]
        groups.append({"verdict": verdict, "title": title, "meaning": meaning, "trials": trials})
    return groups


def _page(
    request: Request,
    given: MatchInput,
    *,
    result: MatchResult | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "note": given.note or "",
        "profile": given.document.decode("utf-8", "replace") if isinstance(given.document, bytes) else "",
        "filters": _filter_fields(given.filters),
        "nct": ", ".join(given.nct_ids),
        "limit": given.limit,
        "limits": (5, 10, 20, 50, 100),
        "max_note": MAX_NOTE,
        "error": error,
        "result": result,
    }
    if result is not None:
        context.update(
            understood=describe(result.patient).splitlines(),
            profile_json=msgspec.json.format(msgspec.json.encode(result.patient), indent=2).decode(),
            groups=_groups(result),
            hidden_filters=[
                (k, v) for k, vs in given.filters.items() for v in ([vs] if isinstance(vs, str) else vs)
            ],
        )
    return render(request, "match.html", context, status=status)


def match_form(request: Request) -> Response:
    """``GET /match``: the form."""
    if store_of(request) is None:
        return empty_page(request)
    return _page(request, MatchInput())


async def match_page(request: Request) -> Response:
    """``POST /match``: the form's answer (the form again, with the patient as understood and the
    trials), or the form with one sentence saying what to change."""
    given = MatchInput()
    try:
        given = input_from_form(await _form(request))
        result = await run_in_threadpool(run_match, request, given)
    except QueryError as exc:
        return _page(request, given, error=query_message(exc), status=400)
    except (PatientError, TrialNotFoundError) as exc:
        return _page(request, given, error=str(exc), status=400)
    return _page(request, given, result=result)
