"""What the similarity of two trials is made of: feature bags per block, and facts for reasons.

A trial becomes five bags of weighted features, one per *block*:

``condition``
    MeSH condition terms and their browse ancestors (``c:system lupu erythematosu``, the stems
    of "systemic lupus erythematosus"), plus the condition strings as written, normalized the
    same way, so a record without MeSH still meets one with it.
``intervention``
    whole intervention names (``i:pool mesenchym stem cell``), the phrases in them
    (``iw:mesenchym stem cell``), the kind of treatment they are (``ic:mesenchymal stem cells``,
    :mod:`.concepts`), MeSH intervention terms (``im:...``) and the type (``it:BIOLOGICAL``).
    Placebo, sham and standard care count little: every arm of a field gets them.
``text``
    word stems of what the trial says it is about (title, conditions, keywords, interventions,
    summaries), and, marked ``~``, of its outcomes and eligibility criteria. Those two are
    mostly the same text in every trial ("able to read and understand", "pregnancy"), so a
    ``~`` word counts only as far as the registry also uses it to say what trials are about
    (:func:`trialscope.similar.vectors.fold_peripheral`).
``design``
    phase, study type, purpose, allocation, model, intervention types (``it:BIOLOGICAL``),
    sex and age groups.
``sponsor``
    the lead sponsor and collaborators.

The bags hold raw weights (term counts times a field weight); :mod:`trialscope.similar.vectors`
turns them into IDF-weighted unit vectors. The *facts* keep what a reason may quote, as the
trial writes it: condition and intervention names, sponsors, phases, and its words.

>>> from trialscope.model import Trial, MeshTerm
>>> f = extract_features(Trial(nct_id="NCT1", brief_title="Stem cells for lupus",
...     condition_mesh=(MeshTerm("Lupus Erythematosus, Systemic"),)))
>>> f.bags["condition"]
{'c:system lupu erythematosu': 1.0}
>>> sorted(f.bags["text"]), f.facts["w"]
(['cell', 'lupu', 'stem'], ['Stem', 'cells', 'lupus'])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from trialscope.analyze import terms, tokens
from trialscope.model import Trial
from trialscope.similar.concepts import concepts_of
from trialscope.similar.words import (
    BACKGROUND_WORDS,
    INTERVENTION_STOPWORDS,
    Surface,
    add_stems,
    content_stems,
)

BLOCKS = ("condition", "intervention", "text", "design", "sponsor")

# Raw weight of a browse ancestor beside a term the record names itself: an ancestor says
# "somewhere under Autoimmune Diseases", which is weaker evidence than the condition.
ANCESTOR_WEIGHT = 0.5
# A kind of treatment named only in the title ("Umbilical Cord Mesenchymal Stem Cells for Lupus
# Nephritis", with arms called "SLE group" and "LN group"): good evidence, if less than a name.
TITLE_CONCEPT_WEIGHT = 0.5
# Text fields and weights: the title and the named conditions say what a trial is about more
# densely than a description does. Outcomes and eligibility are read as peripheral (``~``).
TOPICAL_FIELDS = (
    ("title", 3.0),
    ("conditions", 2.0),
    ("keywords", 2.0),
    ("interventions", 1.0),
    ("summary", 1.0),
    ("description", 0.5),
)
PERIPHERAL_FIELDS = (("outcomes", 0.5), ("eligibility", 0.25))
PERIPHERAL = "~"
# Long free text is cut: past the first few thousand characters a description or a list of
# criteria adds little to what a trial is about, and a lot to the cost of reading it.
MAX_FIELD_CHARS = 6_000
# Words a trial's reasons may quote: those of its title, conditions, keywords, interventions
# and summary, at most this many.
SURFACE_WORDS = 64

_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_DOSE = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:mg|g|mcg|ug|µg|ml|iu|units?|%|mg/kg|mg/m2)\b")
_PLACEBO = frozenset(("placebo", "placebos", "sham", "vehicle"))
_BACKGROUND_STEMS = frozenset(content_stems(" ".join(BACKGROUND_WORDS), frozenset()))


@lru_cache(maxsize=1 << 16)
def normalize_concept(name: str) -> str:
    """A condition or MeSH term as a key: its stems, inverted MeSH order undone, brackets left out.

    >>> normalize_concept("Lupus Erythematosus, Systemic")
    'system lupu erythematosu'
    >>> normalize_concept("Systemic Lupus Erythematosus (SLE)")
    'system lupu erythematosu'
    """
    text = _PAREN.sub(" ", name.lower())
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 2 and parts[1] and len(parts[1].split()) <= 3:
        text = f"{parts[1]} {parts[0]}"
    return " ".join(terms(text))


def _meaning_words(text: str) -> list[str]:
    return content_stems(_DOSE.sub(" ", text), INTERVENTION_STOPWORDS)


@lru_cache(maxsize=1 << 16)
def _name_runs(name: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The meaning words of a name outside brackets, and those of each bracketed part."""
    lower = name.lower()
    inner = (tuple(_meaning_words(m[1:-1])) for m in _PAREN.findall(lower))
    return tuple(_meaning_words(_PAREN.sub(" ", lower))), tuple(run for run in inner if run)


def normalize_intervention(name: str) -> list[str]:
    """The stems of an intervention name's meaning words; brackets, doses and routes left out.

    >>> normalize_intervention("Pooled mesenchymal stem cell 1 mg/kg IV")
    ['pool', 'mesenchym', 'stem', 'cell']
    """
    return list(_name_runs(name)[0])


def intervention_segments(name: str) -> tuple[tuple[str, ...], ...]:
    """The name outside brackets and each bracketed part, as separate runs of stems.

    Brackets often hold what a code name is ("CS20AT04 (allogenic bone marrow derived
    mesenchymal stem cell)"), so their phrases count, but a phrase never spans a bracket.

    >>> intervention_segments("CS20AT04 (allogenic mesenchymal stem cell)")
    (('cs20at04',), ('allogen', 'mesenchym', 'stem', 'cell'))
    """
    outside, inner = _name_runs(name)
    return (outside, *inner) if outside else inner


@lru_cache(maxsize=1 << 16)
def is_background(name: str) -> bool:
    """Whether an intervention is placebo, sham or standard care rather than what a trial tests.

    >>> is_background("Standard treatment according to the Clinical protocols")
    True
    >>> is_background("Conventional plus MSC treatment")
    False
    """
    if _PLACEBO.intersection(w.lower() for w in tokens(name)):
        return True
    return not [w for run in intervention_segments(name) for w in run if w not in _BACKGROUND_STEMS]


def normalize_title(title: str | None) -> str:
    """A title reduced to its letters and digits, to find trials registered twice.

    >>> normalize_title("Treatment of SLE: a Phase-2 Study.")
    'treatment of sle a phase 2 study'
    """
    return " ".join(tokens((title or "").lower()))


def normalize_sponsor(name: str | None) -> str:
    return " ".join(tokens((name or "").lower()))


@dataclass(frozen=True, slots=True)
class TrialFeatures:
    """The feature bags of one trial, what reasons may name, and its duplicate key."""

    nct_id: str
    bags: dict[str, dict[str, float]]
    facts: dict[str, object]
    dup_key: str | None


def _add(bag: dict[str, float], key: str, weight: float) -> None:
    """Keep the strongest weight a feature gets (a term named and also an ancestor counts once)."""
    if weight > bag.get(key, 0.0):
        bag[key] = weight


def condition_features(trial: Trial) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """The condition bag, the conditions a trial names (key -> display) and its ancestors."""
    bag: dict[str, float] = {}
    named: dict[str, str] = {}
    ancestors: dict[str, str] = {}
    for name in (*(t.term for t in trial.condition_mesh), *trial.conditions):
        key = "c:" + normalize_concept(name)
        if key != "c:":
            _add(bag, key, 1.0)
            named.setdefault(key, name)
    for term in trial.condition_ancestors:
        key = "c:" + normalize_concept(term.term)
        if key != "c:":
            _add(bag, key, ANCESTOR_WEIGHT)
            if key not in named:
                ancestors.setdefault(key, term.term)
    return bag, named, ancestors


def intervention_features(
    trial: Trial, expand: Callable[[str], list[str] | None] | None = None
) -> tuple[dict[str, float], dict[str, str]]:
    """The intervention bag and the display names of what the trial tests (key -> name).

    ``expand`` spells out abbreviations ("MSC" -> mesenchymal stem cell): their phrases
    count as if the name had said them. Background interventions (:func:`is_background`)
    are left out.
    """
    bag: dict[str, float] = {}
    names: dict[str, str] = {}
    for item in trial.interventions:
        if is_background(item.name):
            continue
        for name in (item.name, *item.other_names):
            words = normalize_intervention(name)
            if not words:
                continue
            key = "i:" + " ".join(words)
            _add(bag, key, 1.0)
            names.setdefault(key, name.strip())
            # Phrases of one to three words let "pooled mesenchymal stem cell" meet
            # "mesenchymal stem cells" without a thesaurus.
            segments = list(intervention_segments(name))
            if expand is not None:
                segments += [tuple(long) for word in tokens(name) if (long := expand(word))]
            for segment in segments:
                for size in (1, 2, 3):
                    for start in range(len(segment) - size + 1):
                        _add(bag, "iw:" + " ".join(segment[start : start + size]), 0.3 * size)
        for concept in concepts_of((item.name, *item.other_names)):
            _add(bag, "ic:" + concept, 1.0)
            names.setdefault("ic:" + concept, concept)
    for concept in concepts_of(filter(None, (trial.brief_title, trial.official_title))):
        _add(bag, "ic:" + concept, TITLE_CONCEPT_WEIGHT)
        names.setdefault("ic:" + concept, concept)
    for terms_, weight in ((trial.intervention_mesh, 1.0), (trial.intervention_ancestors, ANCESTOR_WEIGHT)):
        for term in terms_:
            key = "im:" + normalize_concept(term.term)
            _add(bag, key, weight)
            if weight == 1.0:
                names.setdefault(key, term.term)
    return bag, names


def _text_fields(trial: Trial) -> dict[str, str | None]:
    return {
        "title": " ".join(filter(None, (trial.brief_title, trial.official_title, trial.acronym))),
        "conditions": " ".join(trial.conditions),
        "keywords": " ".join(trial.keywords),
        "interventions": " ".join(i.name for i in trial.interventions),
        "summary": trial.brief_summary,
        "description": trial.detailed_description,
        "outcomes": " ".join(o.measure for o in trial.outcomes),
        "eligibility": trial.eligibility.criteria,
    }


def text_features(trial: Trial) -> tuple[dict[str, float], list[str]]:
    """Stem weights of the trial's text, each field counted with its weight, and the words as written.

    A word of the outcomes or criteria that the trial also uses in its topical fields is
    already counted there; only the others become ``~`` words, so a ``~`` word's document
    frequency counts the trials that use it *only* that way.
    """
    fields = _text_fields(trial)
    bag: dict[str, float] = {}
    shown = Surface(SURFACE_WORDS)
    for name, weight in TOPICAL_FIELDS:
        quoted = name != "description"
        running = name in ("keywords", "summary")
        add_stems(
            bag, fields[name], weight, limit=MAX_FIELD_CHARS, shown=shown if quoted else None, running=running
        )
    peripheral: dict[str, float] = {}
    for name, weight in PERIPHERAL_FIELDS:
        add_stems(peripheral, fields[name], weight, limit=MAX_FIELD_CHARS, prefix=PERIPHERAL, skip=bag)
    bag.update(peripheral)
    return bag, shown.words()


def age_groups(trial: Trial) -> tuple[str, ...]:
    """CHILD / ADULT / OLDER_ADULT, from the record's own groups or from its age limits.

    >>> age_groups(Trial(nct_id="NCT1"))
    ()
    """
    e = trial.eligibility
    if e.std_ages:
        return tuple(e.std_ages)
    low, high = e.minimum_age_days, e.maximum_age_days
    if low is None and high is None:
        return ()
    low = low or 0.0
    high = high if high is not None else float("inf")
    groups = []
    if low < 18 * 365.25:
        groups.append("CHILD")
    if low < 65 * 365.25 and high >= 18 * 365.25:
        groups.append("ADULT")
    if high >= 65 * 365.25:
        groups.append("OLDER_ADULT")
    return tuple(groups)


def design_features(trial: Trial) -> dict[str, float]:
    """Design and population: weak evidence alone, a fair tie breaker between equals."""
    d = trial.design
    bag: dict[str, float] = {}
    for phase in d.phases:
        bag["phase:" + phase] = 1.0
    for prefix, value, weight in (
        ("type:", d.study_type, 1.0),
        ("purpose:", d.primary_purpose, 1.0),
        ("alloc:", d.allocation, 0.5),
        ("model:", d.intervention_model or d.observational_model, 0.5),
        ("sex:", trial.eligibility.sex, 0.5),
    ):
        if value:
            bag[prefix + value] = weight
    for group in age_groups(trial):
        bag["age:" + group] = 0.5
    for item in trial.interventions:
        if item.type:
            bag["it:" + item.type] = 0.5
    if trial.eligibility.healthy_volunteers:
        bag["hv:yes"] = 0.5
    return bag


def sponsor_features(trial: Trial) -> tuple[dict[str, float], dict[str, str]]:
    """The sponsor bag (the lead counts more than a collaborator) and the sponsors' names by key."""
    bag: dict[str, float] = {}
    names: dict[str, str] = {}
    for sponsor in trial.sponsors:
        key = normalize_sponsor(sponsor.name)
        if key:
            _add(bag, "s:" + key, 1.0 if sponsor.role == "lead" else 0.5)
            names.setdefault("s:" + key, sponsor.name.strip())
    return bag, names


def duplicate_key(trial: Trial) -> str | None:
    """Normalized title and lead sponsor: equal keys under two NCT ids are one trial registered twice.

    >>> from trialscope.model import Sponsor
    >>> duplicate_key(Trial(nct_id="NCT1", brief_title="MSC for SLE", lead_sponsor=Sponsor("Acme")))
    'msc for sle|acme'
    """
    title = normalize_title(trial.brief_title or trial.official_title)
    sponsor = normalize_sponsor(trial.lead_sponsor.name if trial.lead_sponsor else None)
    if not title or not sponsor:
        return None
    return f"{title}|{sponsor}"


class Learned(Protocol):
    """What the corpus teaches (:class:`trialscope.similar.thesaurus.Thesaurus`)."""

    def infer(self, trial: Trial) -> tuple[dict[str, float], dict[str, str]]: ...

    def expand(self, word: str) -> list[str] | None: ...


def extract_features(trial: Trial, learned: Learned | None = None) -> TrialFeatures:
    """Every feature bag of ``trial`` and the facts its reasons may quote.

    ``learned`` gives condition features to a record without MeSH terms and spells out
    abbreviations in intervention names (see :mod:`trialscope.similar.thesaurus`).
    """
    conditions, named, ancestors = condition_features(trial)
    if learned is not None and not trial.condition_mesh:
        inferred, inferred_names = learned.infer(trial)
        for key, weight in inferred.items():
            _add(conditions, key, weight)
        for key, name in inferred_names.items():
            named.setdefault(key, name)
    interventions, intervention_names = intervention_features(trial, learned.expand if learned else None)
    sponsors, sponsor_names = sponsor_features(trial)
    text, words = text_features(trial)
    facts: dict[str, object] = {
        "c": named,
        "a": ancestors,
        "i": intervention_names,
        "s": sponsor_names,
        "w": words,
    }
    if trial.design.phases:
        facts["p"] = list(trial.design.phases)
    return TrialFeatures(
        nct_id=trial.nct_id,
        bags={
            "condition": conditions,
            "intervention": interventions,
            "text": text,
            "design": design_features(trial),
            "sponsor": sponsors,
        },
        facts=facts,
        dup_key=duplicate_key(trial),
    )
