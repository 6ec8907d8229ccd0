"""The search form and its URLs: query-string parameters, facet options, pagination links.

Everything here works on the query string alone; turning parameters into a search is
``trialscope.search.query_from_params``'s job, which validates every value.

>>> params = search_params([("q", "lupus"), ("status", "RECRUITING"), ("status", "COMPLETED"), ("near", "")])
>>> params
{'q': 'lupus', 'status': ['RECRUITING', 'COMPLETED']}
>>> url_with(params, page="2")
'?q=lupus&status=RECRUITING&status=COMPLETED&page=2'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape, unescape
from typing import Any
from urllib.parse import urlencode

from trialscope.render.page import plain_words
from trialscope.search.query import SEARCH_PARAMETERS

Params = dict[str, str | list[str]]

# Query-string keys a search understands: the filter table's parameters, then text, sort and pages.
SEARCH_KEYS = SEARCH_PARAMETERS
# What the export and the stats keep of a search: the filters, not the page being looked at.
PAGING_KEYS = ("page", "limit", "cursor", "facets")
MAX_VALUE_LEN = 500


@dataclass(frozen=True, slots=True)
class FacetSpec:
    facet: str  # the facet's name in SearchResults.facets
    param: str  # the query-string key that filters on it
    title: str
    multiple: bool = True
    shown: int = 12  # options listed before the rest is left to the text filters


FACET_SPECS = (
    FacetSpec("status", "status", "Recruitment status"),
    FacetSpec("phase", "phase", "Phase"),
    FacetSpec("study_type", "type", "Study type"),
    FacetSpec("intervention_type", "intervention_type", "Intervention type"),
    FacetSpec("has_results", "has_results", "Results", multiple=False),
    FacetSpec("sponsor_class", "sponsor_class", "Sponsor class"),
    FacetSpec("country", "country", "Country", shown=15),
)


@dataclass(frozen=True, slots=True)
class FacetOption:
    value: str
    label: str
    count: int | None
    checked: bool


@dataclass(frozen=True, slots=True)
class FacetGroup:
    spec: FacetSpec
    options: tuple[FacetOption, ...]

    @property
    def any_checked(self) -> bool:
        return any(o.checked for o in self.options)


@dataclass(frozen=True, slots=True)
class PageLink:
    label: str
    url: str | None  # None for the current page and for gaps
    current: bool = False
    rel: str | None = None


def search_params(items: Iterable[tuple[str, str]], keys: Sequence[str] = SEARCH_KEYS) -> Params:
    """The query string as a search wants it: repeated keys as lists, blank values dropped.

    Unknown keys are left out, so a tracking parameter or a form's button name never turns
    a good search into a 400.
    """
    params: Params = {}
    for key, raw in items:
        if key not in keys:
            continue
        value = raw.strip()[:MAX_VALUE_LEN]
        if not value:
            continue
        held = params.get(key)
        if held is None:
            params[key] = value
        elif isinstance(held, list):
            if value not in held:
                held.append(value)
        elif held != value:
            params[key] = [held, value]
    return params


def values(params: Mapping[str, str | list[str]], key: str) -> list[str]:
    """The values of one key, always as a list."""
    value = params.get(key)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def first(params: Mapping[str, str | list[str]], key: str, default: str = "") -> str:
    found = values(params, key)
    return found[0] if found else default


def url_with(params: Mapping[str, str | list[str]], path: str = "", **changes: str | None) -> str:
    """A URL of ``path`` with the parameters, some changed (None removes a key)."""
    merged: dict[str, Any] = dict(params)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    query = urlencode([(k, v) for k in merged for v in values(merged, k)])
    return f"{path}?{query}" if query else (path or "?")


def without(params: Mapping[str, str | list[str]], *keys: str) -> Params:
    """The parameters less some keys (for links that start a new page or a download)."""
    return {k: v for k, v in params.items() if k not in keys}


def filters_only(params: Mapping[str, str | list[str]]) -> Params:
    return without(params, *PAGING_KEYS, "sort")


def truthy(value: object) -> bool | None:
    """A facet or parameter value read as yes/no; None when it is neither."""
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "y", "with"}:
        return True
    if text in {"false", "0", "no", "n", "without"}:
        return False
    return None


def option_label(spec: FacetSpec, value: str) -> str:
    if spec.facet == "has_results":
        answer = truthy(value)
        return "With posted results" if answer else "No results posted" if answer is False else value
    return plain_words(value) or "(not given)"


def facet_groups(
    params: Mapping[str, str | list[str]], facets: Mapping[str, Sequence[Any]]
) -> list[FacetGroup]:
    """The filter checkboxes: each facet's top values with their counts, and every chosen value."""
    groups = []
    for spec in FACET_SPECS:
        chosen = values(params, spec.param)
        chosen_keys = {c.upper() for c in chosen}
        options: list[FacetOption] = []
        seen: set[str] = set()
        for fv in list(facets.get(spec.facet, ()))[: spec.shown]:
            value = str(fv.value)
            if spec.facet == "has_results":
                answer = truthy(value)
                value = "true" if answer else "false" if answer is False else value
            key = value.upper()
            seen.add(key)
            checked = key in chosen_keys or (
                spec.facet == "has_results"
                and truthy(value) is not None
                and truthy(value) == _chosen_bool(chosen)
            )
            options.append(FacetOption(value, option_label(spec, value), int(fv.count), checked))
        for value in chosen:
            if value.upper() not in seen and not (
                spec.facet == "has_results"
                and truthy(value) is not None
                and any(truthy(o.value) == truthy(value) for o in options)
            ):
                options.append(FacetOption(value, option_label(spec, value), None, True))
        if options:
            groups.append(FacetGroup(spec, tuple(options)))
    return groups


def _chosen_bool(chosen: list[str]) -> bool | None:
    return truthy(chosen[0]) if chosen else None


FILTER_LABELS = {
    "status": "Status", "phase": "Phase", "type": "Study type", "intervention_type": "Intervention",
    "condition": "Condition", "sponsor": "Sponsor", "sponsor_class": "Sponsor class", "country": "Country",
    "city": "City", "near": "Near", "within": "Within", "age": "Age", "sex": "Sex",
    "healthy_volunteers": "Healthy volunteers", "has_results": "Results", "start_from": "Started from",
    "start_to": "Started until", "completion_from": "Completed from", "completion_to": "Completed until",
    "updated_from": "Updated since", "updated_to": "Updated until", "enrollment_min": "At least",
    "enrollment_max": "At most", "nct": "NCT id",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ActiveFilter:
    label: str
    remove_url: str


def active_filters(params: Mapping[str, str | list[str]], path: str = "/") -> list[ActiveFilter]:
    """Each filter in use, in words, with a link to the same search without it.

    >>> [f.label for f in active_filters({"q": "lupus", "status": ["RECRUITING", "COMPLETED"]})]
    ['Status: Recruiting', 'Status: Completed']
    """
    out = []
    base = without(params, "page", "cursor")
    for key, label in FILTER_LABELS.items():
        chosen = values(params, key)
        for value in chosen:
            rest: dict[str, str | list[str]] = dict(base)
            kept = [v for v in chosen if v != value]
            if kept:
                rest[key] = kept
            else:
                rest.pop(key, None)
            shown = (
                option_label(FACET_SPECS[4], value) if key == "has_results" else plain_words(value) or value
            )
            out.append(ActiveFilter(f"{label}: {shown}", url_with(rest, path)))
    return out


def pagination(
    params: Mapping[str, str | list[str]], total: int, page: int, limit: int, path: str = "/", window: int = 2
) -> list[PageLink]:
    """Links to the first, last, previous, next and nearby pages of a result list."""
    if limit <= 0 or total <= limit:
        return []
    last = max(1, math.ceil(total / limit))
    page = min(max(1, page), last)
    base = without(params, "page", "cursor")

    def link(n: int) -> str:
        return url_with(base, path, page=None if n == 1 else str(n))

    links: list[PageLink] = []
    if page > 1:
        links.append(PageLink("Previous", link(page - 1), rel="prev"))
    shown = sorted({1, last, *range(max(1, page - window), min(last, page + window) + 1)})
    previous = 0
    for n in shown:
        if n - previous > 1:
            links.append(PageLink("…", None))
        links.append(PageLink(str(n), None if n == page else link(n), current=n == page))
        previous = n
    if page < last:
        links.append(PageLink("Next", link(page + 1), rel="next"))
    return links


_MARK = re.compile(r"(</?mark>)", re.IGNORECASE)


def safe_snippet(snippet: str | None) -> str:
    """A search snippet as safe HTML whose only markup is ``<mark>``.

    The search escapes its snippets already; this re-checks, so a snippet is safe here
    whether it came escaped or not: text between the marks is unescaped once and escaped
    again, and unbalanced marks are closed.

    >>> safe_snippet("a <mark>lupus</mark> &amp; <script>x</script>")
    'a <mark>lupus</mark> &amp; &lt;script&gt;x&lt;/script&gt;'
    """
    if not snippet:
        return ""
    out: list[str] = []
    open_mark = False
    for part in _MARK.split(snippet):
        low = part.lower()
        if low == "<mark>":
            if not open_mark:
                out.append("<mark>")
                open_mark = True
        elif low == "</mark>":
            if open_mark:
                out.append("</mark>")
                open_mark = False
        elif part:
            out.append(escape(unescape(part), quote=False))
    if open_mark:
        out.append("</mark>")
    return "".join(out)
