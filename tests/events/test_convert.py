"""Event object -> Record: both API shapes, level mapping, ids that survive relists."""

from __future__ import annotations

from events.convert import event_level, to_record
from events.shipper import events_path
from logpipe.record import decode, encode
from tests.kube.objects import core_event, events_v1_event, series_event


def test_core_event_fields() -> None:
    ev = core_event("shop", "web-0.17b0c2f0a1b2c3d4", count=5, first="2026-11-26T07:00:00Z",
                    last="2026-11-26T07:05:00Z")
    ev["metadata"]["resourceVersion"] = "4711"
    rec = to_record(ev, cluster="prod", node="node-x")
    assert rec.source == "k8s-event"
    assert rec.namespace == "shop"
    assert rec.level == "warn"
    assert rec.message == "Back-off restarting failed container web"
    assert rec.ts == "2026-11-26T07:05:00.000000000Z"
    assert rec.pod == "web-0" and rec.pod_uid == ev["involvedObject"]["uid"]
    assert rec.path == "k8s://shop/Pod/web-0"
    assert rec.node == "node-x"
    assert rec.attrs["kind"] == "Pod" and rec.attrs["name"] == "web-0"
    assert rec.attrs["reason"] == "BackOff" and rec.attrs["type"] == "Warning"
    assert rec.attrs["count"] == "5"
    assert rec.attrs["first_ts"] == "2026-11-26T07:00:00.000000000Z"
    assert rec.attrs["last_ts"] == "2026-11-26T07:05:00.000000000Z"
    assert rec.attrs["component"] == "kubelet" and rec.attrs["host"] == "node-a"
    assert rec.attrs["field_path"] == "spec.containers{web}"
    assert decode(encode(rec)) == rec  # honours the record contract


def test_levels() -> None:
    assert event_level("Normal") == "info"
    assert event_level("Warning") == "warn"
    assert event_level("Error") == "error"
    assert event_level(None) == "unknown"
    assert event_level("Sideways") == "unknown"


def test_id_ignores_resource_version_but_not_repeats() -> None:
    ev = core_event("shop", "e1", uid="8d2c", count=1)
    ev["metadata"]["resourceVersion"] = "10"
    first = to_record(ev, cluster="c", node="n")
    ev["metadata"]["resourceVersion"] = "99"  # the same event seen again by a relist
    assert to_record(ev, cluster="c", node="n").id == first.id
    ev["count"] = 2
    ev["lastTimestamp"] = "2026-11-26T07:01:00Z"
    assert to_record(ev, cluster="c", node="n").id != first.id  # it happened again
    assert to_record(core_event("shop", "e1", uid="8d2c"), cluster="other", node="n").id \
        != first.id


def test_new_recorder_event_through_core_api() -> None:
    rec = to_record(series_event("shop", "shop.17b", series_count=4), cluster="c", node="n")
    assert rec.level == "info"
    assert rec.attrs["count"] == "4"
    assert rec.ts == "2026-11-26T07:09:30.500000000Z"  # series.lastObservedTime
    assert rec.attrs["first_ts"] == "2026-11-26T07:01:00.123456000Z"  # eventTime
    assert rec.attrs["component"] == "deployment-controller"
    assert rec.attrs["kind"] == "Deployment" and rec.pod is None
    assert rec.attrs["action"] == "Scaling"
    single = to_record(series_event("shop", "shop.17c"), cluster="c", node="n")
    assert single.attrs["count"] == "1" and single.ts == "2026-11-26T07:01:00.123456000Z"


def test_events_k8s_io_shape() -> None:
    rec = to_record(events_v1_event("api", "api.1"), cluster="c", node="n")
    assert rec.message.startswith("Readiness probe failed")
    assert rec.level == "warn"
    assert rec.attrs["count"] == "3"
    assert rec.attrs["component"] == "kubelet" and rec.attrs["host"] == "node-b"
    assert rec.pod == "api-5f6d7-abcde"
    assert rec.ts == "2026-11-26T07:04:00.000000000Z"


def test_cluster_scoped_object_and_missing_times() -> None:
    ev = core_event("default", "node-a.1", kind="Node", obj_name="node-a", type_="Normal",
                    reason="NodeReady", message="Node node-a status is now: NodeReady")
    ev["involvedObject"]["namespace"] = ""
    for key in ("firstTimestamp", "lastTimestamp"):
        ev[key] = None
    del ev["metadata"]["creationTimestamp"]
    rec = to_record(ev, cluster="c", node="n")
    assert rec.namespace == "cluster"  # filed in default by Kubernetes: cluster readers only
    assert rec.path == "k8s://cluster/Node/node-a"
    assert "object_namespace" not in rec.attrs
    assert "no_timestamp" in rec.tags and rec.ts == rec.ingest_ts


def test_namespace_is_the_events_own_never_the_involved_objects() -> None:
    # A writer who may create Events in "pay" names a Pod of "hotel": the record stays in
    # pay, the claim is kept in attrs, and no pod fields point into hotel.
    ev = core_event("pay", "spoof.1", obj_name="rooms-0")
    ev["involvedObject"]["namespace"] = "hotel"
    rec = to_record(ev, cluster="c", node="n")
    assert rec.namespace == "pay"
    assert rec.attrs["object_namespace"] == "hotel"
    assert rec.path == "k8s://pay/Pod/rooms-0"
    assert rec.pod is None and rec.pod_uid is None
    # The same through events.k8s.io/v1's `regarding`.
    v1 = events_v1_event("pay", "spoof.2")
    v1["regarding"]["namespace"] = "hotel"
    rec = to_record(v1, cluster="c", node="n")
    assert rec.namespace == "pay" and rec.attrs["object_namespace"] == "hotel"
    # A tenant's event about a cluster-scoped object stays the tenant's: only events
    # Kubernetes files in the configured source namespaces reach "cluster".
    node_ev = core_event("pay", "node.1", kind="Node", obj_name="node-a")
    node_ev["involvedObject"]["namespace"] = ""
    assert to_record(node_ev, cluster="c", node="n").namespace == "pay"
    assert to_record(node_ev, cluster="c", node="n", cluster_namespace="infra",
                     cluster_sources=frozenset({"pay"})).namespace == "infra"
    # An Event without a namespace of its own: only cluster readers see it.
    del ev["metadata"]["namespace"]
    assert to_record(ev, cluster="c", node="n").namespace == "cluster"


def test_paths() -> None:
    assert events_path("v1", None) == "/api/v1/events"
    assert events_path("v1", "shop") == "/api/v1/namespaces/shop/events"
    assert events_path("events.k8s.io/v1", None) == "/apis/events.k8s.io/v1/events"
