"""Find the study records in files, folders and zips, and say what shape each one is.

``iter_source_records(path)`` walks a file or a folder (recursively) and yields, one record
at a time, either a :class:`SourceRecord` (the decoded record, its shape and its raw bytes) or
a :class:`Rejected` (where and why). Nothing here raises for bad input: a cut-off zip, a
malformed JSON line or a stray object becomes a Rejected and the walk goes on. Zips are read
as streams, member by member from their local headers, never unpacked to disk: a zip whose
end was cut off keeps every whole member.

Shapes: ``v2`` (API v2 study object), ``v1`` (classic FullStudies Study), ``v1-fields``
(classic StudyFields row), ``xml`` (legacy clinical_study bytes), ``csv`` (a row of a website
CSV export, with its layout), and ``json`` (a JSON line not yet decoded). The raw bytes kept of
a CSV row are the row itself as JSON, so it can be parsed again.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from stream_unzip import (
    IntegrityError,
    MissingPasswordError,
    TruncatedDataError,
    UncompressError,
    UnsupportedFeatureError,
    UnzipError,
    stream_unzip,
)

from trialscope.ctgov.csv_export import iter_csv_rows, parse_csv_row
from trialscope.ctgov.legacy_xml import parse_xml_study
from trialscope.ctgov.parse import parse_study
from trialscope.ctgov.translate import invalid_utf8
from trialscope.ctgov.v1 import iter_v1_document, parse_v1_fields, parse_v1_study
from trialscope.errors import NotAStudyError, ParseError, TrialScopeError
from trialscope.model import Trial

UTF8_BOM = b"\xef\xbb\xbf"  # some editors start a UTF-8 file with it; JSON has no use for it
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


ZIP_CHUNK = 1 << 16  # bytes read from a zip file at a time

# What stream-unzip's errors mean, most particular first, in words for a reject report.
_ZIP_PROBLEMS: tuple[tuple[type[Exception], str], ...] = (
    (TruncatedDataError, "the zip is cut off inside this member (an interrupted download?)"),
    (IntegrityError, "this member is damaged: its checksum or size does not match its data"),
    (UncompressError, "this member is damaged: its compressed data cannot be decompressed"),
    (MissingPasswordError, "this member is encrypted"),
    (
        UnsupportedFeatureError,
        "this member is stored in a way that cannot be read from the start of the file",
    ),
)


def _iter_zip(file: Path) -> Iterator[SourceItem]:
    """Every record in a zip, member by member in the order they stand in the file.

    The members are read from their local headers as a stream, never from the central
    directory at the end: a zip cut off by an interrupted download keeps every whole member
    before the cut, and the cut one is reported by name. Reading stops at the first member
    that is cut or damaged, since nothing after it can be found without the directory.
    """
    name = str(file)
    whole = 0
    member: str | None = None
    with open(file, "rb") as stream:
        try:
            for raw_name, _size, chunks in stream_unzip(iter(lambda: stream.read(ZIP_CHUNK), b"")):
                member = _member_name(raw_name)
                if not member.endswith("/") and member.lower().endswith(RECORD_SUFFIXES[:-1]):
                    yield from _iter_stream(f"{name}::{member}", io.BufferedReader(_ChunkReader(chunks)))
                for _ in chunks:  # what the parser left unread; its checksum is checked at the end
                    pass
                whole += 1
                member = None
        except UnzipError as exc:
            yield _zip_rejected(name, member, whole, exc)


def _zip_rejected(name: str, member: str | None, whole: int, exc: Exception) -> Rejected:
    before = f"the {whole:,} whole members before it were read" if whole else "no member before it"
    if member is not None:
        problem = next(
            (words for kind, words in _ZIP_PROBLEMS if isinstance(exc, kind)), "this member is damaged"
        )
        return Rejected(f"{name}::{member}", f"{problem}; {before}, and the zip is read no further")
    if isinstance(exc, TruncatedDataError):
        return Rejected(
            name,
            f"the zip is cut off after {whole:,} whole members (an interrupted download?): its central "
            "directory is missing, and so is any member after the cut",
        )
    if whole == 0:
        return Rejected(name, "not a zip file: it does not start with a zip member")
    return Rejected(
        name, f"the zip is damaged after {whole:,} whole members: no member starts where the next should"
    )


def _member_name(raw: bytes) -> str:
    """A member's name: UTF-8 as zips written today say, else the old DOS code page zips began with."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


class _ChunkReader(io.RawIOBase):
    """A readable stream over an iterator of byte chunks (one zip member's data)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._chunk = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._chunk:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._chunk = memoryview(chunk)
        size = min(len(buffer), len(self._chunk))
        buffer[:size] = self._chunk[:size]
        self._chunk = self._chunk[size:]
        return size


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
            line = line.removeprefix(UTF8_BOM)
            try:
                if _is_derived(orjson.loads(line)):
                    yield Rejected(name, _DERIVED_REASON, skipped_file=True)
                    return
            except orjson.JSONDecodeError:
                pass
        # Decoding and classifying wait for the parse step, which may run in a worker process.
        yield SourceRecord(where, "json", None, line)


def json_error(data: bytes, exc: orjson.JSONDecodeError) -> str:
    """What is wrong with JSON that does not decode, in words: where UTF-8 breaks, or where the syntax does."""
    bad = invalid_utf8(data)
    if bad:
        return bad
    return f"malformed JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"


def _iter_json(name: str, data: bytes) -> Iterator[SourceItem]:
    try:
        obj = orjson.loads(data.removeprefix(UTF8_BOM))
    except orjson.JSONDecodeError as exc:
        yield Rejected(name, json_error(data, exc))
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
        raise ParseError(json_error(record.raw, exc)) from None
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
