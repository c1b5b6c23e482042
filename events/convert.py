"""Kubernetes Event object -> Record.

Reads both shapes: core/v1 (``involvedObject``, ``count``, ``first/lastTimestamp``,
or ``eventTime`` + ``series`` for events written by the new recorder) and
events.k8s.io/v1 (``regarding``, ``note``, ``deprecated*``).

The id is ``stable_id(cluster, event uid, count, last time)``: independent of
resourceVersion, so a relist or a replay overwrites the same document, while a
repeat of the event (count goes up) is a new record, as a new log line would be.

The namespace is the Event object's own ``metadata.namespace``: the one the API server
authorised its writer for. ``involvedObject``/``regarding`` is what the writer *claims*
the event is about (anyone who may create Events in ``pay`` may name an object in
``hotel``), so it only goes to ``attrs``. Kubernetes files events about cluster-scoped
objects (Nodes, PersistentVolumes, Namespaces) in ``default``: those, and only when
they sit in one of ``cluster_sources``, go to the ``cluster`` namespace, which only
tokens granted it can read.
"""

from __future__ import annotations

from typing import Any

from logpipe.levels import Level, normalize_level
from logpipe.record import Record, stable_id
from logpipe.timefmt import normalize_ts, now_ts

SOURCE = "k8s-event"
CLUSTER_NAMESPACE = "cluster"
CLUSTER_SOURCES = frozenset({"default"})
_TYPES = {"normal": Level.INFO, "warning": Level.WARN}


def _ts(*candidates: Any) -> str | None:
    for value in candidates:
        if isinstance(value, str) and value:
            try:
                return normalize_ts(value)
            except ValueError:
                continue
    return None


def _count(ev: dict[str, Any]) -> int:
    series = ev.get("series") or {}
    for value in (series.get("count"), ev.get("count"), ev.get("deprecatedCount")):
        if isinstance(value, int) and value > 0:
            return value
    return 1


def event_level(type_: object) -> Level:
    """Normal -> info, Warning -> warn; anything else through the usual aliases."""
    if isinstance(type_, str):
        return _TYPES.get(type_.lower()) or normalize_level(type_)
    return Level.UNKNOWN


def involved(ev: dict[str, Any]) -> dict[str, Any]:
    obj = ev.get("involvedObject") or ev.get("regarding") or {}
    return obj if isinstance(obj, dict) else {}


def event_namespace(ev: dict[str, Any], *, cluster_namespace: str = CLUSTER_NAMESPACE,
                    cluster_sources: frozenset[str] = CLUSTER_SOURCES) -> str:
    """The record's namespace (tenant): never taken from the involved object."""
    meta = ev.get("metadata") or {}
    own = meta.get("namespace")
    if not isinstance(own, str) or not own:
        return cluster_namespace  # not a namespaced Event: only cluster readers see it
    if own in cluster_sources and not involved(ev).get("namespace"):
        return cluster_namespace  # about a cluster-scoped object, filed by Kubernetes
    return own


def event_key(ev: dict[str, Any], namespace: str | None = None) -> str:
    """Kafka key and ``path``: the involved object within the record's namespace, so its
    events stay in order (and the path never names a namespace the writer did not own)."""
    obj = involved(ev)
    ns = namespace if namespace is not None else event_namespace(ev)
    return f"k8s://{ns}/{obj.get('kind', '')}/{obj.get('name', '')}"


def to_record(ev: dict[str, Any], *, cluster: str, node: str,
              cluster_namespace: str = CLUSTER_NAMESPACE,
              cluster_sources: frozenset[str] = CLUSTER_SOURCES) -> Record:
    meta = ev.get("metadata") or {}
    obj = involved(ev)
    series = ev.get("series") or {}
    source = ev.get("source") or ev.get("deprecatedSource") or {}
    count = _count(ev)
    first = _ts(ev.get("firstTimestamp"), ev.get("deprecatedFirstTimestamp"),
                ev.get("eventTime"), meta.get("creationTimestamp"))
    last = _ts(series.get("lastObservedTime"), ev.get("lastTimestamp"),
               ev.get("deprecatedLastTimestamp"), ev.get("eventTime"),
               meta.get("creationTimestamp"))
    ingest = now_ts()
    tags: tuple[str, ...] = ()
    if last is None:
        tags = ("no_timestamp",)
    uid = str(meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}")
    attrs = {
        "kind": str(obj.get("kind") or ""),
        "name": str(obj.get("name") or ""),
        "reason": str(ev.get("reason") or ""),
        "type": str(ev.get("type") or ""),
        "count": str(count),
        "first_ts": first or "",
        "last_ts": last or "",
        "component": str(ev.get("reportingComponent") or ev.get("reportingController")
                         or source.get("component") or ""),
        "event_name": str(meta.get("name") or ""),
        "event_uid": uid,
    }
    for src, dst in (("fieldPath", "field_path"), ("uid", "object_uid"),
                     ("namespace", "object_namespace")):
        if obj.get(src):
            attrs[dst] = str(obj[src])
    if source.get("host"):
        attrs["host"] = str(source["host"])
    if ev.get("action"):
        attrs["action"] = str(ev["action"])
    namespace = event_namespace(ev, cluster_namespace=cluster_namespace,
                                cluster_sources=cluster_sources)
    # A Pod in another namespace than the Event's is a claim, not a fact: no pod fields.
    is_pod = obj.get("kind") == "Pod" and obj.get("namespace") in (None, "", namespace)
    message = ev.get("message")
    if message is None:
        message = ev.get("note")
    return Record(
        id=stable_id(cluster, uid, str(count), last or ""),
        ts=last or ingest,
        ingest_ts=ingest,
        node=node,
        source=SOURCE,
        path=event_key(ev, namespace),
        offset=0,
        message=str(message or ""),
        level=event_level(ev.get("type")).value,
        namespace=namespace,
        pod=str(obj.get("name")) if is_pod else None,
        pod_uid=str(obj["uid"]) if is_pod and obj.get("uid") else None,
        attrs=attrs,
        tags=tags,
    )
