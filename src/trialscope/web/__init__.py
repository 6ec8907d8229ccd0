"""The web app and the JSON API: server-rendered pages over search, similar and render.

>>> from trialscope.web import create_app
"""

from __future__ import annotations

from trialscope.web.app import WebSettings, create_app

__all__ = ["WebSettings", "create_app"]
