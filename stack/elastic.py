"""Elasticsearch 9.x from Maven Central's integ-test-zip on loopback: a single node, or
with ``es_nodes`` > 1 a cluster of master-eligible data nodes."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import httpx

from logpipe.errors import StackError
from stack.config import StackSettings
from stack.fetch import fetch_elasticsearch
from stack.server import Server


def find_jdk(minimum: int = 21, root: Path = Path("/usr/lib/jvm")) -> Path:
    """The newest JDK under ``root`` whose major version is at least ``minimum``."""
    best: tuple[int, Path] | None = None
    for home in sorted(root.glob("*")) if root.exists() else []:
        release = home / "release"
        if not (home / "bin" / "java").exists() or not release.exists():
            continue
        m = re.search(r'JAVA_VERSION="(\d+)', release.read_text())
        if m and int(m.group(1)) >= minimum and (best is None or int(m.group(1)) > best[0]):
            best = (int(m.group(1)), home)
    if best is None:
        raise StackError(
            f"Elasticsearch needs a JDK >= {minimum}; none found in {root} "
            "(set LOGPIPE_STACK_ES_JAVA_HOME)"
        )
    return best[1]


class ElasticServer(Server):
    name = "elasticsearch"
    marker = "org.elasticsearch"

    def __init__(self, settings: StackSettings, index: int = 0) -> None:
        clustered = settings.es_nodes > 1
        home = settings.es_dir / f"node-{index + 1}" if clustered else settings.es_dir
        super().__init__(home, settings.start_timeout_s)
        self.s = settings
        self.node_name = f"node-{index + 1}" if clustered else "local"
        if clustered:
            self.name = f"elasticsearch-{index + 1}"
        self.port, self.transport_port = settings.es_ports(index)
        self.ports = [self.port, self.transport_port]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _discovery(self) -> list[str]:
        if self.s.es_nodes == 1:
            return ["cluster.name: logpipe-local", "discovery.type: single-node"]
        seeds = ", ".join(f'"127.0.0.1:{self.s.es_ports(i)[1]}"' for i in range(self.s.es_nodes))
        names = ", ".join(f'"node-{i + 1}"' for i in range(self.s.es_nodes))
        # initial_master_nodes only matters for the very first election; a node that
        # restarts into a formed cluster ignores it.
        return ["cluster.name: logpipe-cluster", f"discovery.seed_hosts: [{seeds}]",
                f"cluster.initial_master_nodes: [{names}]"]

    def _run_as(self) -> pwd.struct_passwd | None:
        """When root, the unprivileged user ES must run as (ES refuses root)."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(self.s.es_user)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    self.s.es_user,
                ],
                check=True,
            )
            return pwd.getpwnam(self.s.es_user)

    def start(self) -> None:
        dist = fetch_elasticsearch(self.s.downloads_dir / "elasticsearch", self.s.es_version)
        jdk = self.s.es_java_home or find_jdk()
        for sub in ("data", "logs", "config", "tmp"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        conf = self.home / "config"
        # ES reads its config dir from ES_PATH_CONF; copy the defaults once.
        for f in (dist / "config").iterdir():
            if f.is_file() and not (conf / f.name).exists():
                shutil.copy(f, conf / f.name)
        (conf / "elasticsearch.yml").write_text(
            "\n".join(
                [
                    *self._discovery(),
                    f"node.name: {self.node_name}",
                    "network.host: 127.0.0.1",
                    f"http.port: {self.port}",
                    f"transport.port: {self.transport_port}",
                    f"path.data: {self.home / 'data'}",
                    f"path.logs: {self.home / 'logs'}",
                    "xpack.security.enabled: false",
                    # A shared CI disk may be nearly full; a local stack must still accept writes.
                    "cluster.routing.allocation.disk.threshold_enabled: false",
                    "action.destructive_requires_name: false",
                    "",
                ]
            )
        )
        (conf / "jvm.options.d").mkdir(exist_ok=True)
        (conf / "jvm.options.d" / "heap.options").write_text(
            f"-Xms{self.s.es_heap}\n-Xmx{self.s.es_heap}\n"
        )
        user = self._run_as()
        if user is not None:
            for path in (self.home, dist):
                subprocess.run(
                    ["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(path)], check=True
                )
        env = {
            **os.environ,
            "ES_JAVA_HOME": str(jdk),
            "ES_PATH_CONF": str(conf),
            "ES_TMPDIR": str(self.home / "tmp"),
        }
        env.pop("JAVA_HOME", None)
        env.pop("ES_JAVA_OPTS", None)
        self.spawn(
            [str(dist / "bin" / "elasticsearch")],
            env=env,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
        )

    def health(self) -> dict[str, object] | None:
        """``_cluster/health`` as this node answers it; None while it has no cluster."""
        try:
            r = httpx.get(f"{self.url}/_cluster/health", timeout=2)
        except httpx.HTTPError:
            return None
        return r.json() if r.status_code == 200 else None

    def ready(self) -> bool:
        h = self.health()
        return h is not None and h.get("status") in ("yellow", "green")
