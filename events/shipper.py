"""The ``logpipe events`` role: watch Events, produce one record each, and save the
resourceVersion only once Kafka holds everything before it.

    [Lease] -> Reflector(events) -> EventShipper.on_* -> RecordProducer -> Kafka
                                                         AckTracker -> StateFile

A restart resumes the watch from the saved resourceVersion; if the server no
longer has it (410) the full list is produced again, and the deterministic ids
make Elasticsearch overwrite rather than duplicate.
"""

from __future__ import annotations

import logging
import threading
import time

from events.convert import CLUSTER_NAMESPACE, CLUSTER_SOURCES, to_record
from events.lease import LeaderElector
from events.metrics import METRICS
from events.settings import EventsSettings
from kube.client import KubeClient, Obj
from kube.config import load
from kube.reflector import Reflector
from logpipe.delivery import RecordProducer, StateFile
from logpipe.health import HealthServer

log = logging.getLogger(__name__)


def events_path(api: str, namespace: str | None) -> str:
    base = "/api/v1" if api == "v1" else f"/apis/{api}"
    return f"{base}/namespaces/{namespace}/events" if namespace else f"{base}/events"


class EventShipper:
    """WatchHandler that turns events into records."""

    def __init__(self, producer: RecordProducer, cluster: str, node: str,
                 stop: threading.Event, cluster_namespace: str = CLUSTER_NAMESPACE,
                 cluster_sources: frozenset[str] = CLUSTER_SOURCES) -> None:
        self.producer = producer
        self.cluster = cluster
        self.node = node
        self.stop = stop
        self.cluster_namespace = cluster_namespace
        self.cluster_sources = cluster_sources

    def _produce(self, obj: Obj, position: str | None) -> None:
        record = to_record(obj, cluster=self.cluster, node=self.node,
                           cluster_namespace=self.cluster_namespace,
                           cluster_sources=self.cluster_sources)
        self.producer.produce(record, position, key=record.path.encode())
        self.producer.poll(0)

    def on_sync(self, items: list[Obj], resource_version: str) -> None:
        for obj in items:
            # Items of a list carry no position of their own: only the list's version
            # is a place a watch can resume from, once every item is acknowledged.
            self._produce(obj, None)
        self.producer.tracker.mark(resource_version)

    def on_event(self, type_: str, obj: Obj) -> None:
        rv = obj.get("metadata", {}).get("resourceVersion")
        if type_ == "DELETED":
            # Events expire (TTL); their deletion is not news. Keep the position.
            if rv:
                self.producer.tracker.mark(str(rv))
            return
        self._produce(obj, str(rv) if rv else None)

    def on_bookmark(self, resource_version: str) -> None:
        self.producer.tracker.mark(resource_version)


class EventsRole:
    def __init__(self, settings: EventsSettings, client: KubeClient | None = None) -> None:
        self.settings = settings
        self.client = client or KubeClient(load(settings.kubeconfig, settings.kube_context))
        self.stop = threading.Event()
        self.state = StateFile(settings.state_file)
        self.producer = RecordProducer(settings.kafka_bootstrap, settings.kafka_topic,
                                       "events", settings.kafka_options)
        self.reflector = Reflector(
            self.client, events_path(settings.events_api, settings.events_namespace),
            EventShipper(self.producer, settings.cluster, settings.node_name, self.stop,
                         settings.cluster_namespace, frozenset(settings.cluster_event_sources)),
            resource_version=self.state.load(), watch_timeout=settings.watch_timeout_s,
            backoff_max=settings.backoff_max_s, stop=self.stop, name="events",
        )
        self.elector: LeaderElector | None = None
        if settings.leader_election:
            self.elector = LeaderElector(
                self.client, settings.lease_namespace or self.client.config.namespace,
                settings.lease_name, settings.identity, settings.lease_duration_s,
                settings.renew_deadline_s, settings.retry_period_s)
        self.error: BaseException | None = None
        self._saved: str | None = self.reflector.resource_version

    def ready(self) -> tuple[bool, str]:
        if self.elector is not None and not self.elector.is_leader.is_set():
            return True, "standby (not the leader)"
        if self.reflector.last_error:
            return False, f"watch failing: {self.reflector.last_error}"
        return True, f"watching from resourceVersion {self.reflector.resource_version}"

    def checkpoint(self) -> None:
        """Save the newest fully acknowledged position if it moved."""
        position = self.producer.tracker.committable()
        METRICS.in_flight.set(self.producer.tracker.in_flight())
        if position is not None and position != self._saved:
            self.state.save(position)
            self._saved = position
            if self.elector is not None:
                self.elector.checkpoint = position

    def _watch(self) -> None:
        try:
            self.reflector.run()
        except BaseException as exc:  # surfaced by run(); the thread must not die silently
            self.error = exc
            self.stop.set()

    def run(self) -> None:
        """Until ``stop``; raises what stopped it (delivery failure, lost lease)."""
        if self.elector is not None:
            if not self.elector.acquire(self.stop):
                return
            if self.elector.inherited:
                log.info("resuming from the previous leader's resourceVersion %s",
                         self.elector.inherited)
                self.reflector.resource_version = self.elector.inherited
            METRICS.leader.set(1)
            threading.Thread(target=self.elector.keep, args=(self.stop,), daemon=True,
                             name="lease").start()
        watcher = threading.Thread(target=self._watch, daemon=True, name="events-watch")
        watcher.start()
        try:
            next_save = time.monotonic()
            while not self.stop.is_set():
                self.producer.poll(0.2)
                if self.elector is not None and self.elector.lost.is_set():
                    raise RuntimeError("lost the leader lease; exiting so a restart "
                                       "campaigns again")
                if time.monotonic() >= next_save:
                    self.checkpoint()
                    next_save = time.monotonic() + self.settings.checkpoint_interval_s
        finally:
            self.stop.set()
            # The watch thread may still be blocked on its socket: it is a daemon and
            # checks `stop` before producing anything else.
            self.producer.flush(10)
            self.checkpoint()
            if self.elector is not None and not self.elector.lost.is_set():
                self.elector.release()
                METRICS.leader.set(0)
        if self.error is not None:
            raise self.error

    def serve_health(self) -> HealthServer:
        return HealthServer(self.settings.metrics_host, self.settings.metrics_port,
                            ready=self.ready).start()
