"""Synonyms learnt from the records themselves: abbreviations and the MeSH terms they stand for.

Registry records teach their own vocabulary. A title says "Systemic Lupus Erythematosus
(SLE)"; a trial lists the condition "SLE" and the registry files it under the MeSH term
"Lupus Erythematosus, Systemic". From such evidence, per trial (:func:`acronym_evidence`),
the store keeps a table of abbreviation -> expansions (:func:`choose_synonyms`), and a query
word "SLE" becomes ``("sle" OR "systemic lupus erythematosus" OR (mesh : "lupus erythematosus
systemic"))`` (:class:`SynonymTable`).

Evidence kinds:

- ``paren``: "Long Form (ABBR)" in a condition or title, where the initials of the long form
  spell the abbreviation ("Type 2 Diabetes Mellitus (T2DM)");
- ``mesh``: a long form whose words are those of one of the trial's MeSH terms, any order;
- ``cooc``: an abbreviation listed as a condition beside a condition MeSH term of the trial.

A lower-case query word is expanded only when it is not an everyday English word, so "all"
stays "all" while "ALL" also finds acute lymphoblastic leukaemia.

>>> rows = acronym_evidence(["Systemic Lupus Erythematosus (SLE)"], [], ["Lupus Erythematosus, Systemic"])
>>> sorted((r.abbr, r.expansion, r.columns) for r in rows)
[('SLE', 'lupus erythematosus systemic', 'mesh'), ('SLE', 'systemic lupus erythematosus', '')]
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from trialscope.search.syntax import Term, tokenize

MAX_EXPANSIONS = 4
# An expansion is looked for where a trial says what it is about, not in every mention:
# "systemic lupus erythematosus" in an exclusion criterion does not make a lupus trial.
TOPIC_COLUMNS = ("title", "conditions", "keywords", "mesh")

_ABBR = re.compile(r"^(?=(?:.*[A-Z]){2})[A-Z][A-Za-z0-9-]{1,9}$")
_ROMAN = re.compile(r"^[IVXLC]+$")
_PAREN = re.compile(r"[(\[]\s*([A-Za-z][A-Za-z0-9-]{1,9})\s*[)\]]")
_BEFORE_PAREN = re.compile(r"[^()\[\]]{0,200}$")
_LINKING = frozenset(
    ["of", "and", "the", "in", "with", "for", "to", "on", "by", "or", "a", "an", "at", "from"]
)

# Everyday English words that are also medical abbreviations; typed in lower case they mean the word.
ENGLISH_WORDS = frozenset(
    """a about above after again against age aged ages aid aids air all also am an and any are arm arms art
    as at back bad bag ban bar bat be bed been before being below best better between big bit both but
    by can cap car care cat cell cells child cod come cot cup cut dad day days did do does doc dog done
    dot down dry due each ear early eat end even ever eye eyes fat few fit for free from fun gap gas get
    go good got gum had has hat have he head her here him his hit hot how ill in into is it its job just
    key kid lab lad lap last late led leg less let lid life like lip live long lot low mad made main
    make man many map mat may me men mid more most mom much must my nap neck need net new no non nor not
    now of off oil old on once one only or other our out over own pad pain pan part pat pen per pet pig
    pin plan pop pot put ran rat raw red rib run sad same sat saw say see set she should shot sit six
    ski skin so some son spa step stop sun take tab tag tan tap tea ten than that the their them then
    there these they this those three tie time tip to toe too top two under up us use used very via vs
    was way we web well were wet what when where which while who why will win with work year years yes
    yet you young your""".split()  # noqa: SIM905
)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One trial's hint that ``abbr`` means ``expansion`` (tokens joined by spaces).

    ``columns`` is ``"mesh"`` when the expansion is a MeSH term (searched in that column
    only), else ``""`` (any column).
    """

    abbr: str
    expansion: str
    columns: str
    kind: str


@dataclass(frozen=True, slots=True)
class Synonym:
    abbr: str
    expansion: str
    columns: str
    trials: int
    kind: str


def is_abbreviation(word: str) -> bool:
    """Whether a word looks like an abbreviation: 2-10 characters, two capitals or more.

    >>> [is_abbreviation(w) for w in ("SLE", "T2DM", "IgAN", "Lupus", "II", "COVID-19")]
    [True, True, True, False, False, True]
    """
    return bool(_ABBR.match(word)) and not _ROMAN.match(word) and not word.replace("-", "").isdigit()


def abbreviation_key(word: str) -> str:
    """The key an abbreviation is filed under: capitals and digits only (``COVID-19`` -> ``COVID19``)."""
    return "".join(ch for ch in word.upper() if ch.isalnum())


def initials_match(abbr: str, words: list[str]) -> list[str] | None:
    """The shortest tail of ``words`` whose initials spell ``abbr`` (linking words may be
    skipped); None if there is none.

    >>> initials_match("T2DM", ["patients", "with", "type", "2", "diabetes", "mellitus"])
    ['type', '2', 'diabetes', 'mellitus']
    >>> initials_match("SLE", ["treatment", "of", "lupus"]) is None
    True
    """
    chars = [c for c in abbr.lower() if c.isalnum()]
    if len(chars) < 2:
        return None
    for start in range(len(words) - 1, -1, -1):
        if words[start] in _LINKING:
            continue
        tail = words[start:]
        initials = [w[0] for w in tail if w not in _LINKING]
        if initials == chars:
            return tail
        if len(initials) > len(chars):
            return None
    return None


def _natural_order(mesh_term: str) -> str:
    """ "Lupus Erythematosus, Systemic" -> "Systemic Lupus Erythematosus" (one comma only)."""
    parts = [p.strip() for p in mesh_term.split(",")]
    return f"{parts[1]} {parts[0]}" if len(parts) == 2 and parts[1] else mesh_term


def acronym_evidence(
    conditions: Iterable[str], titles: Iterable[str], mesh_terms: Iterable[str]
) -> set[Evidence]:
    """What one trial says about abbreviations: from its conditions, titles and condition MeSH terms.

    >>> sorted(e.expansion for e in acronym_evidence(["HIV"], [], ["HIV Infections"]))
    ['hiv infections']
    """
    conditions = [c for c in conditions if c]
    mesh = [m for m in mesh_terms if m]
    mesh_by_words = {tuple(sorted(tokenize(m))): m for m in mesh}
    found: set[Evidence] = set()
    for text in (*conditions, *(t for t in titles if t)):
        if "(" not in text and "[" not in text:
            continue
        for match in _PAREN.finditer(text):
            abbr = match.group(1)
            if not is_abbreviation(abbr):
                continue
            before = _BEFORE_PAREN.search(text, 0, match.start())
            tail = initials_match(abbr, list(tokenize(before.group(0) if before else "")))
            if tail is None:
                continue
            key = abbreviation_key(abbr)
            found.add(Evidence(key, " ".join(tail), "", "paren"))
            same = mesh_by_words.get(tuple(sorted(tail)))
            if same is not None:
                found.add(Evidence(key, " ".join(tokenize(same)), "mesh", "mesh"))
    abbreviations = [c.strip() for c in conditions if is_abbreviation(c.strip())]
    for abbr in abbreviations:
        key = abbreviation_key(abbr)
        for term in mesh:
            tokens = tokenize(term)
            if "".join(tokens) == key.lower():
                continue  # the MeSH term is the abbreviation itself ("COVID-19")
            natural = initials_match(key, list(tokenize(_natural_order(term))))
            found.add(Evidence(key, " ".join(tokens), "mesh", "mesh" if natural else "cooc"))
            if natural:
                found.add(Evidence(key, " ".join(natural), "", "paren"))
        for other in conditions:
            tail = initials_match(key, list(tokenize(other)))
            if tail is not None and len(tail) == len(tokenize(other)):
                found.add(Evidence(key, " ".join(tail), "", "paren"))
    return found


def choose_synonyms(
    counts: Iterable[tuple[str, str, str, str, int]], abbr_trials: dict[str, int]
) -> list[Synonym]:
    """Pick the expansions worth using from (abbr, expansion, columns, kind, trials) counts.

    ``abbr_trials`` is the number of trials listing each abbreviation as a condition; a
    co-occurring MeSH term whose initials do not spell the abbreviation (``cooc``) must appear
    in half of them, and in two trials at least. Each abbreviation keeps its best few expansions.

    >>> choose_synonyms([("SLE", "lupus erythematosus systemic", "mesh", "cooc", 3)], {"SLE": 4})[0].trials
    3
    """
    best: dict[tuple[str, str, str], Synonym] = {}
    for abbr, expansion, columns, kind, trials in counts:
        if kind == "cooc" and (trials < 2 or trials * 2 < abbr_trials.get(abbr, 0)):
            continue
        key = (abbr, expansion, columns)
        old = best.get(key)
        if old is None or trials > old.trials:
            best[key] = Synonym(abbr, expansion, columns, trials, kind)
    by_abbr: dict[str, list[Synonym]] = defaultdict(list)
    for synonym in best.values():
        by_abbr[synonym.abbr].append(synonym)
    chosen: list[Synonym] = []
    for abbr in sorted(by_abbr):
        items = sorted(by_abbr[abbr], key=lambda s: (-s.trials, s.expansion, s.columns))
        top = items[0].trials
        chosen.extend(s for s in items[:MAX_EXPANSIONS] if s.trials * 4 >= top)
    return chosen


class SynonymTable:
    """Abbreviation -> expansions, used to widen query words.

    >>> table = SynonymTable([Synonym("SLE", "systemic lupus erythematosus", "", 5, "paren")])
    >>> [(t.tokens, t.columns) for t in table.expand(Term(("sle",), written="SLE"))]
    [(('systemic', 'lupus', 'erythematosus'), ('title', 'conditions', 'keywords', 'mesh'))]
    >>> table.expand(Term(("all",), written="all"))
    ()
    """

    def __init__(self, synonyms: Iterable[Synonym] = ()) -> None:
        self.by_abbr: dict[str, tuple[Synonym, ...]] = {}
        grouped: dict[str, list[Synonym]] = defaultdict(list)
        for synonym in synonyms:
            grouped[synonym.abbr].append(synonym)
        self.by_abbr = {k: tuple(v) for k, v in grouped.items()}

    def __len__(self) -> int:
        return len(self.by_abbr)

    def lookup(self, word: str) -> tuple[Synonym, ...]:
        return self.by_abbr.get(abbreviation_key(word), ())

    def expand(self, term: Term) -> tuple[Term, ...]:
        """Alternatives for a query Term: only for a bare word (not a quoted phrase or prefix)."""
        if term.quoted or term.prefix or not term.tokens:
            return ()
        written = term.written or " ".join(term.tokens)
        key = abbreviation_key(written)
        if len(key) < 2 or (len(term.tokens) > 1 and not is_abbreviation(written)):
            return ()
        lower_case = not any(ch.isupper() for ch in written)
        if lower_case and (len(key) < 3 or key.lower() in ENGLISH_WORDS):
            return ()
        synonyms = self.by_abbr.get(key, ())
        out: list[Term] = []
        for synonym in synonyms:
            own = (synonym.columns,) if synonym.columns else TOPIC_COLUMNS
            columns = tuple(c for c in own if c in term.columns) if term.columns else own
            columns = columns or term.columns
            tokens = tuple(synonym.expansion.split())
            if tokens and tokens != term.tokens:
                out.append(Term(tokens, written=synonym.expansion, quoted=True, columns=columns))
        return tuple(dict.fromkeys(out))
