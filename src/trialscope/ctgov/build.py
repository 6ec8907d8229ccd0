"""The one generic builder of the model: a table per model class says where each field is in API v2.

Every builder of :mod:`trialscope.ctgov.parse` and :mod:`trialscope.ctgov.results` is a
:class:`Spec`, ``{field: rule}``, read by :func:`build`; the walking and guarding code (a list
that is not a list, an item that is not an object, an object without the key that makes it worth
keeping) exists here once. As in the key tables of :mod:`trialscope.ctgov.translate`, a rule says
where the value is and how it is read:

* ``"key"`` -- the text at that key (:func:`~trialscope.ctgov.readers._s`);
* ``(key, read)`` -- ``read(obj, key)``, any gentle reader of :mod:`trialscope.ctgov.readers`
  (a number, a date, an enum, a nested object or list built by another table).

A key is one key, a dotted path into nested objects (``"designInfo.maskingInfo.masking"``), or a
tuple of keys whose first readable value wins (``("investigatorFullName", "oldNameTitle")``);
:func:`named` writes the rules of fields named after their keys, :func:`under` moves rules below a
module. Nested tables are rules too: :func:`many` (a list of objects), :func:`one` (an object that
may be absent) and :func:`always` (an object built even from nothing). The fields a table leaves
out take their dataclass default; a text the model requires (a ``str`` field without a default,
such as an arm's label) is ``""`` where the record has none.

Tables are checked when they are made (a field the class does not have is a TypeError at import)
and compiled into one reader per field, called in the class's field order: building an object is
one call per field and one positional constructor call, as fast as writing the builder by hand.

>>> from trialscope.model import Official
>>> OFFICIAL = Spec(Official, {"name": "name", "affiliation": ("site.name", _s)})
>>> build(OFFICIAL, {"site": {"name": "Minsk"}})
Official(name='', role=None, affiliation='Minsk')
>>> PERSON = Spec(Official, {"name": "name", "affiliation": "affiliation"}, needs="name")
>>> many(PERSON)({"people": [{"name": "Dr. Lee"}, {"affiliation": "no name"}, "not an object"]}, "people")
(Official(name='Dr. Lee', role=None, affiliation=None),)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, fields
from typing import Any, Generic, TypeVar

from trialscope.ctgov.readers import _d, _l, _s, _text

T = TypeVar("T")
_CAPITAL = re.compile("([A-Z])")

Read = Callable[[Any, str], Any]  # a gentle reader: (object, key) -> the value, or None
Key = str | tuple[str, ...]
Rule = str | tuple[Key, Read]


class Spec(Generic[T]):
    """Where each field of ``cls`` is in an API v2 object: ``{field: rule}`` (see the module).

    ``needs`` names a key whose text an object must have to be built at all by :func:`many` and
    :func:`one` (an arm without a label is no arm); ``fixed`` gives fields one value for every
    object built (the ``kind`` of an outcome read from ``primaryOutcomes``).
    """

    __slots__ = ("cls", "needs", "nodes", "rules", "steps")

    def __init__(
        self,
        cls: type[T],
        rules: Mapping[str, Rule],
        *,
        needs: str | None = None,
        fixed: Mapping[str, Any] = {},
    ) -> None:
        order = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(rules).union(fixed).difference(order))
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)}")
        self.cls = cls
        self.needs = needs
        self.rules = dict(rules)
        # The objects the keys are in: the object itself (0), then each object a dotted key
        # walks through, found once per object built rather than once per field.
        self.nodes: dict[tuple[str, ...], tuple[int, str]] = {}
        compiled = {name: self._compile(rule) for name, rule in rules.items()}
        compiled.update({name: (_const(value), "", 0) for name, value in fixed.items()})
        # Positional arguments up to the last field the table names; a field between that it
        # leaves out takes its default, as a keyword argument would.
        last = max(map(order.index, compiled), default=-1)
        self.steps: tuple[tuple[Read, str, int], ...] = tuple(
            _step(cls, f, compiled.get(f.name))
            for f in fields(cls)[: last + 1]  # type: ignore[arg-type]
        )

    def given(self, **values: Any) -> Spec[T]:
        """This table with some fields given one value: ``OUTCOME.given(kind="secondary")``."""
        return Spec(
            self.cls, {k: v for k, v in self.rules.items() if k not in values}, needs=self.needs, fixed=values
        )

    def _compile(self, rule: Rule) -> tuple[Read, str, int]:
        key, read = (rule, _s) if isinstance(rule, str) else rule
        if isinstance(key, str):
            *path, last = key.split(".")
            return read, last, self._node(tuple(path))
        # The first of several keys with a value; they are keys of one object.
        paths = {tuple(k.split(".")[:-1]) for k in key}
        if len(paths) > 1:
            raise TypeError(f"the keys {key} are not in one object")
        return _first([(read, k.split(".")[-1]) for k in key]), "", self._node(paths.pop())

    def _node(self, path: tuple[str, ...]) -> int:
        if not path:
            return 0
        if path not in self.nodes:
            self.nodes[path] = (self._node(path[:-1]), path[-1])
        return list(self.nodes).index(path) + 1


def build(spec: Spec[T], obj: Any, **rest: Any) -> T:
    """The object ``spec`` makes of ``obj``; ``rest`` gives fields after the table's last one."""
    if not spec.nodes:
        return spec.cls(*[read(obj, key) for read, key, _ in spec.steps], **rest)
    nodes = [obj]
    for parent, key in spec.nodes.values():
        nodes.append(_d(nodes[parent], key))
    return spec.cls(*[read(nodes[at], key) for read, key, at in spec.steps], **rest)


def many(spec: Spec[T]) -> Callable[[Any, str], tuple[T, ...]]:
    """A rule's reader: the list at a key, each object in it (that ``spec`` needs) built by ``spec``.

    The hottest loop of a parse (a study's measurements and counts), so it builds each object here.
    """
    cls, steps, needs = spec.cls, spec.steps, spec.needs
    if spec.nodes:
        raise TypeError(f"a table of a list ({cls.__name__}) reads the keys of its objects, not paths")

    def read(obj: Any, key: str) -> tuple[T, ...]:
        return tuple(
            cls(*[r(x, k) for r, k, _ in steps])
            for x in _l(obj, key)
            if isinstance(x, dict) and (needs is None or _s(x, needs) is not None)
        )

    return read


def one(spec: Spec[T]) -> Callable[[Any, str], T | None]:
    """A rule's reader: the object at a key built by ``spec``, or None where there is none."""

    def read(obj: Any, key: str) -> T | None:
        inner = _d(obj, key)
        if not inner or (spec.needs is not None and _s(inner, spec.needs) is None):
            return None
        return build(spec, inner)

    return read


def always(spec: Spec[T]) -> Callable[[Any, str], T]:
    """A rule's reader: the object at a key built by ``spec``, empty where the record has none."""
    return lambda obj, key: build(spec, _d(obj, key))


def named(keys: str, read: Read = _s) -> dict[str, Rule]:
    """A rule for each v2 key of ``keys`` (space-separated), read into the field of the same name.

    Most fields of the model are named after their key (``unitOfMeasure`` -> ``unit_of_measure``);
    a field named otherwise has a rule of its own.

    >>> named("briefTitle acronym")
    {'brief_title': 'briefTitle', 'acronym': 'acronym'}
    >>> from trialscope.ctgov.readers import _i
    >>> named("numEvents", _i)  # doctest: +ELLIPSIS
    {'num_events': ('numEvents', <function _i at ...>)}
    """
    return {_CAPITAL.sub(r"_\1", key).lower(): key if read is _s else (key, read) for key in keys.split()}


def under(prefix: str, rules: Mapping[str, Rule]) -> dict[str, Rule]:
    """``rules`` with every key taken below ``prefix``: one module's fields in a bigger table.

    >>> under("statusModule", {"why_stopped": "whyStopped", "start": ("startDateStruct.date", _s)})["start"][0]
    'statusModule.startDateStruct.date'
    """

    def below(key: Key) -> Key:
        return tuple(f"{prefix}.{k}" for k in key) if isinstance(key, tuple) else f"{prefix}.{key}"

    moved: dict[str, Rule] = {}
    for name, rule in rules.items():
        if isinstance(rule, str):
            moved[name] = f"{prefix}.{rule}"
        else:
            moved[name] = (below(rule[0]), rule[1])
    return moved


# --- compiling a rule into (reader, key, node) ---------------------------------------------


def _step(cls: type, field: Field[Any], step: tuple[Read, str, int] | None) -> tuple[Read, str, int]:
    if step is None:
        if field.default is MISSING:
            raise TypeError(f"{cls.__name__}.{field.name} has no default: its table must say where it is")
        return _const(field.default), "", 0
    if field.default is MISSING and field.default_factory is MISSING and field.type in ("str", str):
        read, key, at = step  # a text the model requires is empty where the record has none
        return (_text if read is _s else _or_empty(read)), key, at
    return step


def _or_empty(read: Read) -> Read:
    def or_empty(obj: Any, key: str) -> str:
        value = read(obj, key)
        return "" if value is None else value

    return or_empty


def _first(steps: list[tuple[Read, str]]) -> Read:
    def first(obj: Any, _: str) -> Any:
        for read, key in steps:
            value = read(obj, key)
            if value is not None:
                return value
        return None

    return first


def _const(value: Any) -> Read:
    return lambda obj, key: value
