"""The trial page as JSON: the page context itself, every block tagged with its kind."""

from __future__ import annotations

from typing import Any

import msgspec

from trialscope.render.context import TrialPage

_encoder = msgspec.json.Encoder()


def page_dict(page: TrialPage) -> dict[str, Any]:
    """The page context as plain data; each block carries ``kind`` (text, field, table...)."""
    data: dict[str, Any] = msgspec.to_builtins(page)
    return data


def render_json(page: TrialPage) -> str:
    return _encoder.encode(page).decode()
