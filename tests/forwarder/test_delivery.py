"""Delivery guarantees with the forwarder as a real process: kill -9 mid-stream and
restart gives every record exactly once; poison and refused records reach the
dead-letter topic with their reasons while the records around them are indexed."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from logpipe.record import encode
from tests.forwarder.util import (
    committed_total,
    count_docs,
    forwarder_env,
    make_record,
    produce,
    produce_records,
    read_topic,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration

TOTAL = 100_000


def test_kill_9_mid_stream_then_restart_indexes_everything_exactly_once(
    kafka_bootstrap: str, es_url: str, es: Elasticsearch, topic: str, index_prefix: str,
    group: str, dlq_topic: str, tmp_path: Path,
) -> None:
    # Three days, so the records spread over several daily indices.
    days = ("2026-11-19", "2026-11-20", "2026-11-21")
    produce_records(kafka_bootstrap, topic,
                    (make_record(i, day=days[i % 3], run="k9") for i in range(TOTAL)))
    env = forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group,
                        LOGPIPE_BATCH_MAX_RECORDS="1000")

    with running(env, tmp_path / "first.log") as first:
        wait_until(lambda: count_docs(es, index_prefix) >= TOTAL // 5, 120, "a fifth indexed")
        first.kill()
    at_kill = count_docs(es, index_prefix)
    assert 0 < at_kill < TOTAL, "the kill must land mid-stream for this test to mean anything"
    assert committed_total(kafka_bootstrap, group, topic) < TOTAL

    with running(env, tmp_path / "second.log") as second:
        wait_until(lambda: committed_total(kafka_bootstrap, group, topic) == TOTAL,
                   120, "every offset committed")
        assert second.proc.poll() is None
    assert count_docs(es, index_prefix) == TOTAL
    # Ids are unique per index and a record's index is fixed by its ts, so the count
    # equals the number of distinct ids; check it independently anyway.
    agg = es.search(index=f"{index_prefix}-*", size=0, aggs={
        "ids": {"cardinality": {"field": "id", "precision_threshold": 40000}}})
    assert agg["aggregations"]["ids"]["value"] >= TOTAL * 0.99  # HLL is approximate
    for day in days:
        assert int(es.count(index=f"{index_prefix}-{day.replace('-', '.')}")["count"]) \
            == TOTAL // 3 + (1 if day == days[0] else 0)


def test_poison_and_refused_records_go_to_the_dead_letter_topic(
    kafka_bootstrap: str, es_url: str, es: Elasticsearch, topic: str, index_prefix: str,
    group: str, dlq_topic: str, tmp_path: Path,
) -> None:
    good = [make_record(i, run="dlq") for i in range(40)]
    # A valid record ES refuses: date_nanos cannot hold a time before 1970.
    refused = make_record(999, run="dlq", ts="1969-07-20T20:17:40.000000000Z")
    not_json = b"this is {not json"
    wrong_shape = b'{"v": 1, "id": 5}'
    key = good[0].key
    values: list[tuple[bytes | None, bytes]] = [(key, encode(r)) for r in good[:20]]
    values += [(key, not_json), (key, encode(refused)), (key, wrong_shape)]
    values += [(key, encode(r)) for r in good[20:]]
    produce(kafka_bootstrap, topic, values)

    env = forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group)
    with running(env, tmp_path / "fwd.log") as fwd:
        wait_until(lambda: count_docs(es, index_prefix) == len(good), 60, "the good records")
        wait_until(lambda: committed_total(kafka_bootstrap, group, topic) == len(values), 60,
                   "all offsets, dead letters included, committed")
        assert fwd.metric("logpipe_forwarder_dead_lettered_total", stage="decode",
                          error_type="RecordError") == 2

    letters = read_topic(kafka_bootstrap, dlq_topic, 3)
    by_value = {m.value(): {k: v.decode() for k, v in m.headers()} for m in letters}
    assert set(by_value) == {not_json, encode(refused), wrong_shape}

    h = by_value[not_json]
    assert h["dlq.stage"] == "decode" and h["dlq.error_type"] == "RecordError"
    assert h["dlq.reason"].startswith("not JSON")
    assert h["dlq.topic"] == topic
    assert by_value[wrong_shape]["dlq.reason"] != h["dlq.reason"]

    h = by_value[encode(refused)]
    assert h["dlq.stage"] == "index"
    assert h["dlq.status"] == "400"
    assert h["dlq.index"] == f"{index_prefix}-1969.07.20"
    assert "parsing_exception" in h["dlq.error_type"]
    assert "failed to parse field [ts] of type [date_nanos]" in h["dlq.reason"]
    assert "caused by: " in h["dlq.reason"], h["dlq.reason"]
    assert {int(h["dlq.offset"]) for h in by_value.values()} == {20, 21, 22}
