"""Every search filter, declared once: its name, how its values are read, its help, its facet, its test.

The CLI options of ``trialscope search``, the URL and form parameters of the web app and the
JSON API, the OpenAPI parameters and the engine's test of each trial are all generated from
:data:`FILTERS` — a filter added here is everywhere at once, and nowhere else.

A filter's ``test`` gets the columns of every trial and the checked value, and returns a
mask over them (:class:`Context` carries what some tests need besides: the matcher for
text filters, the place for distances, the store for cities and ids).

>>> FILTERS["phase"].read(["2", "phase 3"]), FILTERS["phase"].cli
(('PHASE2', 'PHASE3'), '--phase')
>>> [f.name for f in FILTERS.values() if f.facet][:3]
['status', 'phase', 'type']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trialscope.errors import QueryError
from trialscope.search.facts import Columns, date_key, near_rows
from trialscope.search.geo import Place, canonical_country
from trialscope.search.index import INTERVENTION_BITS, PHASE_BITS
from trialscope.search.match import Matcher
from trialscope.search.synonyms import SynonymTable
from trialscope.search.syntax import Term, tokenize
from trialscope.search.values import (
    DAYS_PER_YEAR,
    date_upper_bound,
    is_country,
    parse_age_years,
    parse_bool,
    parse_distance_km,
    parse_int,
    parse_iso_date,
    parse_nct_ids,
    split_values,
    to_enums,
)
from trialscope.store import Store


@dataclass
class Context:
    """What filter tests may need besides the columns (one per search)."""

    columns: Columns
    matcher: Matcher
    store: Store
    synonyms: SynonymTable | None
    place: Place | None
    within_km: float | None
    _near: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def near(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the trials with a site within reach of the place, and each such site's
        distance (:func:`~trialscope.search.facts.near_rows`): worked out once per search, for
        the filter and for the distances the hits show."""
        if self._near is None:
            assert self.place is not None and self.within_km is not None
            self._near = near_rows(self.columns, self.place, self.within_km)
        return self._near


Test = Callable[[Context, Any], np.ndarray]


@dataclass(frozen=True)
class Filter:
    """One filter (see the module's description)."""

    name: str  # URL parameter; the CLI option is --name with dashes
    field: str  # the SearchQuery attribute it sets
    label: str  # what the web form calls it (error messages on the web name it)
    help: str
    read: Callable[[list[str]], Any]  # the values given (repeats and comma lists) -> checked value
    test: Test | None = None
    many: bool = False  # several values are accepted
    facet: str | None = None  # the facet counting the same thing
    aliases: tuple[str, ...] = ()  # other URL parameters meaning the same
    kind: str = "string"  # OpenAPI type of one value: string, integer, number, boolean
    example: str = ""

    @property
    def cli(self) -> str:
        return "--" + self.name.replace("_", "-")


def _last(values: list[str]) -> str:
    return next((v for v in reversed(values) if v.strip()), "").strip()


def _enums(vocabulary: str) -> Callable[[list[str]], tuple[str, ...]]:
    return lambda values: to_enums(vocabulary, values)


def _one_enum(vocabulary: str) -> Callable[[list[str]], str | None]:
    def read(values: list[str]) -> str | None:
        found = to_enums(vocabulary, [_last(values)]) if _last(values) else ()
        return found[0] if found else None

    return read


def _distinct(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def _date(what: str) -> Callable[[list[str]], str | None]:
    return lambda values: parse_iso_date(_last(values), what)


def _int(what: str) -> Callable[[list[str]], int | None]:
    return lambda values: parse_int(_last(values) or None, what)


def _bool(what: str) -> Callable[[list[str]], bool | None]:
    return lambda values: parse_bool(_last(values), what)


# --- tests ----------------------------------------------------------------------------


def _coded(column: str) -> Test:
    def test(ctx: Context, wanted: tuple[str, ...]) -> np.ndarray:
        cols = ctx.columns
        chosen = np.zeros(len(cols.values[column]), dtype=bool)
        chosen[[c for c in (cols.code(column, v) for v in wanted) if c >= 0]] = True
        return chosen[cols.codes[column]]

    return test


def _bits(table: dict[str, int], attribute: str) -> Test:
    def test(ctx: Context, wanted: tuple[str, ...]) -> np.ndarray:
        bits = sum(table.get(v, 0) for v in wanted)
        return (getattr(ctx.columns, attribute) & bits) != 0

    return test


def _text_in_fields(ctx: Context, terms: Sequence[Term]) -> np.ndarray:
    mask = np.zeros(ctx.matcher.owner.size, dtype=bool)
    for term in terms:
        docs = ctx.matcher.phrase(term).docs
        mask[docs[docs < mask.size]] = True
    return ctx.columns.rows_mask(mask)


def condition_terms(conditions: Sequence[str], synonyms: SynonymTable | None) -> list[Term]:
    """A condition filter's phrases: each condition (and its synonyms) in the conditions or
    MeSH fields, which hold each trial's MeSH terms and their ancestors ("Autoimmune Diseases"
    finds lupus trials)."""
    terms: list[Term] = []
    for condition in conditions:
        tokens = tokenize(condition)
        if not tokens:
            raise QueryError(f"The condition {condition!r} has no words to search for.")
        term = Term(tokens, written=condition, columns=("conditions", "mesh"))
        terms.extend((term, *(synonyms.expand(term) if synonyms is not None else ())))
    return list(dict.fromkeys(terms))


def _conditions(ctx: Context, conditions: tuple[str, ...]) -> np.ndarray:
    return _text_in_fields(ctx, condition_terms(conditions, ctx.synonyms))


def _sponsor(ctx: Context, sponsor: str) -> np.ndarray:
    tokens = tokenize(sponsor)
    if not tokens:
        raise QueryError(f"The sponsor {sponsor!r} has no words to search for.")
    return _text_in_fields(ctx, [Term(tokens, columns=("sponsors",))])


def _countries(ctx: Context, countries: tuple[str, ...]) -> np.ndarray:
    cols = ctx.columns
    wanted = {canonical_country(c).lower() for c in countries}
    codes = [i for i, v in enumerate(cols.country_values) if v.lower() in wanted]
    rows = cols.country_row[np.isin(cols.country_code, codes)]
    mask = np.zeros(cols.size, dtype=bool)
    mask[rows[rows >= 0]] = True
    return mask


def _cities(ctx: Context, cities: tuple[str, ...]) -> np.ndarray:
    ids = [r[0] for r in ctx.store.select_in("sites", ("trial_id",), "city", list(cities))]
    return ctx.columns.mask_of(np.asarray(ids, dtype=np.int64))


def _near(ctx: Context, _: str) -> np.ndarray:
    mask = np.zeros(ctx.columns.size, dtype=bool)
    mask[ctx.near()[0]] = True
    return mask


def _age(ctx: Context, years: float) -> np.ndarray:
    cols = ctx.columns
    days = round(years * DAYS_PER_YEAR, 6)
    with np.errstate(invalid="ignore"):
        return (np.isnan(cols.min_age) | (cols.min_age <= days)) & (
            np.isnan(cols.max_age) | (cols.max_age >= days)
        )


def _sex(ctx: Context, sex: str) -> np.ndarray:
    cols = ctx.columns
    sexes = ("ALL",) if sex == "ALL" else ("ALL", sex)
    return (cols.codes["sex"] == cols.code("sex", None)) | np.isin(
        cols.codes["sex"], [cols.code("sex", s) for s in sexes]
    )


def _flag(attribute: str) -> Test:
    return lambda ctx, value: getattr(ctx.columns, attribute) == int(value)


def _date_from(attribute: str) -> Test:
    def test(ctx: Context, low: str) -> np.ndarray:
        keys = getattr(ctx.columns, attribute)
        return (keys >= 0) & (keys >= date_key(low))

    return test


def _date_to(attribute: str) -> Test:
    def test(ctx: Context, high: str) -> np.ndarray:
        keys = getattr(ctx.columns, attribute)
        bound, inclusive = date_upper_bound(high)
        return (keys >= 0) & ((keys <= date_key(bound)) if inclusive else (keys < date_key(bound)))

    return test


def _enrollment(minimum: bool) -> Test:
    def test(ctx: Context, value: int) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            e = ctx.columns.enrollment
            return e >= value if minimum else e <= value

    return test


def _removed(ctx: Context, include: bool) -> np.ndarray:
    return np.ones(ctx.columns.size, dtype=bool) if include else ~ctx.columns.removed


def _nct_ids(ctx: Context, ids: tuple[str, ...]) -> np.ndarray:
    found = ctx.store.ids_of(list(ids))
    return ctx.columns.mask_of(np.asarray(list(found.values()), dtype=np.int64))


LIST = "comma list or repeated"

_ALL = (
    Filter("status", "statuses", "Recruitment status", f"recruitment status, e.g. recruiting ({LIST})",
           _enums("status"), _coded("status"), many=True, facet="status", example="recruiting"),
    Filter("phase", "phases", "Phase", f"phase: 1, 2, 'phase 3', PHASE2 ({LIST})",
           _enums("phase"), _bits(PHASE_BITS, "phases"), many=True, facet="phase", example="2"),
    Filter("type", "study_types", "Study type", f"study type: interventional, observational ({LIST})",
           _enums("study type"), _coded("study_type"), many=True, facet="study_type", aliases=("study_type",),
           example="interventional"),
    Filter("intervention_type", "intervention_types", "Intervention type",
           f"drug, device, biological ... ({LIST})", _enums("intervention type"),
           _bits(INTERVENTION_BITS, "itypes"), many=True, facet="intervention_type", example="drug"),
    Filter("condition", "conditions", "Condition",
           "condition, its MeSH terms and their ancestors (repeat for more; commas stay in a name)",
           _distinct, _conditions, many=True, example="Lupus Erythematosus, Systemic"),
    Filter("sponsor", "sponsor", "Sponsor", "sponsor or collaborator name (words of it)",
           lambda v: _last(v) or None, _sponsor, example="Pfizer"),
    Filter("sponsor_class", "sponsor_classes", "Sponsor class", f"lead sponsor class: industry, nih ... ({LIST})",
           _enums("sponsor class"), _coded("sponsor_class"), many=True, facet="sponsor_class", example="industry"),
    Filter("country", "countries", "Country", f"a site in this country ({LIST})",
           lambda v: tuple(dict.fromkeys(split_values(v, keep=is_country))), _countries, many=True,
           facet="country", example="Belarus"),
    Filter("city", "cities", "City", "a site in this city (repeat for more)", _distinct, _cities, many=True,
           example="Minsk"),
    Filter("near", "near", "Near", "a place ('Minsk, Belarus', 'Boston, MA') or 'lat,lon' to measure distance from",
           lambda v: _last(v) or None, _near, example="Minsk, Belarus"),
    Filter("within", "within_km", "Within", "distance from the place, like 500km or 300mi (default 100km)",
           lambda v: parse_distance_km(_last(v) or None), example="500km"),
    Filter("age", "age_years", "Age", "a patient's age: 45, 45y, 18 months, 3 weeks",
           lambda v: parse_age_years(_last(v) or None), _age, example="45"),
    Filter("sex", "sex", "Sex", "female, male or all", _one_enum("sex"), _sex, example="female"),
    Filter("healthy_volunteers", "healthy_volunteers", "Healthy volunteers", "yes or no",
           _bool("Healthy volunteers"), _flag("healthy"), kind="boolean", example="yes"),
    Filter("has_results", "has_results", "Results", "yes or no", _bool("Has results"), _flag("results"),
           facet="has_results", kind="boolean", example="yes"),
    *(
        Filter(f"{what}_{end}", f"{what}_{end}", f"{label} {'from' if end == 'from' else 'to'}",
               f"{label.lower()} date on or {'after' if end == 'from' else 'before'} (2021, 2021-06, 2021-06-30)",
               _date(f"{label} {'from' if end == 'from' else 'to'}"),
               (_date_from if end == "from" else _date_to)(column), example="2021-06")
        for what, label, column in (("start", "Start", "start"), ("completion", "Completion", "completion"),
                                    ("updated", "Updated", "updated"))
        for end in ("from", "to")
    ),
    Filter("enrollment_min", "enrollment_min", "Enrollment at least", "at least this many participants",
           _int("The minimum enrollment"), _enrollment(True), kind="integer", example="20"),
    Filter("enrollment_max", "enrollment_max", "Enrollment at most", "at most this many participants",
           _int("The maximum enrollment"), _enrollment(False), kind="integer", example="500"),
    Filter("nct", "nct_ids", "NCT ids", f"only these NCT ids ({LIST})", parse_nct_ids, _nct_ids, many=True,
           aliases=("nct_id",), example="NCT04184258"),
    Filter("include_removed", "include_removed", "Include removed trials",
           "also trials the registry no longer lists (left out unless asked)",
           lambda v: bool(parse_bool(_last(v), "Include removed trials")), _removed, kind="boolean", example="yes"),
)  # fmt: skip

FILTERS: dict[str, Filter] = {f.name: f for f in _ALL}
# Every URL parameter a filter answers to -> the filter.
BY_PARAMETER: dict[str, Filter] = {name: f for f in _ALL for name in (f.name, *f.aliases)}
BY_FIELD: dict[str, Filter] = {f.field: f for f in _ALL}
