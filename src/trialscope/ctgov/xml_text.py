"""Reading legacy ClinicalTrials.gov XML: element texts, attributes, and hard-wrapped text blocks.

:data:`XML` is the :class:`~trialscope.ctgov.translate.Reader` the legacy XML tables use. A path
is an ElementPath (``"facility/address/city"``) with an optional attribute (``"@group_id"``,
``"start_date@type"``); the empty path is the element itself.

>>> from lxml import etree
>>> el = etree.fromstring(b'<e><d type="Actual"> May 2020 </d></e>')
>>> XML.text(el, "d"), XML.text(el, "d@type")
('May 2020', 'Actual')
"""

from __future__ import annotations

import re
from typing import Any

from lxml.etree import _Element

from trialscope.ctgov.translate import Calc, Reader

# --- text blocks ---------------------------------------------------------------------------

# The registry wrapped XML text blocks at 98-99 columns: a line is a wrapped one when the next
# line's first word would have taken it past 98 (measured over all the legacy XML we hold).
_WRAP_WIDTH = 98
_DASH = re.compile(r"^-\s+")


def unwrap_textblock(raw: str | None) -> str | None:
    """Hard-wrapped, indented XML text -> Markdown-ish text as API v2 writes it.

    Common indentation goes, lines the registry broke at 99 columns are joined again,
    paragraph breaks stay, and the XML's ``-  item`` lists become ``* item`` (nested lists
    indented by two spaces per level).

    >>> unwrap_textblock("\\n        Inclusion:\\n\\n          -  adults\\n\\n          -  consent\\n      ")
    'Inclusion:\\n\\n* adults\\n* consent'
    """
    if not raw or not raw.strip():
        return None
    # Some records carry carriage returns as character references (&#13;).
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    units: list[list] = []  # [kind, depth, lines, text_indent]; kind "p" or "item"
    dashes: list[int] = []  # indentation of the dashes of the open list levels
    previous: str | None = None  # the previous raw line, None after a blank one
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").expandtabs().split("\n"):
        text = line.strip()
        if not text:
            previous = None
            continue
        indent = len(line) - len(line.lstrip())
        dash = _DASH.match(text)
        last = units[-1] if units else None
        if dash:
            while dashes and dashes[-1] > indent:
                dashes.pop()
            if not dashes or dashes[-1] < indent:
                dashes.append(indent)
            units.append(["item", len(dashes) - 1, [text[dash.end() :]], indent + dash.end()])
        elif (
            last
            and previous is not None
            and ((last[0] == "item" and indent >= last[3] - 1) or _was_wrapped(previous, text))
        ):
            last[2][-1] += " " + text
        elif last and last[0] == "p" and previous is not None:
            last[2].append(text)  # a line break the author made inside a paragraph
        else:
            while dashes and dashes[-1] >= indent:
                dashes.pop()
            units.append(["p", 0, [text], indent])
        previous = line.rstrip()
    parts: list[str] = []
    for index, (kind, depth, lines, _) in enumerate(units):
        if index:
            parts.append("\n" if kind == "item" and units[index - 1][0] == "item" else "\n\n")
        parts.append("  " * depth + "* " + lines[0] if kind == "item" else "\n".join(lines))
    return "".join(parts) or None


def _was_wrapped(previous: str, text: str) -> bool:
    """Whether the registry broke ``previous`` only because ``text``'s first word did not fit."""
    return len(previous) + 1 + len(text.split(None, 1)[0]) > _WRAP_WIDTH


# --- reading elements ---------------------------------------------------------------------


def _text(node: _Element) -> str | None:
    if len(node):  # mixed content: the texts of the children too
        value = "".join(t for t in node.itertext() if isinstance(t, str))
    else:
        value = node.text or ""
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    return value or None


def _attr_or_text(el: _Element | None, path: str) -> str | None:
    if el is None:
        return None
    if "@" not in path:
        node = el.find(path) if path else el
        return None if node is None else _text(node)
    path, _, attribute = path.partition("@")
    node = el.find(path) if path else el
    value = None if node is None else node.get(attribute)
    return value.strip() or None if value else None


XML = Reader(
    node=lambda el, path: None if el is None else el.find(path) if path else el,
    nodes=lambda el, path: [] if el is None else el.findall(path),
    text=_attr_or_text,
    texts=lambda el, path: [] if el is None else [t for t in (_text(n) for n in el.findall(path)) if t],
)


def block(path: str) -> Calc:
    """The text block at ``path`` (its ``<textblock>`` or itself), unwrapped into v2's Markdown-ish text."""

    def unwrapped(el: Any) -> str | None:
        node = el.find(path)
        if node is None:
            return None
        inner = node.find("textblock")
        return unwrap_textblock("".join(t for t in (inner if inner is not None else node).itertext()))

    return Calc(unwrapped)


def oneline(text: str) -> str:
    """A title with its line breaks and runs of spaces made single spaces."""
    return " ".join(text.split())
