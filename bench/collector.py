"""Collector benchmark: Docker json-file lines (~200 B) into Kafka, acknowledged, against
rsyslog (imfile -> omkafka) on the same files and a raw confluent-kafka producer
pushing the same bytes (the ceiling); then memory with 1,000 files and
write -> Kafka latency.

    python -m bench collector          (or: make bench)

Environment: BENCH_COLLECTOR_LINES (default 1000000: long enough that start-up and
the 20 ms polling do not decide the comparison), BENCH_COLLECTOR_FILES (default 50),
BENCH_COLLECTOR_RATE (latency phase, lines/s, default 2000), BENCH_COLLECTOR_SECONDS
(latency phase length, default 10), LOGPIPE_KAFKA_BOOTSTRAP (default 127.0.0.1:9092).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Consumer

from bench.collector_peers import (
    TS,
    CollectorProc,
    RsyslogProc,
    drop_topic,
    make_containers,
    new_topic,
    raw_producer,
    rsyslog_available,
    topic_count,
    wait,
)

Row = tuple[str, int, float, float, float]  # name, lines, seconds, cpu s, peak RSS MB


def _consumer(bootstrap: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})


def run_collector(tmp: Path, bootstrap: str, staging: Path, lines: int) -> tuple[Row, Path]:
    root = tmp / "docker"
    root.mkdir()
    topic = new_topic(bootstrap, f"bench-collector-{uuid.uuid4().hex[:8]}")
    consumer = _consumer(bootstrap)
    c = CollectorProc(tmp / "collector", root, bootstrap, topic)
    try:
        cpu0 = c.stats()[0]
        t0 = time.monotonic()
        for d in sorted(staging.iterdir()):  # the files appear at once, already full
            os.rename(d, root / d.name)
        wait(lambda: topic_count(consumer, topic) >= lines, 600, "collector acknowledged")
        seconds = time.monotonic() - t0
        cpu1, _, hwm = c.stats()
    finally:
        c.stop()
        consumer.close()
        drop_topic(bootstrap, topic)
    return ("logpipe collector", lines, seconds, cpu1 - cpu0, hwm), root


def run_rsyslog(tmp: Path, bootstrap: str, root: Path, lines: int) -> Row | None:
    if not rsyslog_available():
        return None
    topic = new_topic(bootstrap, f"bench-rsyslog-{uuid.uuid4().hex[:8]}")
    consumer = _consumer(bootstrap)
    t0 = time.monotonic()
    r = RsyslogProc(tmp / "rsyslog", root, bootstrap, topic)
    try:
        wait(lambda: topic_count(consumer, topic) >= lines, 600, "rsyslog delivered")
        seconds = time.monotonic() - t0
        cpu, _, hwm = r.stats()
    finally:
        r.stop()
        consumer.close()
        drop_topic(bootstrap, topic)
    return ("rsyslog imfile->omkafka", lines, seconds, cpu, hwm)


def run_raw(bootstrap: str, root: Path) -> Row:
    topic = new_topic(bootstrap, f"bench-raw-{uuid.uuid4().hex[:8]}")
    try:
        n, seconds, cpu = raw_producer(bootstrap, topic, root)
    finally:
        drop_topic(bootstrap, topic)
    return ("raw confluent-kafka (ceiling)", n, seconds, cpu, float("nan"))


def many_files_and_latency(tmp: Path, bootstrap: str, rate: int,
                           seconds: float) -> tuple[float, float, float, float, int]:
    """1,000 files tailed: (RSS MB, peak RSS MB, p50 ms, p99 ms, samples)."""
    root = tmp / "many"
    make_containers(root, 1000, 20_000)
    topic = new_topic(bootstrap, f"bench-latency-{uuid.uuid4().hex[:8]}", log_append_time=True)
    consumer = _consumer(bootstrap)
    c = CollectorProc(tmp / "collector-many", root, bootstrap, topic)
    paths = sorted(root.glob("*/*-json.log"))
    latencies: list[float] = []
    try:
        wait(lambda: topic_count(consumer, topic) >= 20_000, 300, "initial lines")
        consumer.subscribe([topic])
        stop = threading.Event()

        def writer() -> None:
            i = 0
            next_at = time.monotonic()
            while not stop.is_set():
                path = paths[i % len(paths)]
                with open(path, "ab") as fh:
                    fh.write(orjson.dumps({"log": f"latency probe t={time.time_ns()} i={i}\n",
                                           "stream": "stdout", "time": TS}) + b"\n")
                i += 1
                next_at += 1 / rate
                time.sleep(max(0.0, next_at - time.monotonic()))

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        end = time.monotonic() + seconds
        while time.monotonic() < end + 2:
            if time.monotonic() >= end:
                stop.set()
            for msg in consumer.consume(1000, 0.2):
                value = msg.value()
                if msg.error() is not None or value is None or b"latency probe" not in value:
                    continue
                text = orjson.loads(value)["message"]
                written_ms = int(text.split("t=", 1)[1].split(" ", 1)[0]) / 1e6
                latencies.append(msg.timestamp()[1] - written_ms)  # broker append time
        thread.join()
        _, rss, hwm = c.stats()
    finally:
        c.stop()
        consumer.close()
        drop_topic(bootstrap, topic)
    latencies.sort()
    if not latencies:
        raise RuntimeError("no latency probes came back")
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return rss, hwm, p50, p99, len(latencies)


def main() -> None:
    bootstrap = os.environ.get("LOGPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    lines = int(os.environ.get("BENCH_COLLECTOR_LINES", "1000000"))
    files = int(os.environ.get("BENCH_COLLECTOR_FILES", "50"))
    rate = int(os.environ.get("BENCH_COLLECTOR_RATE", "2000"))
    seconds = float(os.environ.get("BENCH_COLLECTOR_SECONDS", "10"))
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as name:
        tmp = Path(name)
        nbytes = make_containers(tmp / "staging", files, lines)
        lines = lines // files * files
        print(f"{lines:,} Docker json-file lines in {files} files, {nbytes / lines:.0f} B/line, "
              f"into Kafka at {bootstrap} (acks=all, idempotent, lz4)", flush=True)
        rows: list[Row] = []
        ours, root = run_collector(tmp, bootstrap, tmp / "staging", lines)
        rows.append(ours)
        peer = run_rsyslog(tmp, bootstrap, root, lines)
        if peer is not None:
            rows.append(peer)
        rows.append(run_raw(bootstrap, root))
        print(f"\n| {'run':<30} | lines/s | MB/s | CPU us/line | peak RSS MB | seconds |")
        print(f"| {'-' * 30} | ------: | ---: | ----------: | ----------: | ------: |")
        for name_, n, secs, cpu, hwm in rows:
            print(f"| {name_:<30} | {n / secs:>7,.0f} | {nbytes / secs / 1e6:>4.1f} | "
                  f"{cpu / n * 1e6:>11.1f} | {hwm:>11.0f} | {secs:>7.2f} |")
        if peer is not None:
            print(f"\ncollector / rsyslog: {peer[2] / ours[2]:.2f}x lines/s")
        else:
            print("\nrsyslog (rsyslogd + omkafka) not installed: no rsyslog comparison")
        print(f"collector / raw producer ceiling: {rows[-1][2] / ours[2]:.2f}x")
        rss, hwm, p50, p99, n = many_files_and_latency(tmp, bootstrap, rate, seconds)
        print(f"\n1,000 files tailed: RSS {rss:.0f} MB (peak {hwm:.0f} MB)")
        print(f"write -> Kafka (broker append time) at {rate} lines/s over 1,000 files: "
              f"p50 {p50:.0f} ms, p99 {p99:.0f} ms ({n} probes)")


if __name__ == "__main__":
    main()
