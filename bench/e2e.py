"""End to end: a line written to a container log -> visible in live tails (SSE).

    python -m bench e2e          (part of make bench)

Runs the real collector, forwarder and Log API against the local Kafka and
Elasticsearch, opens N concurrent live tails (default 100), writes Docker json-file
lines at a steady rate and times each line from the write to its `entry` event in
every tail. The peer in the same run is a raw Kafka consumer on the same topic
(write -> record readable in Kafka), so the table shows what the API adds.
Target (DESIGN.md): p99 <= 1 s. Environment: BENCH_E2E_CLIENTS (default 100),
BENCH_E2E_RATE (lines/s, default 20), BENCH_E2E_SECONDS (default 20),
LOGPIPE_KAFKA_BOOTSTRAP, LOGPIPE_ES_URL.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson
from confluent_kafka import Consumer
from httpx_sse import aconnect_sse

from bench.collector_peers import (
    CollectorProc,
    drop_topic,
    free_port,
    new_topic,
    terminate,
    wait,
)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class ServiceProc:
    """`logpipe <role>` on the bench's topic and index prefix, ready on its /readyz."""

    def __init__(self, work: Path, role: list[str], port: int, env: dict[str, str]) -> None:
        self.port = port
        environ = {k: v for k, v in os.environ.items() if k != "LOGPIPE_CONFIG"}
        environ.update(env)
        self.err = open(work / f"{role[0]}.err", "ab")  # noqa: SIM115 - closed in stop()
        logpipe = str(Path(sys.executable).parent / "logpipe")
        self.proc = subprocess.Popen([sys.executable, logpipe, *role],
                                     env=environ, stdout=subprocess.DEVNULL, stderr=self.err)
        wait(self.ready, 90, f"{role[0]} ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        terminate(self.proc)
        self.err.close()


async def _one_tail(client: httpx.AsyncClient, url: str, marker: str,
                    seen: dict[str, float], stop: threading.Event) -> None:
    try:
        async with aconnect_sse(client, "GET", f"{url}/api/v1/tail",
                                params={"backfill": 0, "q": marker}) as source:
            async for event in source.aiter_sse():
                if event.event == "entry":
                    message = orjson.loads(event.data).get("message", "")
                    seen.setdefault(message.split()[-1], time.monotonic())
                if stop.is_set():
                    return
    except httpx.HTTPError:
        if not stop.is_set():  # the API going away at the end is expected
            raise


def _tails(url: str, marker: str, seen: list[dict[str, float]], stop: threading.Event) -> None:
    """All tail clients on one event loop in this thread, one connection each."""

    async def run() -> None:
        limits = httpx.Limits(max_connections=len(seen) + 1)
        async with httpx.AsyncClient(timeout=None, limits=limits) as client:
            await asyncio.gather(*(_one_tail(client, url, marker, s, stop) for s in seen))

    asyncio.run(run())


def _kafka(bootstrap: str, topic: str, seen: dict[str, float], stop: threading.Event) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    try:
        while not stop.is_set():
            for msg in consumer.consume(500, 0.05):
                value = msg.value()
                if msg.error() is None and value is not None:
                    seen.setdefault(orjson.loads(value)["message"].split()[-1], time.monotonic())
    finally:
        consumer.close()


def main() -> None:
    bootstrap = os.environ.get("LOGPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    es_url = os.environ.get("LOGPIPE_ES_URL", "http://127.0.0.1:9200")
    clients = int(os.environ.get("BENCH_E2E_CLIENTS", "100"))
    rate = float(os.environ.get("BENCH_E2E_RATE", "20"))
    seconds = float(os.environ.get("BENCH_E2E_SECONDS", "20"))
    topic = new_topic(bootstrap, f"bench-e2e-{uuid.uuid4().hex[:8]}")
    marker = f"e2e{uuid.uuid4().hex[:8]}"
    written: dict[str, float] = {}
    in_tails: list[dict[str, float]] = [{} for _ in range(clients)]
    in_kafka: dict[str, float] = {}
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        work = Path(tmp)
        cid = "e" * 64
        (work / "docker" / cid).mkdir(parents=True)
        log = work / "docker" / cid / f"{cid}-json.log"
        log.touch()
        collector = CollectorProc(work / "collector", work / "docker", bootstrap, topic)
        common = {"LOGPIPE_KAFKA_BOOTSTRAP": bootstrap, "LOGPIPE_KAFKA_TOPIC": topic,
                  "LOGPIPE_ES_URL": es_url, "LOGPIPE_INDEX_PREFIX": f"bench-e2e-{topic}"}
        fport = free_port()
        forwarder = ServiceProc(work, ["forwarder"], fport, {
            **common, "LOGPIPE_METRICS_HOST": "127.0.0.1", "LOGPIPE_METRICS_PORT": str(fport),
            "LOGPIPE_CONSUMER_GROUP": topic})
        port = free_port()
        api = ServiceProc(work, ["api", "run"], port, {
            **common, "LOGPIPE_ANONYMOUS_ADMIN": "true", "LOGPIPE_PORT": str(port),
            "LOGPIPE_TAIL_MAX_PER_TOKEN": str(clients + 10)})
        threads = [threading.Thread(target=_tails, args=(api.url, marker, in_tails, stop),
                                    daemon=True),
                   threading.Thread(target=_kafka, args=(bootstrap, topic, in_kafka, stop),
                                    daemon=True)]
        try:
            for t in threads:
                t.start()
            time.sleep(2.0)  # both readers attached before the first line
            with log.open("ab", buffering=0) as f:
                n, t0 = 0, time.monotonic()
                while time.monotonic() - t0 < seconds:
                    key = f"{n:08d}"
                    now = time.time_ns()
                    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9))
                    f.write(orjson.dumps({"log": f"INFO e2e {marker} {key}\n", "stream": "stdout",
                                          "time": f"{stamp}.{now % 10**9:09d}Z"}) + b"\n")
                    written[key] = time.monotonic()
                    n += 1
                    time.sleep(max(0.0, t0 + n / rate - time.monotonic()))
            wait(lambda: len(in_kafka) >= len(written)
                 and all(len(t) >= len(written) for t in in_tails), 120,
                 "every line in every tail and in Kafka")
        finally:
            stop.set()
            api.stop()
            forwarder.stop()
            collector.stop()
            drop_topic(bootstrap, topic)
    print(f"{len(written)} lines at {rate:.0f}/s over {seconds:.0f} s; {clients} live tails; "
          "collector, forwarder and API running\n")
    print(f"{'path':52} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, lat in (
        ("write -> record in Kafka (raw consumer, peer)",
         [(in_kafka[k] - written[k]) * 1000 for k in written]),
        (f"write -> entry event, all {clients} tails",
         [(t[k] - written[k]) * 1000 for t in in_tails for k in written]),
    ):
        print(f"{name:44} {_percentile(lat, 0.5):8.0f} {_percentile(lat, 0.99):8.0f} "
              f"{max(lat):8.0f}")


if __name__ == "__main__":
    main()
