"""The trial page as Markdown."""

from __future__ import annotations

import re

from trialscope.render.page import Block, Bullets, Entry, Field, Subheading, Table, Text, TrialPage

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def md_escape(text: str) -> str:
    """Escape Markdown (and raw HTML) in registry text, so it shows as written."""
    return _SPECIAL.sub(r"\\\1", text)


def _cell(text: str) -> str:
    return md_escape(text).replace("\n", " ")


def _block(block: Block, depth: int) -> list[str]:
    if isinstance(block, Text):
        return [md_escape(block.text)]
    if isinstance(block, Subheading):
        return [f"{'#' * min(depth, 6)} {md_escape(block.text)}"]
    if isinstance(block, Field):
        return [f"**{md_escape(block.label)}**: {md_escape(block.value)}"]
    if isinstance(block, Bullets):
        items = "\n".join(
            (f"  - {md_escape(i.strip())}" if i.startswith("  ") else f"- {md_escape(i)}")
            + (f" — *{md_escape(label)}*" if label else "")
            for i, label in block.labelled()
        )
        return [f"**{md_escape(block.heading)}**", items]
    if isinstance(block, Table):
        head = "| " + " | ".join(_cell(h) for h in block.header) + " |"
        rule = "|" + "---|" * len(block.header)
        rows = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
        return [f"*{md_escape(block.caption)}*", "\n".join([head, rule, *rows])]
    if isinstance(block, Entry):
        out = [f"{'#' * min(depth, 6)} {md_escape(block.title)}"] if block.title else []
        for inner in block.blocks:
            out += _block(inner, depth + 1)
        return out
    raise TypeError(f"unknown block {type(block).__name__}")


def render_markdown(page: TrialPage) -> str:
    parts = [
        f"# {md_escape(page.title)}",
        f"**NCT ID**: {page.nct_id}  \n**Last Updated**: {page.last_updated or ''}",
    ]
    if page.summary_only:
        parts.append("> Summary-only record: loaded from a CSV export; details are missing.")
    for section in page.sections:
        parts.append(f"## {section.title}")
        if section.caption:
            parts.append(f"*{section.caption}*")
        for block in section.blocks:
            parts += _block(block, 3)
    return "\n\n".join(parts) + "\n"
