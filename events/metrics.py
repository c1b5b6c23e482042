"""Every Prometheus metric of ``logpipe events``, in one place.

Same style as every ``<program>/metrics.py``; ``METRICS`` is on the default registry,
which the role serves (with the kube and delivery metrics).
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Gauge


class EventsMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = r = registry
        self.in_flight = Gauge("logpipe_events_in_flight",
                               "Event records produced, not yet acknowledged.", registry=r)
        self.leader = Gauge("logpipe_events_leader", "1 while this replica holds the Lease.",
                            registry=r)


METRICS = EventsMetrics()
