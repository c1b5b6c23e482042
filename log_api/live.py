"""The live hub: ONE Kafka consumer per API process, fanned out to every tail.

The consumer has no group: it assigns every partition of the topic and starts at the
end. Each record is decoded once, matched against each subscriber's server-side
filter (``ScopedQuery.matches``) and offered to its bounded queue without waiting, so
a slow client loses entries (and is told how many) but never slows the hub or the
other clients.

The hub keeps the most recent records (the hand-over window) so a new tail can join
the back-fill read from Elasticsearch to the live stream without a gap (records the
forwarder has not indexed yet) or a duplicate (deduplicated by record id), and a
reconnecting tail can resume from its Kafka position. Which records need bridging
comes from the forwarders' committed offsets (``log_api.lag``), measured every few
seconds; what the ring no longer holds becomes the tail's gap (``Handover``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_never,
    wait_exponential,
)

from log_api.errors import TooManyRequests
from log_api.formats import entry_json
from log_api.lag import ForwarderLag, LagSeconds, lag_seconds, oldest_pending, uncovered
from log_api.metrics import ApiMetrics
from log_api.query import ScopedQuery
from log_api.settings import ApiSettings
from logpipe.errors import RecordError
from logpipe.record import from_dict
from logpipe.structured import derive, norm_keys
from logpipe.timefmt import parse_ns

log = logging.getLogger(__name__)

LAG_REFRESH_S = 5.0  # how often the hub measures the forwarders' lag (metric, /readyz)


@dataclass(slots=True)
class LiveRecord:
    partition: int
    offset: int
    ts_ns: int
    doc: dict[str, Any]
    arrived: float  # monotonic time the hub read it
    # The entry's JSON, made by the first tail that sends it and reused by the others:
    # with a thousand tails on one stream, serialising it per tail was most of the work.
    data: str | None = None

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    def entry_data(self) -> str:
        if self.data is None:
            self.data = entry_json(self.doc).decode()
        return self.data


@dataclass(eq=False)
class Subscription:
    query: ScopedQuery
    queue: asyncio.Queue[LiveRecord]
    token: str
    missed: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, rec: LiveRecord) -> bool:
        try:
            self.queue.put_nowait(rec)
            return True
        except asyncio.QueueFull:
            self.missed += 1
            self.wake.set()
            return False


@dataclass(frozen=True)
class Snapshot:
    """What the hub held when a subscription began (taken atomically with it)."""

    ring: list[LiveRecord]
    positions: dict[int, int]  # partition -> last offset read (-1: none yet)
    earliest: dict[int, int]  # partition -> oldest offset still in the ring
    taken_ns: int = field(default_factory=time.time_ns)  # wall clock


@dataclass(frozen=True)
class Handover:
    """How a new tail joins its Elasticsearch back-fill to the live stream."""

    horizon: float  # ring records that reached the hub at or after this are bridged
    gap: dict[int, tuple[int, int]]  # offsets [start, end) neither indexed nor in the ring
    lag_known: bool  # False: bridged the whole ring, and the client must fetch again


# librdkafka option names (the shared kafka_options) -> aiokafka keyword arguments.
_AIOKAFKA_NAMES = {
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",
    "sasl.username": "sasl_plain_username",
    "sasl.password": "sasl_plain_password",
    "client.id": "client_id",
}


def aiokafka_options(options: Mapping[str, object]) -> dict[str, object]:
    out = {}
    for key, value in options.items():
        if key in _AIOKAFKA_NAMES:
            out[_AIOKAFKA_NAMES[key]] = value
        else:
            log.warning("kafka option %r has no aiokafka equivalent; the live hub ignores it",
                        key)
    return out


def decode_value(value: bytes, request_keys: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Kafka value -> the record as a dict, validated against the contract, with the
    structure the forwarder derives for its document (the same pure function), so live
    entries carry fields, ids and pattern as indexed ones do."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from None
    from_dict(obj)
    doc = dict(obj)
    doc.update(derive(doc["message"], request_keys).doc())
    return doc


class LiveHub:
    def __init__(self, settings: ApiSettings, metrics: ApiMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.subs: set[Subscription] = set()
        self.per_token: dict[str, int] = {}
        self.ring: deque[LiveRecord] = deque(maxlen=max(settings.handover_window, 1))
        self.positions: dict[int, int] = {}
        self.connected = asyncio.Event()
        self.error: str | None = "not started"
        self._task: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self.forwarder = ForwarderLag(settings.kafka_bootstrap, settings.kafka_topic,
                                      settings.forwarder_group, dict(settings.kafka_options))
        self.lag: LagSeconds | None = None  # last measurement; None: unknown
        self.lag_records: int | None = None
        self.since = time.monotonic()  # what the ring could hold at most
        self.request_keys = norm_keys(settings.request_id_keys.split(","))

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live-hub")
        self._lag_task = asyncio.create_task(self._watch_lag(), name="forwarder-lag")

    async def wait_connected(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout)
        return self.connected.is_set()

    async def stop(self) -> None:
        for task in (self._task, self._lag_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run(self) -> None:
        """Read Kafka for as long as the app lives; when the connection is lost, try
        again after 0.5 s, doubling up to 10 s (the pause does not shrink again)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception) | retry_if_result(lambda _: True),
            wait=wait_exponential(multiplier=0.5, max=10.0),
            stop=stop_never,
            before_sleep=self._lost,
        )
        await retrying(self._consume)

    def _lost(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        if exc is not None:
            self.error = f"kafka: {exc!r}"
            log.warning("live hub lost Kafka (%s); retrying in %.1fs", exc, state.upcoming_sleep)
        self.connected.clear()
        self.metrics.hub_connected.set(0)

    async def _consume(self) -> None:
        s = self.settings
        # Subscribed without a group: aiokafka assigns every partition of the topic
        # (and new ones) to this one consumer; "latest" starts at the end.
        consumer = AIOKafkaConsumer(s.kafka_topic, bootstrap_servers=s.kafka_bootstrap,
                                    group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="latest",
                                    **aiokafka_options(s.kafka_options))
        self._consumer = consumer
        try:
            await consumer.start()  # inside the try: a failed start is stopped too
            deadline = time.monotonic() + s.kafka_start_timeout_s
            while not consumer.assignment():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"topic {s.kafka_topic!r} has no partitions (missing?)")
                await consumer.topics()  # a metadata round trip; assignment follows it
                await asyncio.sleep(0.1)
            tps = sorted(consumer.assignment())
            for tp in tps:
                if tp.partition in self.positions:  # after a reconnect: no gap in the stream
                    consumer.seek(tp, self.positions[tp.partition] + 1)
                else:
                    self.positions[tp.partition] = await consumer.position(tp) - 1
            self.error = None
            self.connected.set()
            self.metrics.hub_connected.set(1)
            log.info("live hub reading %s partitions of %s", len(tps), s.kafka_topic)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                for tp, msgs in batches.items():
                    for msg in msgs:
                        self._dispatch(tp.partition, msg.offset, msg.value)
        finally:
            self._consumer = None
            await consumer.stop()

    # -- the forwarders' lag ------------------------------------------------------------

    async def _watch_lag(self) -> None:
        while True:
            try:
                await self.measure_lag()
            except Exception as exc:  # the metric says unknown; the hub keeps serving
                log.warning("could not measure the forwarders' lag: %r", exc)
                self.lag = self.lag_records = None
                self._set_lag_gauges()
            await asyncio.sleep(LAG_REFRESH_S)

    async def measure_lag(self) -> LagSeconds | None:
        offsets = await self.forwarder.offsets()
        if offsets is None:
            self.lag = self.lag_records = None
        else:
            snap = self.snapshot()
            self.lag = lag_seconds(snap.ring, offsets.committed, snap.earliest, snap.positions,
                                   time.monotonic(), self.since)
            self.lag_records = offsets.records
        self._set_lag_gauges()
        return self.lag

    def _set_lag_gauges(self) -> None:
        self.metrics.forwarder_lag_seconds.set(-1 if self.lag is None else self.lag.seconds)
        self.metrics.forwarder_lag_records.set(
            -1 if self.lag_records is None else self.lag_records)

    async def handover(self, snap: Snapshot) -> Handover:
        """What a tail that took ``snap`` must bridge from the ring, and its gap."""
        # A reading older than the snapshot is only more cautious: commits never go back.
        offsets = await self.forwarder.offsets()
        if offsets is None:
            return Handover(-math.inf, {}, lag_known=False)
        pending = oldest_pending(snap.ring, offsets.committed)
        # Committed is not yet searchable (index refresh): a margin before the oldest
        # pending record is bridged as well (duplicates are dropped by id).
        start = time.monotonic() if pending is None else pending
        return Handover(start - self.settings.tail_handover_margin_s,
                        uncovered(offsets.committed, snap.earliest, snap.positions),
                        lag_known=True)

    # -- fan-out ---------------------------------------------------------------------

    def _dispatch(self, partition: int, offset: int, value: bytes | None) -> None:
        self.positions[partition] = offset
        try:
            doc = decode_value(value or b"", self.request_keys)
            ts_ns = parse_ns(doc["ts"])
        except (RecordError, ValueError) as exc:
            self.metrics.live_bad.inc()
            log.debug("skipping invalid record at %s/%s: %s", partition, offset, exc)
            return
        self.metrics.live_records.inc()
        rec = LiveRecord(partition, offset, ts_ns, doc, time.monotonic())
        if self.settings.handover_window:
            self.ring.append(rec)
        for sub in self.subs:
            if sub.query.matches(doc):
                sub.offer(rec)

    def subscribe(self, query: ScopedQuery) -> tuple[Subscription, Snapshot]:
        token = query.scope.token_hash
        if self.per_token.get(token, 0) >= self.settings.tail_max_per_token:
            raise TooManyRequests(
                f"this token already has {self.settings.tail_max_per_token} live tails open; "
                "close one first"
            )
        sub = Subscription(query, asyncio.Queue(self.settings.tail_queue_size), token)
        # No await between the snapshot and joining the fan-out: nothing falls between.
        snap = self.snapshot()
        self.subs.add(sub)
        self.per_token[token] = self.per_token.get(token, 0) + 1
        self.metrics.tails.inc()
        return sub, snap

    def snapshot(self) -> Snapshot:
        earliest: dict[int, int] = {}
        for rec in self.ring:
            earliest.setdefault(rec.partition, rec.offset)
        return Snapshot(list(self.ring), dict(self.positions), earliest)

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self.subs:
            self.subs.discard(sub)
            self.per_token[sub.token] -= 1
            if not self.per_token[sub.token]:
                del self.per_token[sub.token]
            self.metrics.tails.dec()

    def covers(self, snap: Snapshot, offsets: Mapping[int, int]) -> bool:
        """Whether the ring still holds every record after these positions."""
        for p, last in snap.positions.items():
            seen = offsets.get(p)
            if seen is None:
                return False
            if seen < last and snap.earliest.get(p, last + 1) > seen + 1:
                return False
        return True
