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
tuple of keys of one object whose first readable value wins (``("investigatorFullName",
"oldNameTitle")``); :func:`named` writes the rules of fields named after their keys, :func:`under`
moves rules below a module. Nested tables are rules too: :func:`many` (a list of objects),
:func:`one` (an object that may be absent) and :func:`always` (an object built even from nothing).
The fields a table leaves out take their dataclass default; a text the model requires (a ``str``
field without a default, such as an arm's label) is ``""`` where the record has none.

A table is written into Python once, when it is made, as :mod:`dataclasses` writes ``__init__``:
one constructor call with one call of each reader (``Spec.code`` holds the source). Building an
object then costs what a builder written by hand costs, which matters in the hottest loops of a
parse, a study's thousands of measurements and counts.

>>> from trialscope.model import Official
>>> OFFICIAL = Spec(Official, {"name": "name", "affiliation": "site.name"}, needs="name")
>>> build(OFFICIAL, {"site": {"name": "Minsk"}})
Official(name='', role=None, affiliation='Minsk')
>>> many(OFFICIAL)({"people": [{"name": "Dr. Lee"}, {"site": {}}, "not an object"]}, "people")
(Official(name='Dr. Lee', role=None, affiliation=None),)
"""

from __future__ import annotations

import itertools
import linecache
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, fields
from typing import Any, Generic, TypeVar

from trialscope.ctgov.readers import _d, _l, _s

T = TypeVar("T")
_CAPITAL = re.compile("([A-Z])")

Read = Callable[[Any, str], Any]  # a gentle reader: (object, key) -> the value, or None
Key = str | tuple[str, ...]
Rule = str | tuple[Key, Read]


class Spec(Generic[T]):
    """Where each field of ``cls`` is in an API v2 object: ``{field: rule}`` (see the module).

    ``needs`` names a key whose text an object must have to be built at all by :func:`many` and
    :func:`one` (an arm without a label is no arm); ``fixed`` gives fields one value for every
    object built (the ``kind`` of an outcome read from ``primaryOutcomes``). A table is checked when
    it is made: a field the class does not have, or a field without a default that the table does
    not name, is a TypeError at import.
    """

    __slots__ = ("cls", "code", "each", "fixed", "make", "needs", "nodes", "rules")

    def __init__(
        self,
        cls: type[T],
        rules: Mapping[str, Rule],
        *,
        needs: str | None = None,
        fixed: Mapping[str, Any] = {},
    ) -> None:
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(rules).union(fixed).difference(known))
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)}")
        self.cls = cls
        self.needs = needs
        self.rules = dict(rules)
        self.fixed = dict(fixed)
        # The objects keys are read in: the object itself (node 0), then each object a dotted key
        # walks through, found once per object built rather than once per field.
        self.nodes: dict[tuple[str, ...], tuple[int, str]] = {}
        steps = {name: self._compile(rule) for name, rule in rules.items()}
        steps.update({name: (_const(value), "", 0) for name, value in fixed.items()})
        # The constructor's positional arguments, up to the last field the table names: a field
        # before it that the table leaves out is given its default, as a keyword argument would be.
        order = list(known)
        last = max(map(order.index, steps), default=-1)
        args = [(known[name], steps.get(name) or _default(cls, known[name])) for name in order[: last + 1]]
        self.code = _code(cls.__name__, args, list(self.nodes.values()), needs)
        self.make: Callable[..., T]
        self.each: Callable[[Any, str], tuple[T, ...]]
        self.make, self.each = _functions(self.code, cls, [read for _, (read, _, _) in args])

    def given(self, **values: Any) -> Spec[T]:
        """This table with some fields given one value: ``OUTCOME.given(kind="secondary")``."""
        rules = {name: rule for name, rule in self.rules.items() if name not in values}
        return Spec(self.cls, rules, needs=self.needs, fixed={**self.fixed, **values})

    def _compile(self, rule: Rule) -> tuple[Read, str, int]:
        """A rule as (reader, the key it reads, the node it reads the key in)."""
        key, read = (rule, _s) if isinstance(rule, str) else rule
        if isinstance(key, str):
            *path, last = key.split(".")
            return read, last, self._node(tuple(path))
        paths = {tuple(k.split(".")[:-1]) for k in key}
        if len(paths) > 1:
            raise TypeError(f"the keys {key} are not keys of one object")
        return _first(read, [k.split(".")[-1] for k in key]), "", self._node(paths.pop())

    def _node(self, path: tuple[str, ...]) -> int:
        if not path:
            return 0
        if path not in self.nodes:
            self.nodes[path] = (self._node(path[:-1]), path[-1])
        return list(self.nodes).index(path) + 1


def build(spec: Spec[T], obj: Any, **rest: Any) -> T:
    """The object ``spec`` makes of ``obj``; ``rest`` gives fields after the table's last one."""
    return spec.make(obj, **rest)


def many(spec: Spec[T]) -> Callable[[Any, str], tuple[T, ...]]:
    """A rule's reader: the list at a key, each object in it built by ``spec`` (if it has its needs)."""
    return spec.each


def one(spec: Spec[T]) -> Callable[[Any, str], T | None]:
    """A rule's reader: the object at a key built by ``spec``, or None where there is none."""
    make, needs = spec.make, spec.needs

    def read(obj: Any, key: str) -> T | None:
        inner = _d(obj, key)
        if not inner or (needs is not None and _s(inner, needs) is None):
            return None
        return make(inner)

    return read


def always(spec: Spec[T]) -> Callable[[Any, str], T]:
    """A rule's reader: the object at a key built by ``spec``, empty where the record has none."""
    make = spec.make
    return lambda obj, key: make(_d(obj, key))


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

    return {
        name: f"{prefix}.{rule}" if isinstance(rule, str) else (below(rule[0]), rule[1])
        for name, rule in rules.items()
    }


# --- the builders a table compiles into -------------------------------------------------------


def _code(
    name: str,
    steps: list[tuple[Field[Any], tuple[Read, str, int]]],
    nodes: list[tuple[int, str]],
    needs: str | None,
) -> str:
    """The Python of a table's two builders, one call of each reader inside one constructor call.

    Written once per table when it is made, as :mod:`dataclasses` writes ``__init__``: building an
    object then costs what a builder written by hand costs, and a traceback shows the line. For
    ``Spec(Official, {"name": "name", "affiliation": "site.name"}, needs="name")``::

        def make(n0, **rest):
            n1 = _d(n0, 'site')
            return cls(
                (r0(n0, 'name') or ''),
                r1(n0, ''),
                r2(n1, 'name'),
                **rest,
            )

        def each(obj, key):
            return tuple(
                make(n0)
                for n0 in _l(obj, key)
                if isinstance(n0, dict) and _s(n0, 'name') is not None
            )

    ``r1`` gives ``role`` its default; where no key is a path, ``each`` makes its objects inline
    (``cls(r0(n0, ...), ...)``) rather than calling ``make``: the lists are the hottest loop of a parse.
    """
    args = []
    for i, (field, (_, key, node)) in enumerate(steps):
        arg = f"r{i}(n{node}, {key!r})"
        required_text = (
            field.default is MISSING and field.default_factory is MISSING and field.type in ("str", str)
        )
        args.append(f"({arg} or '')" if required_text else arg)  # required: "" where the record has none
    walk = "".join(f"    n{i} = _d(n{parent}, {key!r})\n" for i, (parent, key) in enumerate(nodes, 1))
    new = "make(n0)" if nodes else "cls(\n" + "".join(f"            {arg},\n" for arg in args) + "        )"
    keep = "isinstance(n0, dict)" + (f" and _s(n0, {needs!r}) is not None" if needs else "")
    return (
        f"# the builders of the table of {name} (trialscope.ctgov.build)\n"
        f"def make(n0, **rest):\n{walk}    return cls(\n"
        + "".join(f"        {arg},\n" for arg in [*args, "**rest"])
        + "    )\n\n"
        f"def each(obj, key):\n    return tuple(\n        {new}\n        for n0 in _l(obj, key)\n        if {keep}\n    )\n"
    )


_tables = itertools.count(1)


def _functions(code: str, cls: type, reads: list[Read]) -> tuple[Any, Any]:
    filename = f"<table {next(_tables)} of {cls.__name__}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)  # for tracebacks
    namespace: dict[str, Any] = {"cls": cls, "_d": _d, "_l": _l, "_s": _s}
    namespace.update({f"r{i}": read for i, read in enumerate(reads)})
    # The code is written by _code from our own tables (keys as repr() literals), never from input.
    exec(compile(code, filename, "exec"), namespace)  # noqa: S102
    return namespace["make"], namespace["each"]


def _default(cls: type, field: Field[Any]) -> tuple[Read, str, int]:
    if field.default is MISSING:
        raise TypeError(f"{cls.__name__}.{field.name} has no default: its table must say where it is")
    return _const(field.default), "", 0


def _first(read: Read, keys: list[str]) -> Read:
    def first(obj: Any, _: str) -> Any:
        for key in keys:
            value = read(obj, key)
            if value is not None:
                return value
        return None

    return first


def _const(value: Any) -> Read:
    return lambda obj, key: value
