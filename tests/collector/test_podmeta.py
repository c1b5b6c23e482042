"""Pod metadata in the collector without a broker: merging into the path metadata,
the on/off rule, applying a pod to a source (rules, exclusion, keeping metadata when
the pod is no longer known) and skipping an excluded source's bytes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from collector.enrich import Meta, cri_meta, docker_meta, with_pod
from collector.multiline import MultilineRules
from collector.podmeta import PodMetadata, apply_pod, pod_metadata_on
from collector.pods import PodMeta, pod_meta
from collector.settings import CollectorSettings
from tests.collector.test_source import Recorder, open_source
from tests.kube.objects import pod

CRI = "/var/log/pods/shop_web-7d4b9c6f8d-x2x1q_u-1/web/0.log"


def shop_pod(**annotations: str) -> PodMeta:
    return pod_meta(pod("shop", "web-7d4b9c6f8d-x2x1q", uid="u-1",
                        labels={"app.kubernetes.io/name": "checkout", "team": "pay",
                                "pod-template-hash": "7d4b9c6f8d"},
                        owner=("ReplicaSet", "web-7d4b9c6f8d"), annotations=annotations))


def test_with_pod_merges_and_keeps_path_metadata() -> None:
    base = cri_meta(CRI, "default")
    meta = with_pod(base, shop_pod())
    assert (meta["namespace"], meta["pod"], meta["pod_uid"]) == \
        ("shop", "web-7d4b9c6f8d-x2x1q", "u-1")
    assert meta["app"] == "checkout" and meta["image"] == "registry.local/web:1.4.2"
    assert meta["labels"]["team"] == "pay"
    assert meta["attrs"] == {"owner_kind": "Deployment", "owner_name": "web"}
    assert base["labels"] == {} and base["attrs"] == {} and base["app"] == "web"  # untouched
    # No app label on the pod: the path's app (container name) stays.
    plain = pod_meta(pod("shop", "web-7d4b9c6f8d-x2x1q", uid="u-1", labels={"tier": "x"}))
    assert with_pod(base, plain)["app"] == "web"


def test_with_pod_docker_labels_merge_and_found_by_container(tmp_path: Path) -> None:
    folder = tmp_path / "c1"
    folder.mkdir()
    (folder / "config.v2.json").write_text(
        '{"ID": "c1", "Name": "/redis", "Config": {"Image": "redis:7", "Labels": {"x": "1"}}}')
    base, _ = docker_meta(str(folder / "c1-json.log"), "default")
    meta = with_pod(base, shop_pod())
    assert meta["labels"]["x"] == "1" and meta["labels"]["team"] == "pay"
    # Found by container id only: the pod's namespace/name replace the defaults.
    assert (meta["namespace"], meta["pod"]) == ("shop", "web-7d4b9c6f8d-x2x1q")
    assert meta["image"] == "redis:7"  # what Docker said stays


def test_pod_metadata_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    s = CollectorSettings(state_dir=str(tmp_path))
    assert s.pod_metadata == "auto" and not pod_metadata_on(s, tmp_path)
    assert CollectorSettings(pod_metadata=True).pod_metadata == "true"
    assert CollectorSettings(pod_metadata=" False").pod_metadata == "false"
    monkeypatch.setenv("LOGPIPE_POD_METADATA", "TRUE")
    assert pod_metadata_on(CollectorSettings(), tmp_path)
    monkeypatch.setenv("LOGPIPE_POD_METADATA", "sometimes")
    with pytest.raises(ValueError):
        CollectorSettings()
    monkeypatch.delenv("LOGPIPE_POD_METADATA")
    assert pod_metadata_on(CollectorSettings(kubeconfig="/k"), tmp_path)
    # In a pod: the service account's token is there.
    (tmp_path / "token").write_text("t")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert pod_metadata_on(CollectorSettings(), tmp_path)
    assert not pod_metadata_on(CollectorSettings(pod_metadata="false"), tmp_path)


class StubPods(PodMetadata):
    """find() from a dict, no API."""

    def __init__(self) -> None:
        self.pods: dict[str, PodMeta] = {}

    def find(self, meta: Meta) -> PodMeta | None:
        return self.pods.get(str(meta.get("pod")))


def rules_for(app: object, start: str | None) -> MultilineRules:
    return MultilineRules(start=re.compile(start) if start else None)


RULES: dict[str | None, MultilineRules] = {}


def cached_rules(app: object, start: str | None) -> MultilineRules:
    return RULES.setdefault(start, rules_for(app, start))


def cri_source(tmp_path: Path, out: Recorder) -> Any:
    path = tmp_path / "pods" / "shop_web-7d4b9c6f8d-x2x1q_u-1" / "web" / "0.log"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    src, f = open_source(path, out, kind="cri")
    src.base_meta = cri_meta(str(path), "default")
    src.set_meta(src.base_meta)
    return src, f, path


def test_apply_pod_updates_and_keeps_metadata(tmp_path: Path) -> None:
    out, pods = Recorder(), StubPods()
    src, f, path = cri_source(tmp_path, out)
    apply_pod(src, pods, cached_rules, force=True)  # unknown pod: path metadata
    assert src.meta["app"] == "web" and src.pod is None and not src.excluded
    pods.pods["web-7d4b9c6f8d-x2x1q"] = shop_pod(**{"logpipe.io/multiline-start": r"^\d"})
    # A line held by the joiner under the old rules is sent before the rules change.
    path.write_bytes(b"2026-11-26T07:00:00Z stdout F 1 held\n")
    src.read(f, 0, False)
    assert not out.sent and src.joiners
    apply_pod(src, pods, cached_rules)
    assert [r.message for r in out.records()] == ["1 held"]
    assert out.records()[0].app == "checkout"  # sent after the pod became known
    assert src.meta["app"] == "checkout" and src.rules.start is not None and not src.joiners
    # The pod leaves the cache (retention passed): what was applied stays.
    del pods.pods["web-7d4b9c6f8d-x2x1q"]
    apply_pod(src, pods, cached_rules)
    assert src.meta["app"] == "checkout" and src.meta["attrs"]["owner_kind"] == "Deployment"
    # Nothing changed: the same objects, nothing recomputed.
    meta, rules = src.meta, src.rules
    apply_pod(src, pods, cached_rules)
    assert src.meta is meta and src.rules is rules


class SkipRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.excluded = 0

    def count_excluded(self, nbytes: int) -> None:
        self.excluded += nbytes


def test_excluded_source_skips_whole_lines_and_checkpoints(tmp_path: Path) -> None:
    out, pods = SkipRecorder(), StubPods()
    src, f, path = cri_source(tmp_path, out)
    pods.pods["web-7d4b9c6f8d-x2x1q"] = shop_pod(**{"logpipe.io/exclude": "true"})
    apply_pod(src, pods, cached_rules, force=True)
    assert src.excluded
    secret = b"".join(b"2026-11-26T07:00:00Z stdout F secret %d\n" % i for i in range(5000))
    path.write_bytes(secret + b"2026-11-26T07:00:00Z stdout F unfinished")
    while src.read(f, 0, False):
        pass
    assert not out.sent and out.excluded == len(secret)
    assert f.pos == f.acked == len(secret)  # checkpointed at a line start, nothing in flight
    # The annotation goes away: reading resumes at the next whole line, never mid-line.
    pods.pods["web-7d4b9c6f8d-x2x1q"] = shop_pod()
    apply_pod(src, pods, cached_rules)
    assert not src.excluded
    with open(path, "ab") as fh:
        fh.write(b" now\n2026-11-26T07:00:01Z stdout F shipped\n")
    while src.read(f, 0, False):
        pass
    src.flush_all()
    assert [r.message for r in out.records()] == ["unfinished now", "shipped"]
    assert all(r.app == "checkout" for r in out.records())


def test_excluded_renamed_file_skipped_to_its_end(tmp_path: Path) -> None:
    out, pods = SkipRecorder(), StubPods()
    src, f, path = cri_source(tmp_path, out)
    pods.pods["web-7d4b9c6f8d-x2x1q"] = shop_pod(**{"logpipe.io/exclude": "TRUE"})
    apply_pod(src, pods, cached_rules, force=True)
    lines = b"2026-11-26T07:00:00Z stdout F short\n" * 10
    path.write_bytes(lines + b"2026-11-26T07:00:00Z stdout F " + b"x" * (200 << 10))
    while src.read(f, 0, False):  # no newline in the tail window: found going forward
        pass
    assert f.pos == f.acked == len(lines)
    while src.read(f, 0, True):  # renamed/deleted: the unterminated line too
        pass
    assert f.pos == os.path.getsize(path) and not out.sent


def test_cli_exits_2_when_pod_metadata_is_on_without_credentials(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k != "KUBECONFIG" and not k.startswith(("LOGPIPE_", "KUBERNETES_"))}
    env.update(HOME=str(tmp_path), LOGPIPE_POD_METADATA="true",
               LOGPIPE_STATE_DIR=str(tmp_path / "state"), LOGPIPE_METRICS_PORT="0")
    res = subprocess.run([sys.executable, "-m", "collector"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "no Kubernetes credentials" in res.stderr
