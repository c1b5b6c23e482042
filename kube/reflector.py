"""The list+watch loop (client-go calls it a reflector).

    list (paged) -> handler.on_sync(items, rv)
    watch from rv -> handler.on_event(type, obj) / handler.on_bookmark(rv) ...
      stream ends (server timeout)        -> watch again from the last rv
      connection drops / 5xx / 429        -> backoff (tenacity), watch again from the last rv
      410 Gone (rv compacted)             -> list again

A watch that delivered something before it broke reconnects at once, with a fresh
backoff: only consecutive failures back off further.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_never
from tenacity.wait import wait_exponential, wait_random

from kube.client import KubeClient, Obj
from kube.errors import GoneError, KubeError
from kube.metrics import METRICS

log = logging.getLogger(__name__)

class WatchHandler(Protocol):
    def on_sync(self, items: list[Obj], resource_version: str) -> None:
        """The full current state after a (re)list."""

    def on_event(self, type_: str, obj: Obj) -> None:
        """ADDED, MODIFIED or DELETED."""

    def on_bookmark(self, resource_version: str) -> None:
        """Nothing changed up to this resourceVersion."""


class Reflector:
    def __init__(
        self,
        client: KubeClient,
        path: str,
        handler: WatchHandler,
        *,
        params: dict[str, str] | None = None,
        resource_version: str | None = None,
        watch_timeout: int = 300,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        stop: threading.Event | None = None,
        name: str | None = None,
    ) -> None:
        self.client = client
        self.path = path
        self.handler = handler
        self.params = params or {}
        # None means "list first"; a saved value resumes the watch where it stopped.
        self.resource_version = resource_version
        self.watch_timeout = watch_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stop = stop or threading.Event()
        self.name = name or path
        self.synced = threading.Event()
        self.last_error: str | None = None

    def run(self) -> None:
        """Until ``stop`` is set. Errors raised by the handler propagate."""
        while not self.stop.is_set():
            retrying = Retrying(
                retry=retry_if_exception(lambda e: isinstance(e, KubeError) and
                                         not isinstance(e, GoneError)),
                # Jitter spreads a fleet's reconnects after an API server restart.
                wait=wait_exponential(multiplier=self.backoff_initial, max=self.backoff_max)
                + wait_random(0, self.backoff_initial),
                stop=stop_never,
                sleep=self._sleep,  # a stop request cuts a backoff short
                before_sleep=self._before_sleep,
                reraise=True,
            )
            try:
                for attempt in retrying:
                    with attempt:
                        if self.stop.is_set():
                            return
                        self._session()
            except GoneError as exc:
                log.info("%s: %s; listing again", self.name, exc)
                METRICS.watch_restarts.labels(self.name, "gone").inc()
                self.resource_version = None

    def _sleep(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _before_sleep(self, state: RetryCallState) -> None:
        if self.stop.is_set():  # the failure is the stop itself (client closed): no noise
            return
        exc = state.outcome.exception() if state.outcome else None
        self.last_error = str(exc)
        reason = "unavailable" if getattr(exc, "retriable", False) else "error"
        METRICS.watch_restarts.labels(self.name, reason).inc()
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: %s; retrying in %.1fs", self.name, exc, wait)

    def _session(self) -> None:
        """One list (if needed) and one watch. Returns when the watch ended cleanly or
        broke after delivering something; raises when nothing was achieved."""
        if self.resource_version is None:
            items, rv = self.client.list(self.path, self.params)
            METRICS.relists.labels(self.name).inc()
            self.handler.on_sync(items, rv)
            self.resource_version = rv
            self.synced.set()
            self.last_error = None
        progressed = False
        try:
            for ev in self.client.watch(self.path, self.resource_version, self.params,
                                        timeout_seconds=self.watch_timeout):
                if self.stop.is_set():
                    return
                METRICS.watch_events.labels(self.name, ev.type).inc()
                version = ev.resource_version
                if ev.type == "BOOKMARK":
                    if version:
                        self.handler.on_bookmark(version)
                else:
                    self.handler.on_event(ev.type, ev.object)
                if version:
                    self.resource_version = version
                progressed = True
                self.synced.set()
                self.last_error = None
        except KubeError as exc:
            if not progressed or isinstance(exc, GoneError) or not exc.retriable:
                raise
            log.info("%s: watch broke after progress (%s); watching again", self.name, exc)
            METRICS.watch_restarts.labels(self.name, "dropped").inc()
            return
        METRICS.watch_restarts.labels(self.name, "timeout").inc()
