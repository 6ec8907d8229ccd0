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

from trialscope.errors import QueryError
from trialscope.render.words import is_known, words_for
from trialscope.search.filters import BY_PARAMETER, FILTERS
from trialscope.search.geo import canonical_country
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


# One fieldset per filter that has a facet, titled as the filter table labels it.
FACET_SPECS = tuple(
    FacetSpec(f.facet, f.name, f.label, multiple=f.many, shown=15 if f.name == "country" else 12)
    for f in FILTERS.values()
    if f.facet is not None
)
# The registry vocabulary (of :mod:`trialscope.render.words`) of each filter whose values are codes,
# and of each facet counting such a filter.
FILTER_VOCABULARIES = {
    "status": "status", "phase": "phase", "type": "study_type", "sex": "sex",
    "intervention_type": "intervention_type", "sponsor_class": "sponsor_class",
}  # fmt: skip
FACET_VOCABULARIES = {
    str(FILTERS[name].facet): vocabulary
    for name, vocabulary in FILTER_VOCABULARIES.items()
    if FILTERS[name].facet
}


@dataclass(frozen=True, slots=True)
class FacetOption:
    value: str
    label: str
    count: int | None
    checked: bool
    selectable: bool = True  # False for a value outside the vocabulary: it cannot be searched for


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


def facet_label(facet: str, value: str) -> str:
    """A facet value as a page says it: codes in words, one name per country.

    >>> facet_label("status", "NOT_YET_RECRUITING"), facet_label("status", "ON_FIRE")
    ('Not yet recruiting', 'Unknown value (ON_FIRE)')
    >>> facet_label("country", "Korea, Republic of"), facet_label("has_results", "false")
    ('South Korea', 'No results posted')
    """
    if facet == "has_results":
        answer = truthy(value)
        return "With posted results" if answer else "No results posted" if answer is False else value
    if facet == "country":
        return canonical_country(value)
    vocabulary = FACET_VOCABULARIES.get(facet)
    if vocabulary is None:
        return value
    return words_for(vocabulary, value) or "(not given)"


def selectable(facet: str, value: str) -> bool:
    """Whether a facet value can be chosen as a filter: a code outside its vocabulary cannot
    (search would refuse it), so it is listed and counted but offers no checkbox."""
    vocabulary = FACET_VOCABULARIES.get(facet)
    return vocabulary is None or is_known(vocabulary, value)


def option_label(spec: FacetSpec, value: str) -> str:
    return facet_label(spec.facet, value)


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
        every = list(facets.get(spec.facet, ()))
        counts = {str(fv.value).upper(): int(fv.count) for fv in every}
        for fv in every[: spec.shown]:
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
            options.append(
                FacetOption(
                    value, option_label(spec, value), int(fv.count), checked, selectable(spec.facet, value)
                )
            )
        for value in chosen:
            if value.upper() not in seen and not (
                spec.facet == "has_results"
                and truthy(value) is not None
                and any(truthy(o.value) == truthy(value) for o in options)
            ):
                # A chosen value past the first few keeps its count (facets ignore their own filter).
                options.append(FacetOption(value, option_label(spec, value), counts.get(value.upper()), True))
        if options:
            groups.append(FacetGroup(spec, tuple(options)))
    return groups


def _chosen_bool(chosen: list[str]) -> bool | None:
    return truthy(chosen[0]) if chosen else None


@dataclass(frozen=True, slots=True)
class ActiveFilter:
    label: str
    remove_url: str


def active_filters(params: Mapping[str, str | list[str]], path: str = "/") -> list[ActiveFilter]:
    """Each filter in use, in words, with a link to the same search without it.

    >>> [f.label for f in active_filters({"q": "lupus", "status": ["RECRUITING", "not yet"]})]
    ['Recruitment status: Recruiting', 'Recruitment status: Not yet recruiting']
    """
    out = []
    base = without(params, "page", "cursor")
    for key, spec in BY_PARAMETER.items():
        label = spec.label
        chosen = values(params, key)
        for value in chosen:
            rest: dict[str, str | list[str]] = dict(base)
            kept = [v for v in chosen if v != value]
            if kept:
                rest[key] = kept
            else:
                rest.pop(key, None)
            out.append(ActiveFilter(f"{label}: {_chosen_words(spec.name, value)}", url_with(rest, path)))
    return out


def _chosen_words(name: str, value: str) -> str:
    """A value a person chose, as the page says it ("not yet" -> "Not yet recruiting")."""
    if name == "country":
        return canonical_country(value)
    if name in ("has_results", "healthy_volunteers"):
        answer = truthy(value)
        if name == "has_results":
            return facet_label("has_results", value)
        return "Accepted" if answer else "Not accepted" if answer is False else value
    vocabulary = FILTER_VOCABULARIES.get(name)
    if vocabulary is None:
        return value
    try:
        codes = FILTERS[name].read([value])
    except QueryError:
        return value
    codes = (codes,) if isinstance(codes, str) else codes or ()
    return " / ".join(words_for(vocabulary, c) for c in codes) or value


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
