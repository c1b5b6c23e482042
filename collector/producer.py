"""The Kafka side: a confluent-kafka producer (acks=all, idempotent, gapless,
compressed) that turns a full queue into backpressure (the caller blocks, reading
stops, nothing is dropped). A failed delivery, or a fatal producer error, asks the
agent to rewind every file to its checkpoint and read again on a fresh producer."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Producer

from collector.files import Batch
from collector.metrics import CollectorMetrics
from collector.partitions import KeyPartitions
from collector.settings import CollectorSettings
from collector.source import Output

log = logging.getLogger(__name__)
REWIND_BACKOFF_S = 1.0  # at most one rewind a second when Kafka keeps refusing
STATS_INTERVAL_MS = 2000


class Stopping(Exception):
    """Raised out of a backpressure wait when the collector is asked to stop."""


def producer_config(s: CollectorSettings, on_error: Callable[[KafkaError], None],
                    on_stats: Callable[[str], None] | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "bootstrap.servers": s.kafka_bootstrap,
        "client.id": f"logpipe-collector-{s.node_name}",
        "acks": "all",
        "enable.idempotence": True,  # retries never duplicate or reorder within a partition
        # A batch reports only through its last record (see collector.files): a gap
        # must therefore be fatal, never silent.
        "enable.gapless.guarantee": True,
        "compression.type": s.compression,
        "linger.ms": s.linger_ms,
        "batch.size": 1_000_000,
        "queue.buffering.max.kbytes": s.queue_max_kbytes,
        "queue.buffering.max.messages": 1_000_000,
        # Retry forever: the files are the buffer, a record is never given up on.
        "message.timeout.ms": 0,
        "error_cb": on_error,
        # Broker states every few seconds even when nothing is produced: /readyz must
        # see a broker outage on a quiet node too (see KafkaOutput.on_stats).
        "statistics.interval.ms": STATS_INTERVAL_MS,
        # librdkafka's own log lines go through Python logging (structured, levelled)
        "logger": logging.getLogger("collector.kafka"),
    }
    if on_stats is not None:
        conf["stats_cb"] = on_stats
    conf.update(s.kafka_options)
    return conf


class KafkaOutput(Output):
    def __init__(self, settings: CollectorSettings, metrics: CollectorMetrics,
                 stopping: threading.Event, tick: Callable[[], None],
                 on_unblocked: Callable[[float], None] = lambda seconds: None) -> None:
        self.node = settings.node_name
        self.topic = settings.kafka_topic
        self.ledger_topic = settings.ledger_topic
        self.max_line_bytes = settings.max_line_bytes
        self.max_record_bytes = settings.max_record_bytes
        self.read_chunk_bytes = max(settings.read_chunk_bytes, settings.max_line_bytes)
        self.idle_tail_ns = int(settings.idle_tail_flush_s * 1e9)
        self.settings = settings
        self.metrics = metrics
        self.stopping = stopping
        self.tick = tick  # called while blocked, so checkpoints and health keep moving
        self.on_unblocked = on_unblocked  # told how long reading was paused
        self.produced = 0
        self.acked = [0]  # shared with TrackedFile via Batch: one add per acknowledgement
        self.needs_rewind = False
        self.last_rewind = 0.0
        self.blocked_since = 0.0
        self.last_error = ""
        self.last_error_at = 0.0
        self.fatal = False
        # Readiness: since when no broker is UP (0: one is), and when Kafka last
        # acknowledged anything (a record in flight longer than that is not moving).
        self.unreachable_since = 0.0
        self.last_ack_at = time.monotonic()
        self._acks_seen = 0
        conf = producer_config(settings, self._on_error, self.on_stats)
        self.partitions = KeyPartitions(self.topic, conf.get("partitioner", "consistent_random"))
        self.producer = Producer(conf)
        self._produce = self.producer.produce
        self._count_read = {k: (metrics.lines_read.labels(k), metrics.bytes_read.labels(k))
                            for k in ("docker", "cri", "file")}

    def _on_error(self, err: KafkaError) -> None:
        self.last_error = str(err)
        self.last_error_at = time.monotonic()
        if err.fatal():
            self.fatal = True
        log.warning("kafka: %s", err, extra={"event": "kafka_error", "fatal": err.fatal(),
                                             "code": err.code()})

    # -- Output ------------------------------------------------------------------
    def produce(self, value: bytes, key: bytes,
                on_delivery: Callable[[Any, Any], None] | None) -> None:
        try:
            self._produce(self.topic, value, key, self.partitions.of(key), on_delivery)
        except BufferError:
            self._wait_for_room(value, key, on_delivery)
        except KafkaException as exc:  # the producer is dead: this record is read again
            self._on_fatal(exc)
            return
        self.produced += 1

    def produce_ledger(self, value: bytes, key: bytes,
                       on_delivery: Callable[[Any, Any], None] | None) -> bool:
        """A completeness ledger entry (collector.ledger) to the ledger topic; False
        when the queue is full. It never waits: it runs inside the periodic tick, which
        also runs while a full queue blocks reading."""
        try:
            self._produce(self.ledger_topic, value, key, on_delivery=on_delivery)
        except BufferError:
            return False
        except KafkaException as exc:
            self._on_fatal(exc)
            return False
        return True

    def _wait_for_room(self, value: bytes, key: bytes,
                       on_delivery: Callable[[Any, Any], None] | None) -> None:
        """The queue is full: block (reading stops) until Kafka takes more."""
        self.blocked_since = time.monotonic()
        self.metrics.backpressure.set(1)
        try:
            while True:
                try:
                    self.producer.poll(0.1)
                    self.tick()
                    if self.stopping.is_set():
                        raise Stopping()
                    self._produce(self.topic, value, key, self.partitions.of(key), on_delivery)
                    return
                except BufferError:
                    continue
                except KafkaException as exc:  # dead producer: the rewind reads it again
                    self._on_fatal(exc)
                    return
        finally:
            blocked = time.monotonic() - self.blocked_since
            self.metrics.backpressure_seconds.inc(blocked)
            self.on_unblocked(blocked)
            self.metrics.backpressure.set(0)
            self.blocked_since = 0.0

    def count_read(self, kind: str, lines: int, nbytes: int) -> None:
        lc, bc = self._count_read[kind]
        lc.inc(lines)
        bc.inc(nbytes)

    def count_truncated(self) -> None:
        self.metrics.truncated.inc()

    def produce_many(self, values: list[bytes], key: bytes) -> None:
        """The C hot path's records: one tight loop, no per-record method call."""
        produce, topic, partition = self._produce, self.topic, self.partitions.of(key)
        for value in values:
            try:
                produce(topic, value, key, partition)
            except BufferError:
                self._wait_for_room(value, key, None)
                produce = self._produce
            except KafkaException as exc:  # the rest is read again after the rewind
                self._on_fatal(exc)
                return
        self.produced += len(values)

    def count_excluded(self, nbytes: int) -> None:
        self.metrics.excluded.inc(nbytes)

    # -- failures ----------------------------------------------------------------
    def on_failed(self, err: Any, msg: Any, batch: Batch) -> None:
        """A batch's delivery failed: its earlier records may be lost too, so the
        agent rewinds to the checkpoints (ids make the replay harmless)."""
        self.metrics.failed.inc()
        self.last_error = str(err)
        self.last_error_at = time.monotonic()
        self.needs_rewind = True

    def _on_fatal(self, exc: KafkaException) -> None:
        """librdkafka raised a fatal error (e.g. a record refused under the gap-less
        guarantee): the producer is unusable; the agent rewinds on a fresh one."""
        err = exc.args[0] if exc.args else None
        self.last_error = str(err if err is not None else exc)
        self.last_error_at = time.monotonic()
        self.fatal = True

    def service(self, timeout: float = 0.0) -> bool:
        """Serve delivery reports; True when the agent must rewind now (a delivery
        failed or the producer hit a fatal error), at most once per backoff."""
        try:
            self.producer.poll(timeout)
        except KafkaException as exc:
            self._on_fatal(exc)
        if not (self.fatal or self.needs_rewind):
            return False
        return time.monotonic() - self.last_rewind >= REWIND_BACKOFF_S

    def replace_producer(self) -> None:
        """Called by the agent after it marked every batch stale: drop what the old
        producer holds (its reports are ignored) and start a fresh one."""
        log.error("kafka delivery failed (%s); re-reading from the checkpoints",
                  self.last_error, extra={"event": "rewind", "error": self.last_error})
        old = self.producer
        with contextlib.suppress(KafkaException):  # a dead producer raises its error again
            old.purge(in_queue=True, in_flight=True)
            old.poll(0)
        self.fatal = self.needs_rewind = False
        self.last_rewind = time.monotonic()
        self.producer = Producer(producer_config(self.settings, self._on_error, self.on_stats))
        self._produce = self.producer.produce

    def in_flight(self) -> int:
        return len(self.producer)

    def on_stats(self, raw: str) -> None:
        """librdkafka's statistics (from poll, on the main thread): are brokers up, and
        how many partitions has the topic?"""
        try:
            stats = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        self.partitions.update(stats)
        brokers = stats.get("brokers", {})
        # Only the real brokers: the bootstrap and coordinator entries have nodeid -1.
        states = [b.get("state") for b in brokers.values() if b.get("nodeid", -1) >= 0]
        up = any(state == "UP" for state in states) if states else False
        if up:
            self.unreachable_since = 0.0
        elif not self.unreachable_since:
            self.unreachable_since = time.monotonic()

    def note_acks(self) -> None:
        """Called periodically by the agent: remember when acknowledgements last came."""
        if self.acked[0] != self._acks_seen or len(self.producer) == 0:
            self._acks_seen = self.acked[0]
            self.last_ack_at = time.monotonic()

    def unacked_age(self) -> float:
        """Seconds records have been in flight with no acknowledgement coming back."""
        return 0.0 if len(self.producer) == 0 else time.monotonic() - self.last_ack_at

    def close(self, timeout: float) -> None:
        self.producer.flush(timeout)
