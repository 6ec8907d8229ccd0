"""A second search, written plainly for tests: every rule of search applied trial by trial in Python.

The engine answers from postings, segments, numpy columns and masks; this oracle reads each
stored trial's own fields and applies the same rules one trial at a time — the text tree
over the trial's analysed fields, each filter on the trial's own values, BM25 by its
formula, disjunctive facets. The tests compare the two on generated queries: where they
differ, one of them is wrong.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from trialscope.analyze import fold, stem, terms
from trialscope.model import Trial
from trialscope.search.document import FIELDS, WEIGHTS, B, field_texts
from trialscope.search.facts import date_key
from trialscope.search.filters import condition_terms
from trialscope.search.geo import canonical_country, haversine_km, locate_place, locate_site
from trialscope.search.index import INTERVENTION_BITS, PHASE_BITS
from trialscope.search.match import FIELD_CAP
from trialscope.search.query import SearchQuery, normalize_query
from trialscope.search.rank import K1
from trialscope.search.synonyms import SynonymTable
from trialscope.search.syntax import AllOf, AnyOf, Negated, Node, Term, parse_text, tokenize
from trialscope.search.values import DAYS_PER_YEAR, date_upper_bound


@dataclass
class _Doc:
    trial_id: int
    trial: Trial
    fields: list[list[str]]
    length: int
    points: list[tuple[float, float]]


@dataclass
class Answer:
    total: int
    ids: list[int]  # every hit, in result order
    scores: dict[int, float]
    facets: dict[str, dict[str, int]]


class Oracle:
    def __init__(
        self, trials: dict[int, Trial], synonyms: SynonymTable, removed: frozenset[int] = frozenset()
    ) -> None:
        self.synonyms = synonyms
        self.removed = removed
        self.docs: list[_Doc] = []
        for trial_id in sorted(trials):
            t = trials[trial_id]
            fields = [terms(text) if text else [] for text in field_texts(t)]
            points = []
            for s in t.locations:
                if s.geo is not None:
                    points.append((s.geo.lat, s.geo.lon))
                elif s.city:
                    found = locate_site(s.city, s.state, s.country)
                    if found is not None:
                        points.append(found)
            self.docs.append(_Doc(trial_id, t, fields, sum(len(f) for f in fields), points))
        self._n_holding: dict[tuple[object, ...], int] = {}

    # --- text -------------------------------------------------------------------------

    def count(self, term: Term, doc: _Doc, *, weighted: bool = False) -> float:
        """The number of instances of a Term in a trial; with ``weighted``, BM25F's frequency:
        each field's instances times its weight over its length norm."""
        stems = [
            fold(t) if term.prefix and i == len(term.tokens) - 1 else stem(t)
            for i, t in enumerate(term.tokens)
        ]
        total = 0.0
        for f, words in enumerate(doc.fields):
            if term.columns and FIELDS[f] not in term.columns:
                continue
            n = len(stems)
            found = sum(
                1
                for i in range(len(words) - n + 1)
                if all(
                    words[i + k] == s or (term.prefix and k == n - 1 and words[i + k].startswith(s))
                    for k, s in enumerate(stems)
                )
            )
            if found:
                total += WEIGHTS[f] * min(found / self.norm(doc, f), FIELD_CAP) if weighted else found
        return total

    def norm(self, doc: _Doc, field: int) -> float:
        if not hasattr(self, "_mean"):
            self._mean = [
                sum(len(d.fields[f]) for d in self.docs) / len(self.docs) for f in range(len(FIELDS))
            ]
        mean = self._mean[field]
        return 1 - B[field] + B[field] * (len(doc.fields[field]) / mean if mean else 0.0)

    def alternatives(self, term: Term, synonyms: bool) -> tuple[Term, ...]:
        return (term, *(self.synonyms.expand(term) if synonyms else ()))

    def holds(self, node: Node, doc: _Doc, synonyms: bool) -> bool:
        if isinstance(node, Term):
            return any(self.count(t, doc) > 0 for t in self.alternatives(node, synonyms))
        if isinstance(node, Negated):
            return not self.holds(node.item, doc, synonyms)
        if isinstance(node, AnyOf):
            return any(self.holds(i, doc, synonyms) for i in node.items)
        return all(self.holds(i, doc, synonyms) for i in node.items)

    def scored(self, node: Node | None, synonyms: bool) -> list[Term]:
        out: dict[Term, None] = {}

        def walk(n: Node) -> None:
            if isinstance(n, Term):
                out.update(dict.fromkeys(self.alternatives(n, synonyms)))
            elif isinstance(n, AllOf | AnyOf):
                for i in n.items:
                    walk(i)

        if node is not None and not isinstance(node, Negated):
            walk(node)
        return list(out)

    def bm25(self, phrases: Sequence[Term], doc: _Doc) -> float:
        n_docs = len(self.docs)
        score = 0.0
        for p in phrases:
            key = (p.tokens, p.columns, p.prefix)
            if key not in self._n_holding:
                self._n_holding[key] = sum(1 for d in self.docs if self.count(p, d) > 0)
            holding = self._n_holding[key]
            idf = math.log((n_docs - holding + 0.5) / (holding + 0.5))
            idf = idf if idf > 0 else 1e-6
            f = self.count(p, doc, weighted=True)
            score += idf * (f * (K1 + 1)) / (K1 + f)
        return score

    # --- filters ----------------------------------------------------------------------

    def passes(self, name: str, value: object, doc: _Doc, q: SearchQuery) -> bool:
        t = doc.trial
        e = t.eligibility
        if name == "status":
            return t.overall_status in value  # type: ignore[operator]
        if name == "phase":
            return bool(set(t.design.phases) & set(value) & set(PHASE_BITS))  # type: ignore[arg-type]
        if name == "type":
            return t.design.study_type in value  # type: ignore[operator]
        if name == "intervention_type":
            return bool({i.type for i in t.interventions} & set(value) & set(INTERVENTION_BITS))  # type: ignore[arg-type]
        if name == "sponsor_class":
            return (t.lead_sponsor.sponsor_class if t.lead_sponsor else None) in value  # type: ignore[operator]
        if name == "condition":
            return any(self.count(term, doc) > 0 for term in condition_terms(value, self.synonyms))  # type: ignore[arg-type]
        if name == "sponsor":
            return self.count(Term(tokenize(value), columns=("sponsors",)), doc) > 0  # type: ignore[arg-type]
        if name == "country":
            wanted = {canonical_country(c).lower() for c in value}  # type: ignore[attr-defined]
            return any(canonical_country(s.country).lower() in wanted for s in t.locations if s.country)
        if name == "city":
            wanted = {c.lower() for c in value}  # type: ignore[attr-defined]
            return any((s.city or "").lower() in wanted for s in t.locations)
        if name == "near":
            place = locate_place(value)  # type: ignore[arg-type]
            return any(haversine_km(place.lat, place.lon, lat, lon) <= q.within_km for lat, lon in doc.points)  # type: ignore[operator]
        if name == "age":
            days = round(value * DAYS_PER_YEAR, 6)  # type: ignore[operator]
            low, high = e.minimum_age_days, e.maximum_age_days
            return (low is None or low <= days) and (high is None or high >= days)
        if name == "sex":
            return e.sex is None or e.sex in ({"ALL"} if value == "ALL" else {"ALL", value})
        if name == "healthy_volunteers":
            return e.healthy_volunteers is not None and e.healthy_volunteers == value
        if name == "has_results":
            return t.has_results == value
        if name in ("enrollment_min", "enrollment_max"):
            n = t.design.enrollment_count
            return n is not None and (n >= value if name == "enrollment_min" else n <= value)  # type: ignore[operator]
        if name == "nct":
            return t.nct_id in value  # type: ignore[operator]
        if name == "include_removed":
            return bool(value) or doc.trial_id not in self.removed
        what, end = name.rsplit("_", 1)
        date = {"start": t.start_date, "completion": t.completion_date or t.primary_completion_date,
                "updated": None}[what]  # fmt: skip
        text = t.last_update if what == "updated" else (date.date if date else None)
        key = date_key(text)
        if key < 0:
            return False
        if end == "from":
            return key >= date_key(value)  # type: ignore[arg-type]
        bound, inclusive = date_upper_bound(value)  # type: ignore[arg-type]
        return key <= date_key(bound) if inclusive else key < date_key(bound)

    # --- a whole search ---------------------------------------------------------------

    def search(self, query: SearchQuery, *, synonyms: bool = True) -> Answer:
        q = normalize_query(query)
        node = parse_text(q.text)
        active = q.active_filters()
        passing: dict[int, set[str]] = {}  # trial -> the filters it fails
        text_ok: dict[int, bool] = {}
        for doc in self.docs:
            text_ok[doc.trial_id] = node is None or self.holds(node, doc, synonyms)
            passing[doc.trial_id] = {n for n, v in active if n != "within" and not self.passes(n, v, doc, q)}
        hits = [d for d in self.docs if text_ok[d.trial_id] and not passing[d.trial_id]]
        facets: dict[str, dict[str, int]] = {}
        own = {"status": "status", "phase": "phase", "study_type": "type", "intervention_type": "intervention_type",
               "country": "country", "sponsor_class": "sponsor_class", "has_results": "has_results"}  # fmt: skip
        for name in q.facets:
            counted = [
                d
                for d in self.docs
                if text_ok[d.trial_id] and not (passing[d.trial_id] - {own.get(name, "")})
            ]
            facets[name] = _count_facet(name, counted)
        phrases = self.scored(node, synonyms)
        scores = (
            {d.trial_id: self.bm25(phrases, d) for d in hits} if q.sort == "relevance" and phrases else {}
        )

        def key(d: _Doc) -> tuple[float, int]:
            if scores:
                value = scores[d.trial_id]
            elif q.sort == "start_date":
                value = date_key(d.trial.start_date.date if d.trial.start_date else None)
            elif q.sort == "enrollment":
                value = d.trial.design.enrollment_count if d.trial.design.enrollment_count is not None else -1
            else:
                value = date_key(d.trial.last_update)
            return (-value, d.trial_id)

        ordered = sorted(hits, key=key)
        return Answer(len(hits), [d.trial_id for d in ordered], scores, facets)


def _count_facet(name: str, docs: list[_Doc]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for d in docs:
        t = d.trial
        if name == "status" and t.overall_status:
            counts[t.overall_status] += 1
        elif name == "study_type" and t.design.study_type:
            counts[t.design.study_type] += 1
        elif name == "sponsor_class" and t.lead_sponsor and t.lead_sponsor.sponsor_class:
            counts[t.lead_sponsor.sponsor_class] += 1
        elif name == "start_year" and t.start_date and date_key(t.start_date.date) > 0:
            counts[str(date_key(t.start_date.date) // 10000)] += 1
        elif name == "has_results":
            counts["true" if t.has_results else "false"] += 1
        elif name == "phase":
            counts.update(p for p in set(t.design.phases) if p in PHASE_BITS)
        elif name == "intervention_type":
            counts.update(i for i in {x.type for x in t.interventions} if i in INTERVENTION_BITS)
        elif name == "country":
            counts.update({canonical_country(s.country) for s in t.locations if s.country})
    return {k: v for k, v in counts.items() if v}
