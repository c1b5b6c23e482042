"""Credentials: kubeconfig (token, token file, CA and client certificate, inline
data), in-cluster service account, refusals that say what to change; TLS for real
against the fake API server with certificates made by openssl."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
import yaml

from kube.client import KubeClient
from kube.config import KubeConfig, from_kubeconfig, in_cluster, load
from kube.errors import KubeUnavailable
from logpipe.errors import ConfigError
from tests.kube.fake_apiserver import FakeApiServer
from tests.kube.objects import core_event


def kubeconfig(path: Path, user: dict[str, object], cluster: dict[str, object]) -> Path:
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u",
                                                 "namespace": "logging"}}],
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def test_token_and_relative_ca(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("x")
    cfg = from_kubeconfig(kubeconfig(tmp_path / "config", {"token": "abc"},
                                     {"server": "https://k8s:6443/",
                                      "certificate-authority": "ca.crt"}))
    assert cfg.server == "https://k8s:6443" and cfg.bearer() == "abc"
    assert cfg.ca_file == str(tmp_path / "ca.crt") and cfg.namespace == "logging"


def test_token_file_is_reread(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one\n")
    cfg = from_kubeconfig(kubeconfig(tmp_path / "config", {"tokenFile": str(token)},
                                     {"server": "http://k8s"}))
    assert cfg.bearer() == "one"
    token.write_text("two\n")  # a rotated service-account token
    assert cfg.bearer() == "two"


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="exec/auth-provider"):
        from_kubeconfig(kubeconfig(tmp_path / "a", {"exec": {"command": "aws"}},
                                   {"server": "https://k8s"}))
    with pytest.raises(ConfigError, match="no server"):
        from_kubeconfig(kubeconfig(tmp_path / "b", {"token": "t"}, {}))
    with pytest.raises(ConfigError, match="no context named 'other'"):
        from_kubeconfig(kubeconfig(tmp_path / "c", {"token": "t"}, {"server": "x"}), "other")
    with pytest.raises(ConfigError, match="cannot read kubeconfig"):
        from_kubeconfig(tmp_path / "missing")


def test_in_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert in_cluster(tmp_path) is None
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "namespace").write_text("logpipe")
    (tmp_path / "ca.crt").write_text("x")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    cfg = in_cluster(tmp_path)
    assert cfg is not None
    assert cfg.server == "https://[fd00::1]:443" and cfg.bearer() == "sa-token"
    assert cfg.namespace == "logpipe" and cfg.ca_file == str(tmp_path / "ca.crt")


def test_load_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    with pytest.raises(ConfigError, match="no Kubernetes credentials"):
        load()
    path = kubeconfig(tmp_path / "cfg", {"token": "t"}, {"server": "http://k8s"})
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'nope'}:{path}")
    assert load().server == "http://k8s"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    if shutil.which("openssl") is None:  # a skip here would hide the TLS tests for good
        pytest.fail("openssl is not installed: run `bash tools/install-openssl.sh` "
                    "(make test does)")
    d = tmp_path / "pki"
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=test-ca", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"))
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"),
                      ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.crt"),
                 "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
                 "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.crt"))
    return d


def test_tls_with_inline_ca_and_client_certificate(pki: Path, tmp_path: Path) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki / "server.crt", pki / "server.key")
    ctx.load_verify_locations(pki / "ca.crt")
    ctx.verify_mode = ssl.CERT_OPTIONAL  # a client cert, when sent, must be valid
    server = FakeApiServer().start(tls=ctx)
    try:
        server.put("events", core_event("shop", "over-tls"))

        def b64(name: str) -> str:
            return base64.b64encode((pki / name).read_bytes()).decode()

        cfg = from_kubeconfig(kubeconfig(
            tmp_path / "config",
            {"client-certificate-data": b64("client.crt"), "client-key-data": b64("client.key")},
            {"server": server.url, "certificate-authority-data": b64("ca.crt")}))
        client = KubeClient(cfg)
        items, _ = client.list("/api/v1/events")
        assert [i["metadata"]["name"] for i in items] == ["over-tls"]
        client.close()
        # Without the CA the server is not trusted: the error says so.
        untrusted = KubeClient(KubeConfig(server=server.url, token=server.token))
        with pytest.raises(KubeUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.list("/api/v1/events")
        untrusted.close()
    finally:
        server.stop()
