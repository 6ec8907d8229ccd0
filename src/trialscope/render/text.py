"""The trial page as plain text, in the layout of the reference page."""

from __future__ import annotations

from trialscope.render.page import Block, Bullets, Entry, Field, Subheading, Table, Text, TrialPage


def _block_lines(block: Block) -> list[str]:
    if isinstance(block, Text):
        return [block.text]
    if isinstance(block, Subheading):
        return [block.text]
    if isinstance(block, Field):
        if block.inline is None:
            return [block.label, block.value]
        return [f"{block.label}{block.inline}{block.value}".rstrip()]
    if isinstance(block, Bullets):
        return [
            block.heading,
            "\n".join(
                (f"* {item}" if not item.startswith("  ") else f"  * {item.strip()}")
                + (f"  [{label}]" if label else "")
                for item, label in block.labelled()
            ),
        ]
    if isinstance(block, Table):
        lines = [block.caption, " | ".join(block.header)]
        lines += [" | ".join(row) for row in block.rows]
        return [lines[0], "\n".join(lines[1:])]
    if isinstance(block, Entry):
        out = [block.title] if block.title else []
        for inner in block.blocks:
            out += _block_lines(inner)
        return out
    raise TypeError(f"unknown block {type(block).__name__}")


def render_text(page: TrialPage) -> str:
    """The page as text: each heading, caption, label and value a paragraph of its own."""
    parts = [page.title, f"NCT ID: {page.nct_id}", f"Last Updated: {page.last_updated or ''}".rstrip()]
    if page.summary_only:
        parts.append("Summary-only record: this trial was loaded from a CSV export and lacks full details.")
    for section in page.sections:
        parts.append(section.title)
        if section.caption:
            parts.append(section.caption)
        for block in section.blocks:
            parts += _block_lines(block)
    return "\n\n".join(p for p in parts if p != "") + "\n"
