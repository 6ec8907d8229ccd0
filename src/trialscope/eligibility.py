"""Eligibility criteria text -> inclusion and exclusion lists.

Registry criteria come as Markdown-ish text in API v2 (``* `` bullets, nested ``  * ``,
headings like ``Inclusion Criteria:``), as hard-wrapped plain text in legacy XML (``-``
bullets with indented continuation lines), and sometimes with no headings at all or with
headings in other words (``Key Inclusion Criteria``, ``INCLUSION:``).

>>> split = split_criteria("Inclusion Criteria:\\n\\n* adult\\n\\nExclusion Criteria:\\n\\n* pregnant")
>>> split.inclusion, split.exclusion
(('adult',), ('pregnant',))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_HEADING = re.compile(
    r"^\s*(?:#+\s*)?(?:\*\*)?\s*(?:key\s+|main\s+|major\s+|general\s+)?"
    r"(?P<kind>inclusion|exclusion|eligibility)(?:\s+criteria)?(?:\s+for\s+[^:]{0,60})?\s*(?:\*\*)?\s*:?\s*(?:\*\*)?\s*$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^(?P<indent>\s*)(?:[*\-•·]|\d{1,2}[.)]|[a-z][.)])\s+(?P<text>.*)$")


@dataclass(frozen=True, slots=True)
class CriteriaSplit:
    """Criteria lines by kind; ``other`` holds text under no heading (or another heading)."""

    inclusion: tuple[str, ...] = ()
    exclusion: tuple[str, ...] = ()
    other: tuple[str, ...] = ()

    @property
    def has_headings(self) -> bool:
        return bool(self.inclusion or self.exclusion)


def _items(lines: list[str]) -> list[str]:
    """Join a block of lines into items: a bullet starts one, a following line continues it."""
    items: list[str] = []
    blank_before = True
    for line in lines:
        if not line.strip():
            blank_before = True
            continue
        match = _BULLET.match(line)
        if match:
            depth = len(match.group("indent").expandtabs(4)) // 2
            prefix = "  " * min(depth, 3)
            items.append(prefix + match.group("text").strip())
        elif items and not blank_before:
            items[-1] = f"{items[-1]} {line.strip()}"
        else:
            items.append(line.strip())
        blank_before = False
    return items


CACHED_CHARS = 20_000  # criteria texts up to this long are split once and remembered


def split_criteria(text: str | None) -> CriteriaSplit:
    """Split criteria text into inclusion, exclusion and unheaded items (the split of a text
    seen lately is remembered: every search hit and page of a trial splits the same text)."""
    if not text or not text.strip():
        return CriteriaSplit()
    return _split_remembered(text) if len(text) <= CACHED_CHARS else _split(text)


@lru_cache(maxsize=2048)
def _split_remembered(text: str) -> CriteriaSplit:
    return _split(text)


def _split(text: str) -> CriteriaSplit:
    buckets: dict[str, list[str]] = {"inclusion": [], "exclusion": [], "other": []}
    current = "other"
    block: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        heading = _HEADING.match(line)
        if heading:
            buckets[current].extend(_items(block))
            block = []
            kind = heading.group("kind").lower()
            current = kind if kind in buckets else "other"
            continue
        block.append(line)
    buckets[current].extend(_items(block))
    return CriteriaSplit(
        inclusion=tuple(buckets["inclusion"]),
        exclusion=tuple(buckets["exclusion"]),
        other=tuple(buckets["other"]),
    )
