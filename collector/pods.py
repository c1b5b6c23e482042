"""Live pod metadata for the collector: a node-scoped pod watch, cached.

The collector calls ``PodMetadataCache.lookup(namespace, pod, uid)`` (or
``by_container(container_id)``) per file it opens and gets a ``PodMeta``: labels,
annotations, owning workload, ``app``, and the logpipe annotations
(``logpipe.io/exclude``, ``logpipe.io/multiline-start``, ``logpipe.io/level``). A
deleted pod stays for ``retention`` seconds so the last lines of its files are still enriched.
See docs/kube.md for wiring it in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from prometheus_client import Counter

from collector.level_detect import LEVEL_ANNOTATION, compile_level_rule
from collector.metrics import CollectorMetrics
from collector.multiline import START_MAX_CHARS, PatternRefused, compile_start
from kube.client import KubeClient, Obj
from kube.errors import KubeError
from kube.reflector import Reflector

log = logging.getLogger(__name__)

EXCLUDE = "logpipe.io/exclude"
MULTILINE_START = "logpipe.io/multiline-start"
APP_LABELS = ("app.kubernetes.io/name", "app", "k8s-app")

@dataclass(frozen=True, slots=True)
class PodMeta:
    uid: str
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    owner_kind: str | None = None  # Deployment, StatefulSet, DaemonSet, Job, ReplicaSet...
    owner_name: str | None = None
    app: str | None = None  # from APP_LABELS only; the caller applies its own fallbacks
    excluded: bool = False  # logpipe.io/exclude: "true"
    multiline_start: str | None = None  # logpipe.io/multiline-start, RE2 and within the cap
    multiline_refused: str | None = None  # why the annotation was refused, if it was
    level_rule: str | None = None  # logpipe.io/level, a rule compile_level_rule accepts
    level_refused: str | None = None  # why that annotation was refused, if it was
    containers: Mapping[str, str] = field(default_factory=dict)  # container name -> image
    container_ids: tuple[str, ...] = ()  # runtime ids without the "containerd://" scheme
    deleted: bool = False


def _owner(meta: Obj) -> tuple[str, str] | None:
    refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, dict)]
    chosen = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if chosen is None or not chosen.get("kind") or not chosen.get("name"):
        return None
    return str(chosen["kind"]), str(chosen["name"])


def deployment_by_convention(rs_name: str, labels: Mapping[str, str]) -> str | None:
    """A Deployment names its ReplicaSets ``<deployment>-<pod-template-hash>`` and
    stamps that hash on the pods: strip it when it matches."""
    suffix = labels.get("pod-template-hash")
    if suffix and rs_name.endswith(f"-{suffix}") and len(rs_name) > len(suffix) + 1:
        return rs_name[: -len(suffix) - 1]
    return None


def _multiline(value: str | None, max_chars: int) -> tuple[str | None, str | None]:
    """(the annotation's pattern, None) when RE2 compiles it within the cap, else
    (None, why): the built-in rules apply and the cache reports it once."""
    if not value:
        return None, None
    try:
        compile_start(value, max_chars)
    except PatternRefused as exc:
        return None, str(exc)
    return value, None


def _level_rule(value: str | None, max_chars: int) -> tuple[str | None, str | None]:
    """As _multiline, for the logpipe.io/level rule."""
    if not value:
        return None, None
    try:
        compile_level_rule(value, max_chars)
    except PatternRefused as exc:
        return None, str(exc)
    return value, None


OwnerLookup = Callable[[str, str, str], tuple[str, str] | None]


def pod_meta(obj: Obj, owner_lookup: OwnerLookup | None = None,
             deleted: bool = False, max_pattern_chars: int = START_MAX_CHARS) -> PodMeta:
    """Build the metadata of one Pod object. ``owner_lookup(kind, namespace, name)``
    returns the controller of a ReplicaSet/Job via the API, when enabled."""
    meta = obj.get("metadata") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    owner = _owner(meta)
    if owner is not None and owner[0] in ("ReplicaSet", "Job") and owner_lookup is not None:
        owner = owner_lookup(owner[0], ns, owner[1]) or owner
    if owner is not None and owner[0] == "ReplicaSet":
        deployment = deployment_by_convention(owner[1], labels)
        if deployment:
            owner = ("Deployment", deployment)
    spec = obj.get("spec") or {}
    containers = {str(c.get("name")): str(c.get("image") or "")
                  for key in ("initContainers", "containers")
                  for c in spec.get(key) or [] if isinstance(c, dict)}
    status = obj.get("status") or {}
    ids = tuple(str(s["containerID"]).split("://", 1)[-1]
                for key in ("initContainerStatuses", "containerStatuses")
                for s in status.get(key) or [] if isinstance(s, dict) and s.get("containerID"))
    start, refused = _multiline(annotations.get(MULTILINE_START), max_pattern_chars)
    level_rule, level_refused = _level_rule(annotations.get(LEVEL_ANNOTATION),
                                            max_pattern_chars)
    return PodMeta(
        uid=str(meta.get("uid") or ""), namespace=ns, name=name, labels=labels,
        annotations=annotations,
        owner_kind=owner[0] if owner else None, owner_name=owner[1] if owner else None,
        app=next((labels[k] for k in APP_LABELS if labels.get(k)), None),
        excluded=annotations.get(EXCLUDE, "").strip().lower() == "true",
        multiline_start=start, multiline_refused=refused,
        level_rule=level_rule, level_refused=level_refused,
        containers=containers, container_ids=ids, deleted=deleted,
    )


class PodMetadataCache:
    """A WatchHandler for ``/api/v1/pods?fieldSelector=spec.nodeName=<node>``; thread-safe
    lookups while its own thread keeps it current."""

    def __init__(self, client: KubeClient, node: str, *, retention: float = 300.0,
                 resolve_owners: bool = False, watch_timeout: int = 300,
                 backoff_max: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 metrics: CollectorMetrics | None = None,
                 max_pattern_chars: int = START_MAX_CHARS) -> None:
        self.client = client
        # Without the agent's metrics (a cache alone, in tests) the gauge goes nowhere.
        self._metrics = metrics or CollectorMetrics()
        self._cached = self._metrics.pod_cache_pods
        self.max_pattern_chars = max_pattern_chars
        self._refused: dict[str, str] = {}  # pod uid -> the refused pattern reported
        self._level_refused: dict[str, str] = {}  # pod uid -> the refused level rule
        self.node = node
        self.retention = retention
        self.resolve_owners = resolve_owners
        self.clock = clock
        self._lock = threading.Lock()
        self._by_uid: dict[str, PodMeta] = {}
        self._by_name: dict[tuple[str, str], str] = {}
        self._by_container: dict[str, str] = {}
        self._deleted_at: dict[str, float] = {}
        self._owners: dict[tuple[str, str, str], tuple[str, str] | None] = {}
        self.reflector = Reflector(
            client, "/api/v1/pods", self, params={"fieldSelector": f"spec.nodeName={node}"},
            watch_timeout=watch_timeout, backoff_max=backoff_max, name="pods")
        self._thread: threading.Thread | None = None
        self.restart_pause = 5.0  # after an unexpected failure, before listing again

    # ---- the collector's side ---------------------------------------------------
    def lookup(self, namespace: str, pod: str, uid: str | None = None) -> PodMeta | None:
        """The pod by uid when known, else its newest incarnation by namespace/name."""
        with self._lock:
            self._purge()
            if uid and uid in self._by_uid:
                return self._by_uid[uid]
            found = self._by_name.get((namespace, pod))
            return self._by_uid.get(found) if found else None

    def by_container(self, container_id: str) -> PodMeta | None:
        """The pod running a container (Docker json-file logs are named by its id)."""
        with self._lock:
            self._purge()
            found = self._by_container.get(container_id)
            return self._by_uid.get(found) if found else None

    def start(self) -> PodMetadataCache:
        self._thread = threading.Thread(target=self._run, daemon=True, name="pod-metadata")
        self._thread.start()
        return self

    def _run(self) -> None:
        # The reflector retries API failures itself; anything else (a pod object the
        # code did not expect) must not leave the collector with a silently stale
        # cache: log it and start over with a fresh list.
        while not self.reflector.stop.is_set():
            try:
                self.reflector.run()
            except Exception:
                log.exception("pod metadata watch failed; listing again in %.1fs",
                              self.restart_pause)
                self.reflector.resource_version = None
                self.reflector.stop.wait(self.restart_pause)

    def wait_synced(self, timeout: float) -> bool:
        """True once the first list arrived (start-up can wait for it, bounded)."""
        return self.reflector.synced.wait(timeout)

    def stop(self) -> None:
        self.reflector.stop.set()

    def join(self, timeout: float) -> bool:
        """Wait for the watch thread to end after ``stop`` (closing the client cuts a
        watch short); True when it ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_uid)

    # ---- WatchHandler -----------------------------------------------------------
    def _meta(self, obj: Obj) -> PodMeta:
        return pod_meta(obj, self._lookup_owner if self.resolve_owners else None,
                        max_pattern_chars=self.max_pattern_chars)

    def on_sync(self, items: list[Obj], resource_version: str) -> None:
        fresh = [self._meta(o) for o in items]
        with self._lock:
            live = {m.uid for m in fresh}
            for uid, meta in list(self._by_uid.items()):
                if uid not in live and not meta.deleted:  # deleted while we were not watching
                    self._mark_deleted(meta)
            for meta in fresh:
                self._store(meta)
            self._purge()
        for meta in fresh:
            self._check_pattern(meta)
            self._check_level_rule(meta)

    def on_event(self, type_: str, obj: Obj) -> None:
        if type_ == "DELETED":
            meta = pod_meta(obj, deleted=True)
            with self._lock:
                known = self._by_uid.get(meta.uid)
                self._mark_deleted(known or meta)
                self._purge()
            return
        meta = self._meta(obj)
        with self._lock:
            self._store(meta)
        self._check_pattern(meta)
        self._check_level_rule(meta)

    def _check_level_rule(self, meta: PodMeta) -> None:
        """A refused logpipe.io/level annotation: the built-in level detection applies."""
        self._report_refused(meta, LEVEL_ANNOTATION, meta.level_refused, self._level_refused,
                             self._metrics.level_rules_refused, "level_rule_refused",
                             "LevelRuleRefused", "level detection")

    def _check_pattern(self, meta: PodMeta) -> None:
        """A refused multi-line start annotation: the built-in joining applies."""
        self._report_refused(meta, MULTILINE_START, meta.multiline_refused, self._refused,
                             self._metrics.patterns_refused, "multiline_pattern_refused",
                             "MultilineStartRefused", "multi-line rules")

    def _report_refused(self, meta: PodMeta, annotation: str, why: str | None,
                        reported: dict[str, str], counter: Counter, event: str, reason: str,
                        fallback: str) -> None:
        """A refused annotation is reported once per pod and value: a warning, the
        metric, and a Warning Event on the pod (outside the lock: the Event is an API
        call)."""
        value = meta.annotations.get(annotation, "")
        if why is None or reported.get(meta.uid) == value:
            return
        reported[meta.uid] = value
        counter.labels("annotation").inc()
        log.warning("pod %s/%s: %s %r refused (%s); the built-in %s apply", meta.namespace,
                    meta.name, annotation, value[:200], why, fallback,
                    extra={"event": event, "namespace": meta.namespace, "pod": meta.name})
        try:
            self.client.create_event(
                meta.namespace, {"kind": "Pod", "apiVersion": "v1", "name": meta.name,
                                 "namespace": meta.namespace, "uid": meta.uid},
                reason=reason,
                message=f"{annotation} refused: {why}; the built-in {fallback} apply to this "
                        "pod's logs",
                component="logpipe-collector", host=self.node)
        except KubeError as exc:  # no RBAC for events: the log line and metric remain
            log.warning("cannot post an Event on pod %s/%s: %s", meta.namespace,
                        meta.name, exc)

    def on_bookmark(self, resource_version: str) -> None:
        with self._lock:
            self._purge()

    # ---- internals (hold the lock) ------------------------------------------------
    def _store(self, meta: PodMeta) -> None:
        self._by_uid[meta.uid] = meta
        self._deleted_at.pop(meta.uid, None)
        self._by_name[(meta.namespace, meta.name)] = meta.uid
        for cid in meta.container_ids:
            self._by_container[cid] = meta.uid
        self._gauge()

    def _mark_deleted(self, meta: PodMeta) -> None:
        gone = replace(meta, deleted=True)
        self._by_uid[gone.uid] = gone
        self._by_name.setdefault((gone.namespace, gone.name), gone.uid)
        self._deleted_at.setdefault(gone.uid, self.clock())
        self._gauge()

    def _purge(self) -> None:
        cutoff = self.clock() - self.retention
        expired = [u for u, at in self._deleted_at.items() if at <= cutoff]
        if not expired:  # the common case, on every lookup: keep it to a dict scan
            return
        for uid in expired:
            self._refused.pop(uid, None)
            self._level_refused.pop(uid, None)
            meta = self._by_uid.pop(uid)
            del self._deleted_at[uid]
            if self._by_name.get((meta.namespace, meta.name)) == uid:
                del self._by_name[(meta.namespace, meta.name)]
            for cid in meta.container_ids:
                if self._by_container.get(cid) == uid:
                    del self._by_container[cid]
        self._gauge()

    def _gauge(self) -> None:
        deleted = len(self._deleted_at)
        self._cached.labels("live").set(len(self._by_uid) - deleted)
        self._cached.labels("deleted").set(deleted)

    def _lookup_owner(self, kind: str, namespace: str, name: str) -> tuple[str, str] | None:
        """The controller of a ReplicaSet (Deployment) or Job (CronJob), cached."""
        key = (kind, namespace, name)
        if key not in self._owners:
            group = "apps/v1/namespaces/{ns}/replicasets" if kind == "ReplicaSet" \
                else "batch/v1/namespaces/{ns}/jobs"
            try:
                obj: Any = self.client.get(f"/apis/{group.format(ns=namespace)}/{name}")
            except KubeError as exc:
                # No RBAC or gone: the name convention still covers Deployments.
                log.debug("owner of %s %s/%s: %s", kind, namespace, name, exc)
                return None
            self._owners[key] = _owner(obj.get("metadata") or {})
        return self._owners[key]
