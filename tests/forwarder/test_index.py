"""Records produced to Kafka land in the right daily index with the template's mappings,
and producing the same records twice leaves one document each."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from logpipe.document import index_name
from tests.forwarder.util import (
    count_docs,
    forwarder_env,
    make_record,
    produce_records,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_records_land_in_daily_indices_with_template_mappings(
    kafka_bootstrap: str, es_url: str, es: Elasticsearch, topic: str, index_prefix: str,
    group: str, dlq_topic: str, tmp_path: Path,
) -> None:
    records = [make_record(i, day="2026-11-20") for i in range(150)]
    records += [make_record(i, day="2026-11-21", run="b") for i in range(150)]
    # +02:00 on the 22nd is still the 21st in UTC: the index follows UTC.
    shifted = make_record(0, run="tz", ts="2026-11-22T01:30:00.5+02:00")
    records.append(shifted)
    produce_records(kafka_bootstrap, topic, records)

    env = forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group)
    with running(env, tmp_path / "fwd.log") as fwd:
        wait_until(lambda: count_docs(es, index_prefix) == len(records), 60, "all records indexed")
        wait_until(lambda: fwd.get("/readyz") is not None, 30, "the health endpoint")
        ready = fwd.get("/readyz")
        live = fwd.get("/healthz")
        created = fwd.metric("logpipe_forwarder_records_indexed_total", result="created")

        def lag_is_zero() -> bool:
            lag = fwd.samples("logpipe_forwarder_consumer_lag")
            wanted = {(("partition", str(p)), ("topic", topic)) for p in range(3)}
            return set(lag) == wanted and not any(lag.values())

        # librdkafka reports statistics every 5 s; lag counts from committed offsets.
        wait_until(lag_is_zero, 30, "consumer lag 0 on all three partitions")
        bulks = fwd.metric("logpipe_forwarder_bulk_seconds_count")
        batches = fwd.metric("logpipe_forwarder_batches_total")
        inflight = fwd.metric("logpipe_forwarder_inflight_bytes")

    counts = {i: int(es.count(index=i)["count"])
              for i in (f"{index_prefix}-2026.11.20", f"{index_prefix}-2026.11.21")}
    assert counts == {f"{index_prefix}-2026.11.20": 150, f"{index_prefix}-2026.11.21": 151}
    assert index_name(index_prefix, shifted.ts) == f"{index_prefix}-2026.11.21"

    doc = es.get(index=f"{index_prefix}-2026.11.21", id=shifted.id)
    # The Kafka value, unchanged but for message_bytes (the UTF-8 size of the message)
    # and the structure derived from the message (here a plain line: only its pattern).
    assert doc["_source"] == {
        "id": "f5741ea83447a2e2dbd50594f2015246", "ts": "2026-11-22T01:30:00.5+02:00",
        "ingest_ts": "2026-11-20T10:00:01.000000000Z", "node": "node-1", "source": "docker",
        "path": "/var/lib/docker/containers/c0/x.log", "offset": 0,
        "message": "line 0 hello world", "level": "info", "stream": "stdout", "file": None,
        "container_id": "c0", "container_name": "web", "image": None, "namespace": "pay",
        "pod": "web-1", "pod_uid": None, "app": "web",
        "labels": {"app.kubernetes.io/name": "web", "team": "pay"}, "attrs": {}, "tags": [],
        "v": 1, "message_bytes": 18, "pattern": "line <*> hello world",
        "pattern_id": "p1-9c4fa617a2682274"}

    props = es.indices.get_mapping(index=f"{index_prefix}-2026.11.20")[
        f"{index_prefix}-2026.11.20"]["mappings"]["properties"]
    assert props["message"]["type"] == "text"
    for name in ("level", "app", "namespace", "pod", "container_name", "node", "stream",
                 "source", "id"):
        assert props[name]["type"] == "keyword", name
    assert props["ts"]["type"] == "date_nanos"
    assert props["ingest_ts"]["type"] == "date_nanos"
    assert props["labels"]["type"] == "flattened"
    assert props["fields"]["type"] == "flattened"
    assert props["pattern_id"]["type"] == props["request_id"]["type"] == "keyword"
    settings = es.indices.get_settings(index=f"{index_prefix}-2026.11.20")[
        f"{index_prefix}-2026.11.20"]["settings"]["index"]
    assert settings["refresh_interval"] == "200ms"
    assert settings["number_of_replicas"] == "0"

    # Nanosecond order survives: a range on ts at sub-microsecond precision.
    hits = es.search(index=f"{index_prefix}-*", query={"bool": {"filter": [
        {"term": {"labels.team": "pay"}},
        {"range": {"ts": {"gte": "2026-11-20T10:00:01.000000001Z",
                          "lte": "2026-11-20T10:00:01.000000001Z"}}}]}})
    assert hits["hits"]["total"]["value"] == 1

    assert ready is not None and ready.status_code == 200
    assert live is not None and live.status_code == 200
    assert bulks >= 1 and batches >= 1 and inflight == 0
    assert created == 301


def test_same_records_twice_one_document_each(
    kafka_bootstrap: str, es_url: str, es: Elasticsearch, topic: str, index_prefix: str,
    group: str, dlq_topic: str, tmp_path: Path,
) -> None:
    records = [make_record(i, run="twice") for i in range(200)]
    produce_records(kafka_bootstrap, topic, records)
    produce_records(kafka_bootstrap, topic, records)

    env = forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group)
    with running(env, tmp_path / "fwd.log") as fwd:
        wait_until(lambda: fwd.metric("logpipe_forwarder_records_indexed_total",
                                      result="duplicate") == 200, 60,
                   "the second copy of every record answered as a duplicate")
        created = fwd.metric("logpipe_forwarder_records_indexed_total", result="created")
    assert count_docs(es, index_prefix) == 200
    assert created == 200
