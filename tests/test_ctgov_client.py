"""The ClinicalTrials.gov client end to end, against the stand-in server on loopback (tests/ctgov_server.py).

Every test talks real HTTP to a real server holding the real v2 records of shared/data/ctgov; faults
(429, 503, slow answers, bodies cut short) are the server's, injected per test. Waits are kept short
(Retry-After of 1 s, backoff of tens of milliseconds) so the whole file runs in well under a minute.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from trialscope.ctgov.client import CtgovClient
from trialscope.ctgov.session import parse_retry_after
from trialscope.errors import SyncError, TrialScopeError

if TYPE_CHECKING:
    from ctgov_server import CtgovStandIn

pytest_plugins = ["ctgov_server"]

STUDIES = "/api/v2/studies"
DOWNLOAD = "/api/v2/studies/download"


@pytest.fixture
def client(ctgov_server: CtgovStandIn) -> Iterator[CtgovClient]:
    """A client with a short timeout and quick backoff, unpaced (pacing has its own test)."""
    with CtgovClient(
        ctgov_server.url, rate=None, timeout=1.0, retries=3, backoff=0.02, backoff_max=0.1
    ) as made:
        yield made


def _gaps(server: CtgovStandIn, path: str) -> list[float]:
    """Seconds between consecutive requests to ``path``, as the server saw them."""
    times = [seen.at for seen in server.seen if seen.path == path]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


# --- pages, deltas, ids ---------------------------------------------------------------------------


def test_pages_follow_next_page_token_until_the_end(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    served = ctgov_server.nct_ids()
    pages = list(client.iter_pages({"pageSize": "97"}))

    assert len(pages) == math.ceil(len(served) / 97) == ctgov_server.hits[STUDIES]
    ids = [study.nct_id for page in pages for study in page]
    assert sorted(ids) == sorted(served) and len(set(ids)) == len(ids)
    assert pages[0].page_token is None and pages[-1].next_page_token is None
    for page, following in itertools.pairwise(pages):
        assert following.page_token == page.next_page_token
        assert all(study.page_token == page.page_token for study in page)
    # Later pages repeat the first page's parameters, plus the token.
    queries = [seen.query for seen in ctgov_server.seen if seen.path == STUDIES]
    assert all({k: v for k, v in query.items() if k != "pageToken"} == queries[0] for query in queries)
    assert [query.get("pageToken") for query in queries] == [page.page_token for page in pages]


def test_each_study_is_kept_byte_for_byte_with_its_last_update(
    ctgov_server: CtgovStandIn, client: CtgovClient
) -> None:
    studies = [study for page in client.iter_pages({"pageSize": "400"}) for study in page]
    for study in studies:
        assert study.raw == ctgov_server.study_bytes(study.nct_id)
    dated = {study.nct_id: study.last_update for study in studies}
    assert dated["NCT00465816"] is None  # a record without lastUpdatePostDate
    assert all(date is None or len(date) == 10 for date in dated.values())
    assert len({date for date in dated.values()}) > 100


def test_a_stopped_paging_resumes_from_a_page_token(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    pages = list(client.iter_pages({"pageSize": "300"}))
    resume_at = pages[2].page_token
    assert resume_at is not None

    resumed = list(client.iter_pages({"pageSize": "300"}, start_token=resume_at))

    assert [[s.raw for s in page] for page in resumed] == [[s.raw for s in page] for page in pages[2:]]


def test_changed_since_uses_the_last_update_range_and_drops_undated_studies(
    ctgov_server: CtgovStandIn, client: CtgovClient
) -> None:
    day = "2024-06-01"
    studies = [study for page in client.iter_changed_since(dt.date(2024, 6, 1)) for study in page]

    expected = set()
    for nct_id in ctgov_server.nct_ids():
        when = ctgov_server.versions(nct_id)[-1].last_update
        if when is not None and when >= day:
            expected.add(nct_id)
    assert {study.nct_id for study in studies} == expected and len(studies) == len(expected)
    assert 0 < len(expected) < len(ctgov_server.nct_ids())
    assert "NCT00465816" not in expected  # no lastUpdatePostDate: a RANGE drops it
    (query,) = [seen.query for seen in ctgov_server.seen if seen.path == STUDIES]
    assert query["filter.advanced"] == f"AREA[LastUpdatePostDate]RANGE[{day},MAX]"


def test_changed_since_sees_a_new_version(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    nct_id = ctgov_server.nct_ids()[10]
    ctgov_server.revise(nct_id, last_update="2099-01-02", overall_status="TERMINATED")

    (study,) = [study for page in client.iter_changed_since("2099-01-01") for study in page]

    assert study.nct_id == nct_id and study.last_update == "2099-01-02"
    assert b'"overallStatus":"TERMINATED"' in study.raw


def test_changed_since_refuses_what_is_not_a_day(client: CtgovClient) -> None:
    with pytest.raises(SyncError, match="YYYY-MM-DD"):
        list(client.iter_changed_since("yesterday"))


def test_list_ids_pages_through_every_id(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    ids = client.list_ids()

    assert ids == ctgov_server.nct_ids()
    assert ctgov_server.hits[STUDIES] == math.ceil(len(ids) / 1000)
    assert all(seen.query["fields"] == "NCTId" for seen in ctgov_server.seen)


def test_list_ids_shows_a_removed_study(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    before = client.list_ids()
    ctgov_server.remove_study(before[5])

    assert set(before) - set(client.list_ids()) == {before[5]}


def test_fetch_ids_asks_in_chunks_and_skips_unknown_ids(
    ctgov_server: CtgovStandIn, client: CtgovClient
) -> None:
    wanted = ctgov_server.nct_ids()[::3][:450]

    studies = list(client.fetch_ids([*wanted, "NCT99999999"], per_request=200))

    assert sorted(study.nct_id for study in studies) == sorted(wanted)
    assert all(study.raw == ctgov_server.study_bytes(study.nct_id) for study in studies)
    assert ctgov_server.hits[STUDIES] == 3  # 200 + 200 + 51 ids


def test_fetch_ids_refuses_a_malformed_id_before_asking(
    ctgov_server: CtgovStandIn, client: CtgovClient
) -> None:
    with pytest.raises(SyncError, match="not an NCT id"):
        list(client.fetch_ids(["NCT04184258", "04184258"]))
    assert ctgov_server.hits[STUDIES] == 0


def test_fetch_study_and_version(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    nct_id = ctgov_server.nct_ids()[0]
    assert client.fetch_study(nct_id).raw == ctgov_server.study_bytes(nct_id)
    ctgov_server.data_timestamp = "2026-12-24T09:00:05"
    version = client.version()
    assert (version.api_version, version.data_timestamp) == ("2.0.5", "2026-12-24T09:00:05")


# --- errors and retries ----------------------------------------------------------------------------


def test_an_unknown_parameter_is_one_clear_error_without_retries(
    ctgov_server: CtgovStandIn, client: CtgovClient
) -> None:
    with pytest.raises(SyncError) as caught:
        list(client.iter_pages({"filter.phase": "PHASE3"}))

    message = str(caught.value)
    assert "HTTP 400" in message and "`filter.phase` is unknown parameter" in message
    assert f"{ctgov_server.url}/api/v2/studies?" in message and "\n" not in message
    assert caught.value.status == 400 and caught.value.attempts == 1
    assert isinstance(caught.value, TrialScopeError)
    assert ctgov_server.hits[STUDIES] == 1


def test_an_unknown_study_is_a_404_sentence(client: CtgovClient) -> None:
    with pytest.raises(SyncError, match=r"found no study NCT99999999 \(HTTP 404\); check the NCT id"):
        client.fetch_study("NCT99999999")


def test_429_waits_at_least_retry_after_seconds(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    ctgov_server.fail("429", times=1, path="/api/v2/version", retry_after="1")

    assert client.version().api_version == "2.0.5"

    assert ctgov_server.hits["/api/v2/version"] == 2
    assert _gaps(ctgov_server, "/api/v2/version")[0] >= 0.95
    assert client.stats.retries == 1 and client.stats.statuses[429] == 1


def test_429_with_an_http_date_waits_until_that_date(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    # Two seconds ahead, whole seconds only: the wait is more than one second.
    ctgov_server.fail("429", times=1, retry_after=email.utils.formatdate(time.time() + 2, usegmt=True))

    client.version()

    assert _gaps(ctgov_server, "/api/v2/version")[0] >= 0.95


def test_retry_after_reads_seconds_and_dates() -> None:
    now = dt.datetime(2026, 11, 3, 9, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Tue, 03 Nov 2026 09:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 03 Nov 2026 08:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_a_wait_longer_than_allowed_gives_up_at_once(ctgov_server: CtgovStandIn) -> None:
    ctgov_server.fail("429", times=1, retry_after="3600")
    client = CtgovClient(ctgov_server.url, rate=None, max_retry_after=30)
    with client, pytest.raises(SyncError, match="wait of 3600 s, more than the 30 s") as caught:
        client.version()
    assert caught.value.status == 429 and ctgov_server.hits["/api/v2/version"] == 1


def test_503_is_retried_with_backoff(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    ctgov_server.fail("503", times=2, retry_after=None)

    assert len(client.list_ids()) == len(ctgov_server.nct_ids())

    assert client.stats.retries == 2 and client.stats.statuses[503] == 2
    assert ctgov_server.hits[STUDIES] == 2 + math.ceil(len(ctgov_server.nct_ids()) / 1000)


def test_a_body_cut_short_is_fetched_again(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    ctgov_server.fail("cut", times=1, path=STUDIES, cut_at=0.5)

    ids = [study.nct_id for page in client.iter_pages({"pageSize": "500"}) for study in page]

    assert sorted(ids) == ctgov_server.nct_ids()
    assert ctgov_server.hits[STUDIES] == math.ceil(len(ids) / 500) + 1
    assert client.stats.retries == 1


def test_a_slow_answer_times_out_and_is_retried(ctgov_server: CtgovStandIn) -> None:
    ctgov_server.fail("slow", times=1, delay=1.5)
    with CtgovClient(ctgov_server.url, rate=None, timeout=0.4, retries=2, backoff=0.02) as client:
        assert client.version().api_version == "2.0.5"
        assert client.stats.retries == 1
    assert ctgov_server.hits["/api/v2/version"] == 2


def test_gives_up_after_the_retry_budget_with_one_sentence(ctgov_server: CtgovStandIn) -> None:
    ctgov_server.fail("503", times=10, retry_after=None)
    client = CtgovClient(ctgov_server.url, rate=None, retries=2, backoff=0.02)
    with client, pytest.raises(SyncError) as caught:
        client.list_ids()

    message = str(caught.value)
    assert message.startswith(f"GET {ctgov_server.url}/api/v2/studies?")
    assert "HTTP 503" in message and "after 3 attempts" in message and "try again later" in message
    assert caught.value.attempts == 3 and ctgov_server.hits[STUDIES] == 3


def test_gives_up_on_repeated_timeouts(ctgov_server: CtgovStandIn) -> None:
    ctgov_server.fail("slow", times=3, delay=1.0)
    client = CtgovClient(ctgov_server.url, rate=None, timeout=0.2, retries=1, backoff=0.02)
    with client, pytest.raises(SyncError, match=r"got no answer within 0\.2 s, after 2 attempts") as caught:
        client.version()
    assert caught.value.status is None


def test_requests_keep_a_polite_pace(ctgov_server: CtgovStandIn) -> None:
    # A lower bound only: at 10 requests a second and no burst, four requests cannot start within 0.3 s.
    with CtgovClient(ctgov_server.url, rate=10, burst=1) as client:
        started = time.monotonic()
        for _ in range(4):
            client.version()
        assert time.monotonic() - started >= 0.29
    assert ctgov_server.hits["/api/v2/version"] == 4


def test_building_a_client_does_no_io_and_the_transport_is_injectable() -> None:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json={"apiVersion": "2.0.5", "dataTimestamp": "2026-11-03T09:00:05"})

    client = CtgovClient(rate=None, transport=httpx.MockTransport(answer))
    assert asked == []
    assert client.version().data_timestamp == "2026-11-03T09:00:05"
    assert asked == ["https://clinicaltrials.gov/api/v2/version"]
    assert client.stats.requests == 1 and client.stats.bytes_received > 0


# --- the bulk zip ----------------------------------------------------------------------------------


def test_bulk_download_resumes_after_a_cut(
    ctgov_server: CtgovStandIn, client: CtgovClient, tmp_path: Path
) -> None:
    data, etag = ctgov_server.bulk_zip()
    ctgov_server.fail("cut", times=1, path=DOWNLOAD, cut_at=0.4)
    seen_progress: list[tuple[int, int | None]] = []

    result = client.download_bulk(
        tmp_path / "ctg-studies.json.zip", progress=lambda *p: seen_progress.append(p)
    )

    assert (tmp_path / "ctg-studies.json.zip").read_bytes() == data
    assert not (tmp_path / "ctg-studies.json.zip.part").exists()
    assert (result.size, result.members, result.resumed, result.restarted) == (
        len(data),
        len(ctgov_server.nct_ids()),
        1,
        0,
    )
    first, second = [seen for seen in ctgov_server.seen if seen.path == DOWNLOAD]
    assert "range" not in first.headers
    offset = int(second.headers["range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < offset < len(data) and second.headers["if-range"] == etag
    assert seen_progress[-1] == (len(data), len(data))


def test_bulk_download_starts_over_when_ranges_are_not_served(
    make_ctgov_server: Callable[..., CtgovStandIn], tmp_path: Path
) -> None:
    server = make_ctgov_server(first=300, ranges=False)
    server.fail("cut", times=1, path=DOWNLOAD, cut_at=0.5)
    with CtgovClient(server.url, rate=None, retries=2, backoff=0.02) as client:
        result = client.download_bulk(tmp_path / "bulk.zip")

    assert (tmp_path / "bulk.zip").read_bytes() == server.bulk_zip()[0]
    assert (result.members, result.resumed, result.restarted) == (300, 0, 1)
    assert [seen.headers.get("range") is not None for seen in server.seen] == [False, True]


def test_bulk_download_that_fails_leaves_nothing_behind(ctgov_server: CtgovStandIn, tmp_path: Path) -> None:
    # Every try is cut short: each one resumes, none finishes, and the part file is not left behind.
    ctgov_server.fail("cut", times=20, path=DOWNLOAD, cut_at=0.3)
    client = CtgovClient(ctgov_server.url, rate=None, retries=1, backoff=0.02)
    with client, pytest.raises(SyncError, match="failed after 8 attempts .RemoteProtocolError") as caught:
        client.download_bulk(tmp_path / "bulk.zip")
    assert list(tmp_path.iterdir()) == []
    assert caught.value.attempts == 8  # four times a plain request's budget of two


# --- record history -------------------------------------------------------------------------------


def test_record_history_lists_a_new_version_and_fetches_each(
    ctgov_server: CtgovStandIn, client: CtgovClient
) -> None:
    nct_id = "NCT00001245"
    original = ctgov_server.study_bytes(nct_id)
    ctgov_server.revise(nct_id, last_update="2026-12-01", overall_status="WITHDRAWN")

    changes = client.record_history(nct_id)

    assert [change.version for change in changes] == [0, 1]
    assert changes[1].date == "2026-12-01" and changes[1].status == "WITHDRAWN"
    assert changes[0].status != "WITHDRAWN" and changes[0].date < "2026-12-01"
    assert changes[1].module_labels == ("Study Status",)
    assert changes[1].fields["studyType"] == changes[0].fields["studyType"]
    first, latest = client.history_version(nct_id, 0), client.history_version(nct_id, 1)
    assert first.raw == original and latest.raw == ctgov_server.study_bytes(nct_id)
    assert latest.last_update == "2026-12-01" and first.nct_id == nct_id
    assert ctgov_server.hits == {
        f"/api/int/studies/{nct_id}": 1,
        **{f"/api/int/studies/{nct_id}/history/{v}": 1 for v in (0, 1)},
    }


def test_a_missing_history_version_is_a_404_sentence(ctgov_server: CtgovStandIn, client: CtgovClient) -> None:
    with pytest.raises(SyncError, match="found no version 4 of NCT00001245"):
        client.history_version("NCT00001245", 4)


def test_a_truncated_zip_is_not_taken_for_a_whole_one(ctgov_server: CtgovStandIn, tmp_path: Path) -> None:
    from trialscope.ctgov.bulk import check_zip

    data, _ = ctgov_server.bulk_zip()
    whole, cut = tmp_path / "whole.zip", tmp_path / "cut.zip"
    whole.write_bytes(data)
    cut.write_bytes(data[: len(data) - 5000])

    assert check_zip(whole, crc=True) == len(ctgov_server.nct_ids())
    with pytest.raises(SyncError, match="is not a whole zip .* download it again"):
        check_zip(cut)
