"""serve: the web app and JSON API on uvicorn.

With one worker the app is built here and handed to uvicorn; with several, uvicorn starts
each worker from the factory ``trialscope.web.app:app_from_env``, which reads the store's
path from ``TRIALSCOPE_DB`` (set here from ``--db``), so every worker reads the same store.
"""

from __future__ import annotations

import argparse
import os
import sys

from trialscope import settings
from trialscope.cli import add_command, add_db_argument
from trialscope.errors import TrialScopeError


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "serve", cmd_serve)
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; $TRIALSCOPE_HOST)")
    p.add_argument("--port", type=int, help="port to listen on (default 8000; $TRIALSCOPE_PORT)")
    p.add_argument(
        "--workers", type=int, help="worker processes reading the one store (default: one per core)"
    )
    p.add_argument("--query-timeout", type=float, help="seconds a search may run (default 5)")
    p.add_argument(
        "--search-cache",
        type=int,
        help="searches each worker keeps cached until the next ingest (default 256; 0 turns it off)",
    )
    p.add_argument("--no-access-log", action="store_true", help="do not log each request")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    add_db_argument(p)


def cmd_serve(args: argparse.Namespace) -> int:
    """serve the web app and JSON API

    Serve the search, trial pages, statistics and the JSON API (docs at /api/docs).
    """
    import uvicorn

    from trialscope.web.app import WebSettings, create_app

    db = settings.resolve("db", args.db)
    host = settings.resolve("host", args.host)
    port = int(settings.resolve("port", args.port))
    try:
        workers = int(settings.resolve("workers", args.workers))
        timeout = float(settings.resolve("query_timeout", args.query_timeout))
    except ValueError as error:
        raise TrialScopeError(f"A worker count or query timeout is not a number ({error}).") from None
    cache = WebSettings.from_env().search_cache if args.search_cache is None else args.search_cache
    if workers < 1:
        raise TrialScopeError("--workers must be at least 1.")
    if not 0 < port < 65536:
        raise TrialScopeError("--port must be between 1 and 65535.")
    if cache < 0:
        raise TrialScopeError("--search-cache must be 0 (off) or more.")
    if timeout <= 0:
        raise TrialScopeError("--query-timeout must be more than 0 seconds.")
    where = f"http://{host}:{port}/"
    print(
        f"TrialScope serving {db} at {where} ({workers} worker{'s' if workers > 1 else ''}); Ctrl+C stops.",
        file=sys.stderr,
    )
    options = {
        "host": host,
        "port": port,
        "log_level": args.log_level,
        "access_log": not args.no_access_log,
        "server_header": False,
        "proxy_headers": False,
    }
    if workers == 1:
        web_settings = WebSettings(db=db, query_timeout=timeout, search_cache=cache)
        uvicorn.run(create_app(web_settings), **options)
        return 0
    # Workers are fresh processes: they learn the settings from the environment.
    os.environ["TRIALSCOPE_DB"] = db
    os.environ["TRIALSCOPE_QUERY_TIMEOUT"] = str(timeout)
    os.environ["TRIALSCOPE_SEARCH_CACHE"] = str(cache)
    uvicorn.run("trialscope.web.app:app_from_env", factory=True, workers=workers, **options)
    return 0
