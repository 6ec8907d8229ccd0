"""Table-driven translation of an older record shape into the API v2 study dictionary.

Every older shape (v1 FullStudies JSON, legacy XML) is converted into the dictionary an API v2
study would be, and :func:`trialscope.ctgov.parse.parse_study` reads that: one parser of the
model, many translations of shape. A translation is a table, ``{v2 key: rule}``, where a rule
says where the value is in the source and how its words become v2 values:

* ``"Path"`` -- the text at that path, as it stands;
* ``Text(path, value)`` -- the text through ``value`` (an enum, a date, a number), or the first
  of several paths that has a text;
* ``Texts(path, value)`` -- every text at that path, as a list (or through ``value``);
* ``Obj(path, table)`` -- a nested object, left out when the source has none;
* ``Many(path, table, needs)`` -- a list of objects, each translated by ``table``, keeping only
  the ones with one of the ``needs`` keys;
* ``Join(rule, ...)`` -- the lists of several rules, one after the other;
* ``Calc(function)`` -- a value computed from the source node, for what no table can say.

Paths are read by a :class:`Reader`: :data:`JSON` reads dotted keys of decoded JSON
(``"ArmGroupList.ArmGroup"``), and the XML converter brings its own. Values that are None are
left out, as API v2 leaves out what a record does not have.

>>> translate({"A": {"B": " x "}}, {"b": "A.B", "n": Text("A.C", to_int)}, JSON)
{'b': 'x'}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from trialscope import vocab

# --- rules --------------------------------------------------------------------------------

Paths = str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reader:
    """How a translation finds things in one source shape."""

    node: Callable[[Any, str], Any]  # the object at a path, or None when there is none
    nodes: Callable[[Any, str], list[Any]]  # the objects of a list at a path
    text: Callable[[Any, str], str | None]  # the text at a path, stripped, or None
    texts: Callable[[Any, str], list[str]]  # the texts of a list at a path, the empty ones left out


@dataclass(frozen=True, slots=True)
class Text:
    """The first text found at ``path`` (or at one of several paths), through ``value``."""

    path: Paths
    value: Callable[[str], Any] | None = None

    def read(self, node: Any, reader: Reader) -> Any:
        for path in _paths(self.path):
            text = reader.text(node, path)
            if text is not None:
                return self.value(text) if self.value else text
        return None


@dataclass(frozen=True, slots=True)
class Texts:
    """Every text at ``path``, as a list, or through ``value`` (which takes the whole list)."""

    path: Paths
    value: Callable[[list[str]], Any] | None = None

    def read(self, node: Any, reader: Reader) -> Any:
        texts = [t for path in _paths(self.path) for t in reader.texts(node, path)]
        return self.value(texts) if self.value else texts


@dataclass(frozen=True, slots=True)
class Obj:
    """A nested object; left out when the source has none, or when ``keep`` says so."""

    path: str
    table: Mapping[str, Any]
    keep: Callable[[dict[str, Any]], bool] | None = None

    def read(self, node: Any, reader: Reader) -> dict[str, Any] | None:
        inner = reader.node(node, self.path)
        if inner is None:
            return None
        found = translate(inner, self.table, reader)
        return found if found and (self.keep is None or self.keep(found)) else None


@dataclass(frozen=True, slots=True)
class Many:
    """Each object at ``path`` translated by ``table`` (a table or a function of the node)."""

    path: Paths
    table: Mapping[str, Any] | Callable[[Any], dict[str, Any]]
    needs: tuple[str, ...] = ()

    def read(self, node: Any, reader: Reader) -> list[dict[str, Any]]:
        table = self.table
        nodes = [n for path in _paths(self.path) for n in reader.nodes(node, path)]
        items = (
            [translate(n, table, reader) for n in nodes]
            if isinstance(table, Mapping)
            else list(map(table, nodes))
        )
        return [item for item in items if any(item.get(k) for k in self.needs)] if self.needs else items


class Join:
    """The lists of several list rules, one after the other."""

    __slots__ = ("rules",)

    def __init__(self, *rules: Any) -> None:
        self.rules = rules

    def read(self, node: Any, reader: Reader) -> list[Any]:
        return [item for rule in self.rules for item in apply(node, rule, reader)]


@dataclass(frozen=True, slots=True)
class Calc:
    """A value computed from the source node itself."""

    compute: Callable[[Any], Any]

    def read(self, node: Any, reader: Reader) -> Any:
        return self.compute(node)


def translate(node: Any, table: Mapping[str, Any], reader: Reader) -> dict[str, Any]:
    """The v2 object that ``table`` makes of ``node``; None values are left out."""
    found: dict[str, Any] = {}
    text = reader.text
    for key, rule in table.items():
        value = text(node, rule) if type(rule) is str else rule.read(node, reader)
        if value is not None:
            found[key] = value
    return found


def apply(node: Any, rule: Any, reader: Reader) -> Any:
    """The value of one rule at ``node``: a path (str) gives its text, any other rule reads itself."""
    return reader.text(node, rule) if isinstance(rule, str) else rule.read(node, reader)


def _paths(path: Paths) -> tuple[str, ...]:
    return (path,) if isinstance(path, str) else path


def compact(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without its None values, as a table's translation would be."""
    return {k: v for k, v in obj.items() if v is not None}


def invalid_utf8(data: bytes) -> str | None:
    """Where ``data`` stops being UTF-8, in words (``invalid UTF-8 at byte 77 (0xff)``), or None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid UTF-8 at byte {bad.start} (0x{data[bad.start]:02x})"
    return None


# --- values of the older shapes ------------------------------------------------------------


def enum(vocabulary: str) -> Callable[[str], str | None]:
    """A word of ``vocabulary`` as its API v2 enum (see :mod:`trialscope.vocab`)."""
    return partial(vocab.to_enum, vocabulary)


def date(text: str) -> str:
    """An ISO date where the text is one (``December 31, 2020`` -> ``2020-12-31``), else the text as written."""
    return vocab.iso_date(text) or text


def to_int(text: str | None) -> int | None:
    """``"1,206"`` -> 1206; text that is no whole number -> None.

    >>> to_int("1,206"), to_int("12.0"), to_int("about forty")
    (1206, 12, None)
    """
    if text is None:
        return None
    try:
        number = float(str(text).strip().replace(",", ""))
    except ValueError:
        return None
    return int(number) if number.is_integer() and abs(number) < 2**63 else None


def first(value: Callable[[str], Any]) -> Callable[[list[str]], Any]:
    """The first of a list of texts, through ``value``: where the model holds one of many."""
    return lambda texts: value(texts[0]) if texts else None


def listed(key: str) -> Callable[[list[str]], list[dict[str, str]]]:
    """Each text as an object holding it under ``key``: ``{"id": text}``."""
    return lambda texts: [{key: text} for text in texts]


# --- reading decoded JSON -------------------------------------------------------------------


def _json_get(obj: Any, path: str) -> Any:
    for step in path.split(".") if path else ():
        obj = obj.get(step) if isinstance(obj, dict) else None
    return obj


def _json_node(obj: Any, path: str) -> Any:
    value = _json_get(obj, path)
    return value if isinstance(value, dict) and value else None


def _json_items(obj: Any, path: str) -> list[Any]:
    value = _json_get(obj, path)
    return value if isinstance(value, list) else [] if value is None else [value]


def _json_text(obj: Any, path: str) -> str | None:
    value = _json_get(obj, path)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # a one-item list where a string belongs
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _json_texts(obj: Any, path: str) -> list[str]:
    found = (str(x) if isinstance(x, (int, float)) else x for x in _json_items(obj, path))
    return [x.strip() for x in found if isinstance(x, str) and x.strip()]


JSON = Reader(
    node=_json_node,
    nodes=lambda obj, path: [x for x in _json_items(obj, path) if isinstance(x, dict)],
    text=_json_text,
    texts=_json_texts,
)


# The keys of API v2's designInfo, by the vocabulary of their words (vocab.DESIGN_KEYS' values).
DESIGN_INFO = {
    "allocation": "allocation",
    "intervention_model": "interventionModel",
    "primary_purpose": "primaryPurpose",
    "observational_model": "observationalModel",
    "time_perspective": "timePerspective",
}


def design_info(words: Mapping[str, str | None]) -> dict[str, Any]:
    """API v2's designInfo from the words of a design by vocabulary (see vocab.design_words)."""
    masking, who = vocab.parse_masking(words.get("masking"))
    info = {key: vocab.to_enum(vocabulary, words.get(vocabulary)) for vocabulary, key in DESIGN_INFO.items()}
    return compact({**info, "maskingInfo": compact({"masking": masking, "whoMasked": list(who)})})
