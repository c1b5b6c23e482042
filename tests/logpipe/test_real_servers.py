"""The harness itself against the real servers: Kafka through both clients, ES search."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, Producer
from elasticsearch import Elasticsearch

from logpipe.document import index_name
from logpipe.record import Record, decode, encode, make_id
from logpipe.timefmt import now_ts


def _records(n: int, app: str = "checkout") -> list[Record]:
    ts = now_ts()
    return [
        Record(
            id=make_id("node-a", 1, 2, "fp", i * 100),
            ts=ts,
            ingest_ts=ts,
            node="node-a",
            source="docker",
            path="/var/lib/docker/containers/c1/c1-json.log",
            offset=i * 100,
            message=f"line {i}",
            level="info",
            stream="stdout",
            container_id="c1",
            namespace="pay",
            app=app,
        )
        for i in range(n)
    ]


def test_confluent_produce_and_consume(kafka_bootstrap: str, topic: str) -> None:
    sent = _records(50)
    producer = Producer(
        {"bootstrap.servers": kafka_bootstrap, "acks": "all", "enable.idempotence": True}
    )
    for rec in sent:
        producer.produce(topic, encode(rec), key=rec.key)
    assert producer.flush(30) == 0
    consumer = Consumer(
        {"bootstrap.servers": kafka_bootstrap, "group.id": topic, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    got: list[Record] = []
    try:
        for _ in range(60):
            for msg in consumer.consume(num_messages=100, timeout=1.0):
                assert msg.error() is None
                value = msg.value()
                assert value is not None
                got.append(decode(value))
            if len(got) >= len(sent):
                break
    finally:
        consumer.close()
    # One key: one partition, so the order is the produced order.
    assert got == sent


def test_aiokafka_produce_and_consume(kafka_bootstrap: str, topic: str) -> None:
    sent = _records(20, app="hotel")

    async def run() -> list[Record]:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            for rec in sent:
                await producer.send_and_wait(topic, encode(rec), key=rec.key)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        got: list[Record] = []
        try:
            async with asyncio.timeout(60):
                async for msg in consumer:
                    assert msg.value is not None
                    got.append(decode(msg.value))
                    if len(got) == len(sent):
                        break
        finally:
            await consumer.stop()
        return got

    assert asyncio.run(run()) == sent


def test_elasticsearch_index_and_search(es: Elasticsearch, index_prefix: str) -> None:
    recs = _records(30)
    index = index_name(index_prefix, recs[0].ts)
    ops: list[dict[str, object]] = []
    for rec in recs:
        ops.append({"index": {"_index": index, "_id": rec.id}})
        ops.append(rec.to_dict())
    resp = es.bulk(operations=ops, refresh="wait_for")
    assert not resp["errors"]
    hits = es.search(index=f"{index_prefix}-*", query={"match": {"message": "line 7"}}, size=50)[
        "hits"
    ]["hits"]
    assert any(h["_id"] == recs[7].id for h in hits)
    # Indexing the same ids again overwrites: still one document per record.
    es.bulk(operations=ops, refresh="wait_for")
    assert es.count(index=f"{index_prefix}-*")["count"] == len(recs)
