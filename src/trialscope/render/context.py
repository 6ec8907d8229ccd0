"""The shapes of the trial page context: sections of typed blocks, and the page itself.

Every rendering (text, Markdown, HTML, JSON) walks the same blocks. A value from a registry
vocabulary keeps its raw code (what the text page shows, as the reference page does) and,
beside it, ``words``: the same value in plain words for the pages people read in a browser.

The shapes are msgspec structs, and each kind of block carries its tag (``kind``) in JSON, so
the JSON rendering is the context encoded as it is, and the API's schema of the page is
generated from these classes.

>>> Field("Clinical Phase", "PHASE1/PHASE2", code="PHASE1/PHASE2", words="Phase 1 / Phase 2").words
'Phase 1 / Phase 2'
>>> msgspec.json.encode(Subheading("Results pending"))
b'{"kind":"subheading","text":"Results pending"}'
"""

from __future__ import annotations

import msgspec

from trialscope.criteria.types import TypedCriterion
from trialscope.model import RelatedTrial


class _Block(msgspec.Struct, frozen=True, tag_field="kind", tag=str.lower):
    """A block of a section; in JSON its ``kind`` is its class's name in lower case."""


class Text(_Block, frozen=True):
    """A paragraph of text; ``words`` is how the HTML page says it, when that differs."""

    text: str
    words: str | None = None


class Field(_Block, frozen=True):
    """A labelled value. ``inline`` None puts the label above the value; else it joins them."""

    label: str
    value: str
    inline: str | None = None
    code: str | None = None  # the registry's raw enum, when the value is one
    words: str | None = None  # the value in plain words (for the HTML page), when it is a code


class Bullets(_Block, frozen=True, omit_defaults=True):
    """A list. ``labels``, when given, holds for each item its short typed label ("Age 18–75",
    "eGFR ≥ 30 mL/min", "No pregnancy"), or "" where it has none: shown beside the item."""

    heading: str
    items: tuple[str, ...]
    labels: tuple[str, ...] = ()

    def labelled(self) -> list[tuple[str, str]]:
        """(item, label) pairs; the label "" where there is none."""
        labels = self.labels if len(self.labels) == len(self.items) else ("",) * len(self.items)
        return list(zip(self.items, labels, strict=True))


class Table(_Block, frozen=True):
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    chart: str | None = None  # "bars" where the rows are counts a chart can show


class Entry(_Block, frozen=True):
    """One item of a list section: an arm, an intervention, a site, a sponsor."""

    title: str
    blocks: tuple[Block, ...] = ()
    subtitle: str | None = None


class Subheading(_Block, frozen=True):
    text: str


Block = Text | Field | Bullets | Table | Entry | Subheading


class Section(msgspec.Struct, frozen=True):
    key: str
    title: str
    caption: str
    blocks: tuple[Block, ...] = ()


class TrialPage(msgspec.Struct, frozen=True):
    """A trial's page: its sections, and the few facts a reader wants first.

    ``countries`` holds one name per country (however the record spells them);
    ``nearest_site`` is set when the page measured distances from a place.
    """

    nct_id: str
    title: str
    last_updated: str | None
    sections: tuple[Section, ...]
    related: tuple[RelatedTrial, ...] = ()
    summary_only: bool = False
    source_format: str = "v2"
    official_title: str | None = None
    status: str | None = None
    phase: str | None = None
    conditions: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    site_count: int = 0
    nearest_site: str | None = None
    criteria: tuple[TypedCriterion, ...] = ()
    """Every eligibility criterion typed (the structured fields first), from the store's
    derived index (:mod:`trialscope.criteria.index`); empty when the page was built without."""

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)
