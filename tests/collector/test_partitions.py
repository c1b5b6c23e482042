"""The collector passes each record's partition (computed once per key) instead of
letting librdkafka hash every record's key: the records must land exactly where
librdkafka's default partitioner puts the key, before and after the partition count
is known, so a container never moves partition across the switch, a restart or an
upgrade."""

from __future__ import annotations

import uuid
import zlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from collector.partitions import UNASSIGNED, KeyPartitions
from tests.collector.helpers import (
    append,
    docker_container,
    docker_lines,
    running,
    settings,
    wait_for,
)
from tests.conftest import create_topic, unique

PARTITIONS = 7


def _stats(topic: str, partitions: dict[str, dict[str, object]]) -> dict[str, object]:
    return {"topics": {topic: {"partitions": partitions}, "other": {"partitions": {}}}}


def test_count_from_stats_ignores_the_unassigned_queue_and_unknown_partitions() -> None:
    parts = KeyPartitions("t")
    assert parts.of(b"abc") == UNASSIGNED  # no count yet: librdkafka decides
    listed: dict[str, dict[str, object]] = {
        str(i): {"partition": i, "unknown": False} for i in range(5)}
    listed["-1"] = {"partition": -1, "unknown": False}
    listed["9"] = {"partition": 9, "unknown": True}
    parts.update(_stats("t", listed))
    assert parts.count == 5
    assert parts.of(b"abc") == zlib.crc32(b"abc") % 5
    assert parts.of(b"") == UNASSIGNED  # librdkafka spreads empty keys at random
    listed.update({str(i): {"partition": i, "unknown": False} for i in range(5, 8)})
    parts.update(_stats("t", listed))  # partitions added: the cache follows
    assert parts.of(b"abc") == zlib.crc32(b"abc") % 8
    parts.update({"topics": {}})  # a document without the topic changes nothing
    assert parts.count == 8


def test_another_partitioner_is_left_to_librdkafka() -> None:
    parts = KeyPartitions("t", "murmur2_random")
    parts.update(_stats("t", {"0": {"partition": 0}, "1": {"partition": 1}}))
    assert parts.of(b"abc") == UNASSIGNED


@pytest.fixture
def wide_topic(kafka_admin: AdminClient) -> Iterator[str]:
    name = unique("wide")
    create_topic(kafka_admin, name, PARTITIONS)
    yield name
    for fut in kafka_admin.delete_topics([name]).values():
        fut.result(timeout=30)


def _librdkafka_partition(bootstrap: str, topic: str, keys: list[bytes]) -> dict[bytes, int]:
    """Where a plain producer (librdkafka's default partitioner) puts each key."""
    got: dict[bytes, int] = {}

    def report(err: KafkaError | None, msg: Message) -> None:
        assert err is None, err
        key, partition = msg.key(), msg.partition()
        assert key is not None and partition is not None
        got[key] = partition

    producer = Producer({"bootstrap.servers": bootstrap})
    for key in keys:
        producer.produce(topic, b"probe", key, on_delivery=report)
    assert producer.flush(30) == 0
    return got


def _partitions_by_key(bootstrap: str, topic: str, total: int) -> dict[bytes, set[int]]:
    """Every partition each key's records were read from (``total`` records)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    seen: dict[bytes, set[int]] = defaultdict(set)
    read = [0]

    def all_read() -> bool:
        for msg in consumer.consume(num_messages=1000, timeout=0.2):
            key, partition = msg.key(), msg.partition()
            if msg.error() is None and key is not None and partition is not None:
                seen[key].add(partition)
                read[0] += 1
        return read[0] >= total

    try:
        wait_for(all_read, 60, f"{total} records")
    finally:
        consumer.close()
    return seen


@pytest.mark.integration
def test_each_container_lands_where_librdkafka_puts_its_key(
        tmp_path: Path, kafka_bootstrap: str, wide_topic: str) -> None:
    s = settings(tmp_path, kafka_bootstrap, wide_topic)
    logs = [docker_container(tmp_path, f"app{i}") for i in range(12)]
    with running(s) as agent:
        for log in logs:  # before the first statistics: librdkafka partitions them
            append(log, docker_lines([f"{log.name} before {n}" for n in range(20)]))
        wait_for(lambda: agent.out.partitions.count == PARTITIONS, 30, "the partition count")
        for log in logs:  # after: the collector passes the partition it computed
            append(log, docker_lines([f"{log.name} after {n}" for n in range(20)]))
        seen = _partitions_by_key(kafka_bootstrap, wide_topic, 40 * len(logs))
    keys = sorted(seen)
    assert len(keys) == len(logs), keys
    expected = _librdkafka_partition(kafka_bootstrap, wide_topic, keys)
    assert {k: sorted(v) for k, v in seen.items()} == {k: [p] for k, p in expected.items()}
    assert len(set(expected.values())) > 1  # the keys do spread: the check can tell
