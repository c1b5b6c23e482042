"""Pod metadata: owner resolution, annotations, and the node-scoped watch cache
against the protocol-speaking fake API server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collector.pods import PodMetadataCache, deployment_by_convention, pod_meta
from kube.client import KubeClient
from tests.kube.fake_apiserver import FakeApiServer
from tests.kube.fixtures import wait_for
from tests.kube.objects import pod


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_owner_resolution_by_convention() -> None:
    rs = pod("shop", "web-7d4b9c6f8d-x2x1q", owner=("ReplicaSet", "web-7d4b9c6f8d"),
             labels={"pod-template-hash": "7d4b9c6f8d", "app.kubernetes.io/name": "web"})
    meta = pod_meta(rs)
    assert (meta.owner_kind, meta.owner_name, meta.app) == ("Deployment", "web", "web")
    bare_rs = pod("shop", "legacy-abcde", owner=("ReplicaSet", "legacy"))
    assert (pod_meta(bare_rs).owner_kind, pod_meta(bare_rs).owner_name) == \
        ("ReplicaSet", "legacy")
    for kind in ("StatefulSet", "DaemonSet", "Job"):
        m = pod_meta(pod("shop", "x-0", owner=(kind, "x"), labels={"app": "x-app"}))
        assert (m.owner_kind, m.owner_name, m.app) == (kind, "x", "x-app")
    static = pod_meta(pod("kube-system", "kube-apiserver-node-a", owner=("Node", "node-a"),
                          labels={"component": "kube-apiserver"}))
    assert static.owner_kind == "Node" and static.app is None
    assert pod_meta(pod("shop", "lonely")).owner_kind is None
    assert deployment_by_convention("web-abc", {"pod-template-hash": "xyz"}) is None


def test_annotations_and_containers() -> None:
    m = pod_meta(pod("shop", "p", annotations={"logpipe.io/exclude": "True",
                                               "logpipe.io/multiline-start": r"^\d{4}-"}))
    assert m.excluded and m.multiline_start == r"^\d{4}-"
    assert m.containers == {"web": "registry.local/web:1.4.2"}
    assert len(m.container_ids) == 1 and len(m.container_ids[0]) == 64
    bad = pod_meta(pod("shop", "q", annotations={"logpipe.io/exclude": "yes please",
                                                 "logpipe.io/multiline-start": "(unclosed"}))
    assert not bad.excluded and bad.multiline_start is None


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(kube: KubeClient, clock: Clock) -> Iterator[PodMetadataCache]:
    c = PodMetadataCache(kube, "node-a", retention=60, clock=clock, backoff_max=0.2)
    yield c
    c.stop()


def test_node_scoped_watch_cache(apiserver: FakeApiServer, cache: PodMetadataCache,
                                 clock: Clock) -> None:
    mine = apiserver.put("pods", pod("shop", "web-0", labels={"app": "web"},
                                     owner=("StatefulSet", "web")))
    apiserver.put("pods", pod("shop", "elsewhere", node="node-b"))
    cache.start()
    assert cache.wait_synced(20)
    assert len(cache) == 1  # only this node's pods were listed
    assert any("fieldSelector=spec.nodeName%3Dnode-a" in r for r in apiserver.requests)
    uid = mine["metadata"]["uid"]
    cid = mine["status"]["containerStatuses"][0]["containerID"].split("//")[1]
    meta = cache.lookup("shop", "web-0", uid)
    assert meta is not None and meta.owner_kind == "StatefulSet" and meta.app == "web"
    assert cache.by_container(cid) == meta
    assert cache.lookup("shop", "elsewhere") is None

    # A pod scheduled later arrives through the watch; an annotation change too.
    wait_for(lambda: apiserver.open_watches() == 1, "pod watch")
    late = apiserver.put("pods", pod("shop", "job-x", owner=("Job", "nightly")))
    wait_for(lambda: cache.lookup("shop", "job-x") is not None, "watched pod")
    late["metadata"]["annotations"] = {"logpipe.io/exclude": "true"}
    apiserver.put("pods", late)
    wait_for(lambda: getattr(cache.lookup("shop", "job-x"), "excluded", False),
             "annotation update")

    # Deleted: still enriched during the retention, gone after it.
    apiserver.delete("pods", "shop", "web-0")
    wait_for(lambda: getattr(cache.lookup("shop", "web-0", uid), "deleted", False),
             "deletion seen")
    clock.now += 59
    assert cache.lookup("shop", "web-0", uid) is not None
    clock.now += 2
    assert cache.lookup("shop", "web-0", uid) is None
    assert cache.by_container(cid) is None


def test_recreated_pod_same_name(apiserver: FakeApiServer, cache: PodMetadataCache) -> None:
    old = apiserver.put("pods", pod("shop", "db-0", labels={"app": "db", "v": "1"}))
    cache.start()
    assert cache.wait_synced(20)
    wait_for(lambda: apiserver.open_watches() == 1, "pod watch")
    apiserver.delete("pods", "shop", "db-0")
    new = apiserver.put("pods", pod("shop", "db-0", labels={"app": "db", "v": "2"}))
    wait_for(lambda: getattr(cache.lookup("shop", "db-0"), "uid", "") == new["metadata"]["uid"],
             "new incarnation")
    # The old incarnation's last lines still find their own labels by uid.
    gone = cache.lookup("shop", "db-0", old["metadata"]["uid"])
    assert gone is not None and gone.deleted and gone.labels["v"] == "1"


def test_relist_after_gone_marks_vanished_pods_deleted(
        apiserver: FakeApiServer, cache: PodMetadataCache) -> None:
    a = apiserver.put("pods", pod("shop", "a"))
    apiserver.put("pods", pod("shop", "b"))
    cache.start()
    assert cache.wait_synced(20)
    wait_for(lambda: apiserver.open_watches() == 1, "pod watch")
    # While the watch is down, "a" is deleted and history is compacted: the
    # reconnect gets 410, relists, and must notice "a" vanished.
    apiserver.fail_next = [(503, "ServiceUnavailable")]
    apiserver.drop_watches()
    apiserver.delete("pods", "shop", "a")
    apiserver.compact()
    wait_for(lambda: getattr(cache.lookup("shop", "a", a["metadata"]["uid"]), "deleted", False),
             "vanished pod marked deleted")
    b = cache.lookup("shop", "b")
    assert b is not None and not b.deleted


def test_owner_lookup_through_the_api(apiserver: FakeApiServer, kube: KubeClient) -> None:
    apiserver.put("apps/v1/replicasets", {
        "metadata": {"name": "odd-name", "namespace": "shop",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": "checkout", "uid": "u1", "controller": True}]},
        "spec": {"replicas": 1}})
    apiserver.put("batch/v1/jobs", {
        "metadata": {"name": "report-29001234", "namespace": "shop",
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                          "name": "report", "uid": "u2", "controller": True}]},
        "spec": {}})
    apiserver.put("pods", pod("shop", "checkout-1", owner=("ReplicaSet", "odd-name")))
    apiserver.put("pods", pod("shop", "report-1", owner=("Job", "report-29001234")))
    apiserver.put("pods", pod("shop", "orphan-1", owner=("ReplicaSet", "missing-rs")))
    cache = PodMetadataCache(kube, "node-a", resolve_owners=True).start()
    try:
        assert cache.wait_synced(20)
        checkout = cache.lookup("shop", "checkout-1")
        report = cache.lookup("shop", "report-1")
        orphan = cache.lookup("shop", "orphan-1")
        assert checkout is not None and report is not None and orphan is not None
        assert (checkout.owner_kind, checkout.owner_name) == ("Deployment", "checkout")
        assert (report.owner_kind, report.owner_name) == ("CronJob", "report")
        assert (orphan.owner_kind, orphan.owner_name) == ("ReplicaSet", "missing-rs")
    finally:
        cache.stop()


def test_unexpected_object_does_not_kill_the_cache(
        apiserver: FakeApiServer, cache: PodMetadataCache) -> None:
    cache.restart_pause = 0.05
    apiserver.put("pods", pod("shop", "fine"))
    cache.start()
    assert cache.wait_synced(20)
    wait_for(lambda: apiserver.open_watches() == 1, "pod watch")
    weird = pod("shop", "weird")
    weird["metadata"]["labels"] = ["not", "a", "map"]
    apiserver.put("pods", weird)
    weird["metadata"]["labels"] = {"fixed": "yes"}
    apiserver.put("pods", weird)
    wait_for(lambda: getattr(cache.lookup("shop", "weird"), "labels", {}) == {"fixed": "yes"},
             "the cache recovered with a fresh list", timeout=30)
