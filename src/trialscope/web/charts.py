"""The statistics charts: facet counts of a search as server-side SVG, each with its data table.

Every chart comes with a table of the same numbers (for screen readers, printing and
copying), and each row links to the search narrowed to that value.

>>> from types import SimpleNamespace as F
>>> views = registry_charts({"status": (F(value="RECRUITING", count=3),)}, {})
>>> views[0].title, views[0].rows[0].label, views[0].rows[0].url
('Trials by recruitment status', 'Recruiting', '/?status=RECRUITING')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trialscope.render.svg import PALETTE, bar_chart, column_chart
from trialscope.search.hits import FacetValue
from trialscope.web.common import plural
from trialscope.web.params import FACET_SPECS, Params, facet_label, selectable, truthy, url_with

MAX_BARS = 20
NO_PHASE = "No phase given"


@dataclass(frozen=True, slots=True)
class ChartRow:
    label: str
    count: int
    url: str | None


# The search parameter that filters on each facet (the filter table says it), for the rows' links.
_PARAMS = {spec.facet: spec.param for spec in FACET_SPECS}


@dataclass(frozen=True, slots=True)
class ChartSpec:
    facet: str
    title: str
    vertical: bool = False

    @property
    def param(self) -> str | None:
        """The search parameter a row's link sets (None: the facet has no filter of its own)."""
        return _PARAMS.get(self.facet)


@dataclass(frozen=True, slots=True)
class ChartView:
    """A chart as the page shows it: the drawing, and its numbers as rows of a table."""

    spec: ChartSpec
    svg: str
    rows: tuple[ChartRow, ...]
    note: str = ""

    @property
    def key(self) -> str:
        return self.spec.facet

    @property
    def title(self) -> str:
        return self.spec.title


CHART_SPECS = (
    ChartSpec("start_year", "Trials by start year", vertical=True),
    ChartSpec("status", "Trials by recruitment status"),
    ChartSpec("phase", "Trials by phase"),
    ChartSpec("study_type", "Trials by study type"),
    ChartSpec("country", "Trials by country (top 20)"),
    ChartSpec("sponsor_class", "Trials by lead sponsor class"),
    ChartSpec("intervention_type", "Trials by intervention type"),
    ChartSpec("has_results", "Trials with posted results"),
)


def _link(spec: ChartSpec, value: str, params: Params) -> str | None:
    if spec.facet == "start_year":
        if not (len(value) == 4 and value.isdigit()):
            return None
        return url_with(params, "/", start_from=f"{value}-01-01", start_to=f"{value}-12-31")
    if spec.param is None or not value or not selectable(spec.facet, value):
        return None
    if spec.facet == "has_results":
        answer = truthy(value)
        if answer is None:
            return None
        return url_with(params, "/", has_results="true" if answer else "false")
    return url_with(params, "/", **{spec.param: value})


def _label(spec: ChartSpec, value: str) -> str:
    if spec.facet == "phase" and not value:
        return NO_PHASE
    return facet_label(spec.facet, value)


def _years(facet: Sequence[Any]) -> list[tuple[str, int]]:
    """Start years in order, with the years between them that have no trials shown as zero."""
    counts = {str(fv.value): int(fv.count) for fv in facet if str(fv.value).isdigit()}
    if not counts:
        return []
    years = sorted(int(y) for y in counts)
    return [(str(y), counts.get(str(y), 0)) for y in range(years[0], years[-1] + 1)]


def registry_charts(
    facets: Mapping[str, Sequence[Any]], params: Params, *, without_phase: int | None = None
) -> list[ChartView]:
    """One chart per facet that has values, in the order of :data:`CHART_SPECS`.

    The phase chart also counts the trials that give no phase (``without_phase``), which
    the phase facet cannot list: nearly half the registry, most of it observational.
    """
    out = []
    for spec in CHART_SPECS:
        facet = list(facets.get(spec.facet, ()))
        if spec.facet == "phase" and without_phase:
            facet.append(FacetValue(value="", count=without_phase))
            facet.sort(key=lambda fv: -int(fv.count))
        if not facet:
            continue
        if spec.vertical:
            series = _years(facet)
            svg = column_chart(spec.title, [(label, float(n)) for label, n in series])
            rows = tuple(ChartRow(label, n, _link(spec, label, params)) for label, n in series if n)
            unknown = sum(int(fv.count) for fv in facet if not str(fv.value).isdigit())
            note = f"{plural(unknown, 'trial')} without a start date." if unknown else ""
        else:
            shown = facet[:MAX_BARS]
            rows = tuple(
                ChartRow(_label(spec, str(fv.value)), int(fv.count), _link(spec, str(fv.value), params))
                for fv in shown
            )
            svg = bar_chart(spec.title, [(row.label, float(row.count)) for row in rows], colour=PALETTE[0])
            more = len(facet) - MAX_BARS
            note = f"{plural(more, 'more value')} not shown." if more > 0 else ""
        out.append(ChartView(spec, svg, rows, note))
    return out
