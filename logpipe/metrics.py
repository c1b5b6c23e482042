"""Every Prometheus metric of the shared base (the record producer of the single-record
roles, ``logpipe.delivery``), in one place.

Same style as every ``<program>/metrics.py``; ``METRICS`` is on the default registry,
served by ``logpipe events`` and ``logpipe journald``. The names keep their historical
``logpipe_kube_`` prefix (dashboards use them); the ``role`` label tells the roles apart.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = r = registry
        self.produced = Counter("logpipe_kube_records_produced_total",
                                "Records acknowledged by Kafka.", ["role"], registry=r)
        self.failed = Counter("logpipe_kube_records_failed_total",
                              "Records Kafka refused after librdkafka's own retries.", ["role"],
                              registry=r)


METRICS = DeliveryMetrics()
