"""A stand-in for ClinicalTrials.gov: a real HTTP server on loopback speaking the API v2 protocol.

No machine here reaches clinicaltrials.gov, so the client is tested against this server, which serves
real records (by default every v2 study in shared/data/ctgov/v2_json, newest lastUpdatePostDate per
NCT id) the way the live API does:

    GET /api/v2/version                               {"apiVersion", "dataTimestamp"} (settable)
    GET /api/v2/studies                               pages: pageSize (clamped at 1,000), opaque
                                                      pageToken, filter.advanced (LastUpdatePostDate
                                                      RANGE), filter.ids, fields, countTotal, format=json
    GET /api/v2/studies/{nct_id}                      one study
    GET /api/v2/studies/download?format=json.zip      the bulk zip, one JSON per study in shard folders
                                                      by the id's last two digits; Range and If-Range
    GET /api/int/studies/{nct_id}?history=true        {"study", "history": {"changes": [...]}}
    GET /api/int/studies/{nct_id}/history/{version}   {"studyVersion", "study"}

Like the live API it answers an unknown parameter with 400 and the plain-text message the live API
gives ("`x` is unknown parameter"); a parameter the live API knows but this stand-in does not implement
is a 400 too, so a test never passes by a filter being silently ignored.

Tests change it while it runs: add, replace or remove studies, add a new version of a study (the
history endpoints then list both), set ``data_timestamp``; and inject faults: the next N requests (to
a path, or any) answer 429 with Retry-After, 503, sleep past the client's timeout, or cut the body
short after sending its Content-Length. ``hits`` counts the requests seen per path.

Use the ``ctgov_server`` fixture (``pytest_plugins = ["ctgov_server"]``), or ``CtgovStandIn`` directly.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import re
import socket
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

V2_JSON = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ctgov" / "v2_json"

_QUERY_AREAS = ("cond", "term", "locn", "titles", "intr", "outc", "spons", "lead", "id", "patient")
_FILTERS = ("overallStatus", "geo", "ids", "advanced", "synonyms")
_PAGING = ("format", "markupFormat", "fields", "countTotal", "pageSize", "pageToken")
#: Every parameter /api/v2/studies accepts in the live API's OpenAPI description (API 2.0.5).
STUDIES_PARAMS = frozenset(
    (*_PAGING, "aggFilters", "geoDecay", "sort")
    + tuple(f"query.{area}" for area in _QUERY_AREAS)
    + tuple(f"{kind}.{name}" for kind in ("filter", "postFilter") for name in _FILTERS)
)
#: The ones this stand-in implements.
STUDIES_SUPPORTED = frozenset((*_PAGING, "filter.ids", "filter.advanced"))
#: Parameters the next page may change without invalidating its token (as the live API documents).
TOKEN_FREE = frozenset({"pageToken", "pageSize", "countTotal"})
#: fields= names this stand-in can return, and where each sits in a study.
FIELD_PATHS = {
    "NCTId": ("protocolSection", "identificationModule", "nctId"),
    "LastUpdatePostDate": ("protocolSection", "statusModule", "lastUpdatePostDateStruct", "date"),
    "OverallStatus": ("protocolSection", "statusModule", "overallStatus"),
}
#: Labels of the website's history view for each protocol module (approximate: shown in moduleLabels).
MODULE_LABELS = {
    "identificationModule": "Study Identification",
    "statusModule": "Study Status",
    "sponsorCollaboratorsModule": "Sponsor/Collaborators",
    "oversightModule": "Oversight",
    "descriptionModule": "Study Description",
    "conditionsModule": "Conditions",
    "designModule": "Study Design",
    "armsInterventionsModule": "Arms and Interventions",
    "outcomesModule": "Outcome Measures",
    "eligibilityModule": "Eligibility",
    "contactsLocationsModule": "Contacts/Locations",
    "referencesModule": "References",
    "ipdSharingStatementModule": "IPDSharing",
}
_RANGE_FILTER = re.compile(r"AREA\[LastUpdatePostDate\]\s*RANGE\[\s*([^,\]]*?)\s*,\s*([^\]]*?)\s*\]")
_BOUND = re.compile(r"MIN|MAX|\d{4}-\d{2}(-\d{2})?")
_STUDY_PATH = re.compile(r"/api/v2/studies/(NCT\d{8})")
_INT_STUDY_PATH = re.compile(r"/api/int/studies/(NCT\d{8})")
_INT_VERSION_PATH = re.compile(r"/api/int/studies/(NCT\d{8})/history/(\d+)")


# --- the records ---------------------------------------------------------------------------------


def nct_id_of(study: Mapping[str, Any]) -> str | None:
    """The NCT id of a v2 study object, or None for anything else."""
    try:
        value = study["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def last_update_of(study: Mapping[str, Any]) -> str | None:
    """lastUpdatePostDateStruct.date of a v2 study, or None."""
    try:
        value = study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _objects_in(file: Path) -> Iterator[Any]:
    data = file.read_bytes()
    if file.suffix == ".jsonl":
        for line in data.splitlines():
            if line.strip():
                yield orjson.loads(line)
        return
    parsed = orjson.loads(data)
    yield from parsed if isinstance(parsed, list) else [parsed]


@functools.cache
def load_v2_studies(root: Path = V2_JSON) -> dict[str, bytes]:
    """Every v2 study under ``root`` as compact JSON by NCT id, the newest lastUpdatePostDate winning."""
    newest: dict[str, tuple[str, bytes]] = {}
    for file in sorted(root.rglob("*")):
        if file.suffix not in (".json", ".jsonl"):
            continue
        for obj in _objects_in(file):
            nct_id = nct_id_of(obj) if isinstance(obj, dict) else None
            if nct_id is None:
                continue  # the stray non-study object the shared data holds
            when = last_update_of(obj) or ""
            if nct_id not in newest or when > newest[nct_id][0]:
                newest[nct_id] = (when, orjson.dumps(obj))
    return {nct_id: raw for nct_id, (_, raw) in newest.items()}


# --- faults and what was seen --------------------------------------------------------------------


@dataclass
class Fault:
    """One kind of misbehaviour for the next ``times`` requests whose path starts with ``path``."""

    kind: str  # "429" | "503" | "slow" | "cut"
    times: int
    path: str | None = None
    retry_after: str | None = "1"
    delay: float = 2.0  # "slow": seconds before answering
    cut_at: float = 0.5  # "cut": bytes of the body sent (>= 1) or a fraction of it (< 1)


@dataclass(frozen=True)
class Seen:
    """A request as the server saw it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    fault: str | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Version:
    raw: bytes
    date: str  # when this version was posted: its lastUpdatePostDate, else its first post date
    last_update: str | None


# --- the server ----------------------------------------------------------------------------------


class CtgovStandIn:
    """The state of the stand-in (studies with their versions, faults, counters) and its HTTP server."""

    def __init__(
        self,
        studies: Mapping[str, bytes] | Iterable[Mapping[str, Any]] | None = None,
        *,
        data_timestamp: str = "2026-11-03T09:00:05",
        api_version: str = "2.0.5",
        ranges: bool = True,
    ) -> None:
        self.data_timestamp = data_timestamp
        self.api_version = api_version
        self.ranges = ranges
        self.hits: Counter[str] = Counter()
        self.seen: list[Seen] = []
        self._faults: list[Fault] = []
        self._versions: dict[str, list[_Version]] = {}
        self._lock = threading.RLock()
        self._zip: tuple[bytes, str] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        source = load_v2_studies() if studies is None else studies
        items = source.values() if isinstance(source, Mapping) else source
        for item in items:
            self.put_study(item)

    # -- lifecycle --

    def start(self) -> Self:
        """Listen on a free loopback port and serve from a background thread."""
        handler = type("Handler", (_Handler,), {"standin": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="ctgov-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The site root to give the client, e.g. ``http://127.0.0.1:41234``."""
        assert self._httpd is not None, "start the stand-in first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- the records --

    def put_study(self, study: Mapping[str, Any] | bytes) -> str:
        """Add a study, or replace one and its whole history, with this as its only version."""
        version, nct_id = _version_of(study)
        with self._lock:
            self._versions[nct_id] = [version]
            self._zip = None
        return nct_id

    def add_version(self, study: Mapping[str, Any] | bytes) -> int:
        """Append a new version of a study (it becomes the current one); returns its version number."""
        version, nct_id = _version_of(study)
        with self._lock:
            versions = self._versions.setdefault(nct_id, [])
            versions.append(version)
            self._zip = None
            return len(versions) - 1

    def revise(self, nct_id: str, *, last_update: str, overall_status: str | None = None) -> dict[str, Any]:
        """A new version of a study: a later lastUpdatePostDate and maybe another overallStatus."""
        study = orjson.loads(self.study_bytes(nct_id))
        status = study["protocolSection"].setdefault("statusModule", {})
        status["lastUpdatePostDateStruct"] = {"date": last_update, "type": "ACTUAL"}
        if overall_status is not None:
            status["overallStatus"] = overall_status
        self.add_version(study)
        return study

    def remove_study(self, nct_id: str) -> None:
        with self._lock:
            del self._versions[nct_id]
            self._zip = None

    def study_bytes(self, nct_id: str, version: int = -1) -> bytes:
        """A version of a study (the current one by default) exactly as it is served."""
        with self._lock:
            return self._versions[nct_id][version].raw

    def nct_ids(self) -> list[str]:
        """The served NCT ids, in the order pages list them."""
        with self._lock:
            return sorted(self._versions)

    def versions(self, nct_id: str) -> list[_Version]:
        with self._lock:
            return list(self._versions.get(nct_id, []))

    def bulk_zip(self) -> tuple[bytes, str]:
        """The bulk zip as served, and its ETag (made once per state of the records)."""
        with self._lock:
            if self._zip is None:
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
                    for nct_id in sorted(self._versions):
                        info = zipfile.ZipInfo(
                            f"{nct_id[-2:]}/{nct_id}.json", date_time=(2026, 1, 1, 0, 0, 0)
                        )
                        info.compress_type = zipfile.ZIP_DEFLATED
                        archive.writestr(info, self._versions[nct_id][-1].raw)
                data = buffer.getvalue()
                self._zip = (data, '"' + hashlib.sha256(data).hexdigest()[:20] + '"')
            return self._zip

    # -- faults --

    def fail(self, kind: str, *, times: int = 1, path: str | None = None, **options: Any) -> None:
        """Make the next ``times`` requests (to paths starting with ``path``) misbehave as ``kind``;
        ``options`` are :class:`Fault`'s ``retry_after``, ``delay`` and ``cut_at``."""
        if kind not in ("429", "503", "slow", "cut"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults.append(Fault(kind, times, path, **options))

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and (fault.path is None or path.startswith(fault.path)):
                    fault.times -= 1
                    return fault
        return None

    def _record(self, path: str, query: dict[str, str], headers: dict[str, str], fault: Fault | None) -> None:
        with self._lock:
            self.hits[path] += 1
            self.seen.append(Seen(path, query, headers, fault.kind if fault else None))

    # -- answers: (status, headers, body) --

    def answer(
        self, path: str, query: dict[str, str], headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if path == "/api/v2/version":
            return self._only(query, set()) or _json(
                200, orjson.dumps({"apiVersion": self.api_version, "dataTimestamp": self.data_timestamp})
            )
        if path == "/api/v2/studies":
            return self._studies(query)
        if path == "/api/v2/studies/download":
            return self._download(query, headers)
        if match := _STUDY_PATH.fullmatch(path):
            refused = self._only(query, {"format", "markupFormat"})
            if refused:
                return refused
            with self._lock:
                versions = self._versions.get(match[1])
            return _json(200, versions[-1].raw) if versions else _text(404, f"Study {match[1]} not found")
        if match := _INT_STUDY_PATH.fullmatch(path):
            return self._only(query, {"history"}) or self._history(match[1], query.get("history") == "true")
        if match := _INT_VERSION_PATH.fullmatch(path):
            return self._only(query, set()) or self._history_version(match[1], int(match[2]))
        return _text(404, f"No such path {path}")

    def _only(self, query: Mapping[str, str], allowed: set[str]) -> tuple[int, dict[str, str], bytes] | None:
        for name in query:
            if name not in allowed:
                return _text(400, f"`{name}` is unknown parameter")
        return None

    def _studies(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        for name in query:
            if name not in STUDIES_PARAMS:
                return _text(400, f"`{name}` is unknown parameter")
            if name not in STUDIES_SUPPORTED:
                return _text(400, f"The stand-in server does not implement `{name}`")
        if query.get("format", "json") != "json":
            return _text(400, "The stand-in server serves format=json only")
        try:
            size = min(int(query.get("pageSize", "10")), 1000)
        except ValueError:
            return _text(400, "Parameter `pageSize` must be an integer")
        if size < 1:
            return _text(400, "Parameter `pageSize` must be positive")
        fingerprint = hashlib.sha256(
            repr(sorted((k, v) for k, v in query.items() if k not in TOKEN_FREE)).encode()
        ).hexdigest()[:16]
        offset = 0
        if "pageToken" in query:
            offset = _read_token(query["pageToken"], fingerprint)
            if offset < 0:
                return _text(400, "Parameter `pageToken` is not valid for this query")
        with self._lock:
            listed = sorted(self._versions.items())
        if "filter.ids" in query:
            wanted = {part for part in re.split(r"[,|\s]+", query["filter.ids"]) if part}
            listed = [(nct_id, versions) for nct_id, versions in listed if nct_id in wanted]
        current = [versions[-1] for _, versions in listed]
        if "filter.advanced" in query:
            match = _RANGE_FILTER.fullmatch(query["filter.advanced"].strip())
            if not match or not all(_BOUND.fullmatch(bound) for bound in match.groups()):
                return _text(400, "The stand-in server implements only AREA[LastUpdatePostDate]RANGE[a,b]")
            low, high = match[1], match[2]
            current = [
                version
                for version in current
                if version.last_update is not None
                and (low == "MIN" or version.last_update >= low)
                and (high == "MAX" or version.last_update <= high)
            ]
        rows = [version.raw for version in current]
        page = rows[offset : offset + size]
        if "fields" in query:
            names = [name.strip() for name in query["fields"].split(",") if name.strip()]
            for name in names:
                if name not in FIELD_PATHS:
                    return _text(400, f"Parameter 'fields' contains invalid field name: '{name}'")
            page = [orjson.dumps(_pick(orjson.loads(raw), names)) for raw in page]
        body = b"{"
        if query.get("countTotal", "false").lower() == "true":
            body += b'"totalCount":%d,' % len(rows)
        body += b'"studies":[' + b",".join(page) + b"]"
        if offset + size < len(rows):
            body += b',"nextPageToken":' + orjson.dumps(_make_token(offset + size, fingerprint))
        return _json(200, body + b"}")

    def _download(
        self, query: dict[str, str], headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        refused = self._only(query, {"format"})
        if refused:
            return refused
        if query.get("format") != "json.zip":
            return _text(400, "The stand-in server serves format=json.zip only")
        data, etag = self.bulk_zip()
        base = {
            "Content-Type": "application/zip",
            "Content-Disposition": "attachment; filename=ctg-studies.json.zip",
            "ETag": etag,
        }
        if not self.ranges:
            return 200, base, data
        base["Accept-Ranges"] = "bytes"
        wanted = headers.get("range")
        if_range = headers.get("if-range")
        if not wanted or (if_range is not None and if_range != etag):
            return 200, base, data
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
        if not match:  # several ranges, or a suffix range: the whole file, as a server may answer
            return 200, base, data
        start = int(match[1])
        end = min(int(match[2]), len(data) - 1) if match[2] else len(data) - 1
        if start >= len(data) or start > end:
            return 416, {"Content-Range": f"bytes */{len(data)}"}, b""
        return 206, {**base, "Content-Range": f"bytes {start}-{end}/{len(data)}"}, data[start : end + 1]

    def _history(self, nct_id: str, with_history: bool) -> tuple[int, dict[str, str], bytes]:
        versions = self.versions(nct_id)
        if not versions:
            return _text(404, f"Study {nct_id} not found")
        body = b'{"study":' + versions[-1].raw
        if with_history:
            studies = [orjson.loads(version.raw) for version in versions]
            changes = [
                {
                    "version": number,
                    "date": version.date,
                    "status": study["protocolSection"].get("statusModule", {}).get("overallStatus"),
                    "studyType": study["protocolSection"].get("designModule", {}).get("studyType"),
                    "moduleLabels": _change_labels(study, studies[number - 1] if number else {}),
                }
                for number, (version, study) in enumerate(zip(versions, studies, strict=True))
            ]
            body += b',"history":{"changes":' + orjson.dumps(changes) + b"}"
        return _json(200, body + b"}")

    def _history_version(self, nct_id: str, number: int) -> tuple[int, dict[str, str], bytes]:
        versions = self.versions(nct_id)
        if not versions:
            return _text(404, f"Study {nct_id} not found")
        if number >= len(versions):
            return _text(404, f"Study {nct_id} has no version {number}")
        return _json(200, b'{"studyVersion":%d,"study":' % number + versions[number].raw + b"}")


def _version_of(study: Mapping[str, Any] | bytes) -> tuple[_Version, str]:
    obj = orjson.loads(study) if isinstance(study, bytes) else study
    nct_id = nct_id_of(obj)
    if nct_id is None:
        raise ValueError("not a v2 study: no protocolSection.identificationModule.nctId")
    raw = study if isinstance(study, bytes) else orjson.dumps(obj)
    try:
        first = obj["protocolSection"]["statusModule"]["studyFirstPostDateStruct"]["date"]
    except (KeyError, TypeError):
        first = "2000-01-01"
    last = last_update_of(obj)
    return _Version(raw, last or first, last), nct_id


def _change_labels(study: Mapping[str, Any], before: Mapping[str, Any]) -> list[str]:
    """The history view's labels of the modules that differ from the version before (all, for the first)."""
    now, then = study["protocolSection"], before.get("protocolSection", {})
    labels = [label for key, label in MODULE_LABELS.items() if key in now and now[key] != then.get(key)]
    if "resultsSection" in study and study["resultsSection"] != before.get("resultsSection"):
        labels.append("Results")
    return labels


def _pick(study: Mapping[str, Any], names: list[str]) -> dict[str, Any]:
    """The fields= projection of a study: only the named pieces, nested as in the full record."""
    out: dict[str, Any] = {}
    for name in names:
        node: Any = study
        path = FIELD_PATHS[name]
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            continue
        target = out
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = node
    return out


def _make_token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{fingerprint}".encode()).decode().rstrip("=")


def _read_token(token: str, fingerprint: str) -> int:
    """The offset a token stands for, or -1 when it is not one of ours for this query."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        offset, made_for = text.split(":")
        return int(offset) if made_for == fingerprint else -1
    except (ValueError, UnicodeDecodeError):
        return -1


def _json(status: int, body: bytes) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, body


def _text(status: int, message: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "text/plain"}, message.encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects of a real server
    standin: CtgovStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(split.query, keep_blank_values=True).items()}
        headers = {name.lower(): value for name, value in self.headers.items()}
        fault = self.standin._take_fault(split.path)
        self.standin._record(split.path, query, headers, fault)
        try:
            if fault is not None and fault.kind in ("429", "503"):
                extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                reason = "Too Many Requests" if fault.kind == "429" else "Service Unavailable"
                self._send(int(fault.kind), {"Content-Type": "text/plain", **extra}, reason.encode())
                return
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            status, out_headers, body = self.standin.answer(split.path, query, headers)
            if fault is not None and fault.kind == "cut":
                keep = int(fault.cut_at if fault.cut_at >= 1 else len(body) * fault.cut_at)
                self._send(status, out_headers, body, keep=min(keep, max(0, len(body) - 1)))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(status, out_headers, body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True  # the client gave up (a timeout): nothing to answer

    def _send(self, status: int, headers: Mapping[str, str], body: bytes, *, keep: int | None = None) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        part = body if keep is None else body[:keep]
        for start in range(0, len(part), 1 << 20):
            self.wfile.write(part[start : start + (1 << 20)])
        self.wfile.flush()


@pytest.fixture
def ctgov_server() -> Iterator[CtgovStandIn]:
    """A running stand-in serving every v2 study in the shared data; its own copy for each test."""
    with CtgovStandIn() as server:
        yield server


@pytest.fixture
def make_ctgov_server() -> Iterator[Callable[..., CtgovStandIn]]:
    """Start stand-ins of your own: ``make_ctgov_server(first=300, ranges=False)`` serves the first 300
    studies of the shared data without Range support; all are stopped after the test."""
    started: list[CtgovStandIn] = []

    def make(
        studies: Mapping[str, bytes] | None = None, *, first: int | None = None, **options: Any
    ) -> CtgovStandIn:
        if first is not None:
            studies = dict(list(load_v2_studies().items())[:first])
        server = CtgovStandIn(studies, **options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
