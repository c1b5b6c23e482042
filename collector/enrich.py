"""Who wrote a file: metadata from Docker's ``config.v2.json`` or from the CRI path,
optionally completed with the pod's metadata from the Kubernetes API (``with_pod``).

The result is the per-source part of every record (container_id .. attrs), computed
once per file, so the hot path only copies a prepared dict.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from collector.pods import PodMeta

K8S_POD = "io.kubernetes.pod.name"
K8S_NS = "io.kubernetes.pod.namespace"
K8S_CONTAINER = "io.kubernetes.container.name"
K8S_UID = "io.kubernetes.pod.uid"
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
APP_LABELS = ("app.kubernetes.io/name", "app", "k8s-app")

Meta = dict[str, Any]


def empty_meta() -> Meta:
    """The record fields between ``stream`` and ``tags``, in wire order."""
    return {"container_id": None, "container_name": None, "image": None, "namespace": None,
            "pod": None, "pod_uid": None, "app": None, "labels": {}, "attrs": {}}


def resolve_app(labels: dict[str, str], container_name: str | None, path: str) -> str:
    """app: from labels, then the container name, then the file name (DESIGN.md)."""
    for key in APP_LABELS:
        if labels.get(key):
            return labels[key]
    if container_name:
        return container_name
    name = os.path.basename(path)
    for suffix in ("-json.log", ".log"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def docker_meta(path: str, default_namespace: str) -> tuple[Meta, bool]:
    """Metadata of ``<root>/<id>/<id>-json.log``; the flag is False when the
    container's ``config.v2.json`` could not be read (gone or not written yet)."""
    meta = empty_meta()
    folder = os.path.dirname(path)
    meta["container_id"] = os.path.basename(folder)
    found = False
    labels: dict[str, str] = {}
    try:
        with open(os.path.join(folder, "config.v2.json"), "rb") as fh:
            config = orjson.loads(fh.read())
        found = isinstance(config, dict)
    except (OSError, orjson.JSONDecodeError):
        config = {}
    if found:
        inner = config.get("Config") if isinstance(config.get("Config"), dict) else {}
        raw = inner.get("Labels") or {}
        labels = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
        if isinstance(config.get("ID"), str) and config["ID"]:
            meta["container_id"] = config["ID"]
        name = config.get("Name")
        meta["container_name"] = name.lstrip("/") if isinstance(name, str) and name else None
        image = inner.get("Image")
        meta["image"] = image if isinstance(image, str) else None
    if labels.get(K8S_CONTAINER):
        meta["container_name"] = labels[K8S_CONTAINER]
    meta["pod"] = labels.get(K8S_POD)
    meta["pod_uid"] = labels.get(K8S_UID)
    meta["namespace"] = labels.get(K8S_NS) or labels.get(COMPOSE_PROJECT) or default_namespace
    meta["labels"] = labels
    meta["app"] = resolve_app(labels, labels.get(COMPOSE_SERVICE) or meta["container_name"],
                              path)
    return meta, found


def cri_meta(path: str, default_namespace: str) -> Meta:
    """Metadata of ``<root>/<namespace>_<pod>_<uid>/<container>/<n>.log`` from the path
    alone, so a record never waits for, or loses, metadata of a deleted pod."""
    meta = empty_meta()
    container_dir = os.path.dirname(path)
    pod_dir = os.path.basename(os.path.dirname(container_dir))
    container = os.path.basename(container_dir)
    parts = pod_dir.split("_")
    if len(parts) >= 3:
        # Namespaces and pod names are DNS labels (no "_"), the uid comes last.
        meta["namespace"], meta["pod"], meta["pod_uid"] = parts[0], "_".join(parts[1:-1]), parts[-1]
    else:
        meta["namespace"] = default_namespace
    meta["container_name"] = container or None
    meta["app"] = resolve_app({}, container or None, path)
    return meta


def host_meta(path: str, host_namespace: str) -> Meta:
    meta = empty_meta()
    meta["namespace"] = host_namespace
    meta["app"] = resolve_app({}, None, path)
    return meta


def with_pod(meta: Meta, pod: PodMeta) -> Meta:
    """``meta`` (from the path or config.v2.json) completed with the pod's metadata
    from the API: labels merged (the pod's win), owner in attrs, ``app`` from the pod's
    labels when they name one, the image from the pod spec when the path had none.
    Returns a new dict; what the path gave is never lost."""
    out = dict(meta)
    out["labels"] = {**meta["labels"], **pod.labels}
    attrs = dict(meta["attrs"])
    if pod.owner_kind and pod.owner_name:
        attrs["owner_kind"], attrs["owner_name"] = pod.owner_kind, pod.owner_name
    out["attrs"] = attrs
    if pod.app:
        out["app"] = pod.app
    if not out["pod"]:  # a Docker container without Kubernetes labels, found by its id
        out["namespace"], out["pod"], out["pod_uid"] = pod.namespace, pod.name, pod.uid
    if out["image"] is None and out["container_name"]:
        out["image"] = pod.containers.get(out["container_name"])
    return out
