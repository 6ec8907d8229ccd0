"""Response helpers shared by the HTML views and the JSON API: templates, JSON, errors, ETags.

>>> json_body({"nct_id": "NCT04184258", "phases": ("PHASE1",)})
b'{"nct_id":"NCT04184258","phases":["PHASE1"]}'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from trialscope import __version__
from trialscope.web.schemas import ErrorBody, ErrorDetail

_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(obj: Any) -> Any:
    """What orjson cannot encode by itself (msgspec structs, sets, Counters) as plain data."""
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    return msgspec.to_builtins(obj)


_structs = msgspec.json.Encoder()


def json_body(data: Any) -> bytes:
    """Data (the API's typed answers, dataclasses, tuples, dicts) as compact JSON bytes."""
    if isinstance(data, msgspec.Struct):
        return _structs.encode(data)
    return orjson.dumps(data, default=_default, option=_OPTIONS)


class JSONResponse(Response):
    """A JSON response: a typed answer encoded by msgspec, other data by orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_body(content)


def error_json(
    status: int, message: str, headers: Mapping[str, str] | None = None, parameters: Sequence[str] = ()
) -> JSONResponse:
    """The API's error shape: ``{"error": {"status": 400, "message": "...", "parameters": [...]}}``."""
    body = ErrorBody(ErrorDetail(status=status, message=message, parameters=list(parameters)))
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A template rendered into an HTML response (autoescaped)."""
    env: jinja2.Environment = request.app.state.templates
    html = env.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))


def etag_for(request: Request) -> str:
    """A weak validator of what this URL shows: it changes with the store's content and the app.

    The store bumps ``content_version`` on every ingest that changes something, so pages
    of one stored version can be revalidated cheaply by browsers and proxies.
    """
    version = request.app.state.stores.content_version()
    key = f"{__version__}|{request.app.state.static_version}|{version}|{request.url.path}|{request.url.query}"
    return 'W/"' + hashlib.blake2b(key.encode(), digest_size=10).hexdigest() + '"'


def not_modified(request: Request, etag: str) -> Response | None:
    """A 304 when the client already holds this version of the page."""
    held = request.headers.get("if-none-match", "")
    if held and etag in {tag.strip() for tag in held.split(",")}:
        return Response(status_code=304, headers={"etag": etag, "cache-control": "no-cache"})
    return None
