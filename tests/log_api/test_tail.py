"""Live tail against the real Kafka and Elasticsearch, over a real uvicorn.

A record produced after the client connects arrives; the back-fill joins the live
stream with no gap and no duplicate; Last-Event-ID resumes exactly; a slow client is
told what it missed; other tenants' records never reach a tail; per-token cap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from elasticsearch import Elasticsearch
from fastapi import FastAPI
from httpx_sse import ServerSentEvent, aconnect_sse

from log_api.filters import Filters
from log_api.query import ScopedQuery
from log_api.state import AppState
from log_api.tail import tail_events
from logpipe.record import Record
from logpipe.tokens import hash_token
from tests.log_api.helpers import (
    HOTEL,
    PAY,
    asgi_client,
    auth,
    copy_record,
    index_records,
    produce,
    record,
    served,
    settings_for,
)

pytestmark = pytest.mark.integration
Events = list[ServerSentEvent]


def _state(app: FastAPI) -> AppState:
    state: AppState = app.state.logpipe
    return state


async def _wait(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _hub_read(app: FastAPI, n: int) -> None:
    """Wait until the hub has read n records from Kafka."""
    hub = _state(app).hub
    await _wait(lambda: len(hub.ring) >= n, f"the hub to read {n} records")


class Stream:
    def __init__(self, events: AsyncIterator[ServerSentEvent]) -> None:
        self._it = events
        self.events: Events = []

    async def until(self, cond: Callable[[Events], bool], timeout: float = 30.0) -> Events:
        async with asyncio.timeout(timeout):
            while not cond(self.events):
                self.events.append(await anext(self._it))
        return self.events

    def entries(self) -> list[dict[str, Any]]:
        return [e.json() for e in self.events if e.event == "entry"]


@asynccontextmanager
async def tail(base: str, token: str, headers: dict[str, str] | None = None,
               **params: Any) -> AsyncIterator[Stream]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client, aconnect_sse(
            client, "GET", "/api/v1/tail", params=params,
            headers={**auth(token), **(headers or {})}) as source:
        assert source.response.status_code == 200
        yield Stream(source.aiter_sse())


def _live(events: Events) -> bool:
    return any(e.event == "live" for e in events)


def _count(n: int) -> Callable[[Events], bool]:
    return lambda evs: sum(e.event == "entry" for e in evs) >= n


def _records(n: int, start: int = 0, **kw: Any) -> list[Record]:
    return [copy_record(record(start + i, **kw), ts=f"2026-11-26T10:00:{i % 60:02d}."
                        f"{start + i:09d}Z") for i in range(n)]


async def test_live_record_arrives_and_other_tenants_never_do(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with served(settings) as (_, base), tail(base, PAY, backfill=0) as stream:
        await stream.until(_live)
        # Same Kafka key (container): the hotel record is read before the pay record.
        secret = copy_record(record(1, namespace="hotel", app="booking"), container_id="k")
        mine = copy_record(record(2), container_id="k")
        produce(kafka_bootstrap, topic, [secret, mine], compression="lz4")  # as the collector
        await stream.until(_count(1))
    assert [e["id"] for e in stream.entries()] == [mine.id]
    assert stream.entries()[0]["namespace"] == "pay"


async def test_backfill_then_live_without_gap_or_duplicate(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    indexed = _records(40, 0)  # in Elasticsearch only (older than the hub)
    both = _records(10, 40)  # indexed and still in the hub's hand-over window
    lagging = _records(15, 50)  # in Kafka, not yet indexed by the forwarder
    live = _records(20, 65)  # produced after the client connected
    index_records(es, index_prefix, indexed + both)
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with served(settings) as (app, base):
        produce(kafka_bootstrap, topic, both + lagging)
        await _hub_read(app, 25)
        async with tail(base, PAY, backfill=1000) as stream:
            await stream.until(_live)
            assert len(stream.entries()) == 65
            # A producer replay must not repeat; one partition (same key), so the sentinel
            # arrives after everything before it.
            sentinel = _records(1, 99)[0]
            produce(kafka_bootstrap, topic, [*live, *both[:3], sentinel])
            await stream.until(lambda evs: any(e.event == "entry" and e.json()["id"] ==
                                               sentinel.id for e in evs))
    ids = [e["id"] for e in stream.entries()][:-1]
    assert len(ids) == len(set(ids)) == 85
    assert set(ids) == {r.id for r in indexed + both + lagging + live}
    backfill = ids[:65]
    assert backfill == [r.id for r in sorted(indexed + both + lagging,
                                             key=lambda r: (r.ts, r.id))]


async def test_backfill_last_n_only(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    recs = _records(30)
    index_records(es, index_prefix, recs)
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with served(settings) as (_, base), tail(base, PAY, backfill=5) as stream:
        await stream.until(_live)
    assert [e["id"] for e in stream.entries()] == [r.id for r in recs[-5:]]


async def test_last_event_id_resumes_exactly_from_live_and_from_backfill(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    history = _records(10, 0, app="hist")
    index_records(es, index_prefix, history)
    first, second = _records(10, 100), _records(5, 200)
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with served(settings) as (app, base):
        async with tail(base, PAY, backfill=0) as stream:
            await stream.until(_live)
            produce(kafka_bootstrap, topic, first)
            await stream.until(_count(4))
        seen = stream.entries()[:4]
        last_id = [e.id for e in stream.events if e.event == "entry"][3]
        produce(kafka_bootstrap, topic, second)
        await _hub_read(app, 15)
        async with tail(base, PAY, headers={"Last-Event-ID": last_id}, backfill=0) as again:
            await again.until(_count(11))
        # A back-fill event id (from Elasticsearch) resumes through Elasticsearch.
        async with tail(base, PAY, backfill=10, app="hist") as old:
            await old.until(_live)
        assert [e["id"] for e in old.entries()] == [r.id for r in history]
        third = [e.id for e in old.events if e.event == "entry"][2]
        async with tail(base, PAY, resume=third, backfill=0, app="hist") as resumed:
            await resumed.until(_live)
    delivered = [e["id"] for e in seen] + [e["id"] for e in again.entries()]
    want = {r.id for r in first + second}
    assert len(delivered) == len(set(delivered)) == 15 and set(delivered) == want
    assert [e["id"] for e in resumed.entries()] == [r.id for r in history[3:]]


async def test_slow_client_gets_a_missed_event(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            tail_queue_size=5)
    async with asgi_client(settings) as (app, _):
        state = _state(app)
        assert state.tokens is not None
        scope = state.tokens.lookup(PAY)
        assert scope is not None
        sq = ScopedQuery(scope, Filters())
        sub, snap = state.hub.subscribe(sq)
        events = tail_events(state.hub, state.reader, state.metrics, sub, snap, 0, None, 100)
        assert (await anext(events))["event"] == "live"
        produce(kafka_bootstrap, topic, _records(50))
        await _hub_read(app, 50)  # the client read nothing meanwhile
        got = [await anext(events) for _ in range(6)]
        await events.aclose()
        assert not state.hub.subs
    assert got[0]["event"] == "missed" and '"missed":45' in got[0]["data"]
    assert [g["event"] for g in got[1:]] == ["entry"] * 5


async def test_tails_are_capped_per_token(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            tail_max_per_token=1)
    async with served(settings) as (app, base):
        async with tail(base, PAY, backfill=0) as stream:
            await stream.until(_live)
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                second = await client.get("/api/v1/tail", headers=auth(PAY))
                forbidden = await client.get("/api/v1/tail", params={"namespace": "pay"},
                                             headers=auth(HOTEL))
            assert _state(app).hub.per_token == {hash_token(PAY): 1}
        # The client left: its subscription (and its slot under the cap) is released.
        hub = _state(app).hub
        await _wait(lambda: not hub.subs and not hub.per_token, "the tail to unsubscribe")
    assert second.status_code == 429 and "tails" in second.json()["error"]
    assert forbidden.status_code == 403


async def test_heartbeats_keep_an_idle_stream_talking(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            tail_heartbeat_s=0.2)
    async with served(settings) as (app, base), httpx.AsyncClient(
            base_url=base, timeout=30) as client, client.stream(
            "GET", "/api/v1/tail", params={"backfill": 0}, headers=auth(PAY)) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        comments = 0
        async with asyncio.timeout(30):
            async for line in resp.aiter_lines():
                comments += line.startswith(":")
                if comments == 2:
                    break
        assert len(_state(app).hub.subs) == 1
    assert comments == 2
