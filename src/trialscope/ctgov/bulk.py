"""The registry's bulk zip (``/api/v2/studies/download?format=json.zip``), downloaded so a cut costs little.

The file is ~2.5 GB, so a connection cut mid-body is expected, not exceptional. The body streams to
``<dest>.part``; after a cut the next try asks for the rest with ``Range: bytes=<have>-`` (and
``If-Range`` with the first answer's ETag or Last-Modified, so a file that changed on the server in
between is sent whole instead of spliced). A server that ignores ranges answers 200 and the download
starts over. The result must be a whole zip, of the announced size, before it is renamed onto ``dest``.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from trialscope.ctgov.session import HttpSession, HttpStatusError, RetryableError
from trialscope.errors import SyncError

BULK_PATH = "/api/v2/studies/download"
BULK_PARAMS = {"format": "json.zip"}
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class BulkDownload:
    """A finished bulk download: where it is, how big, how many studies, and how it went."""

    path: Path
    size: int
    members: int
    validator: str | None  # the ETag (or Last-Modified) the file was served with
    resumed: int  # tries that continued a cut download with a Range request
    restarted: int  # tries that had to start the file over


@dataclass
class _State:
    total: int | None = None
    validator: str | None = None
    resumed: int = 0
    restarted: int = 0


def download_bulk(
    session: HttpSession,
    dest: Path,
    *,
    progress: Callable[[int, int | None], None] | None = None,
    attempts: int | None = None,
) -> BulkDownload:
    """Stream the bulk zip into ``dest`` through ``session`` (its pacing, retries and stats).

    ``progress(done, total)`` is called after every chunk; ``total`` is None when the server does not
    say. A cut is retried like any failed request, with room for several times more tries than a plain
    request (``attempts``), since each try that resumes keeps what came before.

    >>> download_bulk(client, Path("ctg-studies.json.zip")).members  # doctest: +SKIP
    597913
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    url = str(httpx.URL(session.url(BULK_PATH), params=BULK_PARAMS))
    state = _State()
    tries = 0
    try:
        for attempt in session.retrying(attempts or 4 * (session.retries + 1)):
            with attempt:
                tries = attempt.num
                session.begin_try(attempt)
                _fetch_once(session, url, part, state, progress)
    except (HttpStatusError, RetryableError, httpx.TransportError) as exc:
        part.unlink(missing_ok=True)
        raise session.give_up(url, exc, tries, "bulk download") from None
    size = part.stat().st_size
    if state.total is not None and size != state.total:
        part.unlink(missing_ok=True)
        raise SyncError(
            f"The bulk download from {url} ended at {size:,} bytes of {state.total:,}; run it again.", url=url
        )
    try:
        members = check_zip(part)
    except SyncError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return BulkDownload(dest, size, members, state.validator, state.resumed, state.restarted)


def _fetch_once(
    session: HttpSession,
    url: str,
    part: Path,
    state: _State,
    progress: Callable[[int, int | None], None] | None,
) -> None:
    """One try: the whole file, or the rest of it after what ``part`` already holds."""
    done = part.stat().st_size if part.exists() else 0
    headers = {"Accept": "application/zip", "Accept-Encoding": "identity"}
    if done:
        headers["Range"] = f"bytes={done}-"
        if state.validator:
            headers["If-Range"] = state.validator
    with session.http().stream("GET", url, headers=headers) as response:
        if response.status_code == 416:
            session.stats.add(status=416)
            part.unlink(missing_ok=True)
            raise RetryableError("the part already downloaded does not fit the file on the server")
        session.raise_for_status(response)
        if response.status_code == 206:
            start, total = _content_range(response.headers.get("Content-Range"))
            if not done or start != done or (state.total is not None and total != state.total):
                part.unlink(missing_ok=True)
                raise RetryableError("the server sent a range that does not continue the download")
            mode = "ab"
            state.resumed += 1
        else:
            if done:
                state.restarted += 1
            mode, done = "wb", 0
            length = response.headers.get("Content-Length")
            state.total = int(length) if length and length.isdigit() else None
            etag = response.headers.get("ETag")
            # A weak ETag cannot be used in If-Range; Last-Modified can.
            strong = etag if etag and not etag.startswith("W/") else None
            state.validator = strong or response.headers.get("Last-Modified")
        with part.open(mode) as out:
            for chunk in response.iter_raw():
                out.write(chunk)
                done += len(chunk)
                session.stats.add(nbytes=len(chunk))
                if progress is not None:
                    progress(done, state.total)


def _content_range(value: str | None) -> tuple[int, int | None]:
    """(first byte, full length or None) from ``Content-Range: bytes 100-199/1000``."""
    match = _CONTENT_RANGE.fullmatch((value or "").strip())
    if not match:
        raise RetryableError(f"the server answered a range request with Content-Range {value!r}")
    total = match.group(3)
    return int(match.group(1)), None if total == "*" else int(total)


def check_zip(path: Path, *, crc: bool = False) -> int:
    """The number of members of a whole zip; raises :class:`SyncError` for a truncated or broken one.

    The central directory must read and every member must lie inside the file; ``crc=True`` also
    decompresses every member and checks its CRC (minutes for the real 10 GB of JSON).

    >>> check_zip(Path("ctg-studies.json.zip"))  # doctest: +SKIP
    597913
    """
    try:
        size = path.stat().st_size
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            for info in infos:
                if info.header_offset + info.compress_size > size:
                    raise zipfile.BadZipFile(f"member {info.filename} runs past the end of the file")
            bad = archive.testzip() if crc else None
            if bad is not None:
                raise zipfile.BadZipFile(f"member {bad} fails its CRC check")
            return len(infos)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise SyncError(f"{path} is not a whole zip ({exc}); download it again.", url=str(path)) from None
