"""Start-up and run loop of one forwarder process: health endpoint, index template,
dead-letter topic, then arroyo's StreamProcessor until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import Any, cast

from arroyo.backends.abstract import Consumer
from arroyo.backends.kafka.configuration import build_kafka_consumer_configuration
from arroyo.commit import ONCE_PER_SECOND
from arroyo.processing import StreamProcessor
from arroyo.types import Topic
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from forwarder import metrics
from forwarder.bulk import Abandoned, BulkSender
from forwarder.chunking import Chunk, ChunkingConsumer
from forwarder.dlq import DeadLetterWriter
from forwarder.janitor import Janitor
from forwarder.ledger import LedgerIndexer
from forwarder.pipeline import ForwarderFactory
from forwarder.settings import ForwarderSettings
from forwarder.template import install_template
from logpipe.document import ledger_prefix
from logpipe.health import HealthServer
from logpipe.logs import setup_logging
from logpipe.settings import log_environment_report
from logpipe.structured import norm_keys

log = logging.getLogger("forwarder")

# Messages per arroyo message (forwarder/chunking.py): amortises arroyo's per-message
# cost while staying well below a batch, so batches still close on time.
_CHUNK = 500

# /readyz turns red once whole bulk requests have failed this long (ES unreachable).
_UNREADY_AFTER = 10.0


def make_es(settings: ForwarderSettings) -> Elasticsearch:
    # max_retries=0: BulkSender owns retrying, so back-off, metrics and the
    # only-failed-items rule are in one place rather than two.
    # orjson: parsing bulk answers is a measurable share of the forwarder's CPU.
    return Elasticsearch(settings.es_hosts(), request_timeout=settings.es_request_timeout_s,
                         max_retries=0, retry_on_timeout=False, serializer=OrjsonSerializer())


def ensure_dlq_topic(settings: ForwarderSettings) -> None:
    """Create the dead-letter topic (as many partitions as the logs topic) if missing."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap,
                         **settings.kafka_options})
    meta = admin.list_topics(timeout=30)
    name = settings.dead_letter_topic()
    if name in meta.topics:
        return
    source = meta.topics.get(settings.kafka_topic)
    partitions = len(source.partitions) if source is not None and source.partitions else 1
    for fut in admin.create_topics([NewTopic(name, num_partitions=partitions)]).values():
        try:
            fut.result(timeout=30)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    log.info("created dead-letter topic %s with %d partitions", name, partitions)


class Forwarder:
    def __init__(self, settings: ForwarderSettings) -> None:
        self.settings = settings
        self.es = make_es(settings)
        self.stop = threading.Event()
        self.template_ready = False
        self.dlq = DeadLetterWriter(settings.kafka_bootstrap, settings.dead_letter_topic(),
                                    settings.kafka_topic, settings.kafka_options)
        self.sender = BulkSender(self.es, settings.index_prefix, self.dlq,
                                 settings.retry_initial_s, settings.retry_max_s,
                                 ts_max_future_s=settings.ts_max_future_s,
                                 ts_max_past_days=settings.ts_max_past_days
                                 or settings.retention_days,
                                 request_keys=norm_keys(settings.request_id_keys.split(",")))
        self.processor: StreamProcessor[Chunk] | None = None
        self.health = HealthServer(settings.metrics_host, settings.metrics_port,
                                   live=self.liveness, ready=self.readiness)
        self.consumer: ChunkingConsumer | None = None
        # The collectors' completeness ledger and the dead letters, for the audit.
        self.ledger = LedgerIndexer(
            self.es, settings.kafka_bootstrap, settings.consumer_group, settings.ledger_topic,
            settings.dead_letter_topic(), settings.index_prefix, settings.kafka_options,
            settings.retry_initial_s, settings.retry_max_s) if settings.ledger_topic else None

    def liveness(self) -> tuple[bool, str]:
        """Alive while the consumer loop keeps polling (it does even when paused)."""
        if self.ledger is not None and not self.ledger.alive():
            return False, "the ledger indexer thread died (see the log)"
        consumer = self.consumer
        if consumer is None:
            return True, "starting"
        idle = time.monotonic() - consumer.last_poll
        # A rebalance or shutdown may block the loop for up to shutdown_timeout_s.
        limit = max(60.0, 2 * self.settings.shutdown_timeout_s)
        if idle > limit:
            return False, f"consumer loop has not polled for {idle:.0f}s"
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        if not self.template_ready:
            return False, "index template not installed yet (is Elasticsearch reachable?)"
        since = self.sender.failing_since
        if since is not None and time.monotonic() - since > _UNREADY_AFTER:
            return False, f"bulk requests failing for {time.monotonic() - since:.0f}s"
        return True, "ok"

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing in-flight batches, then stopping", signum)
        self.stop.set()
        if self.processor is not None:
            self.processor.signal_shutdown()

    def _setup(self) -> None:
        """Template and DLQ topic, retried until ES and Kafka answer (or a signal)."""
        s = self.settings

        def once() -> bool:
            install_template(self.es, s.index_prefix, s.index_shards, s.index_replicas,
                             s.index_refresh_interval, s.template_priority)
            if self.ledger is not None:
                self.ledger.install_template()
            ensure_dlq_topic(s)
            return False

        self.sender.retrying(self.stop, "start-up (index template, DLQ topic)",
                             retry_any=True)(once)
        self.template_ready = True

    def _pause(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _consume(self, config: dict[str, Any]) -> None:
        """One consumer and StreamProcessor, until shut down (returns) or failed (raises)."""
        s = self.settings
        self.consumer = ChunkingConsumer(config, _CHUNK)
        self.processor = StreamProcessor(
            cast(Consumer[Chunk], self.consumer), Topic(s.kafka_topic),
            ForwarderFactory(s, self.sender),
            commit_policy=ONCE_PER_SECOND, join_timeout=s.shutdown_timeout_s,
        )
        if self.stop.is_set():
            self.processor.signal_shutdown()
        self.processor.run()

    def run(self) -> int:
        s = self.settings
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.health.start()
        log.info("forwarder: %s topic %s -> %s index %s-*, metrics on :%d",
                 s.kafka_bootstrap, s.kafka_topic, s.es_url_shown(), s.index_prefix,
                 self.health.port)
        try:
            self._setup()
        except Abandoned:
            return 0
        if s.retention_days > 0:
            for prefix in (s.index_prefix, ledger_prefix(s.index_prefix)):
                Janitor(self.es, prefix, s.retention_days, s.janitor_dry_run).start_thread(
                    s.janitor_interval_s, self.stop)
        if self.ledger is not None:
            self.ledger.start()
        config = build_kafka_consumer_configuration(
            {}, group_id=s.consumer_group, auto_offset_reset=s.auto_offset_reset,
            bootstrap_servers=[s.kafka_bootstrap], strict_offset_reset=False,
            enable_auto_commit=False,
            # arroyo lowers queued.min.messages to 10,000; with librdkafka's 1 s
            # fetch.queue.backoff.ms that caps a consumer near 20,000 records/s (measured,
            # docs/forwarder.md). librdkafka's own defaults bring it back to ~800,000/s;
            # queued.max.messages.kbytes (50 MB) still bounds the prefetch memory.
            queued_min_messages=100_000,
        )
        # After building: arroyo applies its own defaults (stats_cb among them) over
        # override_params, and ours, then the user's options, must win.
        config.update({"stats_cb": metrics.on_stats, "statistics.interval.ms": 5000,
                       "fetch.queue.backoff.ms": 100, **s.kafka_options})
        # arroyo closes the consumer when its loop fails; nothing uncommitted is lost (it
        # is replayed, ids make that idempotent), so start over instead of exiting: a
        # commit that failed while Kafka was away must not take the process down.
        # Delays double from 2 x retry_initial_s up to retry_max_s; a stop request cuts
        # the pause short and ends the loop.
        retrying = Retrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential(multiplier=2 * s.retry_initial_s, max=s.retry_max_s),
            stop=lambda _state: self.stop.is_set(),
            sleep=self._pause,
            after=lambda _state: metrics.METRICS.restarts.inc(),
            before_sleep=_log_restart,
            retry_error_callback=lambda _state: None,
        )
        try:
            retrying(self._consume, config)
        finally:
            if self.ledger is not None:
                self.ledger.stop(s.shutdown_timeout_s)
            self.dlq.close()
            self.health.stop()
            self.es.close()
        log.info("forwarder stopped")
        return 0


def _log_restart(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.error("consumer loop failed; starting it again in %.1fs", state.upcoming_sleep,
              exc_info=exc)


def main(settings: ForwarderSettings) -> int:
    setup_logging(settings.log_level, settings.log_format)
    log_environment_report("forwarder", ForwarderSettings)
    # One INFO line per HTTP request would drown the forwarder's own logs.
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
    return Forwarder(settings).run()
