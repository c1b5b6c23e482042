"""copytruncate at the worst moment: lines written after the collector's last read and
before logrotate truncated the file are only in the copy. The collector is frozen
(SIGSTOP) so the race is certain, not likely: with a copy they are read from it, with
the same ids; without one, the loss is counted and put in the ledger as a gap."""

from __future__ import annotations

import shutil
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer

from tests.collector.helpers import (
    TopicReader,
    append,
    assert_same_id_per_line,
    messages,
)
from tests.collector.test_crash import start

pytestmark = pytest.mark.integration


def lines(tag: str, n: int = 200) -> list[str]:
    return [f"{tag} line {i}" for i in range(n)]


def plain(texts: list[str]) -> bytes:
    return "".join(t + "\n" for t in texts).encode()


@pytest.mark.parametrize("copy", [True, False], ids=["with-copy", "no-copy"])
def test_bytes_written_just_before_the_truncation(tmp_path: Path, kafka_bootstrap: str,
                                                  topic: str, ledger_topic: str,
                                                  copy: bool) -> None:
    (tmp_path / "log").mkdir()
    (tmp_path / "docker").mkdir()
    path = tmp_path / "log" / "app.log"
    first, racing, after = lines("first"), lines("racing"), lines("after", 100)
    append(path, plain(first))
    reader = TopicReader(kafka_bootstrap, topic)
    ledger = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": uuid.uuid4().hex,
                       "auto.offset.reset": "earliest"})
    ledger.subscribe([ledger_topic])
    proc = start(tmp_path, kafka_bootstrap, topic, LOGPIPE_LEDGER_TOPIC=ledger_topic)
    try:
        reader.until(lambda rs: set(first) <= messages(rs))
        proc.send_signal(signal.SIGSTOP)  # the collector cannot read what comes now
        try:
            append(path, plain(racing))
            if copy:
                shutil.copy(path, f"{path}.1")  # logrotate copytruncate: copy ...
            with open(path, "r+b") as fh:  # ... then truncate
                fh.truncate(0)
            append(path, plain(after))
        finally:
            proc.send_signal(signal.SIGCONT)
        want = set(first) | set(after) | (set(racing) if copy else set())
        got = reader.until(lambda rs: want <= messages(rs), timeout=60)
        gaps = ledger_gaps(ledger, until=lambda g: bool(g) or copy, timeout=10 if copy else 60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.close()
        ledger.close()
    assert_same_id_per_line(got)
    assert messages(got) == want  # with a copy nothing is lost; without, only those
    if copy:
        assert gaps == []
    else:
        assert [(g["cause"], g["path"], g["offset"]) for g in gaps] == [
            ("truncated", str(path), len(plain(first)))]


def ledger_gaps(consumer: Consumer, until: Callable[[list[dict[str, Any]]], bool],
                timeout: float) -> list[dict[str, Any]]:
    """Gap entries of the ledger topic, read until ``until`` holds or ``timeout``."""
    gaps: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in consumer.consume(100, 0.5):
            if msg.error() is None:
                doc = orjson.loads(msg.value() or b"{}")
                if doc.get("kind") == "gap":
                    gaps.append(doc)
        if gaps and until(gaps):
            break
    return gaps
