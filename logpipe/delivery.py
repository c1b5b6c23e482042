"""Produce records to Kafka and move a saved position only past acknowledged ones.

Shared by ``logpipe events`` (position = resourceVersion) and ``logpipe journald``
(position = journal cursor). Acknowledgements arrive out of order across
partitions, so ``AckTracker`` hands out the position of the longest acknowledged
prefix: everything before a saved position is in Kafka.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from logpipe.errors import TransientError
from logpipe.metrics import METRICS
from logpipe.record import Record, encode
from logpipe.settings import KafkaOptions

log = logging.getLogger(__name__)

class DeliveryFailed(TransientError):
    """Kafka did not take a record: restart from the last saved position."""


class AckTracker:
    """Positions in production order; ``committable()`` is the newest position whose
    predecessors are all acknowledged. Thread-safe (callbacks may run elsewhere)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._pending: deque[tuple[int, str | None]] = deque()
        self._acked: set[int] = set()
        self._committable: str | None = None
        self.error: str | None = None

    def add(self, position: str | None) -> int:
        """A record (or a marker) at ``position``; None = no position of its own."""
        with self._lock:
            self._seq += 1
            self._pending.append((self._seq, position))
            return self._seq

    def mark(self, position: str) -> None:
        """A position reached without a record (list end, bookmark, a skipped entry)."""
        self.ack(self.add(position))

    def ack(self, seq: int) -> None:
        with self._lock:
            self._acked.add(seq)
            while self._pending and self._pending[0][0] in self._acked:
                done, position = self._pending.popleft()
                self._acked.discard(done)
                if position is not None:
                    self._committable = position

    def fail(self, seq: int, reason: str) -> None:
        with self._lock:
            self.error = reason

    def committable(self) -> str | None:
        with self._lock:
            return self._committable

    def in_flight(self) -> int:
        """Entries not yet acknowledged."""
        with self._lock:
            return len(self._pending) - len(self._acked)


class StateFile:
    """One small text value (a resourceVersion or a cursor), replaced atomically so a
    crash leaves the old value or the new one, never half of either."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> str | None:
        try:
            value = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        return value or None

    def save(self, value: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(value + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class RecordProducer:
    """confluent-kafka producer with acks=all and idempotence; every record's ack
    feeds an AckTracker."""

    def __init__(self, bootstrap: str, topic: str, role: str,
                 options: KafkaOptions | None = None) -> None:
        conf: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 20,
            "compression.type": "lz4",
            "client.id": f"logpipe-{role}",
        }
        conf.update(options or {})
        self.topic = topic
        self.role = role
        self.tracker = AckTracker()
        self._producer = Producer(conf)

    def produce(self, record: Record, position: str | None, key: bytes | None = None) -> None:
        seq = self.tracker.add(position)

        def done(err: KafkaError | None, _msg: Message) -> None:
            if err is None:
                METRICS.produced.labels(self.role).inc()
                self.tracker.ack(seq)
            else:
                METRICS.failed.labels(self.role).inc()
                log.error("Kafka refused a %s record: %s", self.role, err)
                self.tracker.fail(seq, str(err))

        value = encode(record)
        while True:
            try:
                self._producer.produce(self.topic, value, key or record.key, on_delivery=done)
                return
            except BufferError:
                # Local queue full: back-pressure, wait for acks instead of dropping.
                self._producer.poll(0.5)

    def poll(self, timeout: float = 0.0) -> None:
        self._producer.poll(timeout)
        if self.tracker.error:
            raise DeliveryFailed(f"Kafka did not take a record: {self.tracker.error}")

    def flush(self, timeout: float = 30.0) -> bool:
        """True when nothing is left in flight."""
        return int(self._producer.flush(timeout)) == 0
