"""Every program declares its metrics in one ``<program>/metrics.py`` class, and the
exposed names and labels are the ones dashboards, docs and alerts already use.

The names are written out literally on purpose: renaming a metric must fail here."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from collector.metrics import CollectorMetrics
from events.metrics import EventsMetrics
from forwarder.metrics import ForwarderMetrics
from journald.metrics import JournaldMetrics
from kube.metrics import KubeMetrics
from log_api.metrics import ApiMetrics
from logpipe.metrics import DeliveryMetrics

# (class, {exposed name: (type, label names)}); counters are exposed with _total.
EXPECTED: list[tuple[type, dict[str, tuple[str, tuple[str, ...]]]]] = [
    (CollectorMetrics, {
        "logpipe_collector_lines_read_total": ("counter", ("kind",)),
        "logpipe_collector_bytes_read_total": ("counter", ("kind",)),
        "logpipe_collector_records_produced_total": ("counter", ()),
        "logpipe_collector_records_acked_total": ("counter", ()),
        "logpipe_collector_records_failed_total": ("counter", ()),
        "logpipe_collector_lines_truncated_total": ("counter", ()),
        "logpipe_collector_bytes_given_up_total": ("counter", ()),
        "logpipe_collector_bytes_excluded_total": ("counter", ()),
        "logpipe_collector_rotations_total": ("counter", ("kind",)),
        "logpipe_collector_bytes_lost_total": ("counter", ("cause",)),
        "logpipe_collector_rotated_found_total": ("counter", ("how",)),
        "logpipe_collector_files_open": ("gauge", ()),
        "logpipe_collector_checkpoint_lag_bytes": ("gauge", ()),
        "logpipe_collector_backpressure": ("gauge", ()),
        "logpipe_collector_backpressure_seconds_total": ("counter", ()),
        "logpipe_collector_checkpoint_writes_total": ("counter", ()),
        "logpipe_pod_cache_pods": ("gauge", ("state",)),
        "logpipe_collector_multiline_patterns_refused_total": ("counter", ("origin",)),
        "logpipe_collector_level_rules_refused_total": ("counter", ("origin",)),
        "logpipe_collector_symlinks_refused_total": ("counter", ()),
        "logpipe_collector_checkpoint_damaged_total": ("counter", ("what",)),
    }),
    (ForwarderMetrics, {
        "logpipe_forwarder_consumer_lag": ("gauge", ("topic", "partition")),
        "logpipe_forwarder_records_indexed_total": ("counter", ("result",)),
        "logpipe_forwarder_bulk_seconds": ("histogram", ()),
        "logpipe_forwarder_bulk_retries_total": ("counter", ("reason",)),
        "logpipe_forwarder_dead_lettered_total": ("counter", ("stage", "error_type")),
        "logpipe_forwarder_inflight_bytes": ("gauge", ()),
        "logpipe_forwarder_consumer_restarts_total": ("counter", ()),
        "logpipe_forwarder_batches_total": ("counter", ()),
        "logpipe_forwarder_ts_clamped_total": ("counter", ("why",)),
        "logpipe_forwarder_bulk_split_total": ("counter", ()),
    }),
    (ApiMetrics, {
        "logpipe_api_requests_total": ("counter", ("route", "status")),
        "logpipe_api_request_seconds": ("histogram", ("route",)),
        "logpipe_api_tails": ("gauge", ()),
        "logpipe_api_tail_events_total": ("counter", ()),
        "logpipe_api_tail_missed_total": ("counter", ()),
        "logpipe_api_tail_gaps_total": ("counter", ("reason",)),
        "logpipe_api_forwarder_lag_seconds": ("gauge", ()),
        "logpipe_api_forwarder_lag_records": ("gauge", ()),
        "logpipe_api_live_records_total": ("counter", ()),
        "logpipe_api_live_invalid_total": ("counter", ()),
        "logpipe_api_live_connected": ("gauge", ()),
        "logpipe_api_download_entries_total": ("counter", ()),
        "logpipe_api_download_bytes_total": ("counter", ()),
        "logpipe_api_download_failures_total": ("counter", ()),
        "logpipe_api_exports_total": ("counter", ("state",)),
        "logpipe_api_limited_total": ("counter", ()),
        "logpipe_api_pits_evicted_total": ("counter", ()),
        "logpipe_api_export_bytes": ("gauge", ()),
        "logpipe_api_export_orphans_swept_total": ("counter", ()),
        "logpipe_api_export_takeovers_total": ("counter", ()),
        "logpipe_api_export_leases_lost_total": ("counter", ()),
    }),
    (EventsMetrics, {
        "logpipe_events_in_flight": ("gauge", ()),
        "logpipe_events_leader": ("gauge", ()),
    }),
    (JournaldMetrics, {
        "logpipe_journald_restarts_total": ("counter", ()),
        "logpipe_journald_bad_lines_total": ("counter", ()),
    }),
    (KubeMetrics, {
        "logpipe_kube_relists_total": ("counter", ("resource",)),
        "logpipe_kube_watch_restarts_total": ("counter", ("resource", "reason")),
        "logpipe_kube_watch_events_total": ("counter", ("resource", "type")),
    }),
    (DeliveryMetrics, {
        "logpipe_kube_records_produced_total": ("counter", ("role",)),
        "logpipe_kube_records_failed_total": ("counter", ("role",)),
    }),
]


def _declared(metrics: object) -> dict[str, tuple[str, tuple[str, ...]]]:
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            kind = str(metric._type)
            name = metric._name + ("_total" if kind == "counter" else "")
            found[name] = (kind, tuple(metric._labelnames))
    return found


@pytest.mark.parametrize(("cls", "expected"), EXPECTED, ids=lambda v: getattr(v, "__name__", ""))
def test_each_program_declares_its_metrics_in_one_class(
        cls: type, expected: dict[str, tuple[str, tuple[str, ...]]]) -> None:
    registry = CollectorRegistry()
    metrics = cls(registry)
    assert _declared(metrics) == expected
    assert metrics.registry is registry
    # Everything the class declared is on the registry it was given, and nothing else.
    names = {f.name for f in registry.collect()}
    assert names == {n.removesuffix("_total") for n in expected}


def test_unlabelled_metrics_are_exposed_under_their_names() -> None:
    text = generate_latest(CollectorMetrics().registry).decode()
    assert "logpipe_collector_records_acked_total 0.0" in text


def test_the_collector_bridges_the_kube_metrics() -> None:
    from collector.podmeta import _Bridge
    from kube.metrics import METRICS

    METRICS.relists.labels("bridge-test").inc()
    registry = CollectorMetrics().registry
    registry.register(_Bridge())
    text = generate_latest(registry).decode()
    assert 'logpipe_kube_relists_total{resource="bridge-test"}' in text
