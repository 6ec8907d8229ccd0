"""The search-text syntax: words, "phrases", OR, NOT/-word, (groups), field prefixes, word*.

:func:`parse_text` reads a user's text into a small tree (:class:`Term`, :class:`AllOf`,
:class:`AnyOf`, :class:`Negated`) that the engine evaluates over the index
(:mod:`trialscope.search.match`); user text never becomes code of any kind.

Syntax (everything is case-insensitive except the operators ``OR`` and ``NOT``):

- ``lupus nephritis`` — both words (AND is implied; ``AND`` may be written)
- ``"stem cells"`` — the phrase; ``COVID-19`` is the phrase ``covid 19``
- ``lupus OR sle`` (or ``|``) — either; ``(lupus OR sle) nephritis`` groups
- ``-placebo`` or ``NOT placebo`` — without it; a query of only these means every trial without them
- ``condition:lupus``, ``intervention:"stem cells"``, ``sponsor:pfizer``, ``title:(a OR b)``
- ``immuno*`` — any word starting with the prefix (at least two letters)

>>> parse_text('condition:lupus -"open label"')  # doctest: +NORMALIZE_WHITESPACE
AllOf(items=(Term(tokens=('lupus',), written='lupus', quoted=False, prefix=False,
                  columns=('conditions', 'mesh')),
             Negated(item=Term(tokens=('open', 'label'), written='open label', quoted=True, prefix=False,
                               columns=()))))
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from trialscope.errors import QueryError
from trialscope.search.document import FIELD_PREFIXES

MAX_TERMS = 100
MAX_DEPTH = 16

_TOKEN = re.compile(r"[^\W_]+")
_LEX = re.compile(
    r"""
     (?P<space>\s+)
    |(?P<lparen>\()
    |(?P<rparen>\))
    |(?P<neg>-(?=["(\w]))
    |(?P<field>[A-Za-z_]+):(?!//)
    |(?P<phrase>"[^"]*"?)
    |(?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Term:
    """A word or phrase: lower-cased tokens, maybe limited to some fields (``columns``).

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


def tokenize(text: str) -> tuple[str, ...]:
    """The tokens of a piece of text, lower-cased (runs of letters and digits).

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
            return self.field(value, depth)
        if kind == "phrase":
            return _term(value.strip('"'), columns, quoted=True)
        if kind in {"word", "neg"}:
            if value in {"AND", "&&", "&", "+"}:
                return None
            return _term(value, columns)
        return None  # a stray operator

    def field(self, value: str, depth: int) -> Node | None:
        name = value.lower()
        if name not in FIELD_PREFIXES:
            known = ", ".join(f"{p}:" for p in KNOWN_PREFIXES)
            raise QueryError(
                f"Unknown field {value + ':'!r} in the search; use one of {known} "
                'or put the words in quotes ("foo:bar") to search them as written.'
            )
        following = self.peek()
        if following is None or following[0] in {"rparen", "space"} or _is_op(following, "OR"):
            raise QueryError(f"{value + ':'!r} needs a word or a (group) right after it, like {name}:lupus.")
        return self.primary(depth, FIELD_PREFIXES[name])


# The prefixes an error lists (each field once, under its plainest name).
KNOWN_PREFIXES = (
    "condition",
    "intervention",
    "sponsor",
    "title",
    "keyword",
    "mesh",
    "summary",
    "outcome",
    "eligibility",
)


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
