"""Leader election on a coordination.k8s.io/v1 Lease, as client-go does it.

A candidate takes the Lease when it is free or its holder has not renewed it for
``lease_duration`` *as observed on our own clock* (the holder's renewTime is not
compared with our clock, so clock skew cannot make two leaders). Every write is a
PUT with the resourceVersion we read: of two candidates, one gets 409 Conflict.
A leader that cannot renew within ``renew_deadline`` steps down.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from kube.client import KubeClient
from kube.errors import KubeApiError, KubeError

log = logging.getLogger(__name__)

# The leader's acknowledged position rides on the Lease, so a new leader resumes
# where the old one stopped instead of from its own older state or a full list.
CHECKPOINT_ANNOTATION = "logpipe.io/checkpoint"


def micro_time() -> str:
    """Kubernetes MicroTime: RFC 3339 with exactly six fraction digits."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, client: KubeClient, namespace: str, name: str, identity: str,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0,
                 retry_period: float = 2.0) -> None:
        self.client = client
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        self.is_leader = threading.Event()
        self.lost = threading.Event()
        # Written on every renewal; read once when leadership is won.
        self.checkpoint: str | None = None
        self.inherited: str | None = None

    def _spec(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        now = micro_time()
        prev = previous or {}
        taking_over = prev.get("holderIdentity") != self.identity
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_duration)),
            "acquireTime": now if taking_over else prev.get("acquireTime", now),
            "renewTime": now,
            "leaseTransitions": int(prev.get("leaseTransitions") or 0)
            + (1 if taking_over and prev.get("holderIdentity") else 0),
        }

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when we hold the Lease afterwards."""
        try:
            lease = self.client.get(f"{self.path}/{self.name}")
        except KubeApiError as exc:
            if exc.code != 404:
                raise
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(None)}
            self._annotate(body)
            try:
                self.client.create(self.path, body)
            except KubeApiError as exc2:
                if exc2.code == 409:  # another candidate created it first
                    return False
                raise
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        # The holder's claim is judged by when *we* saw it change.
        observed = (holder, spec.get("renewTime"), lease["metadata"].get("resourceVersion"))
        if observed != self._observed:
            self._observed, self._observed_at = observed, time.monotonic()
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        expired = time.monotonic() - self._observed_at > duration
        if holder and holder != self.identity and not expired:
            return False
        if holder != self.identity:
            self.inherited = (lease["metadata"].get("annotations") or {}).get(
                CHECKPOINT_ANNOTATION)
        lease["spec"] = self._spec(spec)
        self._annotate(lease)
        try:
            self.client.replace(f"{self.path}/{self.name}", lease)
        except KubeApiError as exc:
            if exc.code == 409:
                return False
            raise
        return True

    def _annotate(self, lease: dict[str, Any]) -> None:
        if self.checkpoint is not None:
            meta = lease.setdefault("metadata", {})
            meta.setdefault("annotations", {})[CHECKPOINT_ANNOTATION] = self.checkpoint

    def acquire(self, stop: threading.Event) -> bool:
        """Block until leader (True) or stop (False)."""
        while not stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    log.info("became leader of lease %s/%s as %s", self.namespace, self.name,
                             self.identity)
                    self.is_leader.set()
                    return True
            except KubeError as exc:
                log.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            stop.wait(self.retry_period)
        return False

    def keep(self, stop: threading.Event) -> None:
        """Renew until stop; set ``lost`` (and return) when renewal fails too long."""
        last_ok = time.monotonic()
        while not stop.wait(self.retry_period):
            try:
                if self.try_acquire_or_renew():
                    last_ok = time.monotonic()
                    continue
                log.error("lease %s/%s was taken by another replica", self.namespace,
                          self.name)
            except KubeError as exc:
                log.warning("lease renewal failed: %s", exc)
                if time.monotonic() - last_ok < self.renew_deadline:
                    continue
            self.is_leader.clear()
            self.lost.set()
            return

    def release(self) -> None:
        """Hand the Lease over at once on a clean shutdown (others need not wait)."""
        try:
            lease = self.client.get(f"{self.path}/{self.name}")
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            spec["holderIdentity"] = ""
            spec["leaseDurationSeconds"] = 1
            self._annotate(lease)
            self.client.replace(f"{self.path}/{self.name}", lease)
        except KubeError as exc:
            log.warning("could not release lease: %s", exc)
        self.is_leader.clear()
