"""A live tail resumed (Last-Event-ID) from a position the hub's hand-over ring no
longer holds: the resume reads Elasticsearch instead, exactly, then goes live. Real
Kafka, Elasticsearch and uvicorn."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from elasticsearch import Elasticsearch

from tests.log_api.helpers import PAY, index_records, produce, served, settings_for
from tests.log_api.test_tail import _count, _live, _records, _state, _wait, tail

pytestmark = pytest.mark.integration


async def test_resume_older_than_the_handover_ring_reads_elasticsearch(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    records = _records(15, 100)  # one container (one partition), ts 10:00:00 .. 10:00:14
    first, later = records[:5], records[5:]
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            handover_window=5)
    async with served(settings) as (app, base):
        hub = _state(app).hub
        async with tail(base, PAY, backfill=0) as stream:
            await stream.until(_live)
            produce(kafka_bootstrap, topic, first)
            await stream.until(_count(5))
        live_ids = [e.id for e in stream.events if e.event == "entry"]
        # Ten more pass through while the client is away: the ring of five forgets
        # where the client stopped. The forwarder's part, indexing them all, is done here.
        produce(kafka_bootstrap, topic, later)
        await _wait(lambda: sum(o + 1 for o in hub.positions.values()) == 15,
                    "the hub to read all 15")
        assert [r.id for r in hub.ring] == [r.id for r in records[10:]]
        index_records(es, index_prefix, records)
        committer = Consumer({"bootstrap.servers": kafka_bootstrap,
                              "group.id": settings.forwarder_group})
        committer.commit(offsets=[TopicPartition(topic, p, o + 1)
                                  for p, o in hub.positions.items()], asynchronous=False)
        committer.close()
        await hub.measure_lag()  # read the commit now, not at the next periodic refresh
        async with tail(base, PAY, headers={"Last-Event-ID": live_ids[1]},
                        backfill=0) as again:
            await again.until(_live)
    assert [e["id"] for e in stream.entries()] == [r.id for r in first]
    # Everything after the second entry, once each, in order, then live.
    assert [e["id"] for e in again.entries()] == [r.id for r in records[2:]]
    # (Not asserted: whether a "not indexed yet" notice follows. It does today even with
    # every offset committed by the forwarders' group; reported to the log_api owner.)
