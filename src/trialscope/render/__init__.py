"""Rendering of the trial page context: text, Markdown, HTML, JSON."""

from __future__ import annotations

from trialscope.render.html import render_html
from trialscope.render.jsonout import render_json
from trialscope.render.markdown import render_markdown
from trialscope.render.page import RelatedTrial, TrialPage, build_page
from trialscope.render.text import render_text

FORMATS = {"text": render_text, "markdown": render_markdown, "html": render_html, "json": render_json}

__all__ = ["FORMATS", "RelatedTrial", "TrialPage", "build_page", "render_page"]


def render_page(page: TrialPage, fmt: str = "text") -> str:
    """Render a page context as ``text``, ``markdown``, ``html`` or ``json``."""
    try:
        return FORMATS[fmt](page)
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}") from None
