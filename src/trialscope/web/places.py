"""Distances on the trial page: the searched place, and each site's distance from it.

The place is resolved the way search resolves ``near`` (a place name or ``lat,lon``);
the page's Locations section then lists the sites nearest first, each with its distance.

>>> resolve_place("53.9, 27.56")
Origin(lat=53.9, lon=27.56, label='53.9, 27.56')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec

from trialscope.model import Site, Trial
from trialscope.render.page import Entry, Field, Section, Text, TrialPage
from trialscope.search.geo import haversine_km, locate_place, locate_site


@dataclass(frozen=True, slots=True)
class Origin:
    lat: float
    lon: float
    label: str


def resolve_place(near: str) -> Origin:
    """A place name or ``lat,lon`` as coordinates, the way search reads ``near``.

    Raises QueryError, with a sentence saying why, when the place is not known.
    """
    place = locate_place(near.strip())
    return Origin(place.lat, place.lon, near.strip())


def _site_point(site: Site) -> tuple[tuple[float, float] | None, bool]:
    """A site's coordinates, and whether they are only its city's (no geo point in the record)."""
    if site.geo is not None:
        return (site.geo.lat, site.geo.lon), False
    if site.city:
        return locate_site(site.city, site.state, site.country), True
    return None, False


def with_distances(page: TrialPage, trial: Trial, origin: Origin) -> TrialPage:
    """The page with its sites sorted nearest first, each with its distance from ``origin``,
    and its nearest site named among the trial's first facts.

    Sites without coordinates keep their order after the others. The page is unchanged
    when its Locations section does not match the trial's sites one to one.
    """
    section = page.section("locations")
    entries = section.blocks
    if len(entries) != len(trial.locations) or not entries:
        return page
    ranked: list[tuple[float, int, Entry, str]] = []
    for index, (entry, site) in enumerate(zip(entries, trial.locations, strict=True)):
        if not isinstance(entry, Entry):
            return page
        point, approximate = _site_point(site)
        if point is None:
            ranked.append((math.inf, index, entry, ""))
            continue
        km = haversine_km(origin.lat, origin.lon, point[0], point[1])
        label = f"{km:,.0f} km from {origin.label}" if km >= 10 else f"{km:.1f} km from {origin.label}"
        if approximate:
            label += " (measured to the city)"
        distance = Field("Distance", label, inline=": ")
        ranked.append((km, index, msgspec.structs.replace(entry, blocks=(*entry.blocks, distance)), label))
    ranked.sort(key=lambda item: (item[0], item[1]))
    nearest = None
    if ranked and ranked[0][3]:
        _, _, entry, label = ranked[0]
        where = next((b.words or b.text for b in entry.blocks if isinstance(b, Text)), "")
        nearest = ", ".join(p for p in (entry.title, where) if p) + f": {label}"
    note = Text(
        f"Sites are listed nearest first, by distance from {origin.label}; sites whose place is unknown come last."
    )
    located = Section(
        section.key, section.title, section.caption, (note, *(entry for _, _, entry, _ in ranked))
    )
    sections = tuple(located if s.key == "locations" else s for s in page.sections)
    return msgspec.structs.replace(page, sections=sections, nearest_site=nearest)
