"""The demo node's workloads and where each one's logs live on disk.

Three kinds of container, as found on real nodes: Kubernetes pods under
containerd (CRI files under ``pods/``), Kubernetes pods under Docker via
cri-dockerd and plain Compose / ``docker run`` containers (json-file under
``docker/containers/`` with ``config.v2.json``), plus the host's own syslog.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from demo.formats import rfc3339nano

Kind = Literal["cri", "docker-k8s", "compose", "docker", "host"]

DOCKER_DIR = Path("docker") / "containers"
PODS_DIR = Path("pods")
HOST_DIR = Path("log")


@dataclass(frozen=True)
class AppSpec:
    app: str
    profile: str  # key of catalog.PROFILES; "syslog" for the host
    image: str
    weight: float  # share of the node's log volume
    kind: Kind
    namespace: str | None = None
    replicas: int = 1


# Weights follow what busy clusters look like: ingress and edge services dominate.
SPECS: tuple[AppSpec, ...] = (
    AppSpec("frontend", "nginx", "nginx:1.27.2", 6, "cri", "shop", replicas=2),
    AppSpec("cart", "structlog", "ghcr.io/acme/cart:2.3.1", 3, "cri", "shop"),
    AppSpec("checkout", "spring", "ghcr.io/acme/checkout:1.14.0", 3, "cri", "shop"),
    AppSpec("payments", "logstash", "ghcr.io/acme/payments:5.2.0", 2, "cri", "pay"),
    AppSpec("ledger", "zap", "ghcr.io/acme/ledger:0.9.3", 2, "cri", "pay"),
    AppSpec("coredns", "coredns", "registry.k8s.io/coredns/coredns:v1.11.3", 1, "cri",
            "kube-system", replicas=2),
    AppSpec("indexer", "logfmt", "ghcr.io/acme/indexer:3.0.1", 2, "docker-k8s", "search"),
    AppSpec("search-api", "pylog", "ghcr.io/acme/search-api:1.2.0", 2, "docker-k8s", "search"),
    AppSpec("api", "pylog", "hotel/api:2024.11", 3, "compose", "hotel"),
    AppSpec("worker", "structlog", "hotel/worker:2024.11", 2, "compose", "hotel"),
    AppSpec("db", "postgres", "postgres:17.2", 1, "compose", "hotel"),
    AppSpec("cache", "redis", "redis:7.4.1", 1, "compose", "hotel"),
    AppSpec("backup", "shell", "alpine:3.20", 0.5, "docker"),
    AppSpec("syslog", "syslog", "", 1, "host"),
)


@dataclass(frozen=True)
class Source:
    """One log stream on disk: a container's log file or a host log file."""

    kind: Kind
    app: str
    profile: str
    weight: float
    rel_path: Path  # relative to the demo folder
    image: str = ""
    namespace: str | None = None
    pod: str | None = None
    pod_uid: str | None = None
    container: str | None = None  # the container's name inside its pod / Compose service
    container_id: str | None = None
    docker_name: str | None = None  # Docker's Name, with its leading "/"
    labels: dict[str, str] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        return {"kind": self.kind, "app": self.app, "namespace": self.namespace,
                "pod": self.pod, "pod_uid": self.pod_uid, "container": self.container,
                "container_id": self.container_id, "name": self.docker_name,
                "image": self.image, "path": str(self.rel_path), "labels": self.labels}


def _pod_name(rng: random.Random, app: str) -> str:
    # Deployment pods: <app>-<replicaset hash>-<5 char suffix>, from Kubernetes' alphabet.
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    rs = "".join(rng.choice(alphabet) for _ in range(rng.choice((9, 10))))
    return f"{app}-{rs}-{''.join(rng.choice(alphabet) for _ in range(5))}"


def build_fleet(seed: int) -> list[Source]:
    """The node's sources; the same seed always gives the same ids, pods and paths."""
    rng = random.Random(f"fleet-{seed}")
    sources: list[Source] = []
    for spec in SPECS:
        for replica in range(1, spec.replicas + 1):
            sources.append(_source(rng, spec, replica))
    return sources


def _source(rng: random.Random, spec: AppSpec, replica: int) -> Source:
    weight = spec.weight / spec.replicas
    if spec.kind == "host":
        return Source("host", spec.app, spec.profile, weight, HOST_DIR / "syslog")
    cid = f"{rng.getrandbits(256):064x}"
    if spec.kind == "cri":
        pod, uid = _pod_name(rng, spec.app), str(uuid.UUID(int=rng.getrandbits(128), version=4))
        rel = PODS_DIR / f"{spec.namespace}_{pod}_{uid}" / spec.app / "0.log"
        return Source("cri", spec.app, spec.profile, weight, rel, spec.image, spec.namespace,
                      pod, uid, spec.app, cid)
    rel = DOCKER_DIR / cid / f"{cid}-json.log"
    labels = {"org.opencontainers.image.source": f"https://example.com/{spec.app}"}
    if spec.kind == "docker-k8s":
        pod, uid = _pod_name(rng, spec.app), str(uuid.UUID(int=rng.getrandbits(128), version=4))
        ns = spec.namespace or "default"
        # The labels cri-dockerd puts on a pod's containers, plus the pod's app label.
        labels |= {"io.kubernetes.container.name": spec.app, "io.kubernetes.pod.name": pod,
                   "io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.uid": uid,
                   "io.kubernetes.docker.type": "container",
                   "io.kubernetes.container.logpath":
                       f"/var/log/pods/{ns}_{pod}_{uid}/{spec.app}/0.log",
                   "app.kubernetes.io/name": spec.app}
        name = f"/k8s_{spec.app}_{pod}_{ns}_{uid}_0"
        return Source("docker-k8s", spec.app, spec.profile, weight, rel, spec.image, ns, pod,
                      uid, spec.app, cid, name, labels)
    if spec.kind == "compose":
        project = spec.namespace or "demo"
        labels |= {"com.docker.compose.project": project,
                   "com.docker.compose.service": spec.app,
                   "com.docker.compose.container-number": str(replica),
                   "com.docker.compose.oneoff": "False",
                   "com.docker.compose.project.working_dir": f"/srv/{project}",
                   "com.docker.compose.project.config_files": f"/srv/{project}/compose.yaml",
                   "com.docker.compose.version": "2.29.7",
                   "com.docker.compose.image": f"sha256:{rng.getrandbits(256):064x}"}
        name = f"/{project}-{spec.app}-{replica}"
        # namespace: what the collector derives from the Compose project label.
        return Source("compose", spec.app, spec.profile, weight, rel, spec.image, project, None,
                      None, spec.app, cid, name, labels)
    name = f"/{spec.app}"
    return Source("docker", spec.app, spec.profile, weight, rel, spec.image, None, None, None,
                  spec.app, cid, name, labels)


def docker_config(src: Source, log_path: Path, created_ns: int) -> dict[str, Any]:
    """The subset of Docker's ``config.v2.json`` that log shippers read."""
    assert src.container_id is not None and src.docker_name is not None
    created = rfc3339nano(created_ns)
    return {
        "ID": src.container_id,
        "Created": created,
        "Path": "/docker-entrypoint.sh",
        "Args": [],
        "Config": {"Hostname": src.container_id[:12], "Image": src.image,
                   "Labels": src.labels, "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/bin"],
                   "Tty": False, "AttachStdout": False, "AttachStderr": False},
        "Image": "sha256:" + src.container_id[::-1],
        "Name": src.docker_name,
        "Driver": "overlay2",
        "LogPath": str(log_path),
        "State": {"Running": True, "Paused": False, "Restarting": False, "Pid": 4242,
                  "ExitCode": 0, "StartedAt": created, "FinishedAt": "0001-01-01T00:00:00Z"},
        "RestartCount": 0,
    }


def docker_hostconfig(max_bytes: int, keep: int) -> dict[str, Any]:
    log_cfg = {"max-size": str(max_bytes), "max-file": str(keep)} if max_bytes else {}
    return {"LogConfig": {"Type": "json-file", "Config": log_cfg}, "NetworkMode": "bridge",
            "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}}
