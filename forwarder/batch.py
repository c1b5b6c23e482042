"""Decoding Kafka messages into batch items, and the count/bytes/time batch buffer.

A message that is not a record is not raised as arroyo's ``InvalidMessage``: it rides
in the batch as a poison item, and the bulk step writes it to the dead-letter topic
together with the records Elasticsearch refused (see docs/forwarder.md, "Why not
arroyo's DLQ policy").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import orjson
from arroyo.backends.kafka import KafkaPayload
from arroyo.types import BaseValue, BrokerValue, Message

from logpipe.errors import RecordError
from logpipe.record import Record, decode, index_name


@dataclass(frozen=True, slots=True)
class Item:
    """One Kafka message: a record to index, or poison (``error`` says why)."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    record: Record | None
    error: str | None = None


def parse(message: Message[KafkaPayload]) -> Item:
    """RunTask function: bytes -> Item; never raises for bad input."""
    payload = message.payload
    value = payload.value
    partition, offset = -1, -1
    if isinstance(message.value, BrokerValue):
        partition, offset = message.value.partition.index, message.value.offset
    try:
        return Item(partition, offset, payload.key, value, decode(value))
    except RecordError as exc:
        return Item(partition, offset, payload.key, value, None, str(exc))


def bulk_lines(record: Record, value: bytes, prefix: str) -> tuple[str, bytes]:
    """(index, the two NDJSON lines of a ``create`` action).

    ``create`` rather than ``index``: a replayed id answers 409 and is not rewritten.
    The document is the Kafka value itself, already the record's JSON (it was just
    validated), which saves serialising it again; only a value spread over several
    lines, which NDJSON cannot carry, is serialised anew.
    """
    index = index_name(prefix, record.ts)
    action = orjson.dumps({"create": {"_index": index, "_id": record.id}})
    doc = orjson.dumps(record) if b"\n" in value or b"\r" in value else value
    return index, action + b"\n" + doc + b"\n"


@dataclass
class Batch:
    items: list[Item] = field(default_factory=list)
    nbytes: int = 0


class BatchBuffer:
    """arroyo ``BufferProtocol``: ready by record count, value bytes or age."""

    def __init__(self, max_records: int, max_bytes: int, max_seconds: float) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self._batch = Batch()
        # The clock starts at the first record, so an idle buffer is never "late".
        self._deadline: float | None = None

    @property
    def buffer(self) -> Batch:
        return self._batch

    @property
    def is_empty(self) -> bool:
        return not self._batch.items

    @property
    def is_ready(self) -> bool:
        return (
            len(self._batch.items) >= self.max_records
            or self._batch.nbytes >= self.max_bytes
            or (self._deadline is not None and time.monotonic() >= self._deadline)
        )

    @property
    def readiness_reason(self) -> str:
        if len(self._batch.items) >= self.max_records:
            return "count"
        if self._batch.nbytes >= self.max_bytes:
            return "bytes"
        return "time"

    def append(self, message: BaseValue[Item]) -> None:
        item = message.payload
        if self._deadline is None:
            self._deadline = time.monotonic() + self.max_seconds
        self._batch.items.append(item)
        self._batch.nbytes += len(item.value)

    def new(self) -> BatchBuffer:
        return BatchBuffer(self.max_records, self.max_bytes, self.max_seconds)
