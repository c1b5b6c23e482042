"""Settings of the Log API Engine (``logpipe api``): env ``LOGPIPE_<FIELD>`` or YAML."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr

from logpipe.settings import CommonSettings


class ApiSettings(CommonSettings):
    renamed: ClassVar[dict[str, str]] = {"es_request_timeout": "es_request_timeout_s"}
    retired: ClassVar[dict[str, str]] = {
        "export_dir": "export archives are kept in Elasticsearch (<index_prefix>_state), "
                      "shared by every replica; no volume is needed"}

    host: str = Field("127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(8080, ge=0, le=65535, description="Port of the API and web page.")
    tokens_file: Path | None = Field(
        None,
        description="YAML file of bearer tokens: sha256 hash -> namespaces or admin. "
        "Without one every request is refused with 401 unless anonymous_admin is set.",
    )
    anonymous_admin: bool = Field(
        False,
        description="Development only: requests without a token read every namespace.",
    )
    max_page_size: int = Field(1000, ge=1, le=10_000, description="Largest search page.")
    default_page_size: int = Field(100, ge=1, le=10_000, description="Search page by default.")
    max_context: int = Field(500, ge=1, le=10_000, description="Largest before/after context.")
    regex_max_length: int = Field(
        512, ge=1, description="Longest include/exclude/pod_regex regular expression accepted."
    )
    regex_scan_limit: int = Field(
        200_000,
        ge=1,
        description="Entries a search page may scan to fill itself when a regex filter "
        "drops most of them; the page then ends early with a cursor to continue.",
    )
    pit_keep_alive: str = Field("5m", description="Point-in-time keep-alive between pages.")
    es_request_timeout_s: float = Field(
        60.0, gt=0, description="Seconds one Elasticsearch request may take.")
    download_page_size: int = Field(5000, ge=100, le=10_000, description="ES page of downloads.")
    download_max_entries: int | None = Field(
        None,
        ge=1,
        description="Cap on entries in one download; when reached the file ends with a "
        "notice line. None: no cap.",
    )
    tail_backfill_max: int = Field(10_000, ge=0, description="Largest tail back-fill.")
    tail_queue_size: int = Field(
        1000, ge=1, description="Entries buffered per tail client before it misses some."
    )
    tail_max_per_token: int = Field(10, ge=1, description="Concurrent tails per token.")
    tail_heartbeat_s: float = Field(15.0, gt=0, description="Seconds between SSE pings.")
    handover_window: int = Field(
        20_000,
        ge=0,
        description="Recent Kafka records the process keeps to bridge the back-fill from "
        "Elasticsearch and the live stream (covers the forwarder's lag); about 1.5 kB each.",
    )
    forwarder_group: str = Field(
        "logpipe-forwarder", description="The forwarders' consumer group: its lag tells the "
        "audit what is still in flight.")
    tail_handover_margin_s: float = Field(
        5.0, ge=0, description="Seconds added to the forwarder's measured lag when a new "
        "tail joins the hub's recent records to its back-fill: covers the index refresh "
        "and the age of the lag reading. Also how long a gap waits after the forwarder "
        "committed it before the client is told to fetch it.")
    tail_gap_scan_max: int = Field(
        100_000, ge=1, description="Kafka records a tail reads to find the time range of "
        "a gap (records neither indexed nor held by the hub); past it the range is widened "
        "to the hand-over time.")
    tail_lag_unknown_s: float = Field(
        120.0, gt=0, description="When the forwarder's lag cannot be measured, the seconds "
        "before the hand-over a new tail is told to fetch again from history.")
    tail_gap_wait_max_s: float = Field(
        300.0, gt=0, description="How long a tail waits for the forwarder to index a gap "
        "before sending the gap event anyway (marked indexed=false: fetch it again later).")
    kafka_start_timeout_s: float = Field(
        30.0, gt=0, description="How long start-up waits for Kafka before serving anyway."
    )
    export_ttl_s: float = Field(
        86_400.0, gt=0, description="Seconds a finished export file is kept before deletion."
    )
    export_max_jobs_per_token: int = Field(3, ge=1, description="Running exports per token.")
    export_chunk_bytes: int = Field(
        1024**2, ge=4096, le=16 * 1024**2, description="Bytes of an export archive per "
        "Elasticsearch document (archives are kept in <index_prefix>_state, see "
        "docs/log-api.md).")
    replica_lease_s: float = Field(
        15.0, gt=0, description="Seconds a replica's hold on a running export or on a "
        "per-token concurrency place lasts unless renewed (every third of it): after a "
        "replica dies, another takes its exports over and its places are free again "
        "this long after.")
    stats_top_apps: int = Field(10, ge=1, le=1000, description="App share's top N by default.")
    field_values_max: int = Field(1000, ge=1, le=10_000, description="Values per field, at most.")
    histogram_buckets: int = Field(60, ge=2, le=2000, description="Target histogram buckets.")
    request_id_keys: str = Field(
        "", description="Comma-separated extra request-id keys, as the forwarder's setting "
        "of the same name (LOGPIPE_REQUEST_ID_KEYS is read by both): live tails derive "
        "request_id from the Kafka records with the same list.")
    bytes_field: str | None = Field(
        "message_bytes",
        description="Numeric field holding the message size in bytes, when the index "
        "template stores one; otherwise sizes are computed from the message at query time.",
    )
    # Limits per token (429 with Retry-After), tickets, probes. See README "Security".
    search_max_per_token: int = Field(
        4, ge=1, description="Searches (and context look-ups) one token may run at once.")
    download_max_per_token: int = Field(
        2, ge=1, description="Downloads one token may stream at once.")
    retry_after_s: float = Field(
        2.0, gt=0, description="Retry-After (seconds) of a 429 for a concurrency limit.")
    pit_max_per_token: int = Field(
        20, ge=1, description="Search cursors' point-in-times one token keeps open; past it "
        "the oldest is closed (its cursor still works, reopening one).")
    pit_max_total: int = Field(
        500, ge=1, description="Point-in-times of search cursors open over all tokens.")
    tail_scan_limit: int = Field(
        100_000, ge=1, description="Entries a regex-filtered tail back-fill or resume may "
        "scan in Elasticsearch; it then starts from what it found.")
    max_range_s: float | None = Field(
        None, gt=0, description="Longest since..until of a search, download, export or "
        "statistic, in seconds (since= then required). None: no cap.")
    export_quota_bytes_per_token: int | None = Field(
        5 * 1024**3, ge=1, description="Bytes of export files (running and finished) one "
        "token may hold on disk; past it a job fails and new ones get 429. None: no cap.")
    export_quota_bytes_total: int | None = Field(
        50 * 1024**3, ge=1, description="Bytes of export files over all tokens. None: no "
        "cap.")
    ticket_ttl_s: float = Field(
        60.0, gt=0, le=3600, description="Seconds a download ticket (POST /api/v1/tickets) "
        "stays valid; each works once.")
    ticket_secret: SecretStr | None = Field(
        None, description="Key that signs download tickets; set the same one on every "
        "replica. Unset: a random key per process.")
    access_token_query: bool = Field(
        False, description="Accept ?access_token= in URLs (old clients). Off: tokens travel "
        "only in the Authorization header; links use tickets.")
    probes_require_token: bool = Field(
        False, description="/metrics and the details of /readyz only for an admin token "
        "(/readyz still answers ready/not ready to anyone).")

    @property
    def es_request_timeout(self) -> float:
        """The old name, still read by log_api/es.py (reworked in parallel); remove
        once it reads ``es_request_timeout_s``."""
        return self.es_request_timeout_s
