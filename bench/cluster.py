"""Scale-out on the local 3-broker Kafka / 3-node Elasticsearch cluster (started beside
the single-node stack, or reused; ``stack.config.local_cluster``):

* the forwarder group's throughput with 1, 2 and 3 members (records/s from Kafka until
  searchable, one replica per index); the peer is the 1-member run of the same round,
  so the table gives the ratios;
* produce -> SSE latency with 1,000 concurrent tails spread over two Log API replicas
  behind a round-robin TCP proxy (no sticky sessions), against a raw Kafka consumer of
  the same topic in the same run.

    python -m bench cluster

Environment: BENCH_CLUSTER_RECORDS (per run, default 100000), BENCH_CLUSTER_ROUNDS
(default 2; the best of each member count is shown), BENCH_CLUSTER_TAILS (1000),
BENCH_CLUSTER_EVENTS (100, sent at BENCH_CLUSTER_RATE = 5 per second), read by
BENCH_CLUSTER_TAIL_PROCS (4) client processes, for BENCH_CLUSTER_TOKENS (100) tokens. The cluster is
left running for the next run; `CLUSTER_HOME=... logpipe stack down` or the stack home
printed below stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from elasticsearch import ApiError, Elasticsearch

from logpipe.record import Record, encode, stable_id
from logpipe.timefmt import now_ts
from logpipe.tokens import hash_token
from stack.config import local_cluster
from stack.manager import Stack
from stack.proc import port_open

ROOT = Path(__file__).resolve().parents[1]
N = int(os.environ.get("BENCH_CLUSTER_RECORDS", "100000"))
ROUNDS = int(os.environ.get("BENCH_CLUSTER_ROUNDS", "2"))
TAILS = int(os.environ.get("BENCH_CLUSTER_TAILS", "1000"))
EVENTS = int(os.environ.get("BENCH_CLUSTER_EVENTS", "100"))
RATE = float(os.environ.get("BENCH_CLUSTER_RATE", "5"))
TAIL_PROCS = int(os.environ.get("BENCH_CLUSTER_TAIL_PROCS", "4"))
# The tails belong to this many users (tokens), round robin: 1,000 tails of one token is
# not what a team does, and the per-token cap's shared places are per token.
TOKENS = int(os.environ.get("BENCH_CLUSTER_TOKENS", "100"))
PARTITIONS = 6  # 1, 2 and 3 members each get an even share


def record(i: int, run: str, ts: str) -> Record:
    return Record(
        id=stable_id(run, str(i)), ts=ts, ingest_ts=ts, node=f"node-{i % 4}", source="docker",
        path=f"/var/lib/docker/containers/{i % 50:064x}/x-json.log", offset=i * 180,
        message=f"GET /api/v1/orders/{i} 200 {i % 900}ms user={i % 1000} trace={i:016x}",
        level=("info", "warn", "error", "debug")[i % 4], stream="stdout",
        container_id=f"{i % 50:064x}", container_name=f"web-{i % 50}", app=f"app-{i % 9}",
        namespace=f"ns-{i % 5}", pod=f"web-{i % 50}-abc", labels={"team": f"t{i % 5}"})


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_topic(admin: AdminClient, name: str, partitions: int) -> None:
    # No replication factor: the brokers' default (3 on this cluster, min ISR 2).
    for fut in admin.create_topics([NewTopic(name, num_partitions=partitions)]).values():
        fut.result(30)


def delete_topics(admin: AdminClient, names: list[str]) -> None:
    for fut in admin.delete_topics(names).values():
        with contextlib.suppress(Exception):
            fut.result(30)


def count(es: Elasticsearch, prefix: str) -> int:
    try:
        es.indices.refresh(index=f"{prefix}-*", allow_no_indices=True)
        return int(es.count(index=f"{prefix}-*", allow_no_indices=True)["count"])
    except ApiError:
        return 0


def members(admin: AdminClient, group: str) -> int:
    try:
        desc = admin.describe_consumer_groups([group])[group].result(timeout=30)
    except Exception:
        return 0
    return sum(1 for m in desc.members if m.assignment.topic_partitions)


def env_for(stack: Stack, topic: str, prefix: str, group: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({
        "LOGPIPE_KAFKA_BOOTSTRAP": stack.settings.kafka_bootstrap,
        "LOGPIPE_ES_URL": stack.settings.es_url, "LOGPIPE_KAFKA_TOPIC": topic,
        "LOGPIPE_INDEX_PREFIX": prefix, "LOGPIPE_CONSUMER_GROUP": group,
        "LOGPIPE_INDEX_REPLICAS": str(stack.settings.index_replicas),
        "LOGPIPE_LEDGER_TOPIC": "", "LOGPIPE_METRICS_HOST": "127.0.0.1",
        "LOGPIPE_LOG_LEVEL": "warning"})
    return env


@contextlib.contextmanager
def forwarders(env: dict[str, str], count_: int, logdir: Path) -> Iterator[None]:
    procs = []
    try:
        for k in range(count_):
            log = (logdir / f"{env['LOGPIPE_CONSUMER_GROUP']}-{k}.log").open("ab")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "forwarder"], cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, env={**env, "LOGPIPE_METRICS_PORT": str(free_port())}))
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)


def group_rate(stack: Stack, es: Elasticsearch, admin: AdminClient, size: int,
               logdir: Path) -> float:
    """Records/s of ``size`` forwarders in one group, from the moment the group holds them
    all with the partitions shared, through produce, until every record is searchable."""
    tag = uuid.uuid4().hex[:8]
    topic, prefix, group = f"lpbench-cl-{tag}", f"lpbench-cl-{tag}", f"lpbench-cl-{tag}"
    create_topic(admin, topic, PARTITIONS)
    try:
        with forwarders(env_for(stack, topic, prefix, group), size, logdir):
            deadline = time.monotonic() + 300
            while members(admin, group) < size:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{size} forwarders never all joined {group}")
                time.sleep(0.5)
            t0 = time.perf_counter()
            producer = Producer({"bootstrap.servers": stack.settings.kafka_bootstrap,
                                 "acks": "all", "linger.ms": 20, "batch.size": 1_000_000,
                                 "compression.type": "lz4", "enable.idempotence": True})
            ts = now_ts()
            for i in range(N):
                r = record(i, tag, ts)
                while True:
                    try:
                        producer.produce(topic, encode(r), r.key)
                        break
                    except BufferError:
                        producer.poll(0.05)
            assert producer.flush(120) == 0
            deadline = time.monotonic() + 900
            while (n := count(es, prefix)) < N:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{size} forwarders indexed {n} of {N} in 900 s")
                time.sleep(0.25)
            return N / (time.perf_counter() - t0)
    finally:
        delete_topics(admin, [topic, f"{topic}.dlq"])
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*",
                                                      expand_wildcards="all")
        es.options(ignore_status=404).indices.delete_index_template(name=prefix)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def proxy_main(port: int, backends: list[int]) -> None:
    """A round-robin TCP proxy: each new connection goes to the next API replica."""
    turn = itertools.cycle(backends)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", next(turn))
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=2048)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def write_tokens(path: Path, tokens: list[str]) -> Path:
    path.write_bytes(orjson.dumps({"tokens": [
        {"name": f"user-{i}", "sha256": hash_token(t), "admin": True}
        for i, t in enumerate(tokens)]}))  # JSON is YAML
    return path


def start_api(stack: Stack, topic: str, prefix: str,
              tokens_file: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({"LOGPIPE_ES_URL": stack.settings.es_url,
                "LOGPIPE_KAFKA_BOOTSTRAP": stack.settings.kafka_bootstrap,
                "LOGPIPE_INDEX_PREFIX": prefix, "LOGPIPE_TOKENS_FILE": str(tokens_file),
                "LOGPIPE_KAFKA_TOPIC": topic, "LOGPIPE_PORT": str(port),
                "LOGPIPE_TAIL_MAX_PER_TOKEN": str(TAILS // TOKENS + 10),
                "LOGPIPE_LOG_LEVEL": "warning"})
    proc = subprocess.Popen([sys.executable, "-c", "from cli.main import main; main()",
                             "api", "run"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, port
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("a Log API replica did not become ready")


def pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def _tail_worker(base: str, marker: str, tokens: list[str], ready: Any, out: Any) -> None:
    """One SSE tail per token given (a token may repeat) in this process; puts their
    produce -> event latencies (ms)."""
    count = len(tokens)

    async def run() -> list[float]:
        lat: list[float] = []
        limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=0)

        async def one(c: httpx.AsyncClient, token: str) -> None:
            async with c.stream("GET", f"{base}/api/v1/tail", params={"backfill": 0, "q": marker},
                                headers={"Authorization": f"Bearer {token}"}) as resp:
                resp.raise_for_status()
                got = 0
                async for line in resp.aiter_lines():
                    if line.startswith("event: live"):
                        with ready.get_lock():
                            ready.value += 1
                    if line.startswith("data: {") and marker in line:
                        sent = int(orjson.loads(line[6:])["message"].split()[1])
                        lat.append((time.time_ns() - sent) / 1e6)
                        got += 1
                        if got == EVENTS:
                            return

        async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=600),
                                     limits=limits) as c:
            await asyncio.gather(*(one(c, t) for t in tokens))
        return lat

    out.put(asyncio.run(run()))


def _raw_worker(bootstrap: str, topic: str, ready: Any, out: Any) -> None:
    """The peer: a raw aiokafka consumer of the topic, in a process of its own too."""

    async def run() -> list[float]:
        lat: list[float] = []
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                    auto_offset_reset="latest")
        await consumer.start()
        try:
            while not consumer.assignment():
                await asyncio.sleep(0.05)
            for tp in consumer.assignment():
                await consumer.position(tp)
            with ready.get_lock():
                ready.value += 1
            while len(lat) < EVENTS:
                for msgs in (await consumer.getmany(timeout_ms=200)).values():
                    for m in msgs:
                        sent = int(orjson.loads(m.value)["message"].split()[1])
                        lat.append((time.time_ns() - sent) / 1e6)
        finally:
            await consumer.stop()
        return lat

    out.put(asyncio.run(run()))


def tail_latency(stack: Stack, base: str, topic: str,
                 tokens: list[str]) -> tuple[list[float], list[float]]:
    """TAILS tails spread over TAIL_PROCS client processes (one event loop cannot read
    1,000 streams without becoming the bottleneck it would then measure)."""
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Value("i", 0)
    tails_out, raw_out = ctx.Queue(), ctx.Queue()
    marker = uuid.uuid4().hex
    owners = [tokens[i % len(tokens)] for i in range(TAILS)]
    shares = [owners[k::TAIL_PROCS] for k in range(TAIL_PROCS)]
    procs = [ctx.Process(target=_tail_worker, args=(base, marker, share, ready, tails_out))
             for share in shares]
    procs.append(ctx.Process(target=_raw_worker, args=(stack.settings.kafka_bootstrap,
                                                       topic, ready, raw_out)))
    for proc in procs:
        proc.start()
    try:
        deadline = time.monotonic() + 300
        while ready.value < TAILS + 1:
            if time.monotonic() > deadline or any(p.exitcode for p in procs):
                raise RuntimeError(f"only {ready.value} of {TAILS + 1} tails went live")
            time.sleep(0.2)
        producer = Producer({"bootstrap.servers": stack.settings.kafka_bootstrap,
                             "linger.ms": 5, "acks": "all"})
        ts = now_ts()
        for i in range(EVENTS):
            r = record(i, marker, ts)
            msg = f"{marker} {time.time_ns()} {i}"
            producer.produce(topic, key=r.key, value=encode(Record(
                **{**r.to_dict(), "message": msg, "tags": (), "id": uuid.uuid4().hex})))
            producer.poll(0)
            time.sleep(1 / RATE)
        producer.flush(30)
        api_lat = [x for _ in shares for x in tails_out.get(timeout=900)]
        raw_lat: list[float] = raw_out.get(timeout=300)
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.terminate()
    return api_lat, raw_lat


def main() -> None:
    stack = Stack(local_cluster())
    print(f"cluster home {stack.settings.home}: starting or reusing 3 brokers, 3 ES nodes",
          flush=True)
    stack.up(quiet=True)
    es = Elasticsearch(stack.settings.es_url.split(","), request_timeout=120)
    admin = AdminClient({"bootstrap.servers": stack.settings.kafka_bootstrap})
    logdir = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    rates: dict[int, list[float]] = {1: [], 2: [], 3: []}
    for _ in range(ROUNDS):
        for size in (1, 2, 3):
            rates[size].append(group_rate(stack, es, admin, size, logdir))
            print(f"  {size} forwarder(s): {rates[size][-1]:,.0f} records/s", flush=True)

    topic = f"lpbench-cltail-{uuid.uuid4().hex[:8]}"
    create_topic(admin, topic, 3)
    tokens = [secrets.token_urlsafe(16) for _ in range(TOKENS)]
    tokens_file = write_tokens(logdir / "tokens.yaml", tokens)
    apis = [start_api(stack, topic, "lpbench-cltail", tokens_file) for _ in range(2)]
    proxy_port = free_port()
    # The proxy in a process of its own: it must not share the clients' event loop.
    proxy = subprocess.Popen([sys.executable, "-c", "import sys; from bench.cluster import "
                              "proxy_main; proxy_main(int(sys.argv[1]), "
                              "[int(p) for p in sys.argv[2:]])", str(proxy_port),
                              *(str(port) for _, port in apis)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not port_open(proxy_port):
            if time.monotonic() > deadline or proxy.poll() is not None:
                raise RuntimeError("the round-robin proxy did not start")
            time.sleep(0.2)
        api_lat, raw_lat = tail_latency(stack, f"http://127.0.0.1:{proxy_port}", topic, tokens)
    finally:
        procs = [proxy, *(proc for proc, _ in apis)]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
        delete_topics(admin, [topic])

    best = {k: max(v) for k, v in rates.items() if v}
    print(f"\n{'measure':52} {'value':>12} {'peer':>12}   peer")
    for size in best:  # none with BENCH_CLUSTER_ROUNDS=0 (the tails only)
        print(f"{f'forwarder group, {size} member(s), records/s':52} {best[size]:12,.0f} "
              f"{best[1]:12,.0f}   1 member ({best[size] / best[1]:.2f}x)")
    print(f"{f'produce -> SSE p50 ms ({TAILS} tails, 2 replicas)':52} "
          f"{pct(api_lat, 0.5):12.1f} {pct(raw_lat, 0.5):12.1f}   raw aiokafka consumer")
    print(f"{f'produce -> SSE p99 ms ({TAILS} tails, 2 replicas)':52} "
          f"{pct(api_lat, 0.99):12.1f} {pct(raw_lat, 0.99):12.1f}   raw aiokafka consumer")
    print(f"  ({N:,} records per run, best of {ROUNDS}; {len(api_lat):,} SSE events, "
          f"{EVENTS} sent at {RATE:g}/s, {TAIL_PROCS} client processes, {TOKENS} tokens; "
          f"{PARTITIONS} partitions, RF 3, min ISR 2, one replica per index; forwarder logs "
          f"in {logdir})")
