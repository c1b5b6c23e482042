"""The collector's one Settings class (env ``LOGPIPE_<FIELD>`` or the YAML file)."""

from __future__ import annotations

import socket
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from collector.level_detect import compile_level_rule
from collector.multiline import START_MAX_CHARS, PatternRefused, compile_start
from logpipe.settings import MetricsEndpoint

SourceKind = Literal["docker", "cri", "file"]


class CollectorSettings(MetricsEndpoint):
    metrics_port_default = 9101
    renamed: ClassVar[dict[str, str]] = {"pod_metadata_retention": "pod_metadata_retention_s"}

    node_name: str = Field(default_factory=socket.gethostname, description="Node name put "
                           "in every record and its id (default: hostname).")
    sources: list[SourceKind] = Field(
        default_factory=lambda: list[SourceKind](["docker", "cri", "file"]),
        description="Source kinds to tail.")
    docker_root: str = Field("/var/lib/docker/containers",
                             description="Docker containers folder.")
    docker_globs: list[str] = Field(default_factory=lambda: ["*/*-json.log"],
                                    description="Globs under docker_root for json-file logs.")
    cri_root: str = Field("/var/log/pods", description="Kubelet pod logs folder (CRI format).")
    cri_globs: list[str] = Field(default_factory=lambda: ["*/*/*.log"],
                                 description="Globs under cri_root for CRI logs.")
    host_root: str = Field("/var/log", description="Host logs folder.")
    host_globs: list[str] = Field(default_factory=lambda: ["*.log", "syslog", "messages"],
                                  description="Globs under host_root for plain text logs.")
    include: list[str] = Field(default_factory=list,
                               description="fnmatch patterns on the full path; if set, only "
                               "matching files are tailed.")
    exclude: list[str] = Field(default_factory=list,
                               description="fnmatch patterns on the full path never tailed.")
    state_dir: str = Field("/var/lib/logpipe-collector",
                           description="Folder for checkpoints (a hostPath in Kubernetes).")
    start_at: Literal["head", "tail"] = Field(
        "head", description="At the very first start (no checkpoints yet): read files that "
        "already exist from the head, or only what is written from now on. Files found "
        "later are always read from the head.")
    checkpoint_interval_s: float = Field(1.0, gt=0,
                                         description="How often checkpoints are written.")
    scan_interval_s: float = Field(10.0, gt=0, description="Periodic glob scan backing inotify.")
    rotate_check_s: float = Field(1.0, gt=0, description="How often a path is checked for "
                                  "rename, deletion and truncation.")
    rotate_wait_s: float = Field(300.0, gt=0, description="Deadline for reading a renamed or "
                                 "deleted file to its end; bytes left are counted as given up.")
    max_open_files: int = Field(2048, ge=2, description="Cap on open files; beyond it the "
                                "oldest rotated/deleted file is given up (and counted).")
    read_chunk_bytes: int = Field(1 << 20, ge=4096, description="Bytes read per file per pass.")
    max_line_bytes: int = Field(256 << 10, ge=1024, description="Longer lines are cut and tagged "
                                "truncated (the rest of the line is skipped).")
    max_record_bytes: int = Field(900_000, ge=4096, description="Encoded record cap (below the "
                                  "broker's message.max.bytes); bigger messages are cut.")
    idle_tail_flush_s: float = Field(5.0, gt=0, description="An unterminated last line that "
                                     "has not grown for this long is read as a line.")
    multiline: bool = Field(True, description="Join continuation lines (stack traces).")
    multiline_flush_ms: int = Field(50, ge=0, description="A held entry is sent after this "
                                    "long without a continuation line.")
    multiline_max_bytes: int = Field(1 << 20, ge=1024, description="Cap on one joined entry.")
    multiline_max_lines: int = Field(1000, ge=2, description="Cap on lines of one joined entry.")
    multiline_start_patterns: dict[str, str] = Field(
        default_factory=dict, description="app -> regex: for that app a line starting a new "
        "entry matches the regex, every other line continues the previous one. RE2 syntax "
        "(linear time: no backreferences or lookaround), at most "
        "multiline_start_max_chars characters; checked at start-up.")
    multiline_start_max_chars: int = Field(
        START_MAX_CHARS, ge=16, le=65536, description="Longest multi-line start pattern "
        "accepted (settings and the logpipe.io/multiline-start annotation); a longer or "
        "invalid annotation is refused, reported (log, metric, a Kubernetes Event on the "
        "pod) and the built-in rules apply.")
    level_rules: dict[str, str] = Field(
        default_factory=dict, description="app -> rule: where that app's lines write their "
        "level, tried before the built-in detection (which still decides a line the rule "
        "finds no level in). Either an RE2 regex with a group named level "
        "('\\| (?P<level>[A-Z]) \\|') searched in the entry's first line, or json:<key> "
        "('json:log.level'; a dotted key reaches into nested objects). The pod annotation "
        "logpipe.io/level overrides it; at most multiline_start_max_chars characters; "
        "checked at start-up.")
    default_namespace: str = Field("default", description="Namespace of containers with no "
                                   "Kubernetes or Compose label.")
    host_namespace: str = Field("host", description="Namespace of host files.")
    compression: Literal["lz4", "zstd", "snappy", "gzip", "none"] = Field(
        "lz4", description="Kafka compression codec.")
    ledger_topic: str = Field("logs-ledger", description="Topic of the completeness "
                              "ledger (what each file gave Kafka, and every gap with its cause; "
                              "indexed by the forwarder for `logpipe audit`). Empty: no ledger.")
    ledger_interval_s: float = Field(
        5.0, gt=0, description="How often each file's acknowledged range goes to the ledger "
        "(one entry per file that moved). The checkpoint follows the ledger, so a crash "
        "re-reads up to this much more (same ids, no duplicates).")
    linger_ms: int = Field(20, ge=0, description="Producer linger (batching delay).")
    queue_max_kbytes: int = Field(16384, ge=1024, description="Producer queue bound; when full "
                                  "the collector stops reading (backpressure). Most of the "
                                  "collector's memory under load: peak RSS about 93 MB at "
                                  "16 MiB, 159 MB at 64 MiB, at the same rate.")
    shutdown_timeout_s: float = Field(10.0, ge=0, description="On stop, how long to wait for "
                                      "Kafka to acknowledge what was sent.")
    unready_after_s: float = Field(10.0, gt=0, description="/readyz answers 503 once reading "
                                   "has been paused by backpressure for this long.")
    rate_limit_lines: float = Field(0.0, ge=0, description="Per-source lines/s token bucket; "
                                    "0 = off. A limited source is paused, never dropped.")
    pod_metadata: Literal["auto", "true", "false"] = Field(
        "auto", description="Enrich container records with pod labels and owner from the "
        "Kubernetes API (a watch of this node's pods) and honour the logpipe.io/exclude and "
        "logpipe.io/multiline-start annotations. auto = on when in-cluster service-account "
        "credentials exist or kubeconfig is set; true = on (exit 2 without credentials); "
        "false = off.")
    pod_metadata_retention_s: float = Field(300.0, ge=0, description="Seconds a deleted pod's "
                                          "metadata stays cached, so files opened after the "
                                          "deletion are still enriched.")
    pod_owner_lookup: bool = Field(False, description="Ask the API for a pod's ReplicaSet / "
                                   "Job to name the real owner (Deployment, CronJob); needs "
                                   "get on replicasets and jobs. Off: the Deployment is "
                                   "derived from the ReplicaSet name.")
    pod_metadata_wait_s: float = Field(5.0, ge=0, description="At start, wait at most this "
                                       "long for the first pod list before opening files "
                                       "(so excluded pods are not shipped meanwhile); the "
                                       "API being down only delays the start by this much.")
    kubeconfig: str | None = Field(None, description="kubeconfig file for pod metadata; "
                                   "unset = in-cluster service account, then $KUBECONFIG, "
                                   "then ~/.kube/config.")
    kube_context: str | None = Field(None, description="kubeconfig context; unset = current.")

    @model_validator(mode="after")
    def _patterns_compile(self) -> CollectorSettings:
        # The operator's own patterns are refused at start-up (exit 2 with this message),
        # with the same RE2 compiler and cap that pod annotations meet at run time.
        for app, pattern in self.multiline_start_patterns.items():
            try:
                compile_start(pattern, self.multiline_start_max_chars)
            except PatternRefused as exc:
                raise ValueError(f"multiline_start_patterns[{app!r}]: {exc}") from None
        for app, rule in self.level_rules.items():
            try:
                compile_level_rule(rule, self.multiline_start_max_chars)
            except PatternRefused as exc:
                raise ValueError(f"level_rules[{app!r}]: {exc}") from None
        return self

    @field_validator("pod_metadata", mode="before")
    @classmethod
    def _tristate(cls, value: object) -> object:
        # YAML files and Helm give booleans; the environment gives "true"/"True".
        if isinstance(value, bool):
            return "true" if value else "false"
        return value.strip().lower() if isinstance(value, str) else value
