"""Render charts/logpipe with the real helm and check every object with client-go's
strict decoder (``tools/kubecheck``); helpers shared by the chart tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.conftest import ROOT, Validators, clean_env

CHART = ROOT / "charts" / "logpipe"
FULL = Path(__file__).with_name("values-full.yaml")
Manifests = dict[tuple[str, str], dict[str, Any]]


def helm(v: Validators, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(v.helm), *args], capture_output=True, text=True, timeout=120,
                          env=clean_env(HELM_CACHE_HOME="/tmp/logpipe-helm-cache",
                                        HELM_CONFIG_HOME="/tmp/logpipe-helm-config"))


def render(v: Validators, *args: str) -> Manifests:
    res = helm(v, "template", "rel", str(CHART), "--namespace", "logs", *args)
    assert res.returncode == 0, res.stderr
    # Every object must decode strictly into its Kubernetes type: no unknown
    # fields, no wrong types, no unknown kinds.
    check = subprocess.run([str(v.kubecheck)], input=res.stdout, capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    docs = [d for d in yaml.safe_load_all(res.stdout) if d]
    out = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert len(out) == len(docs), "two objects share a kind and name"
    return out


def pod_spec(m: Manifests, kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = m[(kind, name)]["spec"]["template"]["spec"]
    return spec


def container(m: Manifests, kind: str, name: str, which: str | None = None) -> dict[str, Any]:
    """The pod's only container, or the one named ``which``."""
    containers = pod_spec(m, kind, name)["containers"]
    if which is None:
        (c,) = containers
    else:
        (c,) = [c for c in containers if c["name"] == which]
    result: dict[str, Any] = c
    return result
