"""Every Prometheus metric of the kube package (the list+watch loop), in one place.

Same style as every ``<program>/metrics.py``; the one instance, ``METRICS``, is on the
default registry, which ``logpipe events`` serves and the collector bridges onto its own.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter


class KubeMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = r = registry
        self.relists = Counter("logpipe_kube_relists_total",
                               "Lists after start-up or 410 Gone.", ["resource"], registry=r)
        self.watch_restarts = Counter("logpipe_kube_watch_restarts_total",
                                      "Watches re-opened, by why.", ["resource", "reason"],
                                      registry=r)
        self.watch_events = Counter("logpipe_kube_watch_events_total",
                                    "Watch events received.", ["resource", "type"], registry=r)


METRICS = KubeMetrics()
