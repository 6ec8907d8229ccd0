"""The fields an API v2 study record is known to have, to notice new or renamed ones.

A sync keeps every record byte for byte, so a field the registry adds or renames is never
lost; but the parser reads only the fields it knows, so an upstream rename would silently
empty a field on the trial page. Counting the fields a record holds that this list does not
know (:func:`unknown_fields`) makes such a change visible in the sync's summary the day it
happens.

The list (``v2_fields.txt``, one key path per line, ``[]`` for a list) is learnt from real
records: ``python -m trialscope.ctgov.fields ../shared/data/ctgov/v2_json > v2_fields.txt``.

>>> sorted(unknown_fields({"protocolSection": {"identificationModule": {"nctId": "NCT1", "newName": 1}}}))
['protocolSection.identificationModule.newName']
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import orjson


def key_paths(obj: Any, prefix: str = "") -> Iterator[str]:
    """Every key path of a JSON value (lists as ``[]``), leaves and branches alike.

    >>> list(key_paths({"a": {"b": [{"c": 1}]}}))
    ['a', 'a.b', 'a.b[]', 'a.b[].c']
    """
    if isinstance(obj, dict):
        for key, value in obj.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            yield from key_paths(value, path)
    elif isinstance(obj, list):
        path = f"{prefix}[]"
        if obj and any(isinstance(item, dict | list) for item in obj):
            yield path
        for item in obj:
            if isinstance(item, dict | list):
                yield from key_paths(item, path)


@cache
def known_fields() -> frozenset[str]:
    text = resources.files("trialscope.ctgov").joinpath("v2_fields.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def unknown_fields(study: Any) -> set[str]:
    """The key paths of a study record that no known record has."""
    known = known_fields()
    return {path for path in key_paths(study) if path not in known}


def iter_v2_studies(folder: Path) -> Iterator[dict[str, Any]]:
    """Every API v2 study in the JSON and JSONL files under a folder (single studies, pages,
    arrays), files in sorted path order, each file's studies in its order."""
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".jsonl":
            items = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
        elif path.suffix == ".json":
            data = orjson.loads(path.read_bytes())
            items = data if isinstance(data, list) else data.get("studies", [data])
        else:
            continue
        for item in items:
            if isinstance(item, dict) and "protocolSection" in item:
                yield item


def learn(folder: Path) -> set[str]:
    """Every key path of every API v2 study under a folder."""
    found: set[str] = set()
    for study in iter_v2_studies(folder):
        found.update(key_paths(study))
    return found


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    print("\n".join(sorted(learn(Path(sys.argv[1])))))
