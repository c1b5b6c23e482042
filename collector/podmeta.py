"""The collector's side of live pod metadata: whether it is on, the node-scoped pod
watch (``collector.pods.PodMetadataCache``) started and stopped with the agent,
the lookup of a source's pod, and the cache's metrics on the collector's registry.

Lookups never wait: a pod the cache does not know (not listed yet, API down, deleted
longer ago than the retention) gives ``None`` and the record keeps the metadata
derived from its path or ``config.v2.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric

from collector.enrich import Meta, with_pod
from collector.level_detect import LevelRule
from collector.metrics import CollectorMetrics
from collector.multiline import MultilineRules
from collector.pods import PodMeta, PodMetadataCache
from collector.settings import CollectorSettings
from collector.source import Source
from kube.client import KubeClient
from kube.config import SA_DIR, in_cluster, load

log = logging.getLogger(__name__)
# The kube package counts into the default registry (kube.metrics, and the base's
# logpipe.metrics); the collector serves its own registry, so those are re-exported.
_BRIDGED = ("logpipe_kube_",)
CLOSE_WAIT_S = 5.0
# (app, start pattern or None) -> the multi-line rules to use
RulesFor = Callable[[object, str | None], MultilineRules]
# (app, logpipe.io/level rule or None) -> the level rule to use, if any
LevelRuleFor = Callable[[object, str | None], LevelRule | None]


def pod_metadata_on(s: CollectorSettings, sa_dir: Path = SA_DIR) -> bool:
    """``auto``: on in a pod with a service-account token, or with a kubeconfig set."""
    if s.pod_metadata == "auto":
        return s.kubeconfig is not None or in_cluster(sa_dir) is not None
    return s.pod_metadata == "true"


class _Bridge:
    """Re-exports the kube metrics of the default registry on the collector's."""

    def collect(self) -> Iterator[Metric]:
        for family in REGISTRY.collect():
            if family.name.startswith(_BRIDGED):
                yield family


class PodMetadata:
    def __init__(self, s: CollectorSettings, metrics: CollectorMetrics | None = None) -> None:
        # Missing or unusable credentials raise ConfigError here, before anything runs.
        self.client = KubeClient(load(s.kubeconfig, s.kube_context))
        self.cache = PodMetadataCache(self.client, s.node_name,
                                      retention=s.pod_metadata_retention_s,
                                      resolve_owners=s.pod_owner_lookup, metrics=metrics,
                                      max_pattern_chars=s.multiline_start_max_chars)
        self.server = self.client.config.server
        if metrics is not None:
            metrics.registry.register(_Bridge())

    def start(self, wait_s: float) -> None:
        """Start the watch; wait (bounded) for the first list so the first files opened
        already know their pod, in particular whether it is excluded."""
        t0 = time.monotonic()
        self.cache.start()
        if self.cache.wait_synced(wait_s):
            log.info("pod metadata: %d pods of node %s listed in %.2fs from %s",
                     len(self.cache), self.cache.node, time.monotonic() - t0, self.server,
                     extra={"event": "pod_metadata_synced", "pods": len(self.cache)})
        else:
            log.warning("pod metadata: no pod list from %s after %.1fs (%s); reading starts "
                        "with path metadata, pods are enriched once the API answers",
                        self.server, wait_s, self.cache.reflector.last_error or "no answer",
                        extra={"event": "pod_metadata_not_synced"})

    def find(self, meta: Meta) -> PodMeta | None:
        """The pod that wrote a source: by namespace/name/uid (CRI path, Docker
        Kubernetes labels), else by container id (Docker json-file folder name)."""
        pod, ns = meta.get("pod"), meta.get("namespace")
        if pod and ns:
            return self.cache.lookup(ns, pod, meta.get("pod_uid"))
        cid = meta.get("container_id")
        return self.cache.by_container(cid) if cid else None

    def state(self) -> str:
        if self.cache.reflector.synced.is_set():
            return f"pod metadata: {len(self.cache)} pods"
        return f"pod metadata: not listed yet ({self.cache.reflector.last_error or 'waiting'})"

    def close(self) -> None:
        """Stop the watch: closing the client ends a watch blocked on its stream."""
        self.cache.stop()
        self.client.close()
        if not self.cache.join(CLOSE_WAIT_S):
            log.warning("pod metadata watch did not stop within %.0fs", CLOSE_WAIT_S)


def apply_pod(src: Source, pods: PodMetadata | None, rules_for: RulesFor,
              force: bool = False, level_rule_for: LevelRuleFor | None = None) -> None:
    """Pod metadata (when on) over the path-derived metadata of ``src``, at discovery
    and at every scan: labels, owner, app, exclusion, multi-line start. A pod the cache
    does not know (yet, or any more) leaves the last metadata applied in place: a
    record never waits for metadata, nor loses it. ``force``: recompute even if the
    pod did not change (new source, new base metadata)."""
    if pods is not None and src.kind != "file":
        found = pods.find(src.base_meta)
        if found is not None and found is not src.pod:  # a new object on every change
            src.pod, force = found, True
    if not force:
        return
    pod = src.pod
    meta = src.base_meta if pod is None else with_pod(src.base_meta, pod)
    if meta != src.meta:
        src.set_meta(meta)
    if level_rule_for is not None:
        src.level_rule = level_rule_for(meta.get("app"), pod.level_rule if pod else None)
    rules = rules_for(meta.get("app"), pod.multiline_start if pod else None)
    excluded = pod is not None and pod.excluded
    if rules is src.rules and excluded == src.excluded:
        return
    # Held entries go out as they were read; joiners take their rules when made.
    src.flush_all()
    src.joiners = {}
    src.rules = rules
    if excluded != src.excluded and pod is not None:
        log.info("pod %s/%s %s: %s %s", pod.namespace, pod.name,
                 "annotated logpipe.io/exclude" if excluded else "no longer excluded",
                 "skipping" if excluded else "shipping", src.path,
                 extra={"event": "pod_excluded" if excluded else "pod_included",
                        "path": src.path, "namespace": pod.namespace, "pod": pod.name})
    src.excluded = excluded
