"""Where the API server is and how to authenticate: in-cluster service account, or a
kubeconfig (server, bearer token or token file, CA, client certificate).

Exec and auth-provider plugins are not supported: they run arbitrary programs and
are meant for people, not for a DaemonSet; a clear ConfigError says so.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from logpipe.errors import ConfigError

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class KubeConfig:
    """A resolved connection: every credential is a file path or a literal."""

    server: str
    token: str | None = None
    # Bound service-account tokens rotate (about hourly): re-read the file per request.
    token_file: str | None = None
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    insecure: bool = False
    namespace: str = "default"

    def bearer(self) -> str | None:
        if self.token_file:
            try:
                return Path(self.token_file).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"cannot read token file {self.token_file}: {exc}") from None
        return self.token

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.server.startswith("https"):
            return False
        if self.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=self.ca_file)
        if self.client_cert_file:
            ctx.load_cert_chain(self.client_cert_file, self.client_key_file)
        return ctx


def in_cluster(sa_dir: Path = SA_DIR) -> KubeConfig | None:
    """The pod's service account, or None when not running in a pod."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    token = sa_dir / "token"
    if not host or not token.exists():
        return None
    if ":" in host:  # an IPv6 service address needs brackets in a URL
        host = f"[{host}]"
    ns_file = sa_dir / "namespace"
    namespace = ns_file.read_text().strip() if ns_file.exists() else "default"
    ca = sa_dir / "ca.crt"
    return KubeConfig(
        server=f"https://{host}:{port}",
        token_file=str(token),
        ca_file=str(ca) if ca.exists() else None,
        namespace=namespace,
    )


def _named(entries: Any, name: str, what: str, path: Path) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(what)
            return body if isinstance(body, dict) else {}
    raise ConfigError(f"kubeconfig {path}: no {what} named {name!r}")


class _Materializer:
    """Writes ``*-data`` credentials to private files, since ssl wants paths."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._dir: Path | None = None

    def file(self, section: dict[str, Any], key: str) -> str | None:
        data = section.get(f"{key}-data")
        if data:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="logpipe-kube-"))
            out = self._dir / key
            out.write_bytes(base64.b64decode(data))
            out.chmod(0o600)
            return str(out)
        value = section.get(key)
        if not value:
            return None
        # Relative paths in a kubeconfig are relative to the file itself.
        return str((self.base / str(value)).resolve())


def from_kubeconfig(path: Path, context: str | None = None) -> KubeConfig:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {path} is not a YAML mapping")
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise ConfigError(f"kubeconfig {path} has no current-context; pass a context name")
    ctx = _named(doc.get("contexts"), str(ctx_name), "context", path)
    cluster = _named(doc.get("clusters"), str(ctx.get("cluster")), "cluster", path)
    user = _named(doc.get("users"), str(ctx.get("user")), "user", path) if ctx.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise ConfigError(
            f"kubeconfig {path}: user {ctx.get('user')!r} uses an exec/auth-provider plugin, "
            "which logpipe does not run; use a token, a token file or a client certificate"
        )
    server = cluster.get("server")
    if not server:
        raise ConfigError(f"kubeconfig {path}: cluster {ctx.get('cluster')!r} has no server")
    files = _Materializer(path.parent)
    return KubeConfig(
        server=str(server).rstrip("/"),
        token=user.get("token"),
        token_file=files.file(user, "tokenFile") if user.get("tokenFile") else None,
        ca_file=files.file(cluster, "certificate-authority"),
        client_cert_file=files.file(user, "client-certificate"),
        client_key_file=files.file(user, "client-key"),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        namespace=str(ctx.get("namespace") or "default"),
    )


def load(kubeconfig: str | None = None, context: str | None = None) -> KubeConfig:
    """An explicit kubeconfig wins; else in-cluster; else $KUBECONFIG / ~/.kube/config."""
    if kubeconfig:
        return from_kubeconfig(Path(kubeconfig).expanduser(), context)
    found = in_cluster()
    if found is not None:
        return found
    env = os.environ.get("KUBECONFIG", "")
    # $KUBECONFIG may list several files; the first existing one is used (no merging).
    for candidate in [p for p in env.split(os.pathsep) if p] + ["~/.kube/config"]:
        path = Path(candidate).expanduser()
        if path.exists():
            return from_kubeconfig(path, context)
    raise ConfigError(
        "no Kubernetes credentials: not in a pod (KUBERNETES_SERVICE_HOST unset) and no "
        "kubeconfig ($KUBECONFIG or ~/.kube/config); set LOGPIPE_KUBECONFIG"
    )
