"""What the registry's own records teach: condition terms for records without MeSH, and abbreviations.

Records from the registry's API carry MeSH condition terms and their browse ancestors;
CSV summaries, some legacy records and partial documents do not. The registry's own
records teach which condition names exist and what they sit under: a term's ancestors are
the ones every record naming that term shares. A record without MeSH then gets the known
terms its condition strings (or, with no conditions, its title) contain, and their
ancestors, so "Refractory Active Systemic Lupus Erythematosus" meets "Lupus Erythematosus,
Systemic" and both sit under "Autoimmune Diseases".

Abbreviations are learned the same way, from titles and intervention names that spell
them out ("Mesenchymal Stem Cells (MSC)"), so an intervention named "Allogeneic MSC" also
shares the phrase "mesenchymal stem cell".

>>> from trialscope.model import MeshTerm, Trial
>>> book = Thesaurus()
>>> book.learn(Trial(nct_id="NCT1", condition_mesh=(MeshTerm("Lupus Erythematosus, Systemic"),),
...     condition_ancestors=(MeshTerm("Autoimmune Diseases"),)))
>>> bag, named = book.infer(Trial(nct_id="NCT2", conditions=("Refractory Systemic Lupus Erythematosus",)))
>>> sorted(bag.items())
[('c:autoimmun diseas', 0.4), ('c:system lupu erythematosu', 0.8)]
>>> named
{'c:system lupu erythematosu': 'Lupus Erythematosus, Systemic'}
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from trialscope.analyze import terms
from trialscope.model import Trial
from trialscope.similar.features import ANCESTOR_WEIGHT, normalize_concept, normalize_intervention

# A condition found inside a longer name or a title is good evidence, not a registry's word.
INFERRED_WEIGHT = 0.8
MAX_WORDS = 6
# An abbreviation must be spelled out this often, and mostly the same way, to be trusted.
MIN_SPELLED_OUT = 2
MIN_AGREEMENT = 0.5

_ABBREVIATION = re.compile(r"\(([A-Za-z][A-Za-z0-9-]{1,9})\)")
_LONG_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def abbreviation_key(text: str) -> str:
    """``MSCs``, ``UC-MSC`` -> ``msc``, ``ucmsc``: letters and digits, a plural s dropped.

    >>> abbreviation_key("UC-MSCs")
    'ucmsc'
    """
    key = re.sub(r"[^a-z0-9]", "", text.lower())
    return key[:-1] if len(key) > 2 and text.endswith("s") and text[-2].isupper() else key


def spelled_out(text: str) -> Iterable[tuple[str, str]]:
    """``(abbreviation key, long form)`` for each "Long Form (LF)" in ``text``, by initials.

    >>> list(spelled_out("Umbilical Cord Mesenchymal Stem Cells (UC-MSCs) in lupus"))
    [('ucmsc', 'umbilical cord mesenchymal stem cells')]
    """
    for match in _ABBREVIATION.finditer(text):
        key = abbreviation_key(match.group(1))
        letters = [c for c in key if c.isalpha()]
        if len(letters) < 2 or len(letters) != len(key):
            continue
        words = _LONG_WORD.findall(text[: match.start()])[-len(letters) :]
        if len(words) == len(letters) and all(w[0].lower() == c for w, c in zip(words, letters, strict=True)):
            yield key, " ".join(w.lower() for w in words)


def learn_abbreviations(texts: Iterable[str | None]) -> dict[str, str]:
    """Abbreviations the texts spell out often and consistently: key -> long form, as written.

    Spellings are compared by their terms ("Mesenchymal Stem Cells" and "mesenchymal stem cell"
    agree); the long form kept is the first one written of the most common.

    >>> learn_abbreviations(["Mesenchymal Stem Cells (MSCs)", "mesenchymal stem cell (MSC)"])
    {'msc': 'mesenchymal stem cells'}
    """
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    written: dict[str, str] = {}
    for text in texts:
        if text and "(" in text:
            for key, long_form in spelled_out(text):
                form = " ".join(terms(long_form))
                counts[key][form] += 1
                written.setdefault(form, long_form)
    out = {}
    for key, forms in counts.items():
        form, n = forms.most_common(1)[0]
        if n >= MIN_SPELLED_OUT and n >= MIN_AGREEMENT * sum(forms.values()):
            out[key] = written[form]
    return out


@dataclass(slots=True)
class Thesaurus:
    """Known MeSH condition terms (by concept key): display name and ancestors."""

    names: dict[str, str] = field(default_factory=dict)
    ancestors: dict[str, frozenset[str]] = field(default_factory=dict)
    ancestor_names: dict[str, str] = field(default_factory=dict)
    abbreviations: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def learn(self, trial: Trial) -> None:
        """Take in a record's MeSH terms; a term's ancestors are those all its records share."""
        self.learn_terms([t.term for t in trial.condition_mesh], [t.term for t in trial.condition_ancestors])

    def learn_terms(self, terms: list[str], ancestors: list[str]) -> None:
        """Take in one record's MeSH condition terms and browse ancestors, as written."""
        if not terms:
            return
        seen = {}
        for term in ancestors:
            key = normalize_concept(term)
            if key:
                seen[key] = term
        self.ancestor_names.update(seen)
        found = frozenset(seen)
        for term in terms:
            key = normalize_concept(term)
            if not key:
                continue
            self.names.setdefault(key, term)
            if not found:  # a record without browse ancestors says nothing about them
                continue
            known = self.ancestors.get(key)
            self.ancestors[key] = found if known is None else known & found

    def infer(self, trial: Trial) -> tuple[dict[str, float], dict[str, str]]:
        """Condition features for a record without MeSH terms, and the names it is found to have.

        Its condition strings are searched for known terms (longest first); a record with
        no conditions at all is searched by its title.
        """
        if trial.condition_mesh or not self.names:
            return {}, {}
        texts = trial.conditions or tuple(filter(None, (trial.brief_title, trial.official_title)))
        bag: dict[str, float] = {}
        named: dict[str, str] = {}
        for text in texts:
            for key in self.find_terms(normalize_concept(text)):
                bag[f"c:{key}"] = max(bag.get(f"c:{key}", 0.0), INFERRED_WEIGHT)
                named.setdefault(f"c:{key}", self.names[key])
                for ancestor in sorted(self.ancestors.get(key, ())):  # one column order in every process
                    akey = f"c:{ancestor}"
                    bag[akey] = max(bag.get(akey, 0.0), INFERRED_WEIGHT * ANCESTOR_WEIGHT)
        return bag, named

    def find_terms(self, words_text: str) -> list[str]:
        """Known terms in a normalized text, longest first, none inside another found one.

        >>> book = Thesaurus(names={"lung neoplasm": "Lung Neoplasms", "neoplasm": "Neoplasms"})
        >>> book.find_terms("non small cell lung neoplasm")
        ['lung neoplasm']
        """
        words = words_text.split()
        taken = [False] * len(words)
        found = []
        for size in range(min(MAX_WORDS, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                if any(taken[start : start + size]):
                    continue
                key = " ".join(words[start : start + size])
                if key in self.names:
                    found.append(key)
                    taken[start : start + size] = [True] * size
        return found

    def expand(self, word: str) -> list[str] | None:
        """The meaning words of an abbreviation's long form, or None when it is not one.

        Only a word written in capitals is taken for an abbreviation, so "list" stays a word
        even where "LIST" is spelled out somewhere.

        >>> book = Thesaurus(abbreviations={"msc": "mesenchymal stem cells"})
        >>> book.expand("MSCs"), book.expand("msc")
        (['mesenchym', 'stem', 'cell'], None)
        """
        if sum(c.isupper() for c in word) < 2:
            return None
        long_form = self.abbreviations.get(abbreviation_key(word))
        return normalize_intervention(long_form) if long_form else None

    def ancestor_display(self, key: str) -> str:
        return self.ancestor_names.get(key, key)

    def dumps(self) -> bytes:
        return orjson.dumps(
            {
                "names": self.names,
                "ancestors": {k: sorted(v) for k, v in self.ancestors.items()},
                "ancestor_names": self.ancestor_names,
                "abbreviations": self.abbreviations,
            }
        )

    @classmethod
    def loads(cls, blob: bytes | str) -> Thesaurus:
        data = orjson.loads(blob)
        return cls(
            names=data["names"],
            ancestors={k: frozenset(v) for k, v in data["ancestors"].items()},
            ancestor_names=data["ancestor_names"],
            abbreviations=data.get("abbreviations", {}),
        )
