"""Unit tests of the forwarder's pure logic: item classification, batch readiness,
template, retention verdicts, dead-letter headers, batch parsing."""

from __future__ import annotations

from datetime import date, datetime

import orjson
import pytest
from arroyo.backends.kafka import KafkaPayload
from arroyo.types import BrokerValue, Message, Partition, Topic, Value

from forwarder.batch import BatchBuffer, Item, bulk_lines, parse
from forwarder.bulk import classify
from forwarder.dlq import DeadLetter
from forwarder.janitor import judge
from logpipe.document import KEYWORD_FIELDS, index_day, template_body
from logpipe.record import encode
from tests.forwarder.util import make_record


@pytest.mark.parametrize(("status", "error_type", "kind"), [
    (201, None, "ok"),
    (200, None, "ok"),
    (409, "version_conflict_engine_exception", "duplicate"),
    (429, "es_rejected_execution_exception", "retry"),
    (429, "circuit_breaking_exception", "retry"),
    (500, "internal", "retry"),
    (503, "unavailable_shards_exception", "retry"),
    (400, "es_rejected_execution_exception", "retry"),
    (400, "document_parsing_exception", "dead"),
    (400, "mapper_parsing_exception", "dead"),
    (404, "index_not_found_exception", "dead"),
    (413, "illegal_argument_exception", "dead"),
])
def test_classify_bulk_items(status: int, error_type: str | None, kind: str) -> None:
    assert classify(status, error_type) == kind


def _kafka(value: bytes, offset: int = 7) -> BrokerValue[KafkaPayload]:
    return BrokerValue(KafkaPayload(b"k", value, []), Partition(Topic("t"), 2), offset,
                       datetime(2026, 11, 26))


def test_parse_keeps_poison_as_an_item_with_its_reason() -> None:
    chunk = [_kafka(encode(make_record(1))), _kafka(b"\x00\xffnot json", offset=8),
             _kafka(b'{"v": 1}', offset=9)]
    good, bad, shape = parse(Message(BrokerValue(chunk, Partition(Topic("t"), 2), 9,
                                                 datetime(2026, 11, 26))))
    assert good.record is not None and good.error is None
    assert (good.partition, good.offset, good.key) == (2, 7, b"k")
    assert bad.record is None and bad.error is not None and "not JSON" in bad.error
    assert bad.offset == 8
    assert shape.record is None and shape.error is not None and "missing" in shape.error


def test_bulk_lines_create_into_the_utc_day_with_the_record_as_document() -> None:
    rec = make_record(3, ts="2026-11-22T01:30:00+02:00")
    index, lines = bulk_lines(rec, encode(rec), "logs")
    assert index == "logs-2026.11.21"
    action, doc, end = lines.split(b"\n")
    assert orjson.loads(action) == {"create": {"_index": "logs-2026.11.21", "_id": rec.id}}
    # The document is the record plus its message size and structure, spliced into the
    # Kafka value.
    want = {
        "id": "4588c6bb1adb207db540d3b749eac3dc", "ts": "2026-11-22T01:30:00+02:00",
        "ingest_ts": "2026-11-20T10:00:01.000000000Z", "node": "node-1", "source": "docker",
        "path": "/var/lib/docker/containers/c3/x.log", "offset": 300,
        "message": "line 3 hello world", "level": "info", "stream": "stdout", "file": None,
        "container_id": "c3", "container_name": "web", "image": None, "namespace": "pay",
        "pod": "web-1", "pod_uid": None, "app": "web",
        "labels": {"app.kubernetes.io/name": "web", "team": "pay"}, "attrs": {}, "tags": [],
        "v": 1, "message_bytes": 18, "pattern": "line <*> hello world",
        "pattern_id": "p1-9c4fa617a2682274"}
    assert orjson.loads(doc) == want and end == b""
    # A value spread over lines cannot travel in NDJSON: it is serialised again.
    pretty = orjson.dumps(orjson.loads(encode(rec)), option=orjson.OPT_INDENT_2)
    _, lines = bulk_lines(rec, pretty, "logs")
    assert lines.count(b"\n") == 2 and orjson.loads(lines.split(b"\n")[1]) == want


def _value(item: Item) -> Value[list[Item]]:
    return Value([item], {})


def test_batch_buffer_is_ready_by_count_bytes_or_age() -> None:
    item = Item(0, 0, None, b"x" * 100, None, "poison")
    by_count = BatchBuffer(max_records=3, max_bytes=10_000, max_seconds=60)
    assert by_count.is_empty and not by_count.is_ready
    for _ in range(3):
        assert not by_count.is_ready
        by_count.append(_value(item))
    assert by_count.is_ready and by_count.readiness_reason == "count"
    by_bytes = BatchBuffer(max_records=100, max_bytes=250, max_seconds=60)
    for _ in range(3):
        by_bytes.append(_value(item))
    assert by_bytes.is_ready and by_bytes.readiness_reason == "bytes"
    assert by_bytes.buffer.nbytes == 300 and len(by_bytes.buffer.items) == 3
    by_age = BatchBuffer(max_records=100, max_bytes=10_000, max_seconds=0.000001)
    assert not by_age.is_ready  # an empty buffer is never late
    by_age.append(_value(item))
    assert by_age.is_ready and by_age.readiness_reason == "time"
    fresh = by_age.new()
    assert fresh.is_empty and not fresh.is_ready and fresh.max_seconds == by_age.max_seconds


def test_template_maps_the_contract() -> None:
    body = template_body("logs", shards=2, replicas=1, refresh_interval="5s", priority=500)
    assert body["name"] == "logs" and body["index_patterns"] == ["logs-*"]
    index = body["template"]["settings"]["index"]
    assert (index["number_of_shards"], index["number_of_replicas"],
            index["refresh_interval"]) == (2, 1, "5s")
    props = body["template"]["mappings"]["properties"]
    assert props["message"]["type"] == "text"
    assert {props[f]["type"] for f in KEYWORD_FIELDS} == {"keyword"}
    assert props["ts"]["type"] == props["ingest_ts"]["type"] == "date_nanos"
    assert props["labels"]["type"] == props["attrs"]["type"] == "flattened"
    assert body["template"]["mappings"]["dynamic"] is False
    # Every field of the record contract is mapped.
    assert set(make_record(0).to_dict()) <= set(props)


def test_retention_verdicts() -> None:
    names = ["logs-2026.11.26", "logs-2026.11.19", "logs-2026.11.18", "logs-2025.01.01",
             "logs-archive", "logs-2026.13.01", "logsx-2020.01.01", "logs-2020.01.01-old",
             "other-2020.01.01"]
    verdicts = judge("logs", names, days=7, today=date(2026, 11, 26))
    assert {v.index: v.delete for v in verdicts} == {
        "logs-2026.11.26": False, "logs-2026.11.19": False,
        "logs-2026.11.18": True, "logs-2025.01.01": True,
    }
    assert index_day("lo.gs", "loXgs-2026.01.01") is None  # the prefix is literal
    assert index_day("lo.gs", "lo.gs-2026.01.01") == date(2026, 1, 1)


def test_dead_letter_headers_say_why() -> None:
    letter = DeadLetter(b"k", b"v", 1, 42, "index", "document_parsing_exception",
                        "failed to parse field [ts]", 400, "logs-1969.07.20")
    headers = dict(letter.headers("logs"))
    assert headers["dlq.stage"] == b"index" and headers["dlq.status"] == b"400"
    assert headers["dlq.index"] == b"logs-1969.07.20" and headers["dlq.offset"] == b"42"
    assert headers["dlq.topic"] == b"logs" and "dlq.ts" in headers
    poison = DeadLetter(None, b"x", 0, 1, "decode", "RecordError", "not JSON")
    assert "dlq.status" not in dict(poison.headers("logs"))


def test_consumer_lag_follows_the_assignment() -> None:
    from forwarder.metrics import CONSUMER_LAG, on_stats

    def stats(parts: dict[str, int]) -> str:
        return orjson.dumps({"topics": {"unit-lag": {"partitions": {
            **{p: {"consumer_lag": lag} for p, lag in parts.items()},
            "-1": {"consumer_lag": -1}}}}}).decode()

    def current() -> dict[str, float]:
        return {s.labels["partition"]: s.value for m in CONSUMER_LAG.collect()
                for s in m.samples if s.labels["topic"] == "unit-lag"}

    on_stats(stats({"0": 5, "1": 7, "2": -1}))
    assert current() == {"0": 5, "1": 7}
    on_stats(stats({"1": 0}))  # partition 0 moved to another forwarder
    assert current() == {"1": 0}
    on_stats("not json")  # ignored, never raised into librdkafka
    assert current() == {"1": 0}
