"""Downloads and archive exports against the real Elasticsearch: formats a real parser
accepts, explicit caps, tenant scope, bounded memory past 100,000 entries, and export
jobs (progress, files, cancel, expiry)."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import tarfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch

from logpipe.record import Record
from tests.log_api.helpers import (
    ADMIN,
    HOTEL,
    PAY,
    asgi_client,
    auth,
    chunks,
    index_records,
    record,
    served,
    settings_for,
)

pytestmark = pytest.mark.integration

TRICKY = ['plain', 'comma, "quoted"', "two\nlines", "ünïcödé ✓", "tab\there", ""]


def _mixed() -> list[Record]:
    out = [record(i, app="api" if i % 3 else "worker", message=f"{TRICKY[i % len(TRICKY)]} #{i}")
           for i in range(300)]
    out += [record(i, namespace="hotel", app="booking", message=f"secret {i}") for i in range(50)]
    return out


async def _poll(client: httpx.AsyncClient, url: str, token: str, want: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = (await client.get(url, headers=auth(token))).json()
        if body.get("state") == want or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.1)


async def test_formats_are_valid_for_real_parsers(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    recs = _mixed()
    index_records(es, index_prefix, recs)
    pay = [r for r in recs if r.namespace == "pay"]
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with asgi_client(settings) as (_, client):
        nd = await client.get("/api/v1/download", headers=auth(PAY))
        csv_gz = await client.get("/api/v1/download", params={"format": "csv", "gzip": "true"},
                                  headers=auth(PAY))
        text = await client.get("/api/v1/download", params={
            "format": "text", "timestamps": "true", "app": "worker"}, headers=auth(PAY))
    assert nd.status_code == 200
    assert nd.headers["content-type"].startswith("application/x-ndjson")
    assert 'filename="logs-' in nd.headers["content-disposition"]
    lines = [orjson.loads(x) for x in nd.content.splitlines()]
    assert [x["id"] for x in lines] == [r.id for r in sorted(pay, key=lambda r: (r.ts, r.id))]
    assert {x["namespace"] for x in lines} == {"pay"}

    assert csv_gz.headers["content-disposition"].endswith('.csv.gz"')
    rows = list(csv.reader(io.StringIO(gzip.decompress(csv_gz.content).decode())))
    assert rows[0][:3] == ["ts", "namespace", "app"]
    by_id = {r.id: r for r in pay}
    assert len(rows) == 1 + len(pay)
    for row in rows[1:]:
        assert row[8] == by_id[row[9]].message  # commas, quotes, newlines survive

    workers = sorted((r for r in pay if r.app == "worker"), key=lambda r: (r.ts, r.id))
    want = "".join(f"{r.ts} {r.message}\n" for r in workers)
    assert text.text == want


async def test_cap_is_announced_and_scope_holds(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    index_records(es, index_prefix, _mixed())
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            download_max_entries=120)
    async with asgi_client(settings) as (_, client):
        capped = await client.get("/api/v1/download", headers=auth(ADMIN))
        under = await client.get("/api/v1/download", params={"limit": 50}, headers=auth(HOTEL))
        foreign = await client.get("/api/v1/download", params={"namespace": "hotel"},
                                   headers=auth(PAY))
    lines = capped.content.splitlines()
    assert capped.headers["x-logpipe-cap"] == "120"
    assert len(lines) == 121
    assert "cap of 120" in orjson.loads(lines[-1])["notice"]
    hotel = [orjson.loads(x) for x in under.content.splitlines()]
    assert len(hotel) == 50 and {x["namespace"] for x in hotel} == {"hotel"}  # exactly 50
    assert foreign.status_code == 403


async def test_exports_complete_cancel_and_expire(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    recs = _mixed()
    index_records(es, index_prefix, recs)
    pay = [r for r in recs if r.namespace == "pay"]
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            export_ttl_s=1.0)
    async with asgi_client(settings) as (_, client):
        created = await client.post("/api/v1/exports", headers=auth(PAY))
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["total"] == 300
        url = f"/api/v1/exports/{job['id']}"
        done = await _poll(client, url, PAY, "done")
        assert done["progress"] == 1.0 and done["written"] == 300
        other = await client.get(url, headers=auth(HOTEL))
        file = await client.get(done["file"], headers=auth(PAY))
        tar_job = (await client.post("/api/v1/exports", params={"format": "tar.gz"},
                                     headers=auth(PAY))).json()
        tar_done = await _poll(client, f"/api/v1/exports/{tar_job['id']}", PAY, "done")
        tar_file = await client.get(tar_done["file"], headers=auth(PAY))
        # Past export_ttl_s the sweeper deletes finished archives without being asked.
        deadline = time.monotonic() + 20
        while chunks(es, index_prefix, job["id"]) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        gone = not chunks(es, index_prefix, job["id"])
        expired = await client.get(url, headers=auth(PAY))
    assert other.status_code == 404
    ids = [orjson.loads(x)["id"] for x in gzip.decompress(file.content).splitlines()]
    assert sorted(ids) == sorted(r.id for r in pay) and len(ids) == len(set(ids))
    with tarfile.open(fileobj=io.BytesIO(tar_file.content), mode="r:gz") as tar:
        members = {m.name: len(tar.extractfile(m).read().splitlines())  # type: ignore[union-attr]
                   for m in tar.getmembers()}
    assert members == {"api.ndjson": 200, "worker.ndjson": 100}
    assert expired.status_code == 404 and gone


async def test_export_cancel_stops_and_deletes(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch, monkeypatch: pytest.MonkeyPatch) -> None:
    index_records(es, index_prefix, _mixed())
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            download_page_size=100)
    async with asgi_client(settings) as (app, client):
        exports = app.state.logpipe.exports
        real_scan = exports.reader.scan
        first_page = asyncio.Event()
        never = asyncio.Event()

        async def held_scan(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            # The job writes its first page, then waits here until it is cancelled:
            # the cancel cannot lose a race against a job that finished first.
            async for hits in real_scan(*args, **kwargs):
                yield hits
                first_page.set()
                await never.wait()

        monkeypatch.setattr(exports.reader, "scan", held_scan)
        job = (await client.post("/api/v1/exports", headers=auth(PAY))).json()
        await asyncio.wait_for(first_page.wait(), 30)
        running = await client.get(f"/api/v1/exports/{job['id']}", headers=auth(PAY))
        parts = chunks(es, index_prefix, job["id"])
        cancelled = await client.delete(f"/api/v1/exports/{job['id']}", headers=auth(PAY))
        after = await client.get(f"/api/v1/exports/{job['id']}", headers=auth(PAY))
        not_done = await client.get(f"/api/v1/exports/{job['id']}/file", headers=auth(PAY))
    assert (running.json()["state"], running.json()["written"]) == ("running", 100)
    assert parts == [f"chunk:{job['id']}:s1:0"]  # the first page, one piece
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert after.status_code == 404 and not_done.status_code == 404
    assert chunks(es, index_prefix, job["id"]) == []


def _bulk_records(n: int) -> list[Record]:
    return [record(i, app=f"app{i % 7}", ts_ns=1_795_000_000_000_000_000 + i * 1_000_000,
                   message=f"request {i} served in {i % 997} ms path=/api/v1/items/{i}")
            for i in range(n)]


async def test_download_of_100k_entries_streams_in_bounded_memory(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    n = 100_500
    index_records(es, index_prefix, _bulk_records(n))
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            download_page_size=1000)
    async with served(settings) as (_, base):
        small = await _stream_peak(base, 20_000)
        full = await _stream_peak(base, None)
    assert small[0] == 20_001 and full[0] == n  # the limited one ends with its notice
    # Memory does not grow with the size of the download: 5x the entries, same peak.
    assert full[2] < small[2] * 1.5 + 2_000_000, (small, full)
    assert full[2] < full[1] / 2, full  # and it is a fraction of what was streamed


async def _stream_peak(base: str, limit: int | None) -> tuple[int, int, int]:
    """(lines, bytes, peak traced memory) of one NDJSON download."""
    lines = size = 0
    params: dict[str, Any] = {"format": "ndjson"}
    if limit:
        params["limit"] = limit
    tracemalloc.start()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client, client.stream(
                "GET", "/api/v1/download", params=params, headers=auth(PAY)) as resp:
            assert resp.status_code == 200
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, size, peak
