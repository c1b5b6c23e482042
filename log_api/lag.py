"""The forwarder's lag, measured on Kafka: records of the logs topic its consumer
group has not committed yet. The audit uses the count to tell "still in flight" from
"missing"; the live tail uses the per-partition committed offsets to know which
records Elasticsearch cannot hold yet. Read at most every few seconds (a small admin
round trip); a stale reading only errs on the safe side (commits never move back).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

_CACHE_S = 5.0


@dataclass(frozen=True)
class GroupOffsets:
    """Where the forwarders' group stands, per partition of the topic."""

    committed: dict[int, int]  # next offset the group reads (low watermark when none)
    high: dict[int, int]  # next offset Kafka will write

    @property
    def records(self) -> int:
        return sum(max(0, h - self.committed.get(p, 0)) for p, h in self.high.items())


class Arrival(Protocol):
    """A ring record as far as the lag arithmetic cares (``live.LiveRecord``)."""

    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def arrived(self) -> float: ...


@dataclass(frozen=True)
class LagSeconds:
    seconds: float
    beyond_ring: bool  # the oldest pending record left the ring: ``seconds`` is a floor


def oldest_pending(ring: Iterable[Arrival], committed: Mapping[int, int]) -> float | None:
    """Arrival time of the oldest ring record the group has not committed (None: all are).

    A partition the measurement does not know yet (created since) counts as pending.
    """
    for rec in ring:  # oldest first
        if rec.offset >= committed.get(rec.partition, -1):
            return rec.arrived
    return None


def uncovered(committed: Mapping[int, int], earliest: Mapping[int, int],
              positions: Mapping[int, int]) -> dict[int, tuple[int, int]]:
    """Per partition, the offsets [start, end) that are neither committed by the group
    (so not in Elasticsearch) nor in the ring (so not bridged): the tail's gap."""
    out: dict[int, tuple[int, int]] = {}
    for p, last in positions.items():
        start = committed.get(p, 0)
        end = earliest.get(p, last + 1)  # no ring record: the ring starts after ``last``
        if start < end:
            out[p] = (start, end)
    return out


def lag_seconds(ring: Sequence[Arrival], committed: Mapping[int, int],
                earliest: Mapping[int, int], positions: Mapping[int, int],
                now: float, since: float) -> LagSeconds:
    """How long ago the oldest record the forwarder has not committed reached the hub.

    ``since`` is when the hub started reading (what it could have seen at most): when a
    pending record is older than the ring, the lag is at least the ring's age.
    """
    if uncovered(committed, earliest, positions):
        # Pending records older than the ring reached the hub before its oldest one
        # (or before the hub started, when the ring is empty).
        return LagSeconds(now - (ring[0].arrived if ring else since), True)
    pending = oldest_pending(ring, committed)
    return LagSeconds(0.0 if pending is None else now - pending, False)


@dataclass(frozen=True)
class PendingSpan:
    """The entry times of records read straight from Kafka for a gap."""

    count: int  # records that matched
    first_ns: int | None
    last_ns: int | None
    complete: bool  # False: the cap or the deadline stopped the read


class ForwarderLag:
    def __init__(self, bootstrap: str, topic: str, group: str, options: dict[str, Any]) -> None:
        self.conf = {"bootstrap.servers": bootstrap, "group.id": group,
                     "enable.auto.commit": False, **options}
        self.topic = topic
        self._at = 0.0
        self._value: GroupOffsets | None = None
        self._lock = asyncio.Lock()

    def measure_offsets(self) -> GroupOffsets | None:
        """The group's committed offsets and the high watermarks; None when Kafka
        cannot say."""
        # A consumer that never subscribes does not join the group: it only asks the
        # group coordinator for the committed offsets.
        consumer = Consumer(self.conf)
        try:
            meta = consumer.list_topics(self.topic, timeout=5)
            info = meta.topics.get(self.topic)
            if info is None or info.error is not None:
                return None
            parts = [TopicPartition(self.topic, p) for p in sorted(info.partitions)]
            committed: dict[int, int] = {}
            high: dict[int, int] = {}
            for tp in consumer.committed(parts, timeout=5):
                low, hi = consumer.get_watermark_offsets(tp, timeout=5)
                # Nothing committed yet: the group starts at the oldest record.
                committed[tp.partition] = tp.offset if tp.offset >= 0 else low
                high[tp.partition] = hi
            return GroupOffsets(committed, high)
        except KafkaException:
            return None
        finally:
            consumer.close()

    def measure(self) -> int | None:
        """Records not yet committed by the group; None when Kafka cannot say."""
        offsets = self.measure_offsets()
        return None if offsets is None else offsets.records

    async def offsets(self, max_age: float = _CACHE_S) -> GroupOffsets | None:
        async with self._lock:  # concurrent tails share one round trip
            if time.monotonic() - self._at > max_age:
                self._value = await asyncio.to_thread(self.measure_offsets)
                self._at = time.monotonic()
            return self._value

    async def get(self) -> int | None:
        offsets = await self.offsets()
        return None if offsets is None else offsets.records

    def scan(self, ranges: Mapping[int, tuple[int, int]], match: Callable[[bytes], int | None],
             cap: int, timeout: float = 30.0) -> PendingSpan:
        """Read the offsets [start, end) of each partition; ``match`` gives a value's
        entry time when it matches the tail's filter. Stops after ``cap`` records."""
        conf = {**self.conf, "group.id": f"{self.conf['group.id']}-api-gap-scan",
                "enable.partition.eof": True, "auto.offset.reset": "earliest"}
        consumer = Consumer(conf)  # assign() only: never joins nor commits to a group
        remaining = {p: end for p, (start, end) in ranges.items() if start < end}
        count = read = 0
        first: int | None = None
        last: int | None = None
        try:
            consumer.assign([TopicPartition(self.topic, p, ranges[p][0]) for p in remaining])
            deadline = time.monotonic() + timeout
            while remaining and read < cap and time.monotonic() < deadline:
                for msg in consumer.consume(1000, timeout=0.5):
                    p = msg.partition()
                    err = msg.error()
                    if p is None:
                        continue
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            remaining.pop(p, None)
                        continue
                    end = remaining.get(p)
                    offset = msg.offset()
                    if end is None or offset is None or offset >= end:
                        remaining.pop(p, None)
                        continue
                    read += 1
                    ts = match(msg.value() or b"")
                    if ts is not None:
                        count += 1
                        first = ts if first is None else min(first, ts)
                        last = ts if last is None else max(last, ts)
                    if offset + 1 >= end:
                        remaining.pop(p, None)
        finally:
            consumer.close()
        return PendingSpan(count, first, last, not remaining)
