"""ClinicalTrials.gov API v2 over HTTP: pages of raw studies, deltas, ids, the bulk zip, record history.

The client fetches and hands back raw records; it never parses them into trials nor stores them, so
the sync that calls it keeps each record byte for byte as the registry sent it.

    CtgovClient                  one polite, retrying connection to the registry (or a stand-in)
      .version()                 API version and data timestamp        /api/v2/version
      .iter_pages(params)        pages of studies, token after token   /api/v2/studies
      .iter_changed_since(day)   pages of studies updated since a day  filter.advanced RANGE
      .list_ids()                every NCT id                          fields=NCTId
      .fetch_ids(ids)            studies by id, in chunks              filter.ids
      .fetch_study(nct_id)       one study                             /api/v2/studies/{nct_id}
      .download_bulk(dest)       the whole registry as one zip         /api/v2/studies/download
      .record_history(nct_id)    the versions of a record              /api/int/studies/{nct_id}?history=true
      .history_version(nct, v)   one version of a record               /api/int/studies/{nct_id}/history/{v}

Every request goes through :class:`~trialscope.ctgov.session.HttpSession`: a polite rate, retries with
backoff (and the wait a 429 asks for), and one clear :class:`SyncError` sentence when it gives up.
``client.stats`` counts requests, retries and bytes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
import orjson

from trialscope.ctgov.session import HttpSession
from trialscope.errors import SyncError

if TYPE_CHECKING:
    from trialscope.ctgov.bulk import BulkDownload

#: The registry's own ceiling for ``pageSize``; larger values are silently clamped by the API.
MAX_PAGE_SIZE = 1000
#: NCT ids per ``filter.ids`` request: about 2.8 KB of URL, well under what servers and proxies accept.
IDS_PER_REQUEST = 200

NCT_ID = re.compile(r"NCT\d{8}")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- what the client hands back ------------------------------------------------------------------


@dataclass(frozen=True)
class StudyRecord:
    """One study exactly as the registry sent it, with the two facts a sync needs to file it.

    ``raw`` is the study object's JSON byte for byte as it appeared in the response; ``page_token`` is
    the token of the request that returned it (None for a first page), so a sync that stopped can
    resume by asking for that page again.
    """

    nct_id: str
    last_update: str | None  # protocolSection.statusModule.lastUpdatePostDateStruct.date
    raw: bytes
    page_token: str | None = None


@dataclass(frozen=True)
class StudyPage:
    """One page of ``/api/v2/studies``: its studies, the token that fetched it and the next one."""

    studies: list[StudyRecord]
    page_token: str | None
    next_page_token: str | None
    total_count: int | None = None

    def __iter__(self) -> Iterator[StudyRecord]:
        return iter(self.studies)

    def __len__(self) -> int:
        return len(self.studies)


@dataclass(frozen=True)
class ApiVersion:
    """What ``/api/v2/version`` says: the API's version and when its data was last refreshed."""

    api_version: str
    data_timestamp: str


@dataclass(frozen=True)
class HistoryChange:
    """One entry of a record's history: version number (0 is the first), its date, and what changed.

    ``fields`` keeps the whole entry as sent (``status``, ``studyType``, ``moduleLabels`` and any field
    the site adds later), since this endpoint is the website's own and undocumented.
    """

    version: int
    date: str
    status: str | None
    module_labels: tuple[str, ...]
    fields: Mapping[str, Any]


# --- decoding shapes (msgspec ignores every field not named here) --------------------------------


class _DateStruct(msgspec.Struct):
    date: str | None = None


class _StatusHead(msgspec.Struct):
    lastUpdatePostDateStruct: _DateStruct | None = None


class _IdentHead(msgspec.Struct):
    nctId: str


class _ProtocolHead(msgspec.Struct):
    identificationModule: _IdentHead
    statusModule: _StatusHead | None = None


class _StudyHead(msgspec.Struct):
    protocolSection: _ProtocolHead


class _PageShape(msgspec.Struct):
    studies: list[msgspec.Raw] = []
    nextPageToken: str | None = None
    totalCount: int | None = None


class _IdPageShape(msgspec.Struct):
    studies: list[_StudyHead] = []
    nextPageToken: str | None = None


class _ApiVersionShape(msgspec.Struct):
    apiVersion: str
    dataTimestamp: str


class _ChangeShape(msgspec.Struct):
    version: int
    date: str
    status: str | None = None
    moduleLabels: list[str] = []


class _ChangesShape(msgspec.Struct):
    changes: list[msgspec.Raw]


class _HistoryShape(msgspec.Struct):
    history: _ChangesShape


class _VersionShape(msgspec.Struct):
    studyVersion: int
    study: msgspec.Raw


_study_head = msgspec.json.Decoder(_StudyHead)
_page = msgspec.json.Decoder(_PageShape)
_id_page = msgspec.json.Decoder(_IdPageShape)
_api_version = msgspec.json.Decoder(_ApiVersionShape)
_change = msgspec.json.Decoder(_ChangeShape)
_history = msgspec.json.Decoder(_HistoryShape)
_history_version = msgspec.json.Decoder(_VersionShape)


# --- the client ----------------------------------------------------------------------------------


class CtgovClient(HttpSession):
    """The ClinicalTrials.gov API v2 (and the site's history endpoints), raw records out.

    A :class:`~trialscope.ctgov.session.HttpSession` that knows the API: ``api_url`` is the site root
    (the client adds ``/api/v2/...`` and ``/api/int/...``), and the keywords set its pace, timeout,
    retries, backoff and transport. Nothing is opened until the first request.

    >>> with CtgovClient("http://127.0.0.1:8765", rate=None, retries=2) as client:  # doctest: +SKIP
    ...     client.version().data_timestamp
    '2026-11-03T09:00:05'
    """

    # -- the API --

    def version(self) -> ApiVersion:
        """The API's version and its data timestamp: a cheap way to see whether anything changed.

        >>> client.version()  # doctest: +SKIP
        ApiVersion(api_version='2.0.5', data_timestamp='2026-11-03T09:00:05')
        """
        path = "/api/v2/version"
        body = self._decode(_api_version, self.get(path), path, "an object with apiVersion and dataTimestamp")
        return ApiVersion(body.apiVersion, body.dataTimestamp)

    def iter_pages(
        self, params: Mapping[str, str] | None = None, *, start_token: str | None = None
    ) -> Iterator[StudyPage]:
        """Every page of ``/api/v2/studies`` for ``params``, following ``nextPageToken`` to the end.

        Later pages repeat the same parameters plus ``pageToken``. ``pageSize`` defaults to 1,000 (the
        API's maximum). A page may be empty. ``start_token`` resumes from a page a stopped sync had
        reached (each record carries the token of its page).

        >>> for page in client.iter_pages({"filter.overallStatus": "RECRUITING"}):  # doctest: +SKIP
        ...     for study in page:
        ...         keep(study.nct_id, study.raw)
        """
        if "pageToken" in (params or {}):
            raise SyncError("Pass a page token as start_token, not among the parameters.")
        for token, page in self._pages(_page, params, start_token, "a page of studies"):
            studies = [self._study_record(bytes(raw), token, "/api/v2/studies") for raw in page.studies]
            yield StudyPage(studies, token, page.nextPageToken or None, page.totalCount)

    def _pages(
        self,
        decoder: msgspec.json.Decoder[Any],
        params: Mapping[str, str] | None,
        token: str | None,
        shape: str,
    ) -> Iterator[tuple[str | None, Any]]:
        """(token used, decoded page) for each page, following ``nextPageToken`` until there is none."""
        query = {"pageSize": str(MAX_PAGE_SIZE), **(params or {})}
        while True:
            response = self.get("/api/v2/studies", {**query, **({"pageToken": token} if token else {})})
            page = self._decode(decoder, response, "/api/v2/studies", shape)
            yield token, page
            if not page.nextPageToken:
                return
            if page.nextPageToken == token:
                raise SyncError(
                    f"ClinicalTrials.gov answered page token {token!r} with the same token again; "
                    "stopping rather than looping, report this."
                )
            token = page.nextPageToken

    def iter_changed_since(
        self, day: dt.date | str, *, start_token: str | None = None
    ) -> Iterator[StudyPage]:
        """Pages of every study whose last update was posted on ``day`` or later (the daily delta).

        Studies without a last-update date are not listed (a RANGE drops them), and withdrawn records
        never appear: only :meth:`list_ids` shows deletions.

        >>> for page in client.iter_changed_since("2026-11-01"):  # doctest: +SKIP
        ...     save(page.studies, resume_from=page.page_token)
        """
        text = day.isoformat() if isinstance(day, dt.date) else str(day)
        if not _ISO_DAY.fullmatch(text):
            raise SyncError(f"{text!r} is not a day; give it as YYYY-MM-DD.")
        params = {"filter.advanced": f"AREA[LastUpdatePostDate]RANGE[{text},MAX]"}
        return self.iter_pages(params, start_token=start_token)

    def list_ids(self) -> list[str]:
        """Every NCT id in the registry, in the API's order (``fields=NCTId``, pages of 1,000).

        Compare with the ids in the store to find records that were removed.

        >>> removed = set(store_ids) - set(client.list_ids())  # doctest: +SKIP
        """
        pages = self._pages(_id_page, {"fields": "NCTId"}, None, "a page of NCT ids")
        return [
            study.protocolSection.identificationModule.nctId for _, page in pages for study in page.studies
        ]

    def fetch_ids(self, ids: Iterable[str], *, per_request: int = IDS_PER_REQUEST) -> Iterator[StudyRecord]:
        """The studies with these NCT ids (``filter.ids``, a few hundred per request); unknown ids are
        simply absent from the answer.

        >>> [s.nct_id for s in client.fetch_ids(["NCT04184258", "NCT00000102"])]  # doctest: +SKIP
        ['NCT00000102', 'NCT04184258']
        """
        wanted = [self._checked_id(nct_id) for nct_id in ids]
        for start in range(0, len(wanted), per_request):
            for page in self.iter_pages({"filter.ids": ",".join(wanted[start : start + per_request])}):
                yield from page.studies

    def fetch_study(self, nct_id: str) -> StudyRecord:
        """One study by NCT id, raw (``/api/v2/studies/{nct_id}``).

        >>> client.fetch_study("NCT04184258").last_update  # doctest: +SKIP
        '2021-03-04'
        """
        path = f"/api/v2/studies/{self._checked_id(nct_id)}"
        response = self.get(path, what=f"study {nct_id}")
        return self._study_record(response.content, None, path)

    def download_bulk(
        self, dest: str | Path, *, progress: Callable[[int, int | None], None] | None = None
    ) -> BulkDownload:
        """Download the whole registry zip to ``dest``: resumed after a cut, checked, then moved into place.

        >>> client.download_bulk("ctg-studies.json.zip", progress=lambda done, total: None)  # doctest: +SKIP
        BulkDownload(path=PosixPath('ctg-studies.json.zip'), size=2717993022, members=597913, ...)
        """
        from trialscope.ctgov.bulk import download_bulk

        return download_bulk(self, Path(dest), progress=progress)

    def record_history(self, nct_id: str) -> list[HistoryChange]:
        """The versions of a record, oldest first, from the site's history endpoint.

        This is ``/api/int/studies/{nct_id}?history=true``, the endpoint behind the website's "History
        of Changes" tab: not part of the documented API v2, so its shape is checked on every call.

        >>> [(c.version, c.date, c.status) for c in client.record_history("NCT04184258")]  # doctest: +SKIP
        [(0, '2019-12-04', 'NOT_YET_RECRUITING'), (1, '2020-02-11', 'RECRUITING')]
        """
        path = f"/api/int/studies/{self._checked_id(nct_id)}"
        response = self.get(path, {"history": "true"}, what=f"study {nct_id}")
        expected = "history.changes[] that each have a version and a date"
        out: list[HistoryChange] = []
        for raw in self._decode(_history, response, path, expected).history.changes:
            try:
                change = _change.decode(raw)
            except msgspec.DecodeError:
                raise self._bad_shape(path, expected) from None
            fields = orjson.loads(bytes(raw))
            out.append(
                HistoryChange(change.version, change.date, change.status, tuple(change.moduleLabels), fields)
            )
        return sorted(out, key=lambda change: change.version)

    def history_version(self, nct_id: str, version: int) -> StudyRecord:
        """One version of a record (0 is the first), its study raw as the site sent it.

        >>> client.history_version("NCT04184258", 0).last_update  # doctest: +SKIP
        '2019-12-04'
        """
        path = f"/api/int/studies/{self._checked_id(nct_id)}/history/{int(version)}"
        response = self.get(path, what=f"version {version} of {nct_id}")
        shape = self._decode(_history_version, response, path, "an object with studyVersion and study")
        if shape.studyVersion != version:
            raise self._bad_shape(path, f"version {version}, not version {shape.studyVersion}")
        study = self._study_record(bytes(shape.study), None, path)
        if study.nct_id != nct_id:
            raise self._bad_shape(path, f"a version of {nct_id}, not of {study.nct_id}")
        return study

    # -- decoding helpers --

    def _checked_id(self, nct_id: str) -> str:
        if not NCT_ID.fullmatch(nct_id):
            raise SyncError(f"{nct_id!r} is not an NCT id (NCT and eight digits).")
        return nct_id

    def _bad_shape(self, path: str, expected: str) -> SyncError:
        return SyncError(
            f"ClinicalTrials.gov answered {self.url(path)} with something other than {expected}; "
            "the API may have changed, report this.",
            url=self.url(path),
        )

    def _decode(
        self, decoder: msgspec.json.Decoder[Any], response: httpx.Response, path: str, expected: str
    ) -> Any:
        try:
            return decoder.decode(response.content)
        except msgspec.DecodeError:
            raise self._bad_shape(path, expected) from None

    def _study_record(self, raw: bytes, token: str | None, path: str) -> StudyRecord:
        try:
            head = _study_head.decode(raw)
        except msgspec.DecodeError:
            raise self._bad_shape(
                path, "studies that each have protocolSection.identificationModule.nctId"
            ) from None
        status = head.protocolSection.statusModule
        last = status.lastUpdatePostDateStruct.date if status and status.lastUpdatePostDateStruct else None
        return StudyRecord(head.protocolSection.identificationModule.nctId, last, raw, token)
