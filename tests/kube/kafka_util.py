"""Read back what a role produced to a test topic (the real Kafka)."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer

from logpipe.record import Record, decode


def read_records(bootstrap: str, topic: str, expect: int, timeout: float = 30.0,
                 settle: float = 1.0) -> list[tuple[bytes, Record]]:
    """(key, record) pairs from the start of ``topic``: at least ``expect`` of them,
    then whatever else arrives within ``settle`` seconds (to catch extras)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    out: list[tuple[bytes, Record]] = []
    deadline = time.monotonic() + timeout
    quiet_until: float | None = None
    try:
        while time.monotonic() < deadline:
            if len(out) >= expect:
                quiet_until = quiet_until or time.monotonic() + settle
                if time.monotonic() >= quiet_until:
                    break
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            value = msg.value()
            if value is not None:
                out.append((msg.key() or b"", decode(value)))
    finally:
        consumer.close()
    return out
