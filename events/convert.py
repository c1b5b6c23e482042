"""Kubernetes Event object -> Record.

Reads both shapes: core/v1 (``involvedObject``, ``count``, ``first/lastTimestamp``,
or ``eventTime`` + ``series`` for events written by the new recorder) and
events.k8s.io/v1 (``regarding``, ``note``, ``deprecated*``).

The id is ``stable_id(cluster, event uid, count, last time)``: independent of
resourceVersion, so a relist or a replay overwrites the same document, while a
repeat of the event (count goes up) is a new record, as a new log line would be.
"""

from __future__ import annotations

from typing import Any

from logpipe.levels import Level, normalize_level
from logpipe.record import Record, stable_id
from logpipe.timefmt import normalize_ts, now_ts

SOURCE = "k8s-event"
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


def event_key(ev: dict[str, Any]) -> str:
    """Kafka key and ``path``: the involved object, so its events stay in order."""
    meta = ev.get("metadata") or {}
    obj = involved(ev)
    ns = obj.get("namespace") or meta.get("namespace") or ""
    return f"k8s://{ns}/{obj.get('kind', '')}/{obj.get('name', '')}"


def to_record(ev: dict[str, Any], *, cluster: str, node: str) -> Record:
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
    for src, dst in (("fieldPath", "field_path"), ("uid", "object_uid")):
        if obj.get(src):
            attrs[dst] = str(obj[src])
    if source.get("host"):
        attrs["host"] = str(source["host"])
    if ev.get("action"):
        attrs["action"] = str(ev["action"])
    namespace = str(obj.get("namespace") or meta.get("namespace") or "default")
    is_pod = obj.get("kind") == "Pod"
    message = ev.get("message")
    if message is None:
        message = ev.get("note")
    return Record(
        id=stable_id(cluster, uid, str(count), last or ""),
        ts=last or ingest,
        ingest_ts=ingest,
        node=node,
        source=SOURCE,
        path=event_key(ev),
        offset=0,
        message=str(message or ""),
        level=event_level(ev.get("type")).value,
        namespace=namespace,
        pod=str(obj.get("name")) if is_pod else None,
        pod_uid=str(obj["uid"]) if is_pod and obj.get("uid") else None,
        attrs=attrs,
        tags=tags,
    )
