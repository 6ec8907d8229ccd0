"""What the similarity of two trials is made of: feature bags per block, and facts for reasons.

A trial becomes five bags of weighted features, one per *block*:

``condition``
    MeSH condition terms and their browse ancestors (``c:systemic lupus erythematosus``,
    ``c:autoimmune disease``), plus the condition strings as written, normalized the same
    way, so a record without MeSH still meets one with it.
``intervention``
    whole intervention names (``i:pooled mesenchymal stem cell``), the phrases in them
    (``iw:mesenchymal stem cell``), MeSH intervention terms (``im:...``) and the type
    (``it:BIOLOGICAL``).
``text``
    word stems of the title, conditions, keywords, summaries, outcomes and eligibility.
``design``
    phase, study type, purpose, allocation, model, sex and age groups.
``sponsor``
    the lead sponsor and collaborators.

The bags hold raw weights (term counts times a field weight); :mod:`trialscope.similar.vectors`
turns them into IDF-weighted unit vectors. The *facts* keep the display spelling of what
may become a reason ("Lupus Erythematosus, Systemic"), keyed like the features.

>>> from trialscope.model import Trial, MeshTerm
>>> f = extract_features(Trial(nct_id="NCT1", brief_title="Stem cells for lupus",
...     condition_mesh=(MeshTerm("Lupus Erythematosus, Systemic"),)))
>>> f.bags["condition"]
{'c:systemic lupus erythematosus': 1.0}
>>> sorted(f.bags["text"])
['cell', 'lupus', 'stem']
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from trialscope.model import Trial

BLOCKS = ("condition", "intervention", "text", "design", "sponsor")

# Raw weight of a browse ancestor beside a term the record names itself: an ancestor says
# "somewhere under Autoimmune Diseases", which is weaker evidence than the condition.
ANCESTOR_WEIGHT = 0.5
# Weights of text fields: the title and the named conditions say what a trial is about
# more densely than its eligibility boilerplate does.
TEXT_FIELDS = (
    ("title", 3.0),
    ("conditions", 2.0),
    ("keywords", 2.0),
    ("interventions", 1.0),
    ("summary", 1.0),
    ("description", 0.5),
    ("outcomes", 0.5),
    ("eligibility", 0.25),
)

_WORD = re.compile(r"[a-z][a-z0-9]+(?:-[a-z0-9]+)*|[0-9]+[a-z][a-z0-9-]*")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_CASED_WORD = re.compile(r"[A-Za-z0-9]+")
_DOSE = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:mg|g|mcg|ug|µg|ml|iu|units?|%|mg/kg|mg/m2)\b")

STOPWORDS = frozenset(
    (
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "either",
        "et",
        "etc",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "however",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "may",
        "me",
        "might",
        "more",
        "most",
        "must",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "per",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "thus",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "very",
        "via",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "whether",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "yet",
        "you",
        "your",
        "study",
        "studies",
        "trial",
        "trials",
        "patient",
        "patients",
        "subject",
        "subjects",
        "participant",
        "participants",
        "investigator",
        "investigators",
        "group",
        "groups",
        "arm",
        "arms",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "mg",
        "kg",
        "ml",
        "dose",
        "doses",
        "include",
        "included",
        "including",
        "inclusion",
        "exclusion",
        "criteria",
        "eligible",
        "use",
        "used",
        "using",
        "receive",
        "received",
        "receiving",
    )
)

# Words of intervention names that say nothing about what is given.
INTERVENTION_STOPWORDS = STOPWORDS | frozenset(
    (
        "drug",
        "drugs",
        "treatment",
        "therapy",
        "therapies",
        "dose",
        "doses",
        "oral",
        "tablet",
        "tablets",
        "injection",
        "capsule",
        "capsules",
        "arm",
        "group",
        "standard",
        "care",
        "usual",
        "high",
        "low",
        "daily",
        "administration",
        "administered",
        "iv",
        "intravenous",
    )
)


@lru_cache(maxsize=1 << 18)
def stem_word(word: str) -> str:
    """A light plural stemmer (Harman's S-stemmer, kept readable for reasons).

    >>> [stem_word(w) for w in ("cells", "therapies", "diseases", "nephritis", "lupus")]
    ['cell', 'therapy', 'disease', 'nephritis', 'lupus']
    """
    if len(word) <= 3:
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes", "ses", "xes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss", "is", "ous")):
        return word[:-1]
    return word


def tokenize(text: str | None) -> list[str]:
    """Stems of the content words of ``text``, in order.

    >>> tokenize("Mesenchymal Stem Cells in patients with lupus nephritis")
    ['mesenchymal', 'stem', 'cell', 'lupus', 'nephritis']
    """
    if not text:
        return []
    return [stem_word(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


_STEMS: dict[str, str] = {}  # surface word -> stem, "" for a stopword; grows with the vocabulary
# Long free text is cut: past the first few thousand characters a description or a list of
# criteria adds little to what a trial is about, and a lot to the cost of reading it.
MAX_FIELD_CHARS = 6_000


def add_stems(bag: dict[str, float], text: str | None, weight: float) -> None:
    """Add ``weight`` per occurrence of each stem of ``text`` to ``bag``; each distinct word is stemmed once."""
    if not text:
        return
    stems = _STEMS
    for word, n in Counter(_WORD.findall(text[:MAX_FIELD_CHARS].lower())).items():
        stem = stems.get(word)
        if stem is None:
            stem = stems[word] = "" if word in STOPWORDS else stem_word(word)
        if stem:
            bag[stem] = bag.get(stem, 0.0) + weight * n


def count_stems(text: str | None) -> Counter[str]:
    """Stem counts of ``text``.

    >>> count_stems("Cells and more cells")
    Counter({'cell': 2})
    """
    bag: dict[str, float] = {}
    add_stems(bag, text, 1.0)
    return Counter({k: int(v) for k, v in bag.items()})


@lru_cache(maxsize=1 << 16)
def normalize_concept(name: str) -> str:
    """A condition or MeSH term as a key: lowercased, inverted MeSH order undone, plurals cut.

    >>> normalize_concept("Lupus Erythematosus, Systemic")
    'systemic lupus erythematosus'
    >>> normalize_concept("Systemic Lupus Erythematosus (SLE)")
    'systemic lupus erythematosus'
    """
    text = _PAREN.sub(" ", name.lower())
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 2 and parts[1] and len(parts[1].split()) <= 3:
        text = f"{parts[1]} {parts[0]}"
    words = [stem_word(w) for w in _NON_WORD.sub(" ", text).split()]
    return " ".join(words)


def normalize_intervention(name: str) -> list[str]:
    """The words of an intervention name that carry meaning, stemmed; brackets and doses left out.

    >>> normalize_intervention("Pooled mesenchymal stem cell 1 mg/kg IV")
    ['pooled', 'mesenchymal', 'stem', 'cell']
    """
    return _meaning_words(_PAREN.sub(" ", name.lower()))


def _meaning_words(text: str) -> list[str]:
    words = _NON_WORD.sub(" ", _DOSE.sub(" ", text)).split()
    return [stem_word(w) for w in words if w not in INTERVENTION_STOPWORDS and not w.isdigit()]


def intervention_segments(name: str) -> list[list[str]]:
    """The name outside brackets and each bracketed part, as separate runs of words.

    Brackets often hold what a code name is ("CS20AT04 (allogenic bone marrow derived
    mesenchymal stem cell)"), so their phrases count, but a phrase never spans a bracket.

    >>> intervention_segments("CS20AT04 (allogenic mesenchymal stem cell)")
    [['cs20at04'], ['allogenic', 'mesenchymal', 'stem', 'cell']]
    """
    lower = name.lower()
    inner = [m[1:-1] for m in _PAREN.findall(lower)]
    return [words for words in (_meaning_words(t) for t in (_PAREN.sub(" ", lower), *inner)) if words]


def normalize_title(title: str | None) -> str:
    """A title reduced to its letters and digits, to find trials registered twice.

    >>> normalize_title("Treatment of SLE: a Phase-2 Study.")
    'treatment of sle a phase 2 study'
    """
    return " ".join(_NON_WORD.sub(" ", (title or "").lower()).split())


def normalize_sponsor(name: str | None) -> str:
    return " ".join(_NON_WORD.sub(" ", (name or "").lower()).split())


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
    for term in trial.condition_mesh:
        key = "c:" + normalize_concept(term.term)
        if key != "c:":
            _add(bag, key, 1.0)
            named.setdefault(key, term.term)
    for condition in trial.conditions:
        key = "c:" + normalize_concept(condition)
        if key != "c:":
            _add(bag, key, 1.0)
            named.setdefault(key, condition)
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
    """The intervention bag and the display names of what the trial gives (key -> name).

    ``expand`` spells out abbreviations ("MSC" -> mesenchymal stem cell): their phrases
    count as if the name had said them.
    """
    bag: dict[str, float] = {}
    names: dict[str, str] = {}
    for item in trial.interventions:
        for name in (item.name, *item.other_names):
            words = normalize_intervention(name)
            if not words:
                continue
            key = "i:" + " ".join(words)
            _add(bag, key, 1.0)
            names.setdefault(key, name.strip())
            # Phrases of one to three words let "pooled mesenchymal stem cell" meet
            # "mesenchymal stem cells" without a thesaurus.
            segments = intervention_segments(name)
            if expand is not None:
                segments += [long for word in _CASED_WORD.findall(name) if (long := expand(word))]
            for segment in segments:
                for size in (1, 2, 3):
                    for start in range(len(segment) - size + 1):
                        _add(bag, "iw:" + " ".join(segment[start : start + size]), 0.3 * size)
        if item.type:
            _add(bag, "it:" + item.type, 0.3)
    for terms, weight in ((trial.intervention_mesh, 1.0), (trial.intervention_ancestors, ANCESTOR_WEIGHT)):
        for term in terms:
            key = "im:" + normalize_concept(term.term)
            _add(bag, key, weight)
            if weight == 1.0:
                names.setdefault(key, term.term)
    return bag, names


def text_features(trial: Trial) -> dict[str, float]:
    """Stem weights of the trial's text, each field counted with its weight."""
    fields = {
        "title": " ".join(filter(None, (trial.brief_title, trial.official_title, trial.acronym))),
        "conditions": " ".join(trial.conditions),
        "keywords": " ".join(trial.keywords),
        "interventions": " ".join(i.name for i in trial.interventions),
        "summary": trial.brief_summary,
        "description": trial.detailed_description,
        "outcomes": " ".join(o.measure for o in trial.outcomes),
        "eligibility": trial.eligibility.criteria,
    }
    bag: dict[str, float] = {}
    for name, weight in TEXT_FIELDS:
        add_stems(bag, fields[name], weight)
    return bag


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
    facts: dict[str, object] = {"c": named, "a": ancestors, "i": intervention_names, "s": sponsor_names}
    if trial.phase_label:
        facts["p"] = trial.phase_label
    return TrialFeatures(
        nct_id=trial.nct_id,
        bags={
            "condition": conditions,
            "intervention": interventions,
            "text": text_features(trial),
            "design": design_features(trial),
            "sponsor": sponsors,
        },
        facts=facts,
        dup_key=duplicate_key(trial),
    )
