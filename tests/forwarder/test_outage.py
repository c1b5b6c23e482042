"""Elasticsearch trouble, for real, on a private node: stopped mid-stream (nothing lost,
the forwarder stays up, offsets stand still) and overloaded into 429 rejections
(retried, nothing lost)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.forwarder.private_es import PrivateElastic
from tests.forwarder.util import (
    ForwarderProc,
    committed_total,
    count_docs,
    forwarder_env,
    make_record,
    produce_records,
    running,
    wait_until,
)

# A deliberate budget above the suite's 300 s:
# a private Elasticsearch stopped for 30 s and started again.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _failing_for(fwd: ForwarderProc) -> int:
    """Seconds of failing bulks reported by /readyz (503 'bulk requests failing for Ns')."""
    resp = fwd.get("/readyz")
    if resp is None or resp.status_code != 503:
        return 0
    m = re.search(r"failing for (\d+)s", resp.text)
    return int(m.group(1)) if m else 0


def test_bulk_rejections_are_retried_and_nothing_is_lost(
    kafka_bootstrap: str, private_es: PrivateElastic, topic: str, group: str,
    dlq_topic: str, tmp_path: Path,
) -> None:
    total = 5_000
    days = ("2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21")
    produce_records(kafka_bootstrap, topic,
                    (make_record(i, day=days[i % 4], run="429") for i in range(total)))
    es = Elasticsearch(private_es.url, request_timeout=30)
    prefix = "lpt-reject"
    env = forwarder_env(kafka_bootstrap, private_es.url, topic, prefix, group,
                        LOGPIPE_BULK_CONCURRENCY="12", LOGPIPE_MAX_PENDING_BATCHES="24",
                        LOGPIPE_BATCH_MAX_RECORDS="200", LOGPIPE_RETRY_MAX_S="1")
    try:
        with running(env, tmp_path / "fwd.log") as fwd:
            wait_until(lambda: committed_total(kafka_bootstrap, group, topic) == total, 120,
                       "every offset committed")
            retries = {reason: fwd.metric("logpipe_forwarder_bulk_retries_total",
                                          reason=reason)
                       for reason in ("status_429", "rejected_execution", "request_status")}
            dead = sum(fwd.metric("logpipe_forwarder_dead_lettered_total", stage="index",
                                  error_type=t) for t in ("es_rejected_execution_exception",))
        assert sum(retries.values()) > 0, f"no rejection was provoked: {retries}"
        print(f"retries by reason: {retries}")
        assert dead == 0
        assert count_docs(es, prefix) == total
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
        es.close()


def test_elasticsearch_stopped_mid_stream_then_started_loses_nothing(
    kafka_bootstrap: str, private_es: PrivateElastic, topic: str, group: str,
    dlq_topic: str, tmp_path: Path,
) -> None:
    es = Elasticsearch(private_es.url, request_timeout=30)
    prefix = "lpt-outage"
    env = forwarder_env(kafka_bootstrap, private_es.url, topic, prefix, group,
                        LOGPIPE_RETRY_MAX_S="2", LOGPIPE_ES_REQUEST_TIMEOUT_S="10")
    before = [make_record(i, run="before") for i in range(1000)]
    during = [make_record(i, run="during", day="2026-11-21") for i in range(1000)]
    try:
        with running(env, tmp_path / "fwd.log") as fwd:
            produce_records(kafka_bootstrap, topic, before)
            wait_until(lambda: committed_total(kafka_bootstrap, group, topic) == 1000, 60,
                       "the first thousand committed")
            assert count_docs(es, prefix) == 1000

            private_es.down()
            produce_records(kafka_bootstrap, topic, during)
            wait_until(lambda: fwd.metric("logpipe_forwarder_bulk_retries_total",
                                          reason="transport") > 0, 60, "a failed bulk")
            # /readyz turns red after 10 s of failing bulks and says for how long; hold
            # the outage 20 s, plus the 10-20 s Elasticsearch takes to start again.
            wait_until(lambda: _failing_for(fwd) >= 20, 90, "a 20 s outage seen by /readyz")
            assert committed_total(kafka_bootstrap, group, topic) == 1000, "offsets moved"
            assert fwd.proc.poll() is None, "the forwarder exited during the outage"

            private_es.up()
            wait_until(lambda: committed_total(kafka_bootstrap, group, topic) == 2000, 120,
                       "everything committed after the restart")
            assert fwd.proc.poll() is None
            wait_until(lambda: getattr(fwd.get("/readyz"), "status_code", 0) == 200, 30,
                       "/readyz green again")
        assert count_docs(es, prefix) == 2000
    finally:
        es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
        es.close()
