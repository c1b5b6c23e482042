"""A Kafka consumer for arroyo that hands over runs of consecutive messages of one
partition ("chunks") instead of single messages.

arroyo's StreamProcessor and every strategy step run per message; at ~20,000
records/s on two shared cores that Python overhead was about a quarter of the
forwarder's CPU (docs/forwarder.md, "Where arroyo did not fit"). A chunk is one arroyo message
whose offset is its last record's, so commits, back-pressure and ordering keep their
meaning, and the per-message cost is paid once per chunk.

Rebalances: arroyo's consumer seeks every assigned partition to its committed offset,
so a chunk being gathered (or a message held for the next chunk) when the assignment
changes is simply dropped, and the records are read again by whoever owns them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from arroyo.backends.kafka import KafkaConsumer, KafkaPayload
from arroyo.types import BrokerValue, Partition, Topic

Chunk = list[BrokerValue[KafkaPayload]]


class ChunkingConsumer(KafkaConsumer):
    """Use as ``cast(Consumer[Chunk], ChunkingConsumer(...))``: it is a consumer of
    chunks, which the typing of a KafkaConsumer subclass cannot say."""

    def __init__(self, configuration: Mapping[str, Any], max_chunk: int) -> None:
        super().__init__(configuration)
        self.max_chunk = max_chunk
        # A message of another partition, read while gathering; it starts the next chunk.
        self._held: BrokerValue[KafkaPayload] | None = None
        # Bumped on every assignment change, to notice one during a gathering.
        self._generation = 0
        # For /healthz: arroyo's loop polls even while paused, so a stale value means stuck.
        self.last_poll = time.monotonic()

    def subscribe(
        self,
        topics: Sequence[Topic],
        on_assign: Callable[[Mapping[Partition, int]], None] | None = None,
        on_revoke: Callable[[Sequence[Partition]], None] | None = None,
    ) -> None:
        def assigned(offsets: Mapping[Partition, int]) -> None:
            self._generation += 1
            self._held = None
            if on_assign is not None:
                on_assign(offsets)

        def revoked(partitions: Sequence[Partition]) -> None:
            self._generation += 1
            self._held = None
            if on_revoke is not None:
                on_revoke(partitions)

        super().subscribe(topics, on_assign=assigned, on_revoke=revoked)

    # The payload type differs from KafkaConsumer's on purpose: a chunk, not a message.
    def poll(self, timeout: float | None = None) -> BrokerValue[Chunk] | None:  # type: ignore[override]
        self.last_poll = time.monotonic()
        first = self._held
        if first is not None and first.partition in self.paused():
            # arroyo paused consumption (back-pressure) and expects nothing until it
            # resumes; keep the held message for then.
            first = None
        else:
            self._held = None
        if first is None:
            # A message returned by poll is always from the current assignment, even
            # when poll itself ran the rebalance callbacks.
            first = super().poll(timeout)
            if first is None:
                return None
        chunk = [first]
        generation = self._generation
        while len(chunk) < self.max_chunk:
            nxt = super().poll(0)
            if self._generation != generation:
                # The assignment changed while gathering: what was gathered is read
                # again from the committed offsets; ``nxt`` is already post-change.
                self._held = nxt
                return None
            if nxt is None:
                break
            if nxt.partition != first.partition:
                self._held = nxt
                break
            chunk.append(nxt)
        last = chunk[-1]
        return BrokerValue(chunk, last.partition, last.offset, last.timestamp)
