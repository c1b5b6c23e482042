"""End to end: a line written to a container log -> visible in a live tail (SSE).

    python -m bench e2e          (part of make bench)

Runs the real collector and the real Log API against the local Kafka, opens one live
tail, writes Docker json-file lines at a steady rate and times each line from the
write to its `entry` event. The peer in the same run is a raw Kafka consumer on the
same topic: write -> record readable in Kafka, so the table shows what the API adds.
Target (DESIGN.md): p99 <= 1 s. Environment: BENCH_E2E_RATE (lines/s, default 200),
BENCH_E2E_SECONDS (default 15), LOGPIPE_KAFKA_BOOTSTRAP, LOGPIPE_ES_URL.
"""

from __future__ import annotations

import os
import signal
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
from httpx_sse import connect_sse

from bench.collector_peers import CollectorProc, drop_topic, free_port, new_topic, wait


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class ApiProc:
    def __init__(self, work: Path, bootstrap: str, es_url: str, topic: str) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "LOGPIPE_CONFIG"}
        env.update({"LOGPIPE_KAFKA_BOOTSTRAP": bootstrap, "LOGPIPE_KAFKA_TOPIC": topic,
                    "LOGPIPE_ES_URL": es_url, "LOGPIPE_INDEX_PREFIX": f"bench-e2e-{topic}",
                    "LOGPIPE_ANONYMOUS_ADMIN": "true", "LOGPIPE_PORT": str(self.port),
                    "LOGPIPE_EXPORT_DIR": str(work / "exports")})
        self.err = open(work / "api.err", "ab")  # noqa: SIM115 - closed in stop()
        logpipe = str(Path(sys.executable).parent / "logpipe")
        self.proc = subprocess.Popen([sys.executable, logpipe, "api", "run"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=self.err)
        wait(self.ready, 60, "api ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()


def _tail(url: str, marker: str, seen: dict[str, float], stop: threading.Event) -> None:
    try:
        with httpx.Client(timeout=None) as client, connect_sse(
            client, "GET", f"{url}/api/v1/tail", params={"backfill": 0, "q": marker}
        ) as source:
            for event in source.iter_sse():
                if event.event == "entry":
                    message = orjson.loads(event.data).get("message", "")
                    seen.setdefault(message.split()[-1], time.monotonic())
                if stop.is_set():
                    return
    except httpx.HTTPError:
        if not stop.is_set():  # the API going away at the end is expected
            raise


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
    rate = float(os.environ.get("BENCH_E2E_RATE", "200"))
    seconds = float(os.environ.get("BENCH_E2E_SECONDS", "15"))
    topic = new_topic(bootstrap, f"bench-e2e-{uuid.uuid4().hex[:8]}")
    marker = f"e2e{uuid.uuid4().hex[:8]}"
    written: dict[str, float] = {}
    in_tail: dict[str, float] = {}
    in_kafka: dict[str, float] = {}
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        work = Path(tmp)
        cid = "e" * 64
        (work / "docker" / cid).mkdir(parents=True)
        log = work / "docker" / cid / f"{cid}-json.log"
        log.touch()
        collector = CollectorProc(work / "collector", work / "docker", bootstrap, topic)
        api = ApiProc(work, bootstrap, es_url, topic)
        threads = [threading.Thread(target=_tail, args=(api.url, marker, in_tail, stop),
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
            wait(lambda: len(in_tail) >= len(written) and len(in_kafka) >= len(written), 60,
                 "every line in the tail and in Kafka")
        finally:
            stop.set()
            api.stop()
            collector.stop()
            drop_topic(bootstrap, topic)
    print(f"{len(written)} lines at {rate:.0f}/s over {seconds:.0f} s, one live tail\n")
    print(f"{'path':44} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, seen in (("write -> record in Kafka (raw consumer, peer)", in_kafka),
                       ("write -> entry event in the live tail", in_tail)):
        lat = [(seen[k] - written[k]) * 1000 for k in written]
        print(f"{name:44} {_percentile(lat, 0.5):8.0f} {_percentile(lat, 0.99):8.0f} "
              f"{max(lat):8.0f}")


if __name__ == "__main__":
    main()
