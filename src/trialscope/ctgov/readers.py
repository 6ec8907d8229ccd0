"""Gentle readers of a decoded API v2 study: each field as the type the model wants, or None.

The records come from many hands: every field may be missing, and some hold the wrong type
(a number as a string, a list where a string belongs). These readers coerce gently and give
None (or an empty list) for what cannot be read, so that only what the model cannot do without
rejects a record.

>>> _s({"count": 7}, "count"), _i({"count": "1,206"}, "count"), _l({"a": "x"}, "a")
('7', 1206, ['x'])
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from trialscope import vocab
from trialscope.errors import ParseError
from trialscope.model import DateStruct


def _d(obj: Any, key: str) -> dict[str, Any]:
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        return {}
    return value if type(value) is dict else {}


def _l(obj: Any, key: str) -> list[Any]:
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        return []
    if type(value) is list:
        return value
    if value is None or value == "":
        return []
    return [value]


def _s(obj: Any, key: str) -> str | None:
    # The hottest function of an ingest: a plain dict lookup and a type check first.
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        return None
    if type(value) is str:
        return value if value and not value.isspace() else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _get(obj: Any, key: str) -> Any:
    """``obj[key]``, or None where ``obj`` has no such key or is no object at all."""
    try:
        return obj[key]
    except (KeyError, TypeError, IndexError):
        return None


def _i(obj: Any, key: str) -> int | None:
    value = _get(obj, key)
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip().replace(",", ""))
        except ValueError:
            return None
    return None


def _strict_int(obj: Any, key: str, where: str) -> int | None:
    """A number the record must get right: absent is fine, unreadable rejects the record."""
    if not isinstance(obj, dict) or obj.get(key) in (None, ""):
        return None
    value = _i(obj, key)
    if value is None:
        raise ParseError(f"{where} is {obj[key]!r}, not a whole number")
    return value


def strict_int(where: str) -> Callable[[Any, str], int | None]:
    """A reader of a strict whole number that names ``where`` it is when it rejects a record."""
    return lambda obj, key: _strict_int(obj, key, where)


def _f(obj: Any, key: str) -> float | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _b(obj: Any, key: str) -> bool | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return vocab.parse_bool(value)


def _strs(obj: Any, key: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in _l(obj, key) if isinstance(v, str) and v.strip())


def _enum(vocabulary: str, obj: Any, key: str) -> str | None:
    return vocab.to_enum(vocabulary, _s(obj, key))


def enum(vocabulary: str) -> Callable[[Any, str], str | None]:
    """A reader of a word of ``vocabulary`` as its API v2 enum (see :mod:`trialscope.vocab`).

    >>> enum("arm_type")({"type": "Active Comparator"}, "type")
    'ACTIVE_COMPARATOR'
    """
    return partial(_enum, vocabulary)


def _date(obj: Any, key: str) -> DateStruct | None:
    struct = _d(obj, key)
    raw = _s(struct, "date")
    if raw is None:
        return None
    return DateStruct(date=vocab.iso_date(raw) or raw, type=_enum("date_type", struct, "type"))


def _plain_date(obj: Any, key: str) -> str | None:
    raw = _s(obj, key)
    return vocab.iso_date(raw) or raw if raw else None
