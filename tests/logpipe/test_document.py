"""The Elasticsearch document: index names, _source, mappings and the field lists."""

from __future__ import annotations

from datetime import date
from typing import Any

import orjson
import pytest
from hypothesis import given

from logpipe.document import (
    FIELDS,
    KEYWORD_FIELDS,
    _field_mapping,
    check_fields,
    es_source,
    es_source_bytes,
    index_day,
    index_name,
    index_pattern,
    mappings,
    message_bytes,
    template_body,
)
from logpipe.record import Record, encode
from tests.logpipe.test_record import records

REC = Record(
    id="5d41402abc4b2a76b9719d911017c592", ts="2026-11-26T07:00:00.123456789Z",
    ingest_ts="2026-11-26T07:00:00.2Z", node="node-1", source="cri",
    path="/var/log/pods/pay_checkout_u1/checkout/0.log", offset=4096,
    message="zahlung fehlgeschlagen: Käse", level="error", stream="stderr",
    file="9f3c2a1b0d4e5f60", namespace="pay",
    app="checkout", labels={"app": "checkout"}, tags=("multiline",),
)
# The bulk line of REC as the forwarder has always written it.
REC_SOURCE = (
    b'{"id":"5d41402abc4b2a76b9719d911017c592","ts":"2026-11-26T07:00:00.123456789Z",'
    b'"ingest_ts":"2026-11-26T07:00:00.2Z","node":"node-1","source":"cri",'
    b'"path":"/var/log/pods/pay_checkout_u1/checkout/0.log","offset":4096,'
    b'"message":"zahlung fehlgeschlagen: K\xc3\xa4se","level":"error","stream":"stderr",'
    b'"file":"9f3c2a1b0d4e5f60","container_id":null,"container_name":null,"image":null,"namespace":"pay","pod":null,'
    b'"pod_uid":null,"app":"checkout","labels":{"app":"checkout"},"attrs":{},'
    b'"tags":["multiline"],"v":1,"message_bytes":29,'
    b'"pattern":"zahlung fehlgeschlagen: K\xc3\xa4se","pattern_id":"p1-854ef3abc898e33b"}'
)
KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 4096}


@pytest.mark.parametrize(
    ("ts", "index"),
    [
        ("2026-11-26T07:00:00.123456789Z", "logpipe-2026.11.26"),
        ("2026-11-26T23:59:59.999999999Z", "logpipe-2026.11.26"),
        ("2026-11-27T00:30:00+01:00", "logpipe-2026.11.26"),  # UTC day, not local day
        ("2026-11-26T23:30:00-01:00", "logpipe-2026.11.27"),
        ("2026-01-01T00:00:00z", "logpipe-2026.01.01"),
    ],
)
def test_index_name_uses_the_utc_day(ts: str, index: str) -> None:
    assert index_name("logpipe", ts) == index


def test_index_pattern() -> None:
    assert index_pattern("logs") == "logs-*"


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("logs-2026.11.26", date(2026, 11, 26)),
        ("logs-2026.13.01", None),  # not a date
        ("logs-archive", None),
        ("logs-2020.01.01-old", None),
        ("logsx-2020.01.01", None),
        ("other-2020.01.01", None),
    ],
)
def test_index_day_reads_only_daily_names_of_the_prefix(name: str, day: date | None) -> None:
    assert index_day("logs", name) == day


def test_index_day_takes_the_prefix_literally() -> None:
    assert index_day("lo.gs", "loXgs-2026.01.01") is None
    assert index_day("lo.gs", "lo.gs-2026.01.01") == date(2026, 1, 1)


def test_message_bytes_counts_utf8_bytes() -> None:
    assert message_bytes(REC) == 29
    lone_surrogate = Record(**(REC.to_dict() | {"message": "\ud800"}))
    assert message_bytes(lone_surrogate) == 3


def test_es_source_is_the_record_plus_message_bytes_and_its_structure() -> None:
    doc = es_source(REC)
    assert list(doc) == [
        "id", "ts", "ingest_ts", "node", "source", "path", "offset", "message", "level",
        "stream", "file", "container_id", "container_name", "image", "namespace", "pod", "pod_uid",
        "app", "labels", "attrs", "tags", "v", "message_bytes", "pattern", "pattern_id",
    ]
    assert orjson.dumps(doc) == REC_SOURCE


def test_es_source_bytes_splices_into_the_kafka_value() -> None:
    assert es_source_bytes(REC, encode(REC)) == REC_SOURCE
    assert es_source_bytes(REC, encode(REC) + b"\n") == REC_SOURCE


@given(records)
def test_es_source_bytes_matches_es_source(rec: Record) -> None:
    spliced = orjson.loads(es_source_bytes(rec, encode(rec)))
    assert spliced == orjson.loads(orjson.dumps(es_source(rec)))
    assert spliced["message_bytes"] == len(rec.message.encode())


def test_field_lists_follow_the_record() -> None:
    assert FIELDS == (
        "id", "ts", "ingest_ts", "node", "source", "path", "offset", "message", "level",
        "stream", "file", "container_id", "container_name", "image", "namespace", "pod", "pod_uid",
        "app", "labels", "attrs", "tags", "v", "message_bytes", "msg", "fields", "field_names",
        "fields_dropped", "trace_id", "span_id", "request_id", "pattern", "pattern_id",
    )
    assert KEYWORD_FIELDS == (
        "id", "node", "source", "path", "level", "stream", "file", "container_id", "container_name",
        "image", "namespace", "pod", "pod_uid", "app", "tags", "field_names", "trace_id",
        "span_id", "request_id", "pattern", "pattern_id",
    )


def test_mappings_of_every_field() -> None:
    assert mappings() == {
        "dynamic": False,
        "properties": {
            "id": KEYWORD, "ts": {"type": "date_nanos"}, "ingest_ts": {"type": "date_nanos"},
            "node": KEYWORD, "source": KEYWORD, "path": KEYWORD, "offset": {"type": "long"},
            "message": {"type": "text"}, "level": KEYWORD, "stream": KEYWORD, "file": KEYWORD,
            "container_id": KEYWORD, "container_name": KEYWORD, "image": KEYWORD,
            "namespace": KEYWORD, "pod": KEYWORD, "pod_uid": KEYWORD, "app": KEYWORD,
            "labels": {"type": "flattened"}, "attrs": {"type": "flattened"}, "tags": KEYWORD,
            "v": {"type": "short"}, "message_bytes": {"type": "integer"},
            "msg": {"type": "text"}, "fields": {"type": "flattened", "ignore_above": 1024},
            "field_names": KEYWORD, "fields_dropped": {"type": "integer"},
            "trace_id": KEYWORD, "span_id": KEYWORD, "request_id": KEYWORD,
            "pattern": KEYWORD, "pattern_id": KEYWORD,
        },
    }


def test_mappings_are_fresh_on_each_call() -> None:
    changed = mappings()
    changed["properties"]["id"]["type"] = "text"
    assert mappings()["properties"]["id"] == KEYWORD


def test_a_new_field_is_mapped_by_its_type_and_an_unmappable_type_is_refused() -> None:
    assert _field_mapping("cluster", str | None) == KEYWORD
    assert _field_mapping("line", int) == {"type": "long"}
    with pytest.raises(TypeError, match=r"Record\.score"):
        _field_mapping("score", float)


def test_template_body() -> None:
    body = template_body("logs", shards=2, replicas=1, refresh_interval="5s", priority=500)
    assert body == {
        "name": "logs",
        "index_patterns": ["logs-*"],
        "priority": 500,
        "template": {
            "settings": {"index": {"number_of_shards": 2, "number_of_replicas": 1,
                                   "refresh_interval": "5s"}},
            "mappings": mappings(),
        },
        "_meta": {"managed_by": "logpipe-forwarder", "version": 2},
    }


def test_check_fields_passes_known_names_through_in_their_order() -> None:
    assert check_fields("columns", ["ts", "message_bytes", "id"]) == ("ts", "message_bytes", "id")
    assert check_fields("pickers", ("app",), among=("app", "pod")) == ("app",)


def test_check_fields_names_the_list_and_the_unknown_fields() -> None:
    with pytest.raises(ValueError, match=r"Entry names fields .*\['host', 'body'\]"):
        check_fields("Entry", ["ts", "host", "body"])
    with pytest.raises(ValueError, match=r"\['message'\]"):
        check_fields("pickers", ["app", "message"], among=KEYWORD_FIELDS)
