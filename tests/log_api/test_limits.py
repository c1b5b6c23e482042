"""Per-token limits, provoked for real: concurrent requests against a real uvicorn over
the real Elasticsearch and Kafka get 429 with Retry-After; point-in-times stay capped;
a regex tail back-fill scans a bounded window; ranges and export disk are capped;
orphaned export folders of dead processes are swept at start."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from elasticsearch import Elasticsearch
from fastapi import FastAPI
from httpx_sse import aconnect_sse

from log_api.cursor import TailCursor
from log_api.main import create_app
from log_api.state import AppState
from logpipe.timefmt import parse_ns
from logpipe.tokens import hash_token
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


def _state(app: FastAPI) -> AppState:
    state: AppState = app.state.logpipe
    return state


async def _wait(cond: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _gate(app: FastAPI) -> tuple[asyncio.Event, list[int]]:
    """Hold every Elasticsearch page of the app until the event is set: a request in
    flight stays in flight, so a second one really runs concurrently with it."""
    reader = _state(app).reader
    original: Callable[..., Awaitable[Any]] = reader.page
    gate = asyncio.Event()
    waiting = [0]

    async def held(*args: Any, **kwargs: Any) -> Any:
        waiting[0] += 1
        await gate.wait()
        return await original(*args, **kwargs)

    reader.page = held  # type: ignore[method-assign]
    return gate, waiting


@pytest.mark.parametrize(("path", "params", "setting"), [
    ("/api/v1/search", {"q": "line"}, "search_max_per_token"),
    ("/api/v1/download", {"format": "ndjson"}, "download_max_per_token"),
])
async def test_concurrent_requests_per_token_get_429_with_retry_after(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch, path: str, params: dict[str, str], setting: str) -> None:
    index_records(es, index_prefix, [record(i) for i in range(50)]
                  + [record(i, namespace="hotel") for i in range(5)])
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            **{setting: 1, "retry_after_s": 3.0})
    async with served(settings) as (app, base), httpx.AsyncClient(base_url=base,
                                                                   timeout=60) as client:
        gate, waiting = _gate(app)
        first = asyncio.create_task(client.get(path, params=params, headers=auth(PAY)))
        await _wait(lambda: waiting[0] >= 1, "the first request to reach Elasticsearch")
        second = await client.get(path, params=params, headers=auth(PAY))
        other = asyncio.create_task(client.get(path, params=params, headers=auth(HOTEL)))
        await _wait(lambda: waiting[0] >= 2, "another token's request to run meanwhile")
        gate.set()
        done, other_done = await first, await other
        # The slot is free again once the first request ended.
        kind = "search" if "search" in path else "download"
        await _wait(lambda: _state(app).limiter.count(kind, hash_token(PAY)) == 0,
                    "the slot to be released")
        third = await client.get(path, params=params, headers=auth(PAY))
        metrics = (await client.get("/metrics")).text
    assert second.status_code == 429, second.text
    assert second.headers["retry-after"] == "3"
    assert setting in second.json()["error"]
    assert done.status_code == other_done.status_code == third.status_code == 200
    assert "logpipe_api_limited_total 1.0" in metrics


async def test_tail_cap_answers_retry_after(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            tail_max_per_token=1)
    async with served(settings) as (_, base), httpx.AsyncClient(
            base_url=base, timeout=60) as client, aconnect_sse(
            client, "GET", "/api/v1/tail", params={"backfill": 0},
            headers=auth(PAY)) as source:
        assert source.response.status_code == 200
        second = await client.get("/api/v1/tail", headers=auth(PAY))
    assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1


async def test_point_in_times_are_capped_per_token_and_closed_on_the_last_page(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    recs = [record(i) for i in range(6)]
    index_records(es, index_prefix, recs)
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            pit_max_per_token=2)
    async with asgi_client(settings) as (app, client):
        pits = _state(app).pits
        cursors = []
        for _ in range(4):  # four abandoned first pages: four PITs asked for
            page = (await client.get("/api/v1/search", params={"size": 1, "order": "oldest"},
                                     headers=auth(PAY))).json()
            cursors.append(page["next_cursor"])
        held = pits.of_token(hash_token(PAY))
        metrics = (await client.get("/metrics")).text
        # The oldest cursor's PIT was closed; the cursor still works (a new PIT).
        resumed = (await client.get("/api/v1/search", params={
            "size": 1, "order": "oldest", "cursor": cursors[0]}, headers=auth(PAY))).json()
        # Paging to the end closes the PIT: nothing of this chain stays held.
        cursor = resumed["next_cursor"]
        ids = [e["id"] for e in resumed["entries"]]
        while cursor:
            page = (await client.get("/api/v1/search", params={
                "size": 1, "order": "oldest", "cursor": cursor}, headers=auth(PAY))).json()
            ids += [e["id"] for e in page["entries"]]
            cursor = page["next_cursor"]
        after = pits.of_token(hash_token(PAY))
    assert held == 2
    assert "logpipe_api_pits_evicted_total 2.0" in metrics
    ordered = sorted(recs, key=lambda r: (r.ts, r.id))
    assert ids == [r.id for r in ordered[1:]]
    # The resumed chain's new PIT pushed out the next oldest; its end released its own:
    # only the newest abandoned cursor's PIT is still held.
    assert after == 1


async def test_regex_tail_backfill_scans_a_bounded_window(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    # Only the oldest of 400 entries matches: an unbounded back-fill reads them all.
    recs = [record(i, message="needle-7q" if i == 0 else f"hay {i}") for i in range(400)]
    index_records(es, index_prefix, recs)

    async def backfill(limit: int) -> list[str]:
        settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                                tail_scan_limit=limit)
        async with served(settings) as (_, base), httpx.AsyncClient(
                base_url=base, timeout=60) as client, aconnect_sse(
                client, "GET", "/api/v1/tail", params={"backfill": 5, "include": "needle"},
                headers=auth(PAY)) as source:
            got: list[str] = []
            async with asyncio.timeout(60):
                async for ev in source.aiter_sse():
                    if ev.event == "live":
                        return got
                    if ev.event == "entry":
                        got.append(ev.json()["message"])
        raise AssertionError("the stream ended before 'live'")

    assert await backfill(100_000) == ["needle-7q"]
    assert await backfill(50) == []  # the newest 50 scanned, then it goes live


async def test_regex_tail_resume_stopped_at_the_scan_limit_says_so(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    # A resume from the first entry with a regex only the newest matches: the scan
    # stops at the limit (checked per page of 1,000) before it and the client is told,
    # not silently sent live.
    recs = [record(i, message="needle-9z" if i == 2499 else f"hay {i}") for i in range(2500)]
    index_records(es, index_prefix, recs)
    first = TailCursor(parse_ns(recs[0].ts), recs[0].id).encode()
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            tail_scan_limit=50)
    events: list[tuple[str, str]] = []
    async with served(settings) as (_, base), httpx.AsyncClient(
            base_url=base, timeout=60) as client, aconnect_sse(
            client, "GET", "/api/v1/tail", params={"include": "needle"},
            headers={**auth(PAY), "Last-Event-ID": first}) as source:
        async with asyncio.timeout(60):
            async for ev in source.aiter_sse():
                events.append((ev.event, ev.data))
                if ev.event == "live":
                    break
    names = [e for e, _ in events]
    assert "notice" in names and "regex scan limit" in dict(events)["notice"], events
    assert "entry" not in names


async def test_time_range_cap(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            max_range_s=3600)
    async with asgi_client(settings) as (_, client):
        open_start = await client.get("/api/v1/search", headers=auth(PAY))
        too_long = await client.get("/api/v1/download", params={"since": "2h"},
                                    headers=auth(PAY))
        stats = await client.get("/api/v1/stats/levels", params={"since": "3h"},
                                 headers=auth(PAY))
        export = await client.post("/api/v1/exports", params={"since": "2d"},
                                   headers=auth(PAY))
        fine = await client.get("/api/v1/search", params={"since": "30m"}, headers=auth(PAY))
    assert open_start.status_code == 400 and "since" in open_start.json()["error"]
    for resp in (too_long, stats, export):
        assert resp.status_code == 400 and "max_range_s" in resp.json()["error"], resp.text
    assert fine.status_code == 200


async def test_export_disk_quota_per_token(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    index_records(es, index_prefix, [record(i) for i in range(300)]
                  + [record(i, namespace="hotel") for i in range(10)])
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with asgi_client(settings) as (app, client):
        async def finish(token: str, **params: str) -> dict[str, Any]:
            job: dict[str, Any] = (await client.post("/api/v1/exports", params=params,
                                                     headers=auth(token))).json()
            deadline = time.monotonic() + 60
            while job["state"] == "running" and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                job = (await client.get(f"/api/v1/exports/{job['id']}",
                                        headers=auth(token))).json()
            return job

        done = await finish(PAY)
        size = await _state(app).exports.bytes_of(hash_token(PAY))
        app_settings = _state(app).settings
        app_settings.export_quota_bytes_per_token = size  # now exactly full
        refused = await client.post("/api/v1/exports", headers=auth(PAY))
        hotel = await client.post("/api/v1/exports", params={"namespace": "hotel"},
                                  headers=auth(HOTEL))  # another token's quota is its own
        # A job that passes the quota while writing fails with the reason, files gone.
        app_settings.export_quota_bytes_per_token = size + 1
        failed = await finish(PAY, format="tar.gz")
        left = await _state(app).exports.bytes_of(hash_token(PAY))
    assert done["state"] == "done" and size > 0
    assert refused.status_code == 429 and "export_quota_bytes_per_token" in refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert hotel.status_code == 202
    assert failed["state"] == "failed" and "quota" in failed["error"]
    assert left == size


async def test_archive_pieces_of_jobs_that_are_gone_are_swept(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    # A replica that had not yet seen its job cancelled wrote one more piece: the
    # sweeper deletes pieces whose job no longer exists, and leaves a live job's alone.
    index_records(es, index_prefix, [record(i) for i in range(20)])
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with asgi_client(settings) as (app, client):
        exports = _state(app).exports
        job = (await client.post("/api/v1/exports", headers=auth(PAY))).json()
        await _wait(lambda: not exports.runners, "the export to finish")
        es.index(index=f"{index_prefix}_state", id="chunk:0badc0de:s3:7", refresh=True,
                 document={"kind": "chunk", "job": "0badc0de", "part": "s", "epoch": 3,
                           "seq": 7, "bytes": 3, "data": "eHl6"})
        await exports.sweep()
        metrics = (await client.get("/metrics")).text
        fetched = await client.get(f"/api/v1/exports/{job['id']}/file", headers=auth(PAY))
    assert chunks(es, index_prefix, "0badc0de") == []
    assert chunks(es, index_prefix, job["id"]) == [f"chunk:{job['id']}:s1:0"]
    assert "logpipe_api_export_orphans_swept_total 1.0" in metrics
    assert fetched.status_code == 200 and len(fetched.content) > 0


def test_anonymous_admin_with_a_tokens_file_warns_loudly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(tmp_path, "127.0.0.1:1", "http://127.0.0.1:1", "t", "p",
                            anonymous_admin=True)
    with caplog.at_level(logging.WARNING, logger="log_api.main"):
        create_app(settings)
    assert any("SECURITY" in r.getMessage() and "anonymous_admin" in r.getMessage()
               for r in caplog.records)


async def test_probes_can_require_an_admin_token(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            probes_require_token=True)
    async with asgi_client(settings) as (_, client):
        anon_metrics = await client.get("/metrics")
        pay_metrics = await client.get("/metrics", headers=auth(PAY))
        admin_metrics = await client.get("/metrics", headers=auth(ADMIN))
        anon_ready = await client.get("/readyz")
        admin_ready = await client.get("/readyz", headers=auth(ADMIN))
    assert anon_metrics.status_code == 401 and pay_metrics.status_code == 403
    assert admin_metrics.status_code == 200 and "logpipe_api_requests" in admin_metrics.text
    assert set(anon_ready.json()) == {"ready"}
    assert "checks" in admin_ready.json()
    assert anon_ready.status_code == admin_ready.status_code


async def test_running_exports_are_capped_per_token(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch, monkeypatch: pytest.MonkeyPatch) -> None:
    index_records(es, index_prefix, [record(i) for i in range(300)]
                  + [record(i, namespace="hotel") for i in range(10)])
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            export_max_jobs_per_token=2, download_page_size=100)
    async with asgi_client(settings) as (app, client):
        exports = _state(app).exports
        real_scan = exports.reader.scan
        never = asyncio.Event()

        async def held_scan(*args: Any, **kwargs: Any) -> Any:
            # Every job stays running after its first page until it is cancelled.
            async for hits in real_scan(*args, **kwargs):
                yield hits
                await never.wait()

        monkeypatch.setattr(exports.reader, "scan", held_scan)
        first, second = [await client.post("/api/v1/exports", headers=auth(PAY))
                         for _ in range(2)]
        refused = await client.post("/api/v1/exports", headers=auth(PAY))
        hotel = await client.post("/api/v1/exports", params={"namespace": "hotel"},
                                  headers=auth(HOTEL))  # another token's cap is its own
        cancelled = await client.delete(f"/api/v1/exports/{first.json()['id']}",
                                        headers=auth(PAY))
        again = await client.post("/api/v1/exports", headers=auth(PAY))
        for job in (second, hotel, again):  # let nothing run past the app
            token = HOTEL if job is hotel else PAY
            await client.delete(f"/api/v1/exports/{job.json()['id']}", headers=auth(token))
    assert (first.status_code, second.status_code) == (202, 202)
    assert refused.status_code == 429
    assert "this token already runs 2 exports (export_max_jobs_per_token)" in refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert hotel.status_code == 202
    assert cancelled.json()["state"] == "cancelled"
    assert again.status_code == 202  # a cancelled job frees its place
