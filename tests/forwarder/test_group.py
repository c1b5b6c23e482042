"""Two forwarders in one consumer group split the partitions, and stopping one
mid-stream loses nothing: the other takes its partitions over."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from tests.forwarder.util import (
    committed_total,
    count_docs,
    forwarder_env,
    free_port,
    make_record,
    produce_records,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration


def _assignments(admin: AdminClient, group: str) -> list[set[int]]:
    desc = admin.describe_consumer_groups([group])[group].result(timeout=30)
    return [{tp.partition for tp in m.assignment.topic_partitions} for m in desc.members]


def test_two_forwarders_split_partitions_and_one_stopping_loses_nothing(
    kafka_bootstrap: str, es_url: str, es: Elasticsearch, kafka_admin: AdminClient,
    topic: str, index_prefix: str, group: str, dlq_topic: str, tmp_path: Path,
) -> None:
    first = [make_record(i, run="g1") for i in range(3000)]
    second = [make_record(i, run="g2", day="2026-11-21") for i in range(20_000)]
    produce_records(kafka_bootstrap, topic, first)
    env = forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group)
    with running(env, tmp_path / "a.log") as a, \
            running({**env, "LOGPIPE_METRICS_PORT": str(free_port())}, tmp_path / "b.log") as b:

        def split() -> bool:
            parts = _assignments(kafka_admin, group)
            return len(parts) == 2 and all(parts) and parts[0] | parts[1] == {0, 1, 2}

        wait_until(split, 60, "two members sharing the three partitions")
        parts = _assignments(kafka_admin, group)
        assert not parts[0] & parts[1]
        wait_until(lambda: committed_total(kafka_bootstrap, group, topic) == 3000, 60,
                   "the first records committed")

        produce_records(kafka_bootstrap, topic, second)
        wait_until(lambda: count_docs(es, index_prefix) >= 5000, 60, "indexing under way")
        assert a.stop() == 0, "a SIGTERM'd forwarder exits cleanly"
        wait_until(lambda: committed_total(kafka_bootstrap, group, topic) == 23_000, 120,
                   "everything committed by the remaining forwarder")
        assert b.proc.poll() is None
        assert _assignments(kafka_admin, group) == [{0, 1, 2}]
    assert count_docs(es, index_prefix) == 23_000
