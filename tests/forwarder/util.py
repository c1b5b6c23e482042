"""Helpers of the forwarder tests: records, producing, polling with a deadline, and the
forwarder as a real subprocess (``python -m forwarder``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, Producer, TopicPartition
from elasticsearch import ApiError, Elasticsearch
from prometheus_client.parser import text_string_to_metric_families

from logpipe.record import Record, encode, stable_id

ROOT = Path(__file__).resolve().parents[2]


def make_record(i: int, day: str = "2026-11-20", run: str = "r", **fields: Any) -> Record:
    base: dict[str, Any] = dict(
        id=stable_id(run, str(i)),
        ts=f"{day}T10:00:{i % 60:02d}.{i:09d}"[:30] + "Z",
        ingest_ts=f"{day}T10:00:01.000000000Z",
        node="node-1", source="docker", path=f"/var/lib/docker/containers/c{i % 7}/x.log",
        offset=i * 100, message=f"line {i} hello world", level="info", stream="stdout",
        container_id=f"c{i % 7}", container_name="web", app="web", namespace="pay",
        pod="web-1", labels={"app.kubernetes.io/name": "web", "team": "pay"},
    )
    base.update(fields)
    return Record(**base)


def produce(bootstrap: str, topic: str, values: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Produce with acks=all and wait for every delivery; returns the count."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20,
                         "enable.idempotence": True})
    errors: list[str] = []

    def report(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    n = 0
    for key, value in values:
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.1)
        n += 1
    assert producer.flush(60) == 0, "producer did not deliver everything"
    assert not errors, errors[:3]
    return n


def produce_records(bootstrap: str, topic: str, records: Iterable[Record]) -> int:
    return produce(bootstrap, topic, ((r.key, encode(r)) for r in records))


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def count_docs(es: Elasticsearch, prefix: str) -> int:
    """Documents in ``<prefix>-*`` after a refresh; -1 while a new index is still
    starting its shards (count answers 503 then), so polling simply goes on."""
    try:
        es.options(ignore_status=404).indices.refresh(index=f"{prefix}-*")
        resp = es.options(ignore_status=404).count(index=f"{prefix}-*")
    except ApiError:
        return -1
    return int(resp.body.get("count", 0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def committed(bootstrap: str, group: str, topic: str, partitions: int = 3) -> dict[int, int]:
    """The group's committed offset per partition (-1001 = none yet)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def committed_total(bootstrap: str, group: str, topic: str, partitions: int = 3) -> int:
    """Records the group has committed over all partitions (offsets start at 0)."""
    return sum(max(o, 0) for o in committed(bootstrap, group, topic, partitions).values())


def read_topic(bootstrap: str, topic: str, count: int, timeout: float = 60) -> list[Any]:
    """The first ``count`` messages of a topic (all partitions), or fail at the deadline."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{time.time_ns()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None and msg.error() is None:
                out.append(msg)
    finally:
        c.close()
    assert len(out) >= count, f"read {len(out)} of {count} messages from {topic}"
    return out


def forwarder_env(bootstrap: str, es_url: str, topic: str, prefix: str, group: str,
                  **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({
        "LOGPIPE_KAFKA_BOOTSTRAP": bootstrap, "LOGPIPE_ES_URL": es_url,
        "LOGPIPE_KAFKA_TOPIC": topic, "LOGPIPE_INDEX_PREFIX": prefix,
        "LOGPIPE_CONSUMER_GROUP": group, "LOGPIPE_METRICS_PORT": str(free_port()),
        "LOGPIPE_METRICS_HOST": "127.0.0.1", "LOGPIPE_INDEX_REFRESH_INTERVAL": "200ms",
        "LOGPIPE_BATCH_MAX_S": "0.2", "LOGPIPE_SHUTDOWN_TIMEOUT_S": "10",
        "LOGPIPE_LOG_FORMAT": "json",
        # A killed forwarder's partitions move after this; the default 45 s would make
        # the restart tests wait for the dead member instead of testing anything.
        "LOGPIPE_KAFKA_OPTIONS": '{"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}',
    })
    env.update(extra)
    return env


class ForwarderProc:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = int(env["LOGPIPE_METRICS_PORT"])
        self.killed = False  # by the test (SIGKILL): its exit code says nothing then
        with log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "forwarder"], env=env,
                                         cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def get(self, path: str) -> httpx.Response | None:
        """GET on the health port; None while the process is still starting."""
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)
        except httpx.TransportError:
            return None

    def samples(self, name: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Every sample of one metric, keyed by its sorted labels."""
        resp = self.get("/metrics")
        if resp is None:
            return {}
        return {tuple(sorted(sample.labels.items())): float(sample.value)
                for family in text_string_to_metric_families(resp.text)
                for sample in family.samples if sample.name == name}

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of /metrics (0 when absent or not up yet)."""
        resp = self.get("/metrics")
        if resp is None:
            return 0.0
        for family in text_string_to_metric_families(resp.text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    return float(sample.value)
        return 0.0

    def kill(self) -> None:
        self.killed = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        return self.proc.returncode

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


@contextmanager
def running(env: dict[str, str], log: Path) -> Iterator[ForwarderProc]:
    """A forwarder subprocess; its log is printed if the test fails inside."""
    proc = ForwarderProc(env, log)
    try:
        yield proc
    except BaseException:
        print(f"--- forwarder log {log} ---\n{proc.tail(80)}")
        proc.stop()
        raise
    code = proc.stop()
    # SIGTERM is a clean stop: anything but 0 is a crash the test would otherwise miss.
    assert proc.killed or code == 0, f"forwarder exited with {code}:\n{proc.tail(80)}"
