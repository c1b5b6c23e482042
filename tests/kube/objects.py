"""Kubernetes objects shaped as the API server returns them (copied field for field
from `kubectl get -o json` output of a 1.30 cluster, names changed)."""

from __future__ import annotations

import uuid
from typing import Any

Obj = dict[str, Any]


def core_event(namespace: str, name: str, *, kind: str = "Pod", obj_name: str = "web-0",
               reason: str = "BackOff", type_: str = "Warning", count: int = 1,
               message: str = "Back-off restarting failed container web",
               first: str = "2026-11-26T07:00:00Z", last: str = "2026-11-26T07:00:00Z",
               uid: str | None = None) -> Obj:
    """A core/v1 Event as written by the kubelet's legacy recorder."""
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or str(uuid.uuid4()),
            "creationTimestamp": first,
            "managedFields": [{"manager": "kubelet", "operation": "Update",
                               "apiVersion": "v1", "time": last,
                               "fieldsType": "FieldsV1", "fieldsV1": {"f:count": {}}}],
        },
        "involvedObject": {
            "kind": kind, "namespace": namespace, "name": obj_name,
            "uid": "0f9c7a52-3d3a-4a8e-9f59-6a1c2b3d4e5f", "apiVersion": "v1",
            "resourceVersion": "48213", "fieldPath": "spec.containers{web}",
        },
        "reason": reason,
        "message": message,
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": first,
        "lastTimestamp": last,
        "count": count,
        "type": type_,
        "eventTime": None,
        "reportingComponent": "kubelet",
        "reportingInstance": "node-a",
    }


def series_event(namespace: str, name: str, *, kind: str = "Deployment",
                 obj_name: str = "shop", reason: str = "ScalingReplicaSet",
                 type_: str = "Normal", series_count: int | None = None,
                 note: str = "Scaled up replica set shop-7d4b9c6f8d to 3") -> Obj:
    """A core/v1 view of an event created through events.k8s.io/v1 (new recorder):
    no count or first/lastTimestamp, an eventTime and maybe a series."""
    ev: Obj = {
        "metadata": {"name": name, "namespace": namespace,
                     "creationTimestamp": "2026-11-26T07:01:00Z"},
        "involvedObject": {"kind": kind, "namespace": namespace, "name": obj_name,
                           "uid": "5e0b6a51-1c4f-44a2-8d55-0e6f7c8d9a0b",
                           "apiVersion": "apps/v1", "resourceVersion": "91720"},
        "reason": reason,
        "message": note,
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "type": type_,
        "eventTime": "2026-11-26T07:01:00.123456Z",
        "action": "Scaling",
        "reportingComponent": "deployment-controller",
        "reportingInstance": "",
    }
    if series_count is not None:
        ev["series"] = {"count": series_count, "lastObservedTime": "2026-11-26T07:09:30.500000Z"}
    return ev


def events_v1_event(namespace: str, name: str, *, deprecated_count: int = 3) -> Obj:
    """The same kind of event read through events.k8s.io/v1."""
    return {
        "metadata": {"name": name, "namespace": namespace,
                     "creationTimestamp": "2026-11-26T07:02:00Z"},
        "eventTime": None,
        "reportingController": "kubelet",
        "reportingInstance": "node-b",
        "action": "",
        "reason": "Unhealthy",
        "regarding": {"kind": "Pod", "namespace": namespace, "name": "api-5f6d7-abcde",
                      "uid": "c2d3e4f5-0a1b-4c2d-9e8f-7a6b5c4d3e2f", "apiVersion": "v1",
                      "resourceVersion": "7781", "fieldPath": "spec.containers{api}"},
        "note": "Readiness probe failed: HTTP probe failed with statuscode: 503",
        "type": "Warning",
        "deprecatedSource": {"component": "kubelet", "host": "node-b"},
        "deprecatedFirstTimestamp": "2026-11-26T07:02:00Z",
        "deprecatedLastTimestamp": "2026-11-26T07:04:00Z",
        "deprecatedCount": deprecated_count,
    }


def pod(namespace: str, name: str, *, node: str = "node-a", uid: str | None = None,
        labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
        owner: tuple[str, str] | None = None) -> Obj:
    """A running Pod; ``owner`` is (kind, name) of its controller."""
    meta: Obj = {
        "name": name, "namespace": namespace, "uid": uid or str(uuid.uuid4()),
        "creationTimestamp": "2026-11-26T06:00:00Z",
        "labels": labels or {},
    }
    if annotations:
        meta["annotations"] = annotations
    if owner:
        api = "batch/v1" if owner[0] == "Job" else "apps/v1"
        meta["ownerReferences"] = [{"apiVersion": api, "kind": owner[0], "name": owner[1],
                                    "uid": str(uuid.uuid4()), "controller": True,
                                    "blockOwnerDeletion": True}]
    return {
        "metadata": meta,
        "spec": {
            "containers": [{"name": "web", "image": "registry.local/web:1.4.2",
                            "resources": {}, "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst", "serviceAccountName": "default",
            "nodeName": node, "schedulerName": "default-scheduler",
        },
        "status": {
            "phase": "Running", "hostIP": "10.0.0.11", "podIP": "10.244.1.17",
            "startTime": "2026-11-26T06:00:00Z",
            "containerStatuses": [{
                "name": "web", "ready": True, "restartCount": 0,
                "image": "registry.local/web:1.4.2",
                "imageID": "registry.local/web@sha256:" + "ab" * 32,
                "containerID": "containerd://" + uuid.uuid4().hex + uuid.uuid4().hex,
                "started": True, "state": {"running": {"startedAt": "2026-11-26T06:00:02Z"}},
            }],
            "qosClass": "BestEffort",
        },
    }
