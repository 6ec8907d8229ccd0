"""The web application factory: routes, middleware, templates, error pages.

``create_app`` wires the stages together and nothing else: views call ``search``,
``similar`` and ``render``; they never write SQL. The store is passed in (or opened
read-only from the path in the settings); the environment is read only by
``app_from_env``, the factory that ``trialscope serve --workers N`` hands to uvicorn.

>>> app = create_app(":memory:")
>>> sorted({r.path for r in app.routes})[:3]
['/', '/api', '/api/docs']
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trialscope import __version__, settings
from trialscope.errors import QueryError, TrialNotFoundError, TrialScopeError
from trialscope.search import warm_search
from trialscope.store import Store
from trialscope.web import api, changes, match, views
from trialscope.web.cache import SearchCache
from trialscope.web.common import plural, query_message
from trialscope.web.responses import error_json
from trialscope.web.stores import StoreHolder, lock_of

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"

# No inline script anywhere; inline <svg> is markup, not script, so it is allowed by these rules.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
)


DEFAULT_SEARCH_CACHE = 256


@dataclass(frozen=True, slots=True)
class WebSettings:
    """What the web app needs to know: where the store is and how long a search may run."""

    db: str
    query_timeout: float = 5.0
    search_cache: int = DEFAULT_SEARCH_CACHE  # searches kept per worker process; 0 turns the cache off

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        """Settings from TRIALSCOPE_* variables and defaults (see :mod:`trialscope.settings`)."""
        timeout = settings.resolve("query_timeout", None, environ)
        cache = settings.resolve("search_cache", None, environ)
        try:
            return cls(
                db=settings.resolve("db", None, environ),
                query_timeout=float(timeout),
                search_cache=int(cache),
            )
        except ValueError:
            raise TrialScopeError(
                f"TRIALSCOPE_QUERY_TIMEOUT ({timeout!r}) must be a number of seconds and "
                f"TRIALSCOPE_SEARCH_CACHE ({cache!r}) a whole number."
            ) from None


def _static_version() -> str:
    """A digest of the static files, so their URLs change when they do and can be cached for a year."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.iterdir()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _templates(static_version: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # the templates are package data: no stat() of each file per page
    )
    env.globals["static"] = lambda name: f"/static/{name}?v={static_version}"
    env.globals["version"] = __version__
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    env.filters["plural"] = plural  # {{ n | plural("trial") }}: "1 trial", "1,234 trials"
    return env


class SecurityHeaders:
    """Adds the security headers to every response, and long cache lifetimes to static files.

    It also turns an unexpected exception into a plain 500 page that carries the same
    headers (the exception still propagates, so the server logs it).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        static = path.startswith("/static/")
        versioned = static and b"v=" in scope.get("query_string", b"")
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if static:
                    age = b"public, max-age=31536000, immutable" if versioned else b"public, max-age=3600"
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    headers.append((b"cache-control", age))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:
                response = _server_error(scope)
                await response(scope, receive, send_with_headers)
            raise


def _server_error(scope: Scope) -> Response:
    """The 500 answer: the error page (or the API's error JSON); a bare page if even that fails."""
    message = "Something went wrong on the server; the error is logged. Please try again later."
    request = Request(scope)
    try:
        if _is_api(request):
            return error_json(500, message)
        return views.error_page(request, 500, "Something went wrong", message)
    except Exception:  # noqa: BLE001 - the page itself failed: say it plainly
        return Response(
            "<!DOCTYPE html><title>Server error</title><h1>Something went wrong</h1>",
            status_code=500,
            media_type="text/html",
        )


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _query_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QueryError)
    message = query_message(exc)
    if _is_api(request):
        return error_json(400, message, parameters=exc.names)
    return views.error_page(request, 400, "That search cannot run", message)


async def _not_found(request: Request, exc: Exception) -> Response:
    if isinstance(exc, TrialNotFoundError):
        message = str(exc)
    else:
        message = "There is no page at this address."
    if _is_api(request):
        return error_json(404, message)
    return views.not_found_page(request, message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await _not_found(request, exc)
    detail = exc.detail or "The request cannot be served."
    if _is_api(request):
        return error_json(exc.status_code, detail, headers=exc.headers)
    return views.error_page(request, exc.status_code, "Request not served", detail, headers=exc.headers)


def _routes() -> list[Route | Mount]:
    return [
        Route("/", views.search_page, name="search"),
        Route("/trials/{nct_id}", views.trial_page, name="trial"),
        Route("/trials/{nct_id}/history", changes.history_page, name="history"),
        Route("/watches", changes.watches_page, name="watches"),
        Route("/watches", changes.save_watch, methods=["POST"], name="save_watch"),
        Route("/feeds/changes.atom", changes.changes_feed, name="changes_feed"),
        Route("/feeds/watches/{name}.atom", changes.watch_feed, name="watch_feed"),
        Route("/match", match.match_form, name="match"),
        Route("/match", match.match_page, methods=["POST"], name="match_post"),
        Route("/stats", views.stats_page, name="stats"),
        *api.routes(),
        Mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]


# Threads that run views at once in one worker process. The work is mostly Python (so the
# GIL makes more threads no faster) and each thread holds its own SQLite connection.
VIEW_THREADS = 8


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = VIEW_THREADS
    # Load search's in-memory columns now, beside serving, rather than in the first search.
    threading.Thread(target=_warm_search, args=(app.state.stores,), name="warm-search", daemon=True).start()
    yield
    app.state.stores.close()


def _warm_search(stores: StoreHolder) -> None:
    try:
        store = stores.search_store()
        if store is not None:
            with lock_of(store):
                warm_search(store)
    except Exception:
        log.warning("could not prepare search at start-up", exc_info=True)


def create_app(settings_or_db_path: WebSettings | str | Path, store: Store | None = None) -> Starlette:
    """The TrialScope web app over one store.

    ``settings_or_db_path`` is a :class:`WebSettings` or just the store's path; pass
    ``store`` to serve an already open store (the tests do), else it is opened read-only
    when first needed. A missing or empty store serves a page that says how to load records.
    """
    if isinstance(settings_or_db_path, WebSettings):
        web_settings = settings_or_db_path
    else:
        web_settings = WebSettings(db=str(settings_or_db_path))
    static_version = _static_version()
    app = Starlette(
        routes=_routes(),
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(GZipMiddleware, minimum_size=800, compresslevel=5),
        ],
        lifespan=_lifespan,
        exception_handlers={
            QueryError: _query_error,
            TrialNotFoundError: _not_found,
            HTTPException: _http_error,
        },
    )
    app.state.settings = web_settings
    app.state.stores = StoreHolder(web_settings.db, store)
    app.state.search_cache = SearchCache(web_settings.search_cache)
    app.state.templates = _templates(static_version)
    app.state.static_version = static_version
    return app


def app_from_env() -> Starlette:
    """The factory uvicorn calls in each worker process: settings from TRIALSCOPE_* variables."""
    return create_app(WebSettings.from_env())
