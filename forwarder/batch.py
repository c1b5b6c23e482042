"""Decoding Kafka messages into batch items, and the count/bytes/time batch buffer.

Messages arrive in chunks (forwarder/chunking.py). A message that is not a record is
not raised as arroyo's ``InvalidMessage``: it rides
in the batch as a poison item, and the bulk step writes it to the dead-letter topic
together with the records Elasticsearch refused (see docs/forwarder.md, "Why not
arroyo's DLQ policy").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import orjson
from arroyo.backends.kafka import KafkaPayload
from arroyo.types import BaseValue, BrokerValue, Message

from forwarder.chunking import Chunk
from logpipe.document import es_source, es_source_bytes, index_name
from logpipe.errors import RecordError
from logpipe.record import TAG_TS_CLAMPED, Record, decode, encode
from logpipe.timefmt import format_ns, normalize_ts


@dataclass(frozen=True, slots=True)
class Item:
    """One Kafka message: a record to index, or poison (``error`` says why)."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    record: Record | None
    error: str | None = None


def parse_one(value: BrokerValue[KafkaPayload]) -> Item:
    """Kafka message -> Item; never raises for bad input."""
    payload = value.payload
    try:
        record: Record | None = decode(payload.value)
        error = None
    except RecordError as exc:
        record, error = None, str(exc)
    except Exception as exc:  # a message must never stop the partition
        record, error = None, f"{type(exc).__name__}: {exc}"
    return Item(value.partition.index, value.offset, payload.key, payload.value, record, error)


def parse(message: Message[Chunk]) -> list[Item]:
    """RunTask function: a chunk of Kafka messages -> Items, in offset order."""
    return [parse_one(value) for value in message.payload]


def bulk_lines(record: Record, value: bytes, prefix: str,
               request_keys: frozenset[str] = frozenset()) -> tuple[str, bytes]:
    """(index, the two NDJSON lines of a ``create`` action).

    ``create`` rather than ``index``: a replayed id answers 409 and is not rewritten.
    The document is the Kafka value itself, already the record's JSON (it was just
    validated), which saves serialising it again; only a value spread over several
    lines, which NDJSON cannot carry, is serialised anew. The structure derived from the
    message (logpipe/structured.py) is spliced in here, not in the collector: see
    docs/forwarder.md, "Structure: fields, ids and patterns".
    """
    index = index_name(prefix, record.ts)
    action = orjson.dumps({"create": {"_index": index, "_id": record.id}})
    if b"\n" in value or b"\r" in value:
        doc = orjson.dumps(es_source(record, request_keys))
    else:
        doc = es_source_bytes(record, value, request_keys)
    return index, action + b"\n" + doc + b"\n"


@dataclass(frozen=True, slots=True)
class TsBounds:
    """The record times indexed as they are, as canonical strings (which sort as the
    times do): from ``low`` (the first day the janitor keeps) to ``high`` (now plus the
    allowed skew). A record outside them gets its ingest time (or now) as ``ts``.

    Done here rather than in ``logpipe.record.decode``: the horizon is the forwarder's
    retention, the index is the forwarder's choice, and the Kafka value (the DLQ copy,
    the live tail) stays the collector's record byte for byte."""

    low: str | None
    high: str

    @classmethod
    def at(cls, now_ns: int, max_future_s: float, max_past_days: int) -> TsBounds:
        high = format_ns(now_ns + int(max_future_s * 1e9))
        low = None
        if max_past_days:
            day = datetime.fromtimestamp(now_ns / 1e9, UTC).date() - timedelta(max_past_days)
            low = f"{day.isoformat()}T00:00:00.000000000Z"
        return cls(low, high)

    def why(self, ts: str) -> str | None:
        """'future', 'past' or None for a record's ``ts``."""
        if len(ts) != 30 or ts[-1] != "Z":
            ts = normalize_ts(ts)  # decode checked it is RFC 3339
        if ts > self.high:
            return "future"
        if self.low is not None and ts < self.low:
            return "past"
        return None

    def clamp(self, record: Record, why: str, now_ns: int) -> tuple[Record, bytes]:
        """The record with the ingest time as ``ts`` (now, if that is out of bounds
        too), tagged, its own time in ``attrs["original_ts"]``; and its new value.
        The ingest time rather than now: a replay lands in the same index, so the
        ``create`` of the same id answers 409 instead of making a second copy."""
        ts = record.ingest_ts if self.why(record.ingest_ts) is None else format_ns(now_ns)
        clamped = replace(record, ts=ts, tags=(*record.tags, TAG_TS_CLAMPED),
                          attrs={**record.attrs, "original_ts": record.ts})
        return clamped, encode(clamped)


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

    def append(self, message: BaseValue[list[Item]]) -> None:
        items = message.payload
        if self._deadline is None:
            self._deadline = time.monotonic() + self.max_seconds
        self._batch.items.extend(items)
        self._batch.nbytes += sum(len(item.value) for item in items)

    def new(self) -> BatchBuffer:
        return BatchBuffer(self.max_records, self.max_bytes, self.max_seconds)
