"""The search-text syntax: words, "phrases", OR, NOT/-word, (groups), field prefixes, word*.

User text never reaches SQLite as written. :func:`parse_text` tokenizes it into a small tree
(:class:`Term`, :class:`AllOf`, :class:`AnyOf`, :class:`Negated`) and :func:`compile_match`
writes an FTS5 expression in which every token is a double-quoted run of letters and digits,
so no FTS operator, quote or column name a user types can break the expression.

Syntax (everything is case-insensitive except the operators ``OR`` and ``NOT``):

- ``lupus nephritis`` — both words (AND is implied; ``AND`` may be written)
- ``"stem cells"`` — the phrase; ``COVID-19`` is the phrase ``covid 19``
- ``lupus OR sle`` (or ``|``) — either; ``(lupus OR sle) nephritis`` groups
- ``-placebo`` or ``NOT placebo`` — without it; a query of only these means every trial without them
- ``condition:lupus``, ``intervention:"stem cells"``, ``sponsor:pfizer``, ``title:(a OR b)``
- ``immuno*`` — any word starting with the prefix (at least two letters)

>>> compile_match(parse_text('condition:lupus -"open label" (mesenchymal OR msc)')).match
'(({conditions mesh} : "lupus") AND ("mesenchymal" OR "msc")) NOT ("open label")'
>>> compile_match(parse_text("-placebo")).exclude
'"placebo"'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache

from trialscope.errors import QueryError

MAX_TERMS = 100
MAX_DEPTH = 16

# Field prefixes -> the FTS columns they search (see store.schema.FTS_COLUMNS).
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "condition": ("conditions", "mesh"),
    "conditions": ("conditions", "mesh"),
    "cond": ("conditions", "mesh"),
    "disease": ("conditions", "mesh"),
    "intervention": ("interventions",),
    "interventions": ("interventions",),
    "intr": ("interventions",),
    "drug": ("interventions",),
    "treatment": ("interventions",),
    "sponsor": ("sponsors",),
    "sponsors": ("sponsors",),
    "title": ("title",),
    "keyword": ("keywords",),
    "keywords": ("keywords",),
    "mesh": ("mesh",),
    "summary": ("summary", "description"),
    "outcome": ("outcomes",),
    "outcomes": ("outcomes",),
    "eligibility": ("eligibility",),
    "criteria": ("eligibility",),
}

_TOKEN = re.compile(r"[^\W_]+")
_LEX = re.compile(
    r"""
     (?P<space>\s+)
    |(?P<lparen>\()
    |(?P<rparen>\))
    |(?P<neg>-(?=["(\w]))
    |(?P<field>[A-Za-z_]+):(?=\s*["(\w-])
    |(?P<phrase>"[^"]*"?)
    |(?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Term:
    """A word or phrase: lower-cased tokens, maybe limited to some FTS columns.

    ``written`` keeps the user's spelling, so "SLE" (an abbreviation) and "sle" can differ.
    """

    tokens: tuple[str, ...]
    written: str = ""
    quoted: bool = False
    prefix: bool = False
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class AllOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Negated:
    item: Node


Node = Term | AllOf | AnyOf | Negated


@dataclass(frozen=True)
class CompiledText:
    """FTS5 expressions for a parsed text.

    ``match`` selects the trials (its NOT parts included); ``exclude``, when the text has
    only negated parts, selects the trials to leave out. ``terms`` are the positive leaves.
    """

    match: str | None = None
    exclude: str | None = None
    terms: tuple[Term, ...] = field(default=())


def tokenize(text: str) -> tuple[str, ...]:
    """The index tokens of a piece of text, as FTS5's unicode61 tokenizer cuts them.

    >>> tokenize("COVID-19 Crohn's")
    ('covid', '19', 'crohn', 's')
    """
    return tuple(t.lower() for t in _TOKEN.findall(text))


def _lex(text: str) -> Iterator[tuple[str, str]]:
    for match in _LEX.finditer(text):
        kind = match.lastgroup or "word"
        if kind == "space":
            continue
        yield kind, match.group(kind)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = list(_lex(text))
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def sequence(self, depth: int, columns: tuple[str, ...]) -> Node | None:
        items: list[Node] = []
        while (token := self.peek()) is not None:
            if token[0] == "rparen":
                if depth > 0:
                    break
                self.take()  # a stray ")" at the top is ignored
                continue
            if _is_op(token, "OR"):
                self.take()  # an OR with nothing before it is ignored
                continue
            alternative = self.alternatives(depth, columns)
            if alternative is not None:
                items.append(alternative)
        return _group(AllOf, items)

    def alternatives(self, depth: int, columns: tuple[str, ...]) -> Node | None:
        items: list[Node] = []
        first = self.unary(depth, columns)
        if first is not None:
            items.append(first)
        while (token := self.peek()) is not None and _is_op(token, "OR"):
            self.take()
            nxt = self.peek()
            if nxt is None or nxt[0] == "rparen" or _is_op(nxt, "OR"):
                continue  # a dangling OR is ignored
            item = self.unary(depth, columns)
            if item is not None:
                items.append(item)
        return _group(AnyOf, items)

    def unary(self, depth: int, columns: tuple[str, ...]) -> Node | None:
        negate = False
        while (token := self.peek()) is not None and (token[0] == "neg" or _is_op(token, "NOT")):
            self.take()
            negate = not negate
        item = self.primary(depth, columns)
        if item is None:
            return None
        return Negated(item) if negate else item

    def primary(self, depth: int, columns: tuple[str, ...]) -> Node | None:
        if self.peek() is None:
            return None
        kind, value = self.take()
        if kind == "lparen":
            if depth + 1 > MAX_DEPTH:
                raise QueryError(f"The search nests parentheses more than {MAX_DEPTH} deep; simplify it.")
            inner = self.sequence(depth + 1, columns)
            if (token := self.peek()) is not None and token[0] == "rparen":
                self.take()  # a missing ")" closes at the end of the text
            return inner
        if kind == "field":
            name = value.lower()
            if name in FIELD_COLUMNS:
                return self.primary(depth, FIELD_COLUMNS[name])
            return _term(value, columns)  # an unknown prefix is just a word
        if kind == "phrase":
            return _term(value.strip('"'), columns, quoted=True)
        if kind in {"word", "neg"}:
            if value in {"AND", "&&", "&", "+"}:
                return None
            return _term(value, columns)
        return None  # a stray operator


def _is_op(token: tuple[str, str], op: str) -> bool:
    return token[0] == "word" and (token[1] == op or (op == "OR" and token[1] in {"|", "||"}))


def _term(text: str, columns: tuple[str, ...], *, quoted: bool = False) -> Term | None:
    prefix = not quoted and text.endswith("*")
    tokens = tokenize(text)
    if not tokens:
        return None
    if prefix and len(tokens[-1]) < 2:
        prefix = False
    return Term(tokens, written=text.rstrip("*"), quoted=quoted, prefix=prefix, columns=columns)


def _group(kind: type[AllOf | AnyOf], items: list[Node]) -> Node | None:
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    unique = tuple(dict.fromkeys(flat))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else kind(unique)


def parse_text(text: str) -> Node | None:
    """The tree of a search text; None when it holds no words at all.

    >>> parse_text('sle OR "lupus nephritis"')
    AnyOf(items=(Term(tokens=('sle',), written='sle', quoted=False, prefix=False, columns=()), \
Term(tokens=('lupus', 'nephritis'), written='lupus nephritis', quoted=True, prefix=False, columns=())))
    """
    if not text or not text.strip():
        return None
    node = _Parser(text).sequence(0, ())
    if node is None:
        return None
    count = sum(1 for _ in iter_terms(node))
    if count > MAX_TERMS:
        raise QueryError(
            f"The search has {count:,} words and phrases; at most {MAX_TERMS} are allowed. "
            "Keep the words that matter most."
        )
    _check_negations(node, top=True)
    return node


def iter_terms(node: Node, *, negated: bool = False) -> Iterator[Term]:
    """Every Term of a tree (only those of the given polarity when ``negated`` is set)."""
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Negated):
        yield from iter_terms(node.item, negated=negated)
    else:
        for item in node.items:
            yield from iter_terms(item, negated=negated)


def positive_terms(node: Node | None) -> tuple[Term, ...]:
    """The Terms a hit may contain (not those under a NOT), for highlighting and ranking."""
    out: list[Term] = []

    def walk(n: Node) -> None:
        if isinstance(n, Term):
            out.append(n)
        elif not isinstance(n, Negated):
            for item in n.items:
                walk(item)

    if node is not None:
        walk(node)
    return tuple(dict.fromkeys(out))


def _check_negations(node: Node, *, top: bool) -> None:
    """NOT needs something to subtract from, except at the top, where it means "all trials but"."""
    if isinstance(node, Term):
        return
    if isinstance(node, Negated):
        if not top:
            raise QueryError(
                "A NOT (or -word) inside OR or brackets has nothing to subtract from; "
                "put it at the top level, like: lupus -placebo."
            )
        _check_negations(node.item, top=False)
        return
    if isinstance(node, AnyOf):
        for item in node.items:
            _check_negations(item, top=False)
        return
    positives = [i for i in node.items if not isinstance(i, Negated)]
    if not positives and not top:
        raise QueryError("A group of only NOT words inside OR or brackets cannot be searched; rephrase it.")
    for item in node.items:
        if isinstance(item, Negated):
            _check_negations(item.item, top=False)
        else:
            _check_negations(item, top=False)


Expander = Callable[[Term], tuple[Term, ...]]


def phrase_sql(term: Term) -> str:
    """One Term as FTS5 text: ``{a b} : "tok tok"*``; tokens are letters and digits only."""
    body = '"' + " ".join(term.tokens) + '"' + ("*" if term.prefix else "")
    if not term.columns:
        return body
    if len(term.columns) == 1:
        return f"({term.columns[0]} : {body})"
    return "({" + " ".join(term.columns) + "} : " + body + ")"


# One phrase as phrase_sql writes it: ``"a b"``, ``(title : "a")``, ``({title mesh} : "a b"*)``.
# Search reads compiled matches back with it (scoring, snippets).
MATCH_PHRASE = re.compile(
    r'\((?:\{(?P<many>[a-z ]+)\}|(?P<one>[a-z]+)) : "(?P<in_columns>[^"]*)"(?P<prefix_in_columns>\*?)\)'
    r'|"(?P<tokens>[^"]*)"(?P<prefix>\*?)'
)


def read_phrase(found: re.Match[str]) -> Term:
    """The Term a :data:`MATCH_PHRASE` match stands for: :func:`phrase_sql` read back.

    >>> read_phrase(MATCH_PHRASE.search('({conditions mesh} : "lupus nephritis"*)'))
    Term(tokens=('lupus', 'nephritis'), written='', quoted=False, prefix=True, columns=('conditions', 'mesh'))
    """
    in_columns = found["in_columns"] is not None
    tokens = found["in_columns"] if in_columns else found["tokens"]
    return Term(
        tuple(tokens.split()),
        prefix=bool(found["prefix_in_columns"] if in_columns else found["prefix"]),
        columns=tuple((found["many"] or found["one"] or "").split()),
    )


def _compile(node: Node, expand: Expander | None) -> str:
    if isinstance(node, Term):
        alternatives = (node, *(expand(node) if expand else ()))
        if len(alternatives) == 1:
            return phrase_sql(node)
        return "(" + " OR ".join(phrase_sql(t) for t in alternatives) + ")"
    if isinstance(node, AnyOf):
        return "(" + " OR ".join(_compile(i, expand) for i in node.items) + ")"
    if isinstance(node, Negated):
        return _compile(node.item, expand)
    positives = [_compile(i, expand) for i in node.items if not isinstance(i, Negated)]
    negatives = [_compile(i.item, expand) for i in node.items if isinstance(i, Negated)]
    expr = positives[0] if len(positives) == 1 else "(" + " AND ".join(positives) + ")"
    if negatives:
        expr += " NOT (" + " OR ".join(negatives) + ")"
    return expr


def compile_match(node: Node | None, expand: Expander | None = None) -> CompiledText:
    """The FTS5 expressions of a parsed text; ``expand`` adds synonyms of a Term as alternatives.

    >>> compile_match(parse_text("stem* cells")).match
    '("stem"* AND "cells")'
    """
    if node is None:
        return CompiledText()
    terms = positive_terms(node)
    items = node.items if isinstance(node, AllOf) else (node,)
    if all(isinstance(i, Negated) for i in items):
        negatives = [_compile(i, expand) for i in items]
        exclude = negatives[0] if len(negatives) == 1 else "(" + " OR ".join(negatives) + ")"
        return CompiledText(exclude=exclude, terms=terms)
    return CompiledText(match=_compile(node, expand), terms=terms)


def or_of_terms(words: list[str], columns: tuple[str, ...] = ()) -> str:
    """A plain OR search text of the given words, each one quoted safely (for long texts).

    >>> or_of_terms(["anaplastic", "astrocytoma", "COVID-19"])
    '"anaplastic" OR "astrocytoma" OR "covid 19"'
    """
    terms = [_term(w, columns) for w in words]
    return " OR ".join(phrase_sql(replace(t, prefix=False)) for t in terms if t is not None)


# --- stems, as the index holds them (for marking matched words in snippets) ---------------

_VOWELS = frozenset("aeiou")


def _consonant(word: str, i: int) -> bool:
    ch = word[i]
    if ch in _VOWELS:
        return False
    if ch == "y":
        return i == 0 or not _consonant(word, i - 1)
    return True


def _measure(stem: str) -> int:
    """m in Porter's [C](VC)^m[V]: how many vowel-consonant sequences ``stem`` holds."""
    m = 0
    previous_vowel = False
    for i in range(len(stem)):
        vowel = not _consonant(stem, i)
        if previous_vowel and not vowel:
            m += 1
        previous_vowel = vowel
    return m


def _has_vowel(stem: str) -> bool:
    return any(not _consonant(stem, i) for i in range(len(stem)))


def _double_consonant(stem: str) -> bool:
    return len(stem) >= 2 and stem[-1] == stem[-2] and _consonant(stem, len(stem) - 1)


def _cvc(stem: str) -> bool:
    """Ends consonant-vowel-consonant, the last not w, x or y (like -hop, -fil)."""
    n = len(stem)
    return (
        n >= 3
        and _consonant(stem, n - 3)
        and not _consonant(stem, n - 2)
        and _consonant(stem, n - 1)
        and stem[-1] not in "wxy"
    )


_STEP2 = (
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
    ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
    ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
    ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
    ("logi", "log"),
)  # fmt: skip
_STEP3 = (
    ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""), ("ness", ""),
)  # fmt: skip
_STEP4 = (
    "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou", "ism",
    "ate", "iti", "ous", "ive", "ize",
)  # fmt: skip


def _replace(word: str, rules: tuple[tuple[str, str], ...], least: int) -> str:
    """The first rule whose suffix ends the word applies if the stem's measure exceeds ``least``."""
    for suffix, replacement in rules:
        if len(word) > len(suffix) and word.endswith(suffix):
            stem = word[: -len(suffix)]
            return stem + replacement if _measure(stem) > least else word
    return word


def porter_stem(word: str) -> str:
    """A lower-case word cut to its stem by Porter's algorithm, as FTS5's porter tokenizer does."""
    if len(word) < 3 or len(word.encode()) > 64:
        return word
    # Step 1a: plurals.
    # As in FTS5, a suffix counts only when something is left before it.
    if (len(word) > 4 and word.endswith("sses")) or (len(word) > 3 and word.endswith("ies")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    # Step 1b: -eed, -ed, -ing.
    if len(word) > 3 and word.endswith("eed"):
        if _measure(word[:-3]) > 0:
            word = word[:-1]
    else:
        for suffix in ("ed", "ing"):
            if len(word) > len(suffix) and word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
                word = word[: -len(suffix)]
                if word.endswith(("at", "bl", "iz")):
                    word += "e"
                elif _double_consonant(word) and word[-1] not in "lsz":
                    word = word[:-1]
                elif _measure(word) == 1 and _cvc(word):
                    word += "e"
                break
    # Step 1c: -y after a vowel in the stem becomes -i.
    if len(word) > 1 and word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    word = _replace(word, _STEP2, 0)
    word = _replace(word, _STEP3, 0)
    # Step 4: drop a suffix when what remains has m > 1 (-ion only after s or t).
    for suffix in _STEP4:
        if len(word) > len(suffix) and word.endswith(suffix):
            stem = word[: -len(suffix)]
            if _measure(stem) > 1 and (suffix != "ion" or stem.endswith(("s", "t"))):
                word = stem
            break
    # Step 5: a final -e, a final -ll.
    if word.endswith("e"):
        stem = word[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _cvc(stem)):
            word = stem
    if word.endswith("ll") and _measure(word) > 1:
        word = word[:-1]
    return word


def fold_word(token: str) -> str:
    """A token lower-cased and without diacritics, as FTS5's unicode61 tokenizer folds it.

    >>> fold_word("Sjögren"), fold_word("µg")
    ('sjogren', 'μg')
    """
    word = token.lower()
    if word.isascii():
        return word
    # The micro sign folds to the Greek letter mu, as in SQLite's tables.
    decomposed = unicodedata.normalize("NFD", word.replace("\u00b5", "\u03bc"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def index_word(token: str) -> str:
    """A token as FTS5's 'porter unicode61 remove_diacritics 2' indexes it: folded and stemmed.

    >>> index_word("Sjögren"), index_word("Relational"), index_word("studies")
    ('sjogren', 'relat', 'studi')
    """
    return porter_stem(fold_word(token))
