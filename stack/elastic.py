"""Elasticsearch 9.x from Maven Central's integ-test-zip, single node on loopback."""

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

    def __init__(self, settings: StackSettings) -> None:
        super().__init__(settings.es_dir, settings.start_timeout_s)
        self.s = settings
        self.ports = [settings.es_port, settings.es_transport_port]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.s.es_port}"

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
                    "cluster.name: logpipe-local",
                    "node.name: local",
                    "discovery.type: single-node",
                    "network.host: 127.0.0.1",
                    f"http.port: {self.s.es_port}",
                    f"transport.port: {self.s.es_transport_port}",
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

    def ready(self) -> bool:
        try:
            r = httpx.get(f"{self.url}/_cluster/health", timeout=2)
        except httpx.HTTPError:
            return False
        return r.status_code == 200 and r.json().get("status") in ("yellow", "green")
