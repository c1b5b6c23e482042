"""Log API benchmark, each number beside a peer measured in the same run:

* level ratio, app share and log patterns over 1,000,000 records through the API,
  against the same aggregation sent raw to Elasticsearch (target <= 300 ms);
* download throughput (NDJSON over HTTP) against a raw PIT + search_after read;
* produce -> SSE event latency with 100 concurrent tails, against a raw Kafka consumer.

    python -m bench log_api          (or: make bench)

Environment: BENCH_API_RECORDS (default 1000000; the index is kept between runs under
the prefix ``lpbench-api`` and rebuilt when its count differs or its documents lack the
derived fields), BENCH_API_TAILS (100), BENCH_API_EVENTS (200 latency samples),
BENCH_API_PARTS (default stats,download,tail: which parts to run).
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from elasticsearch import AsyncElasticsearch, Elasticsearch
from elasticsearch.helpers import parallel_bulk
from elasticsearch.serializer import OrjsonSerializer

from forwarder.template import install_template
from log_api.auth import ANONYMOUS_ADMIN
from log_api.filters import Filters
from log_api.main import create_app
from log_api.query import ScopedQuery
from log_api.routes import patterns as patterns_route
from log_api.settings import ApiSettings
from logpipe.document import es_source, index_name
from logpipe.record import Record, encode, stable_id
from logpipe.timefmt import format_ns

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "lpbench-api"
KAFKA = os.environ.get("LOGPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
ES_URL = os.environ.get("LOGPIPE_ES_URL", "http://127.0.0.1:9200")
N = int(os.environ.get("BENCH_API_RECORDS", "1000000"))
PARTS = set(os.environ.get("BENCH_API_PARTS", "stats,download,tail").split(","))
TAILS = int(os.environ.get("BENCH_API_TAILS", "100"))
EVENTS = int(os.environ.get("BENCH_API_EVENTS", "200"))
LEVELS = ("info",) * 6 + ("debug", "warn", "error", "fatal")
BASE_NS = 1_795_000_000 * 10**9  # 2026-11-18


def record(i: int) -> Record:
    ts = format_ns(BASE_NS + i * 250_000_000)  # 4 a second: about 3 days, 3-4 indices
    return Record(
        id=stable_id("bench-api", str(i)), ts=ts, ingest_ts=ts, node=f"node-{i % 4}",
        source="cri", path=f"/var/log/pods/x/{i % 40}.log", offset=i * 160,
        message=f"GET /api/v1/orders/{i} 200 {i % 900}ms user={i % 1000} " + "x" * (i % 120),
        level=LEVELS[i % 10], stream="stdout", container_id=f"c{i % 40:03d}",
        container_name=f"web-{i % 40}", namespace=f"ns-{i % 5}", pod=f"pod-{i % 40}",
        app=f"app-{i % 12}",
    )


def ensure_data(es: Elasticsearch) -> None:
    if es.indices.exists_index_template(name=PREFIX):
        es.indices.refresh(index=f"{PREFIX}-*", ignore_unavailable=True)
        have = es.count(index=f"{PREFIX}-*", ignore_unavailable=True)["count"]
        derived = es.count(index=f"{PREFIX}-*", ignore_unavailable=True,
                           query={"exists": {"field": "pattern_id"}})["count"]
        if have == derived == N:
            print(f"reusing {N:,} records under {PREFIX}-*", flush=True)
            return
        es.options(ignore_status=404).indices.delete(index=f"{PREFIX}-*")
    install_template(es, PREFIX, shards=1, replicas=0, refresh_interval="30s", priority=500)

    def actions() -> Iterator[dict[str, Any]]:
        for i in range(N):
            r = record(i)
            # The document the forwarder writes: message_bytes, fields, ids, pattern.
            yield {"_index": index_name(PREFIX, r.ts), "_id": r.id, "_source": es_source(r)}

    t0 = time.perf_counter()
    for ok, info in parallel_bulk(es, actions(), thread_count=2, chunk_size=5000):
        if not ok:
            raise RuntimeError(info)
    es.indices.refresh(index=f"{PREFIX}-*")
    es.indices.forcemerge(index=f"{PREFIX}-*", max_num_segments=1)
    print(f"indexed {N:,} records in {time.perf_counter() - t0:.0f}s", flush=True)


# The peers: the same aggregations the API sends, sent raw.
LEVELS_AGG = {"lv": {"terms": {"field": "level", "size": 50}}}
BY_APP_AGG = {"c": {"composite": {"size": 1000, "sources": [
    {"app": {"terms": {"field": "app", "missing_bucket": True}}},
    {"level": {"terms": {"field": "level"}}}]}}}
APPS_AGG = {"c": {"composite": {"size": 1000, "sources": [
    {"app": {"terms": {"field": "app", "missing_bucket": True}}}]},
    "aggs": {"b": {"sum": {"field": "message_bytes"}}}}}
# The peer is the composite alone (the API also looks up the listed patterns' first and
# last entries).
PATTERNS_AGG: dict[str, Any] = {"c": {"composite": {
    "size": patterns_route.COMPOSITE_PAGE, "sources": patterns_route.COMPOSITE_SOURCES}}}
HIST_AGG = {"h": {"date_histogram": {"field": "ts", "fixed_interval": "1h"},
                  "aggs": LEVELS_AGG}}
# A realistic narrower question: one namespace over one day (the API builds this query).
DAY = {"namespace": "ns-0", "since": format_ns(BASE_NS + 86400 * 10**9),
       "until": format_ns(BASE_NS + 2 * 86400 * 10**9)}
DAY_QUERY = ScopedQuery(ANONYMOUS_ADMIN, Filters.parse(
    namespace=[DAY["namespace"]], since=DAY["since"], until=DAY["until"])).es_query()


async def timed(fn: Callable[[], Awaitable[Any]], es: AsyncElasticsearch,
                runs: int = 7) -> float:
    """Median milliseconds, each run after clearing the request cache (no cached answer)."""
    samples = []
    for _ in range(runs):
        await es.indices.clear_cache(index=f"{PREFIX}-*", request=True)
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


async def stats_rows() -> list[tuple[str, float, float]]:
    es = AsyncElasticsearch(ES_URL, request_timeout=300)
    idx = f"{PREFIX}-*"
    rows = []
    for bytes_field in ("message_bytes", None):
        settings = ApiSettings(es_url=ES_URL, index_prefix=PREFIX, anonymous_admin=True,
                               kafka_topic="logs", kafka_start_timeout_s=1.0,
                               bytes_field=bytes_field)
        app = create_app(settings)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api",
                timeout=600) as api:
            async def get(path: str, **params: Any) -> None:
                r = await api.get(path, params=params)
                r.raise_for_status()

            async def raw(body: dict[str, Any]) -> None:
                await es.search(index=idx, body=body, size=0, track_total_hits=True)

            async def raw_composite(query: dict[str, Any] | None = None) -> None:
                """Every page of the patterns' composite aggregation, as the API reads it."""
                comp = PATTERNS_AGG["c"]
                after = None
                while True:
                    body = {"aggs": {"c": {**comp, "composite": {
                        **comp["composite"], **({"after": after} if after else {})}}}}
                    if query is not None:
                        body["query"] = query
                    resp = await es.search(index=idx, body=body, size=0)
                    part = resp["aggregations"]["c"]
                    after = part.get("after_key")
                    if after is None or len(part["buckets"]) < comp["composite"]["size"]:
                        return

            if bytes_field:
                rows.append((f"level ratio, {N:,}", await timed(
                    lambda: get("/api/v1/stats/levels"), es),
                    await timed(lambda: raw({"aggs": LEVELS_AGG}), es)))
                rows.append(("level ratio, 1 namespace, 1 day", await timed(
                    lambda: get("/api/v1/stats/levels", **DAY), es),
                    await timed(lambda: raw({"query": DAY_QUERY, "aggs": LEVELS_AGG}), es)))
                rows.append((f"level ratio by app, {N:,}", await timed(
                    lambda: get("/api/v1/stats/levels", by_app="true"), es),
                    await timed(lambda: raw({"aggs": {**LEVELS_AGG, **BY_APP_AGG}}), es)))
                rows.append((f"app share (bytes field), {N:,}", await timed(
                    lambda: get("/api/v1/stats/apps"), es),
                    await timed(lambda: raw({"aggs": APPS_AGG}), es)))
                rows.append((f"histogram, {N:,}", await timed(
                    lambda: get("/api/v1/stats/histogram", interval="1h"), es),
                    await timed(lambda: raw({"aggs": HIST_AGG}), es)))
                rows.append((f"patterns, {N:,}", await timed(
                    lambda: get("/api/v1/patterns"), es),
                    await timed(raw_composite, es)))
                rows.append(("patterns, 1 namespace, 1 day (+ new)", await timed(
                    lambda: get("/api/v1/patterns", **DAY), es),
                    await timed(lambda: raw_composite(DAY_QUERY), es)))
            else:
                rows.append((f"app share (bytes by scan), {N:,}", await timed(
                    lambda: get("/api/v1/stats/apps"), es, runs=1),
                    await timed(lambda: raw({"aggs": APPS_AGG}), es)))
    await es.close()
    return rows


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api(topic: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "LOGPIPE_ES_URL": ES_URL, "LOGPIPE_KAFKA_BOOTSTRAP": KAFKA,
           "LOGPIPE_INDEX_PREFIX": PREFIX, "LOGPIPE_ANONYMOUS_ADMIN": "true",
           "LOGPIPE_KAFKA_TOPIC": topic, "LOGPIPE_PORT": str(port),
           "LOGPIPE_TAIL_MAX_PER_TOKEN": str(TAILS + 10), "LOGPIPE_LOG_LEVEL": "warning"}
    proc = subprocess.Popen([sys.executable, "-c", "from cli.main import main; main()",
                             "api", "run"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("the API did not become ready")


async def download_rows(base: str) -> list[tuple[str, float, float]]:
    params = {"namespace": "ns-0", "format": "ndjson"}
    t0 = time.perf_counter()
    size = lines = 0
    async with httpx.AsyncClient(timeout=600) as client, client.stream(
            "GET", f"{base}/api/v1/download", params=params) as resp:
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    api_s = time.perf_counter() - t0
    # Peer: the same entries read raw with a PIT and search_after, serialised the same way.
    es = AsyncElasticsearch(ES_URL, request_timeout=300, serializer=OrjsonSerializer())
    t0 = time.perf_counter()
    pit = (await es.open_point_in_time(index=f"{PREFIX}-*", keep_alive="2m"))["id"]
    after = None
    raw_size = raw_n = 0
    while True:
        body: dict[str, Any] = {"query": {"term": {"namespace": "ns-0"}}, "size": 5000,
                                "sort": [{"ts": "asc"}, {"id": "asc"}],
                                "pit": {"id": pit, "keep_alive": "2m"}}
        if after:
            body["search_after"] = after
        hits = (await es.search(body=body))["hits"]["hits"]
        if not hits:
            break
        raw_size += sum(len(orjson.dumps(h["_source"])) + 1 for h in hits)
        raw_n += len(hits)
        after = hits[-1]["sort"]
    raw_s = time.perf_counter() - t0
    await es.close_point_in_time(id=pit)
    await es.close()
    assert raw_n == lines, (raw_n, lines)
    return [("download NDJSON, MB/s", size / api_s / 1e6, raw_size / raw_s / 1e6),
            ("download NDJSON, entries/s", lines / api_s, raw_n / raw_s)]


async def tail_rows(base: str, topic: str) -> list[tuple[str, float, float]]:
    api_lat: list[float] = []
    raw_lat: list[float] = []
    ready = 0
    marker = uuid.uuid4().hex

    async def client() -> None:
        nonlocal ready
        async with httpx.AsyncClient(timeout=120) as c, c.stream(
                "GET", f"{base}/api/v1/tail", params={"backfill": 0, "q": marker}) as resp:
            got = 0
            async for line in resp.aiter_lines():
                if line.startswith("event: live"):
                    ready += 1
                if line.startswith("data: {") and marker in line:
                    sent = int(orjson.loads(line[6:])["message"].split()[1])
                    api_lat.append((time.time_ns() - sent) / 1e6)
                    got += 1
                    if got == EVENTS:
                        return

    async def raw() -> None:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, group_id=None,
                                    auto_offset_reset="latest")
        await consumer.start()
        try:
            while not consumer.assignment():
                await asyncio.sleep(0.05)
            for tp in consumer.assignment():
                await consumer.position(tp)
            nonlocal ready
            ready += 1
            while len(raw_lat) < EVENTS:
                for msgs in (await consumer.getmany(timeout_ms=200)).values():
                    for m in msgs:
                        sent = int(orjson.loads(m.value)["message"].split()[1])
                        raw_lat.append((time.time_ns() - sent) / 1e6)
        finally:
            await consumer.stop()

    tasks = [asyncio.create_task(client()) for _ in range(TAILS)]
    tasks.append(asyncio.create_task(raw()))
    deadline = time.monotonic() + 120
    while ready < TAILS + 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    producer = Producer({"bootstrap.servers": KAFKA, "linger.ms": 5,
                         "compression.type": "lz4"})
    for i in range(EVENTS):
        r = record(i)
        msg = f"{marker} {time.time_ns()} {i}"
        producer.produce(topic, key=r.key, value=encode(Record(
            **{**r.to_dict(), "message": msg, "tags": (), "id": uuid.uuid4().hex})))
        producer.poll(0)
        await asyncio.sleep(0.02)  # 50 entries/s, each fanned out to every tail
    producer.flush(30)
    await asyncio.wait_for(asyncio.gather(*tasks), 120)

    def pct(xs: list[float], q: float) -> float:
        return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]

    return [(f"produce -> SSE p50 ms ({TAILS} tails)", pct(api_lat, 0.5), pct(raw_lat, 0.5)),
            (f"produce -> SSE p99 ms ({TAILS} tails)", pct(api_lat, 0.99), pct(raw_lat, 0.99))]


def main() -> None:
    es = Elasticsearch(ES_URL, request_timeout=600, serializer=OrjsonSerializer())
    ensure_data(es)
    rows = asyncio.run(stats_rows()) if "stats" in PARTS else []
    if not PARTS & {"download", "tail"}:
        _print(rows)
        return
    topic = f"lpbench-api-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for f in admin.create_topics([NewTopic(topic, num_partitions=3,
                                           replication_factor=1)]).values():
        f.result(30)
    proc, base = start_api(topic)
    try:
        if "download" in PARTS:
            rows += asyncio.run(download_rows(base))
        if "tail" in PARTS:
            rows += asyncio.run(tail_rows(base, topic))
    finally:
        proc.terminate()
        proc.wait(30)
        for f in admin.delete_topics([topic]).values():
            f.result(30)
    _print(rows)


def _print(rows: list[tuple[str, float, float]]) -> None:
    print(f"{'measure':44} {'log_api':>12} {'peer':>12}   peer")
    peers = {"level": "raw ES aggregation", "app share": "raw ES aggregation",
             "histogram": "raw ES aggregation", "patterns": "raw ES composite, every page",
             "download": "raw PIT + search_after", "produce": "raw aiokafka consumer"}
    for name, mine, peer in rows:
        which = next(v for k, v in peers.items() if name.startswith(k))
        print(f"{name:44} {mine:12.1f} {peer:12.1f}   {which}")


if __name__ == "__main__":
    main()
