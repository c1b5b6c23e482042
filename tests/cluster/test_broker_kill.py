"""SIGKILL the broker that leads the logs partitions while lines flow, wait, start it
again: every line is in Elasticsearch exactly once, and a live tail that was open the
whole time saw every line once, in order, without a gap."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from stack.manager import Stack
from tests.cluster.harness import (
    Tail,
    assert_every_line_once,
    assert_tail_complete,
    doc_count,
    leaders,
    pipeline,
    topic_config,
)
from tests.forwarder.util import wait_until

pytestmark = pytest.mark.timeout(900)

DOWN_S = 10.0  # the broker stays dead this long (after its partitions moved), lines coming


def test_leader_broker_killed_and_restarted(cluster: Stack, cluster_es: Elasticsearch,
                                            tmp_path: Path) -> None:
    admin = AdminClient({"bootstrap.servers": cluster.settings.kafka_bootstrap})
    with pipeline(cluster, tmp_path) as (p, writer, base, _):
        wait_until(lambda: doc_count(cluster_es, p.prefix) > 0, 180, "the first lines indexed")
        # Created by the collector's first record, with the brokers' defaults.
        assert topic_config(admin, p.topic) == (3, "2")
        index = next(iter(cluster_es.indices.get(index=f"{p.prefix}-*").values()))
        assert index["settings"]["index"]["number_of_replicas"] == "1"

        tail = Tail(base)
        assert tail.live.wait(120), f"the tail never went live: {tail.error!r}"
        wait_until(lambda: tail.received() > 200 and set(tail.seqs) == set(writer.names),
                   120, "lines of every container on the live tail")

        # The broker leading the most partitions of the topic (ties: partition 0's).
        led = leaders(admin, p.topic)
        victim_id = Counter(led.values()).most_common(1)[0][0]
        victim = next(b for b in cluster.brokers if b.node_id == victim_id)
        before = writer.total
        steady = tail.last_seen()
        fault_ns = time.time_ns()
        assert victim.kill() is not None
        wait_until(lambda: victim_id not in leaders(admin, p.topic).values(), 120,
                   "the partitions led by another broker")
        time.sleep(DOWN_S)
        assert writer.total > before, "the writer kept going"
        victim.up()
        wait_until(lambda: victim_id in cluster.brokers[0 if victim_id != 1 else 1].brokers(),
                   120, "the restarted broker registered again")

        # More lines after the restart, then stop writing and check everything.
        wait_until(lambda: writer.total > before + 1500, 180, "lines after the restart")
        writer.stop()
        assert_every_line_once(cluster_es, p.prefix, writer)
        wait_until(lambda: tail.caught_up(writer), 180, "the tail at the last line written")
        tail.stop()
        assert_tail_complete(tail, writer, steady, fault_ns)
        assert p.collector is not None and p.collector.poll() is None
        assert all(f.proc.poll() is None for f in p.forwarders)
