"""Find the study records in files, folders and zips, and say what shape each one is.

``iter_source_records(path)`` walks a file or a folder (recursively) and yields, one record
at a time, either a :class:`SourceRecord` (the decoded record, its shape and its raw bytes) or
a :class:`Rejected` (where and why). Nothing here raises for bad input: a truncated zip, a
malformed JSON line or a stray object becomes a Rejected and the walk goes on. Zips are read
as streams, member by member, never unpacked to disk.

Shapes: ``v2`` (API v2 study object), ``v1`` (classic FullStudies Study), ``v1-fields``
(classic StudyFields row), ``xml`` (legacy clinical_study bytes), ``csv`` (a row of a website
CSV export, with its layout), and ``json`` (a JSON line not yet decoded). The raw bytes kept of
a CSV row are the row itself as JSON, so it can be parsed again.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from trialscope.ctgov.csv_export import iter_csv_rows, parse_csv_row
from trialscope.ctgov.legacy_xml import parse_xml_study
from trialscope.ctgov.parse import parse_study
from trialscope.ctgov.v1 import iter_v1_document, parse_v1_fields, parse_v1_study
from trialscope.errors import NotAStudyError, ParseError, TrialScopeError
from trialscope.model import Trial

RECORD_SUFFIXES = (".json", ".jsonl", ".ndjson", ".xml", ".csv", ".zip")


@dataclass(frozen=True, slots=True)
class SourceRecord:
    source: str
    shape: str
    payload: Any
    raw: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    source: str
    reason: str
    nct_id: str | None = None
    skipped_file: bool = False  # a whole file that holds no registry records, by design


SourceItem = SourceRecord | Rejected


def list_source_files(path: Path) -> list[Path]:
    """Record files under ``path`` (or ``path`` itself), in a stable order."""
    if path.is_file():
        return [path]
    if not path.exists():
        raise TrialScopeError(f"No such file or folder: {path}.")
    found: list[Path] = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(RECORD_SUFFIXES):
                found.append(Path(root) / name)
    return found


def iter_source_records(path: Path) -> Iterator[SourceItem]:
    """Every record in ``path`` (a file or a folder, recursively)."""
    for file in list_source_files(path):
        yield from iter_file_records(file)


def iter_file_records(file: Path) -> Iterator[SourceItem]:
    name = str(file)
    try:
        if name.lower().endswith(".zip"):
            yield from _iter_zip(file)
        else:
            with open(file, "rb") as stream:
                yield from _iter_stream(name, stream)
    except OSError as exc:
        yield Rejected(name, f"cannot read the file: {exc.strerror or exc}")


def _iter_zip(file: Path) -> Iterator[SourceItem]:
    name = str(file)
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        yield Rejected(name, f"not a readable zip (truncated or corrupt): {exc}")
        return
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.lower().endswith(RECORD_SUFFIXES[:-1]):
                continue
            member = f"{name}::{info.filename}"
            try:
                with archive.open(info) as stream:
                    # Read through a generator so a CRC or truncation error mid-member is caught here.
                    yield from _iter_stream(member, stream)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                yield Rejected(member, f"zip member cannot be read (truncated or corrupt): {exc}")


def _iter_stream(name: str, stream: IO[bytes]) -> Iterator[SourceItem]:
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        yield from _iter_jsonl(name, stream)
    elif lower.endswith(".json"):
        yield from _iter_json(name, stream.read())
    elif lower.endswith(".xml"):
        yield SourceRecord(name, "xml", None, stream.read())
    elif lower.endswith(".csv"):
        yield from _iter_csv(name, stream)


def _iter_jsonl(name: str, stream: IO[bytes]) -> Iterator[SourceItem]:
    for number, line in enumerate(stream, start=1):
        line = line.strip()
        if not line:
            continue
        where = f"{name}:{number}"
        if number == 1:
            try:
                if _is_derived(orjson.loads(line)):
                    yield Rejected(name, _DERIVED_REASON, skipped_file=True)
                    return
            except orjson.JSONDecodeError:
                pass
        # Decoding and classifying wait for the parse step, which may run in a worker process.
        yield SourceRecord(where, "json", None, line)


def _iter_json(name: str, data: bytes) -> Iterator[SourceItem]:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield Rejected(name, f"malformed JSON: {exc}")
        return
    if isinstance(obj, list):
        items: Iterable[Any] = obj
    elif isinstance(obj, dict) and isinstance(obj.get("studies"), list):
        items = obj["studies"]  # an API v2 page
    elif isinstance(obj, dict) and ("FullStudiesResponse" in obj or "StudyFieldsResponse" in obj):
        yield from _iter_v1(name, obj)
        return
    else:
        yield _classify(name, obj, data)
        return
    for index, item in enumerate(items):
        if index == 0 and _is_derived(item):
            yield Rejected(name, _DERIVED_REASON, skipped_file=True)
            return
        yield _classify(f"{name}[{index}]", item, orjson.dumps(item))


def _iter_v1(name: str, obj: Any) -> Iterator[SourceItem]:
    try:
        for index, (kind, study) in enumerate(iter_v1_document(obj)):
            shape = "v1" if kind == "study" else "v1-fields"
            yield SourceRecord(f"{name}[{index}]", shape, study, orjson.dumps(study))
    except TrialScopeError as exc:
        yield Rejected(name, str(exc))


_DERIVED_REASON = "derived third-party format (TrialGPT corpus), not a registry record; file skipped"


def _is_derived(obj: Any) -> bool:
    return isinstance(obj, dict) and "_id" in obj and "metadata" in obj and "protocolSection" not in obj


def _classify(where: str, obj: Any, raw: bytes) -> SourceItem:
    if isinstance(obj, dict):
        if "protocolSection" in obj:
            return SourceRecord(where, "v2", obj, raw)
        if isinstance(obj.get("Study"), dict):
            return SourceRecord(where, "v1", obj["Study"], raw)
        if "ProtocolSection" in obj:
            return SourceRecord(where, "v1", obj, raw)
        if isinstance(obj.get("NCTId"), list):
            return SourceRecord(where, "v1-fields", obj, raw)
        keys = ", ".join(sorted(map(str, obj))[:4]) or "no keys"
        return Rejected(where, f"not a study record (an object with {keys})")
    return Rejected(where, f"not a study record (a JSON {type(obj).__name__})")


def _iter_csv(name: str, stream: IO[bytes]) -> Iterator[SourceItem]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    try:
        for item in iter_csv_rows(text):
            if isinstance(item, ParseError):
                yield Rejected(name, str(item))
                continue
            number, layout, row = item
            row = {k: v for k, v in row.items() if isinstance(k, str)}  # cells past the header have no name
            raw = orjson.dumps({"csv_row": number, "layout": layout, "row": row})
            yield SourceRecord(f"{name}:{number}", "csv", {"layout": layout, "row": row}, raw)
    except (csv.Error, TrialScopeError) as exc:
        yield Rejected(name, f"unreadable CSV: {exc}")


# How each shape becomes a Trial; "json" records are classified first (decode_json_record).
_PARSERS: dict[str, Callable[[SourceRecord], Trial]] = {
    "v2": lambda record: parse_study(record.payload),
    "v1": lambda record: parse_v1_study(record.payload),
    "v1-fields": lambda record: parse_v1_fields(record.payload),
    "xml": lambda record: parse_xml_study(record.raw),
    "csv": lambda record: parse_csv_row(record.payload["row"], record.payload["layout"]),
}


def decode_json_record(record: SourceRecord) -> SourceRecord:
    """Decode and classify a record read as undecoded JSON; NotAStudyError if it is none."""
    try:
        obj = orjson.loads(record.raw)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"malformed JSON: {exc}") from None
    item = _classify(record.source, obj, record.raw)
    if isinstance(item, Rejected):
        raise NotAStudyError(item.reason)
    return item


def parse_source_record(record: SourceRecord) -> Trial:
    """Parse a record of any shape; only ParseError (and subclasses) escape.

    Every parser runs under the one guard of :func:`trialscope.ctgov.parse.parse_converted`.
    """
    if record.shape == "json":
        record = decode_json_record(record)
    parser = _PARSERS.get(record.shape)
    if parser is None:
        raise ParseError(f"unknown record shape {record.shape!r}")
    return parser(record)
