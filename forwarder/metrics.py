"""Every Prometheus metric of the forwarder, in one place, and the consumer lag taken
from librdkafka statistics.

Same style as every ``<program>/metrics.py``; ``METRICS`` is on the default registry,
which the forwarder serves (one forwarder per process).
"""

from __future__ import annotations

import logging

import orjson
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger(__name__)

class ForwarderMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = r = registry
        self.consumer_lag = Gauge(
            "logpipe_forwarder_consumer_lag",
            "Records in the partition after the group's committed offset (librdkafka "
            "consumer_lag).", ["topic", "partition"], registry=r)
        self.records_indexed = Counter(
            "logpipe_forwarder_records_indexed_total",
            "Records Elasticsearch holds after a bulk: created, or already there (409, a "
            "replay).", ["result"], registry=r)
        self.bulk_seconds = Histogram(
            "logpipe_forwarder_bulk_seconds", "Duration of one _bulk request.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=r)
        self.bulk_retries = Counter(
            "logpipe_forwarder_bulk_retries_total",
            "Items sent again, by why: status_429, status_5xx, rejected_execution, transport.",
            ["reason"], registry=r)
        self.dead_lettered = Counter(
            "logpipe_forwarder_dead_lettered_total",
            "Records written to the dead-letter topic, by stage and error type.",
            ["stage", "error_type"], registry=r)
        self.inflight_bytes = Gauge(
            "logpipe_forwarder_inflight_bytes",
            "Kafka value bytes of batches being made durable (bulk or DLQ attempts, retries "
            "included); with ES down this is the memory held by stuck batches.", registry=r)
        self.restarts = Counter(
            "logpipe_forwarder_consumer_restarts_total",
            "Times the consumer loop failed (e.g. a commit while Kafka was away) and was "
            "restarted.", registry=r)
        self.ts_clamped = Counter(
            "logpipe_forwarder_ts_clamped_total",
            "Records whose ts was replaced by the ingest time, by why (future: beyond "
            "ts_max_future_s; past: before the retention horizon).", ["why"], registry=r)
        self.split_requests = Counter(
            "logpipe_forwarder_bulk_split_total",
            "Bulk requests Elasticsearch refused as a whole (400, 413) and sent again in "
            "halves to find the records it refuses.", registry=r)
        self.batches = Counter(
            "logpipe_forwarder_batches_total",
            "Batches made durable and handed to the commit step.", registry=r)


METRICS = ForwarderMetrics()
# forwarder/bulk.py and tests/forwarder/test_units.py still read these module-level
# names; they go once those use METRICS (both are being reworked in parallel).
CONSUMER_LAG = METRICS.consumer_lag
RECORDS_INDEXED = METRICS.records_indexed
BULK_SECONDS = METRICS.bulk_seconds
BULK_RETRIES = METRICS.bulk_retries
DEAD_LETTERED = METRICS.dead_lettered


# Lag series published by the last statistics; a partition that moved to another
# forwarder must disappear, not keep reporting its last lag forever.
_lag_series: set[tuple[str, str]] = set()


def on_stats(stats_json: str) -> None:
    """librdkafka ``stats_cb``: publish consumer lag per assigned partition.

    ``consumer_lag`` is high watermark minus committed offset, so it is the number of
    records that a crash right now would replay, which is what an operator wants.
    """
    try:
        stats = orjson.loads(stats_json)
        seen: set[tuple[str, str]] = set()
        for topic, tstats in stats.get("topics", {}).items():
            for pid, pstats in tstats.get("partitions", {}).items():
                lag = pstats.get("consumer_lag", -1)
                if pid == "-1" or lag < 0:
                    continue  # -1 is librdkafka's internal UA partition; -1 lag is unknown
                METRICS.consumer_lag.labels(topic, pid).set(lag)
                seen.add((topic, pid))
        for gone in _lag_series - seen:
            METRICS.consumer_lag.remove(*gone)
        _lag_series.clear()
        _lag_series.update(seen)
    except (orjson.JSONDecodeError, AttributeError, TypeError) as exc:
        log.debug("unreadable librdkafka statistics: %s", exc)
