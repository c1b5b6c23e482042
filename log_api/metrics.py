"""Every Prometheus metric of the Log API, declared in one place.

Same style as every ``<program>/metrics.py``: one class declaring all metrics on the
registry it is given. Each app makes its own (tests build many apps in one process).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry if registry is not None else CollectorRegistry()
        self.requests = Counter("logpipe_api_requests", "HTTP requests by route and status.",
                                ["route", "status"], registry=r)
        self.latency = Histogram("logpipe_api_request_seconds", "Time to the response head.",
                                 ["route"], registry=r)
        self.tails = Gauge("logpipe_api_tails", "Live tails connected now.", registry=r)
        self.tail_events = Counter("logpipe_api_tail_events", "Entries sent to tails.",
                                   registry=r)
        self.tail_missed = Counter("logpipe_api_tail_missed",
                                   "Entries dropped for slow tail clients (each was told).",
                                   registry=r)
        self.tail_gaps = Counter("logpipe_api_tail_gaps",
                                 "Gaps new tails were told to fetch from history.",
                                 ["reason"], registry=r)
        self.forwarder_lag_seconds = Gauge(
            "logpipe_api_forwarder_lag_seconds",
            "Age at the live hub of the oldest record the forwarders have not committed "
            "(a floor when that record already left the hub's ring; -1 when unknown).",
            registry=r)
        self.forwarder_lag_records = Gauge(
            "logpipe_api_forwarder_lag_records",
            "Records the forwarders have not committed (-1 when unknown).", registry=r)
        self.live_records = Counter("logpipe_api_live_records",
                                    "Records read from Kafka by the live hub.", registry=r)
        self.live_bad = Counter("logpipe_api_live_invalid",
                                "Kafka values that were not valid records.", registry=r)
        self.hub_connected = Gauge("logpipe_api_live_connected",
                                   "1 when the live hub reads from Kafka.", registry=r)
        self.download_entries = Counter("logpipe_api_download_entries",
                                        "Entries streamed by downloads.", registry=r)
        self.download_bytes = Counter("logpipe_api_download_bytes",
                                      "Bytes streamed by downloads (before gzip).", registry=r)
        self.download_failures = Counter("logpipe_api_download_failures",
                                         "Downloads aborted by an Elasticsearch error after "
                                         "their head was sent (the body says so).", registry=r)
        self.exports = Counter("logpipe_api_exports", "Export jobs by final state.",
                               ["state"], registry=r)
        self.limited = Counter("logpipe_api_limited",
                               "Requests refused with 429 by a per-token limit.", registry=r)
        self.pits_closed = Counter("logpipe_api_pits_evicted",
                                   "Search point-in-times closed past the per-token or total "
                                   "cap.", registry=r)
        self.export_bytes = Gauge("logpipe_api_export_bytes",
                                  "Bytes of export archives held in Elasticsearch (running "
                                  "and finished, every replica's), as of the last sweep.",
                                  registry=r)
        self.export_orphans = Counter("logpipe_api_export_orphans_swept",
                                      "Archive pieces of jobs that no longer exist (written "
                                      "while they were cancelled) deleted by the sweeper.",
                                      registry=r)
        self.export_takeovers = Counter("logpipe_api_export_takeovers",
                                        "Running exports this replica took over from a "
                                        "replica that stopped renewing its lease.",
                                        registry=r)
        self.export_leases_lost = Counter("logpipe_api_export_leases_lost",
                                          "Exports this replica stopped running because "
                                          "another took them over or they were cancelled "
                                          "elsewhere.", registry=r)
