"""MeSH terms for conditions and drugs, found in criterion lines by their words.

The packaged ``mesh_terms.tsv`` is learnt from registry records (see :mod:`.learn`): the MeSH
terms ClinicalTrials.gov attached to trials (``derivedSection.conditionBrowseModule`` and
``interventionBrowseModule``, meshes and ancestors) and the names trials gave them. Each term
is indexed under the spellings a criterion would use: "Hypersensitivity, Immediate" also as
"immediate hypersensitivity", "Breast Neoplasms" also as "breast cancer" and "breast tumor",
"Sildenafil Citrate" also as "sildenafil", plurals also singular.

A trial's own conditions, MeSH terms and intervention names extend the index for its lines
(:meth:`TermIndex.for_trial`), so a line naming the trial's disease finds its MeSH term even
when no other record used it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cache
from importlib import resources

from trialscope.criteria.catalogue import tokens
from trialscope.criteria.types import Concept

Phrase = tuple[str, ...]

# MeSH terms too general to name what a line is about.
GENERIC = frozenset(
    {
        "disease",
        "diseases",
        "syndrome",
        "pathologic processes",
        "pathological conditions, signs and symptoms",
        "pathological conditions, anatomical",
        "signs and symptoms",
        "chronic disease",
        "acute disease",
        "disease progression",
        "recurrence",
        "emergencies",
        "critical illness",
        "disease attributes",
        "physiological effects of drugs",
        "molecular mechanisms of pharmacological action",
        "pharmacologic actions",
        "therapeutic uses",
        "pharmaceutical solutions",
        "solutions",
        "pharmaceutical preparations",
        "specialty uses of chemicals",
        "chemical actions and uses",
        "membrane transport modulators",
        "enzyme inhibitors",
        "protective agents",
        "wounds and injuries",
        "body weight",
        "neoplasm metastasis",
        "infections",
        "inflammation",
        "pain",
        "patient compliance",
        "diagnosis",
        "behavior",
        "quality of life",
        "aging",
        "healthy volunteers",
        "volunteers",
        "therapeutics",
        "disease susceptibility",
        "alcohols",
        "calcium, dietary",
        "pregnancy",
        "pregnancy tests",
        "breast feeding",
        "lactation",
        "contraception",
        "neoplasms, second primary",
        "signs and symptoms, digestive",
        "medication adherence",
        "treatment adherence and compliance",
    }
)
_SALTS = frozenset(
    [
        "hydrochloride",
        "dihydrochloride",
        "citrate",
        "sodium",
        "potassium",
        "sulfate",
        "sulphate",
        "mesylate",
        "maleate",
        "tartrate",
        "acetate",
        "phosphate",
        "calcium",
        "besylate",
        "fumarate",
        "succinate",
        "bromide",
        "chloride",
        "hyclate",
        "monohydrate",
        "hemihydrate",
        "dipropionate",
        "propionate",
        "valerate",
        "disodium",
        "lactate",
        "tromethamine",
        "hydrobromide",
        "magnesium",
        "dimesylate",
        "tosylate",
    ]
)
_NEOPLASM_WORDS = ("cancer", "tumor", "tumour", "neoplasm")


def variants(term: str) -> Iterator[str]:
    """Spellings under which a criterion line may name a MeSH term (lower case).

    >>> sorted(set(variants("Breast Neoplasms")))
    ['breast cancer', 'breast neoplasm', 'breast neoplasms', 'breast tumor', 'breast tumour']
    """
    low = term.lower().strip()
    forms = [low]
    if low.count(", ") == 1:
        head, qualifier = low.split(", ")
        forms.append(f"{qualifier} {head}")
    for form in list(forms):
        words = form.split()
        last = words[-1]
        if last in _SALTS and len(words) > 1:
            forms.append(" ".join(words[:-1]))
        if last.endswith("ies") and len(last) > 4:
            forms.append(" ".join(words[:-1] + [last[:-3] + "y"]))
        elif last.endswith("s") and not last.endswith(("ss", "us", "is")) and len(last) > 3:
            forms.append(" ".join(words[:-1] + [last[:-1]]))
        if last in ("neoplasms", "neoplasm") and len(words) > 1:
            forms.extend(" ".join(words[:-1] + [w]) for w in _NEOPLASM_WORDS)
        if "mellitus" in words and len(words) > 2:
            forms.append(" ".join(w for w in words if w != "mellitus"))
        if last in ("infections", "infection") and len(words) == 2 and term.split()[0].isupper():
            forms.append(words[0])
    yield from forms


class TermIndex:
    """Token phrases -> concepts, longest match first."""

    def __init__(
        self,
        entries: Iterable[tuple[Phrase, Concept]] = (),
        known: Callable[[Phrase, Concept], bool] | None = None,
    ) -> None:
        """``known(phrase, concept)`` says a phrase is already read that way elsewhere: not added."""
        self.index: dict[str, list[tuple[Phrase, Concept]]] = {}
        self._known = known
        for phrase, concept in entries:
            self.add(phrase, concept)

    def add(self, phrase: Phrase, concept: Concept) -> None:
        if not phrase or (len(phrase) == 1 and len(phrase[0]) < 3):
            return
        if self._known is not None and self._known(phrase, concept):
            return
        bucket = self.index.setdefault(phrase[0], [])
        for i, (known, _) in enumerate(bucket):
            if known == phrase:
                return
            if len(known) < len(phrase):
                bucket.insert(i, (phrase, concept))
                return
        bucket.append((phrase, concept))

    def add_term(self, term: str, category: str, mesh_id: str | None, names: Iterable[str] = ()) -> None:
        """Index a term under its variants, and under extra names (a trial's own wording)."""
        if term.lower() in GENERIC:
            return
        concept = Concept(name=term, category=category, mesh_id=mesh_id)  # type: ignore[arg-type]
        for form in (*variants(term), *names):
            self.add(tokens(form), concept)

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self.index.values())

    def match_at(self, toks: list[str], i: int) -> tuple[int, Concept] | None:
        """The longest phrase starting at token ``i``: (its length, its concept)."""
        bucket = self.index.get(toks[i])
        if bucket:
            for phrase, concept in bucket:
                n = len(phrase)
                if tuple(toks[i : i + n]) == phrase:
                    return n, concept
        return None


def read_terms_tsv(lines: Iterable[str]) -> TermIndex:
    """Build an index from ``category<TAB>mesh_id<TAB>term<TAB>name|name...`` lines."""
    index = TermIndex()
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\n").split("\t")
        category, mesh_id, term = parts[0], parts[1] or None, parts[2]
        names = [n for n in parts[3].split("|") if n] if len(parts) > 3 else []
        index.add_term(term, category, mesh_id, names)
    return index


@cache
def packaged_terms() -> TermIndex:
    """The learnt term list shipped with TrialScope, read once per process."""
    path = resources.files("trialscope.criteria").joinpath("mesh_terms.tsv")
    if not path.is_file():
        return TermIndex()
    return read_terms_tsv(path.read_text(encoding="utf-8").splitlines())
