"""The forwarder's one Settings class: env vars ``LOGPIPE_<FIELD>``, validated at start-up."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from logpipe.settings import MetricsEndpoint


class ForwarderSettings(MetricsEndpoint):
    """Everything the forwarder can be told; unknown keys are refused."""

    metrics_port_default = 9102
    renamed: ClassVar[dict[str, str]] = {
        "batch_max_seconds": "batch_max_s", "retry_initial_seconds": "retry_initial_s",
        "retry_max_seconds": "retry_max_s", "es_request_timeout": "es_request_timeout_s",
        "shutdown_timeout": "shutdown_timeout_s",
        "janitor_interval_seconds": "janitor_interval_s",
    }

    consumer_group: str = Field(
        "logpipe-forwarder",
        description="Kafka consumer group; every forwarder in the group shares the partitions.",
    )
    auto_offset_reset: str = Field(
        "earliest", pattern="^(earliest|latest)$",
        description="Where a group with no committed offset starts: earliest or latest.",
    )
    dlq_topic: str | None = Field(
        None, description="Dead-letter topic; empty means '<kafka_topic>.dlq'.",
    )
    ledger_topic: str = Field(
        "logs-ledger", description="The collectors' completeness ledger topic: indexed, "
        "with the dead letters, into <prefix>_ledger-YYYY.MM.DD for the audit. Empty: off.",
    )
    batch_max_records: int = Field(
        2000, ge=1, description="A bulk request is sent once it holds this many records...",
    )
    batch_max_bytes: int = Field(
        5_000_000, ge=1024, description="...or this many bytes of Kafka message values...",
    )
    batch_max_s: float = Field(
        0.5, gt=0, description="...or its first record has waited this long.",
    )
    bulk_concurrency: int = Field(
        4, ge=1, description="Bulk requests in flight at once (threads).",
    )
    max_pending_batches: int = Field(
        8, ge=1,
        description="Batches accepted but not yet committed before consumption pauses; "
        "bounds memory to about max_pending_batches * batch_max_bytes.",
    )
    retry_initial_s: float = Field(
        0.2, gt=0, description="First back-off before resending failed items.",
    )
    retry_max_s: float = Field(
        30.0, gt=0, description="Cap of the exponential back-off (jitter is added below it).",
    )
    es_request_timeout_s: float = Field(
        60.0, gt=0, description="Seconds one Elasticsearch request may take.",
    )
    shutdown_timeout_s: float = Field(
        25.0, gt=0,
        description="On shutdown or rebalance, seconds to finish in-flight batches; the "
        "rest is left uncommitted and replayed by the next owner.",
    )
    index_shards: int = Field(1, ge=1, description="number_of_shards of each daily index.")
    index_replicas: int = Field(0, ge=0, description="number_of_replicas of each daily index.")
    index_refresh_interval: str = Field(
        "1s", description="refresh_interval of each daily index (e.g. 1s, 30s, -1).",
    )
    template_priority: int = Field(
        500, ge=0, description="Priority of the composable index template '<index_prefix>'.",
    )
    retention_days: int = Field(
        0, ge=0,
        description="Janitor: delete daily indices older than this many days; 0 = off.",
    )
    janitor_interval_s: float = Field(
        3600.0, gt=0, description="Janitor: seconds between retention passes.",
    )
    ts_max_future_s: float = Field(
        86400.0, gt=0, description="A record whose ts is more than this far after the time it "
        "is indexed gets the ingest time as ts (tagged ts_clamped, its own time kept in "
        "attrs.original_ts), so no index is created for a far future day.",
    )
    ts_max_past_days: int = Field(
        0, ge=0, description="A record whose ts is more than this many days before today is "
        "clamped the same way; 0 = retention_days (so no record lands in an index the "
        "janitor deletes at once), and no limit when retention is off too.",
    )
    janitor_dry_run: bool = Field(
        False, description="Janitor: only log what would be deleted.",
    )
    request_id_keys: str = Field(
        "", description="Comma-separated extra keys of a JSON/logfmt line whose value is "
        "indexed as request_id (beside request_id, x-request-id, correlation_id ...; "
        "compared without case, '-', '_' and '.'). Give the Log API the same list "
        "(LOGPIPE_REQUEST_ID_KEYS is read by both) so live tails derive the same ids.",
    )

    def dead_letter_topic(self) -> str:
        return self.dlq_topic or f"{self.kafka_topic}.dlq"
