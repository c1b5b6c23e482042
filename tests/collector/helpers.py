"""Helpers for the collector's integration tests: a collector in a thread or a
process, file writers in the three formats, and a topic reader."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition

from collector.agent import Agent
from collector.settings import CollectorSettings
from logpipe.record import Record, decode

TS = "2026-11-26T07:00:00.000000000Z"


def settings(root: Path, bootstrap: str, topic: str, **overrides: Any) -> CollectorSettings:
    values: dict[str, Any] = {
        "docker_root": str(root / "docker"), "cri_root": str(root / "pods"),
        "host_root": str(root / "log"), "state_dir": str(root / "state"),
        "kafka_bootstrap": bootstrap, "kafka_topic": topic, "node_name": "test-node",
        "metrics_port": 0, "scan_interval_s": 1.0, "rotate_check_s": 0.2,
        "multiline_flush_ms": 50, "linger_ms": 5, "ledger_interval_s": 0.2,
        # "auto" would watch a real API server when the tests run inside a pod.
        "pod_metadata": "false"}
    values.update(overrides)
    for key in ("docker_root", "cri_root", "host_root"):
        os.makedirs(values[key], exist_ok=True)
    return CollectorSettings(**values)


@contextmanager
def running(s: CollectorSettings) -> Iterator[Agent]:
    agent = Agent(s)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            agent.run()
        except BaseException as exc:  # surfaced in the test, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="collector", daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        agent.stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "collector did not stop"
    assert not errors, errors


def docker_container(root: Path, name: str, labels: dict[str, str] | None = None) -> Path:
    cid = uuid.uuid5(uuid.NAMESPACE_DNS, name).hex * 2
    folder = root / "docker" / cid
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.v2.json").write_bytes(orjson.dumps(
        {"ID": cid, "Name": f"/{name}", "Config": {"Image": f"{name}:1", "Labels": labels or {}}}))
    return folder / f"{cid}-json.log"


def docker_lines(texts: list[str], stream: str = "stdout") -> bytes:
    return b"".join(orjson.dumps({"log": t + "\n", "stream": stream, "time": TS}) + b"\n"
                    for t in texts)


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


class TopicReader:
    """Reads a topic from the beginning, accumulating decoded records."""

    def __init__(self, bootstrap: str, topic: str, partitions: int = 3) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                                  "enable.auto.commit": False})
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        self.records: list[Record] = []

    def until(self, done: Callable[[list[Record]], bool], timeout: float = 60.0) -> list[Record]:
        deadline = time.monotonic() + timeout
        while not done(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out with {len(self.records)} records")
            for msg in self.consumer.consume(num_messages=10000, timeout=0.5):
                value = msg.value()
                if msg.error() is None and value is not None:
                    self.records.append(decode(value))
        return self.records

    def close(self) -> None:
        self.consumer.close()


def messages(records: list[Record]) -> set[str]:
    return {r.message for r in records}


def wait_for(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def assert_same_id_per_line(records: list[Record]) -> None:
    """Any line delivered twice carries the same id (replays overwrite, not duplicate)."""
    ids: dict[str, str] = {}
    for r in records:
        assert ids.setdefault(r.message, r.id) == r.id, f"{r.message!r} has two ids"
