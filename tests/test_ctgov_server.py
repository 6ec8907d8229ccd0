"""The stand-in ClinicalTrials.gov server speaks the protocol the client is tested against (plain httpx here)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import orjson
import pytest

if TYPE_CHECKING:
    from ctgov_server import CtgovStandIn

pytest_plugins = ["ctgov_server"]


def _get(server: CtgovStandIn, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(server.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


def test_page_tokens_are_bound_to_their_query(ctgov_server: CtgovStandIn) -> None:
    query = {"filter.advanced": "AREA[LastUpdatePostDate]RANGE[2020-01-01,MAX]", "pageSize": "50"}
    token = _get(ctgov_server, "/api/v2/studies", params=query).json()["nextPageToken"]

    # pageSize and countTotal may change between pages, as the live API allows; the filter may not.
    same = _get(ctgov_server, "/api/v2/studies", params={**query, "pageSize": "20", "pageToken": token})
    other = {**query, "filter.advanced": "AREA[LastUpdatePostDate]RANGE[MIN,MAX]", "pageToken": token}
    refused = _get(ctgov_server, "/api/v2/studies", params=other)

    assert same.status_code == 200 and len(same.json()["studies"]) == 20
    assert refused.status_code == 400 and "pageToken" in refused.text


def test_page_size_is_clamped_at_1000_and_the_total_counted(ctgov_server: CtgovStandIn) -> None:
    body = _get(ctgov_server, "/api/v2/studies", params={"pageSize": "5000", "countTotal": "true"}).json()
    assert len(body["studies"]) == 1000 and body["totalCount"] == len(ctgov_server.nct_ids())
    assert "nextPageToken" in body
    default = _get(ctgov_server, "/api/v2/studies").json()
    assert len(default["studies"]) == 10 and "totalCount" not in default


def test_fields_nctid_returns_ids_only_in_the_record_shape(ctgov_server: CtgovStandIn) -> None:
    body = _get(ctgov_server, "/api/v2/studies", params={"fields": "NCTId", "pageSize": "3"}).json()
    assert body["studies"] == [
        {"protocolSection": {"identificationModule": {"nctId": nct_id}}}
        for nct_id in ctgov_server.nct_ids()[:3]
    ]


def test_unknown_and_unimplemented_parameters_are_refused(ctgov_server: CtgovStandIn) -> None:
    unknown = _get(ctgov_server, "/api/v2/studies", params={"filter.phase": "PHASE3"})
    unimplemented = _get(ctgov_server, "/api/v2/studies", params={"query.cond": "lupus"})
    assert (unknown.status_code, unknown.text) == (400, "`filter.phase` is unknown parameter")
    assert unimplemented.status_code == 400 and "does not implement `query.cond`" in unimplemented.text
    assert ctgov_server.hits["/api/v2/studies"] == 2


def test_filter_ids_takes_commas_and_pipes(ctgov_server: CtgovStandIn) -> None:
    a, b, c = ctgov_server.nct_ids()[:3]
    body = _get(ctgov_server, "/api/v2/studies", params={"filter.ids": f"{a},{b}|{c}"}).json()
    assert [study["protocolSection"]["identificationModule"]["nctId"] for study in body["studies"]] == [
        a,
        b,
        c,
    ]


def test_the_bulk_zip_holds_one_study_per_shard_member(ctgov_server: CtgovStandIn) -> None:
    response = _get(ctgov_server, "/api/v2/studies/download", params={"format": "json.zip"})
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        assert names == [f"{nct_id[-2:]}/{nct_id}.json" for nct_id in ctgov_server.nct_ids()]
        assert archive.read(names[7]) == ctgov_server.study_bytes(ctgov_server.nct_ids()[7])


def test_the_bulk_zip_serves_ranges(ctgov_server: CtgovStandIn) -> None:
    data, etag = ctgov_server.bulk_zip()
    path, params = "/api/v2/studies/download", {"format": "json.zip"}

    part = _get(ctgov_server, path, params=params, headers={"Range": "bytes=100-199", "If-Range": etag})
    changed = _get(ctgov_server, path, params=params, headers={"Range": "bytes=100-", "If-Range": '"old"'})
    beyond = _get(ctgov_server, path, params=params, headers={"Range": f"bytes={len(data)}-"})

    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert changed.status_code == 200 and changed.content == data
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_a_cut_body_is_short_of_its_content_length(ctgov_server: CtgovStandIn) -> None:
    ctgov_server.fail("cut", times=1, path="/api/v2/studies", cut_at=100)
    with pytest.raises(httpx.RemoteProtocolError, match="received 100 bytes"):
        _get(ctgov_server, "/api/v2/studies")
    assert _get(ctgov_server, "/api/v2/studies").status_code == 200
    assert ctgov_server.hits["/api/v2/studies"] == 2


def test_history_follows_versions_and_removal(ctgov_server: CtgovStandIn) -> None:
    nct_id = ctgov_server.nct_ids()[0]
    ctgov_server.revise(nct_id, last_update="2026-12-01")
    history = _get(ctgov_server, f"/api/int/studies/{nct_id}", params={"history": "true"}).json()
    assert [change["version"] for change in history["history"]["changes"]] == [0, 1]
    assert history["study"] == orjson.loads(ctgov_server.study_bytes(nct_id))

    ctgov_server.remove_study(nct_id)
    assert _get(ctgov_server, f"/api/int/studies/{nct_id}/history/0").status_code == 404
    assert _get(ctgov_server, f"/api/v2/studies/{nct_id}").status_code == 404


def test_loading_keeps_the_newest_record_of_each_study_and_skips_non_studies(tmp_path: Path) -> None:
    from ctgov_server import load_v2_studies

    def study(date: str) -> dict[str, object]:
        return {
            "protocolSection": {
                "identificationModule": {"nctId": "NCT01234567"},
                "statusModule": {"lastUpdatePostDateStruct": {"date": date}},
            }
        }

    lines = [study("2020-01-01"), {"not": "a study"}, study("2024-05-06"), study("2022-02-02")]
    (tmp_path / "records.jsonl").write_bytes(b"\n".join(orjson.dumps(line) for line in lines))

    loaded = load_v2_studies(tmp_path)

    assert list(loaded) == ["NCT01234567"]
    assert orjson.loads(loaded["NCT01234567"]) == study("2024-05-06")
