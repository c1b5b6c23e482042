"""Every Prometheus metric of ``logpipe journald``, in one place.

Same style as every ``<program>/metrics.py``; ``METRICS`` is on the default registry,
which the role serves (with the delivery metrics).
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter


class JournaldMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = r = registry
        self.restarts = Counter("logpipe_journald_restarts_total", "journalctl (re)starts.",
                                registry=r)
        self.bad_lines = Counter("logpipe_journald_bad_lines_total",
                                 "journalctl lines that were not JSON.", registry=r)


METRICS = JournaldMetrics()
