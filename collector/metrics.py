"""Every Prometheus metric of the collector, declared in one place.

The style of every program's ``<program>/metrics.py``: one class whose constructor
declares all the program's metrics on the registry it is given. The collector makes
one per ``Agent`` on a registry of its own, so tests can run several agents in one
process; the kube metrics of the pod watch are bridged in (``collector.podmeta``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class CollectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry if registry is not None else CollectorRegistry()
        self.lines_read = Counter("logpipe_collector_lines_read", "Lines read, by source kind.",
                                  ["kind"], registry=r)
        self.bytes_read = Counter("logpipe_collector_bytes_read", "Bytes read, by source kind.",
                                  ["kind"], registry=r)
        self.produced = Counter("logpipe_collector_records_produced",
                                "Records handed to the Kafka producer.", registry=r)
        self.acked = Counter("logpipe_collector_records_acked",
                             "Records acknowledged by Kafka (acks=all).", registry=r)
        self.failed = Counter("logpipe_collector_records_failed",
                              "Failed delivery reports (each rewinds to the checkpoints).",
                              registry=r)
        self.truncated = Counter("logpipe_collector_lines_truncated",
                                 "Lines or records cut to the size limits and tagged.", registry=r)
        self.given_up = Counter("logpipe_collector_bytes_given_up",
                                "Bytes of renamed/deleted files left unread (deadline or "
                                "open-files cap).", registry=r)
        self.excluded = Counter("logpipe_collector_bytes_excluded",
                                "Bytes skipped, not shipped: pods annotated "
                                "logpipe.io/exclude.", registry=r)
        self.rotations = Counter("logpipe_collector_rotations",
                                 "Rotations seen, by kind (rename, truncate, delete).", ["kind"],
                                 registry=r)
        self.lost_bytes = Counter("logpipe_collector_bytes_lost",
                                  "Bytes that can no longer be read, by cause (truncated: a "
                                  "copytruncate with no copy found; deleted: a file gone while "
                                  "the collector was down).", ["cause"], registry=r)
        self.rotated_found = Counter("logpipe_collector_rotated_found",
                                     "Rotated files found next to a stream and read, by how "
                                     "(checkpointed, unseen, copy).", ["how"], registry=r)
        self.files_open = Gauge("logpipe_collector_files_open", "Files held open.", registry=r)
        self.checkpoint_lag = Gauge("logpipe_collector_checkpoint_lag_bytes",
                                    "Bytes of tracked files beyond their checkpoints.", registry=r)
        self.backpressure = Gauge("logpipe_collector_backpressure",
                                  "1 while reading is paused because Kafka is slow or down.",
                                  registry=r)
        self.backpressure_seconds = Counter("logpipe_collector_backpressure_seconds",
                                            "Time spent paused by backpressure.", registry=r)
        self.checkpoint_writes = Counter("logpipe_collector_checkpoint_writes",
                                         "Checkpoint file replacements.", registry=r)
        self.patterns_refused = Counter(
            "logpipe_collector_multiline_patterns_refused",
            "Multi-line start patterns refused (invalid RE2, too long), by origin "
            "(annotation, setting); the built-in rules apply instead.", ["origin"], registry=r)
        self.level_rules_refused = Counter(
            "logpipe_collector_level_rules_refused",
            "Per-app level rules refused (invalid RE2, no level group, too long), by origin "
            "(annotation, setting); the built-in level detection applies instead.",
            ["origin"], registry=r)
        self.symlinks_refused = Counter(
            "logpipe_collector_symlinks_refused",
            "Paths found under a root that lead out of the roots (not read).", registry=r)
        self.checkpoint_damaged = Counter(
            "logpipe_collector_checkpoint_damaged",
            "Checkpoint files found damaged (moved aside) or not written, by what "
            "(damaged, prev_damaged, write_failed).", ["what"], registry=r)
        self.pod_cache_pods = Gauge("logpipe_pod_cache_pods", "Pods in the metadata cache.",
                                    ["state"], registry=r)
