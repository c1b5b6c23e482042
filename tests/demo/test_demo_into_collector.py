"""The demo's output is what the collector reads: run the real collector on a demo
folder against the real Kafka and check what arrives (the `make up` path)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer

from demo.generator import DemoOptions, Generator
from logpipe.timefmt import parse_ns

pytestmark = pytest.mark.integration

DEADLINE_S = 90.0


@pytest.fixture
def demo(tmp_path: Path) -> Generator:
    # No rotation: a collector started afterwards reads live files only, so every
    # statement stays within reach.
    gen = Generator(DemoOptions(out=tmp_path / "node", rate=300.0, duration=5.0,
                                realtime=False, rotate_bytes=0, seed=11,
                                start_ns=parse_ns("2026-11-26T10:00:00Z")))
    gen.run()
    return gen


@pytest.fixture
def collector(demo: Generator, kafka_bootstrap: str, topic: str, tmp_path: Path
              ) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ,
           "LOGPIPE_KAFKA_BOOTSTRAP": kafka_bootstrap, "LOGPIPE_KAFKA_TOPIC": topic,
           "LOGPIPE_DOCKER_ROOT": str(demo.out / "docker" / "containers"),
           "LOGPIPE_CRI_ROOT": str(demo.out / "pods"),
           "LOGPIPE_HOST_ROOT": str(demo.out / "log"),
           "LOGPIPE_STATE_DIR": str(tmp_path / "state"), "LOGPIPE_METRICS_PORT": "0",
           "LOGPIPE_NODE_NAME": "demo-test"}
    log = (tmp_path / "collector.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "collector"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if proc.returncode not in (0, -15):
            print((tmp_path / "collector.log").read_text()[-4000:])


def test_collector_ships_every_app_namespace_and_long_line(
        demo: Generator, collector: subprocess.Popen[bytes], kafka_bootstrap: str,
        topic: str) -> None:
    expected_apps = {s.app for s in demo.fleet}
    expected_ns = {s.namespace for s in demo.fleet if s.namespace} | {"default", "host"}
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": f"{topic}-check",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            value = msg.value() if msg is not None and not msg.error() else None
            if value is not None:
                records.append(orjson.loads(value))
            long_lines = sum(len(r["message"]) > 16 * 1024 for r in records)
            if (long_lines >= demo.stats.long_lines
                    and {r["app"] for r in records} >= expected_apps
                    and {r["namespace"] for r in records} >= expected_ns):
                break
            assert collector.poll() is None, "the collector exited"
    finally:
        consumer.close()
    assert {r["app"] for r in records} >= expected_apps
    assert {r["namespace"] for r in records} >= expected_ns
    assert {r["source"] for r in records} >= {"docker", "cri", "file"}
    long_records = [r for r in records if len(r["message"]) > 16 * 1024]
    assert len(long_records) == demo.stats.long_lines >= 1
    for r in long_records:  # partial pieces joined back into the one JSON line
        assert orjson.loads(r["message"])["msg"] == "request body too large, logged whole"
    # Stack traces written one entry per line come out joined.
    assert any(r["message"].count("\n\tat ") >= 3 for r in records)
    assert any("Traceback (most recent call last):\n" in r["message"] for r in records)
    assert {r["level"] for r in records} >= {"info", "warn", "error"}
