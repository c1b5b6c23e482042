"""Three forwarders in one group on the cluster, one SIGKILLed while it has a batch in
flight: its partitions move to the two left, nothing is lost, no document is doubled
(the replayed records overwrite themselves: same ids)."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from stack.manager import Stack
from tests.cluster.harness import api_get, assert_every_line_once, doc_count, pipeline
from tests.forwarder.util import wait_until

pytestmark = pytest.mark.timeout(900)


def _assignments(admin: AdminClient, group: str) -> list[set[int]]:
    desc = admin.describe_consumer_groups([group])[group].result(timeout=30)
    return [{tp.partition for tp in m.assignment.topic_partitions} for m in desc.members]


def test_three_forwarders_one_killed_mid_batch(cluster: Stack, cluster_es: Elasticsearch,
                                               tmp_path: Path) -> None:
    admin = AdminClient({"bootstrap.servers": cluster.settings.kafka_bootstrap})
    # Small batches, several in flight: a kill lands in the middle of one.
    with pipeline(cluster, tmp_path, forwarders=3, LOGPIPE_BATCH_MAX_RECORDS="200",
                  LOGPIPE_BULK_CONCURRENCY="2") as (p, writer, base, _):

        def split_three() -> bool:
            parts = _assignments(admin, p.group)
            return len(parts) == 3 and all(len(x) == 1 for x in parts) \
                and set().union(*parts) == {0, 1, 2}

        wait_until(split_three, 180, "three members with one partition each")
        writer.write(3000)  # a backlog on every partition, on top of the steady flow
        wait_until(lambda: doc_count(cluster_es, p.prefix) > 2000, 180, "indexing under way")

        victim = p.forwarders[1]
        wait_until(lambda: victim.metric("logpipe_forwarder_inflight_bytes") > 0, 120,
                   "a batch in flight on the victim", interval=0.02)
        victim.kill()

        def moved() -> bool:
            parts = _assignments(admin, p.group)
            return len(parts) == 2 and set().union(*parts) == {0, 1, 2}

        wait_until(moved, 180, "the victim's partition taken over by the two left")
        writer.write(3000)
        writer.stop()
        assert_every_line_once(cluster_es, p.prefix, writer)
        # The API counts the same: every line, once.
        wait_until(lambda: api_get(base, "/stats/levels", since="1h").json().get("total")
                   == writer.total, 120, "the API's total at every line")
        assert victim.proc.returncode == -9
        assert all(f.proc.poll() is None for f in p.forwarders if f is not victim)
