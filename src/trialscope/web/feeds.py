"""Atom feeds (RFC 4287): the changes of any search, and what each watch's checks reported.

Written with ElementTree, so every text is escaped; the entries are plain data
(:class:`AtomEntry`), made by the handlers from a change list or a watch's events.

>>> feed = atom_feed(AtomFeed("tag:x,2026:f", "Changes", "http://h/feeds/changes.atom", "http://h/",
...                  "2026-11-02", [AtomEntry("tag:x,2026:e", "NCT1 <b>", "2026-11-02", "http://h/trials/NCT1",
...                                           "Recruitment status: Recruiting → Completed")]))
>>> b"<title>NCT1 &lt;b&gt;</title>" in feed and b"<updated>2026-11-02T00:00:00Z</updated>" in feed
True
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from trialscope import __version__

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
_DAY = re.compile(r"^\d{4}(-\d{2})?(-\d{2})?$")


def atom_time(value: str | None) -> str:
    """A registry date (``2026-11``, ``2026-11-02``) or a time as an RFC 3339 timestamp.

    >>> atom_time("2026-11"), atom_time("2026-11-29T16:11:03Z")
    ('2026-11-01T00:00:00Z', '2026-11-29T16:11:03Z')
    """
    if not value:
        return "1970-01-01T00:00:00Z"
    if _DAY.match(value):
        parts = value.split("-")
        year, month, day = (
            parts[0],
            parts[1] if len(parts) > 1 else "01",
            parts[2] if len(parts) > 2 else "01",
        )
        return f"{year}-{month}-{day}T00:00:00Z"
    return value


@dataclass(frozen=True, slots=True)
class AtomEntry:
    id: str
    title: str
    updated: str
    link: str
    summary: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class AtomFeed:
    id: str
    title: str
    self_url: str
    html_url: str
    updated: str
    entries: Sequence[AtomEntry]
    subtitle: str | None = None


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def atom_feed(feed: AtomFeed) -> bytes:
    """The feed as an Atom XML document."""
    root = ET.Element("feed", {"xmlns": ATOM})
    _text(root, "id", feed.id)
    _text(root, "title", feed.title)
    if feed.subtitle:
        _text(root, "subtitle", feed.subtitle)
    _text(root, "updated", atom_time(feed.updated))
    ET.SubElement(root, "link", {"rel": "self", "type": "application/atom+xml", "href": feed.self_url})
    ET.SubElement(root, "link", {"rel": "alternate", "type": "text/html", "href": feed.html_url})
    author = ET.SubElement(root, "author")
    _text(author, "name", "TrialScope")
    _text(root, "generator", "TrialScope", version=__version__)
    for entry in feed.entries:
        item = ET.SubElement(root, "entry")
        _text(item, "id", entry.id)
        _text(item, "title", entry.title)
        _text(item, "updated", atom_time(entry.updated))
        ET.SubElement(item, "link", {"rel": "alternate", "type": "text/html", "href": entry.link})
        if entry.category:
            ET.SubElement(item, "category", {"term": entry.category})
        _text(item, "summary", entry.summary, type="text")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
