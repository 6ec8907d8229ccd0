"""The trial page as JSON: the page context itself, every block tagged with its kind."""

from __future__ import annotations

from typing import Any

import msgspec

from trialscope.render.page import TrialPage

_encoder = msgspec.json.Encoder()


def page_dict(page: TrialPage) -> dict[str, Any]:
    """The page context as plain data; each block carries ``kind`` (text, field, table...)."""
    data = msgspec.to_builtins(page)
    for section, obj in zip(data["sections"], page.sections, strict=True):
        section["blocks"] = [_tagged(b, o) for b, o in zip(section["blocks"], obj.blocks, strict=True)]
    return data


def _tagged(data: dict[str, Any], block: Any) -> dict[str, Any]:
    data = {"kind": type(block).__name__.lower(), **data}
    inner = getattr(block, "blocks", None)
    if inner is not None:
        data["blocks"] = [_tagged(b, o) for b, o in zip(data["blocks"], inner, strict=True)]
    return data


def render_json(page: TrialPage) -> str:
    return _encoder.encode(page_dict(page)).decode()
