"""The collector with live pod metadata: the protocol-speaking fake API server, the
real Kafka. Records carry pod labels, owner and app; an excluded pod ships nothing;
a multi-line start annotation changes joining; a deleted pod is still enriched; an
API that is unreachable or goes away never stops records."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from collector.agent import Agent
from logpipe.record import Record
from tests.collector.helpers import TS, TopicReader, append, docker_container, running, settings
from tests.kube.fake_apiserver import FakeApiServer
from tests.kube.fixtures import wait_for
from tests.kube.objects import Obj, pod

pytestmark = pytest.mark.integration


def kubeconfig(tmp_path: Path, server: str, token: str) -> str:
    path = tmp_path / f"kubeconfig-{server.rsplit(':', 1)[-1]}"  # one per server
    path.write_text(f"""apiVersion: v1
kind: Config
current-context: test
contexts: [{{name: test, context: {{cluster: fake, user: collector}}}}]
clusters: [{{name: fake, cluster: {{server: "{server}"}}}}]
users: [{{name: collector, user: {{token: {token}}}}}]
""")
    return str(path)


def collector_settings(tmp_path: Path, api: FakeApiServer, bootstrap: str, topic: str,
                       **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "node_name": "node-a", "pod_metadata": "auto", "scan_interval_s": 0.2,
        "kubeconfig": kubeconfig(tmp_path, api.url, api.token)}
    values.update(overrides)
    return settings(tmp_path, bootstrap, topic, **values)


def cri_file(tmp_path: Path, p: Obj, container: str = "web", touch: bool = True) -> Path:
    """The pod's log path. Create it before the collector starts: folders made while
    watchdog adds its recursive watches race with it (a RuntimeWarning in its thread)."""
    meta = p["metadata"]
    path = (tmp_path / "pods" / f"{meta['namespace']}_{meta['name']}_{meta['uid']}" /
            container / "0.log")
    path.parent.mkdir(parents=True, exist_ok=True)
    if touch:
        path.touch()
    return path


def cri(*texts: str) -> bytes:
    return "".join(f"{TS} stdout F {t}\n" for t in texts).encode()


def by_message(records: list[Record]) -> dict[str, Record]:
    return {r.message: r for r in records}


def has(*messages: str) -> Any:
    return lambda rs: set(messages) <= {r.message for r in rs}


def test_records_carry_pod_labels_owner_and_app(
        tmp_path: Path, apiserver: FakeApiServer, kafka_bootstrap: str, topic: str) -> None:
    web = apiserver.put("pods", pod("shop", "web-7d4b9c6f8d-x2x1q", owner=(
        "ReplicaSet", "web-7d4b9c6f8d"), labels={"app.kubernetes.io/name": "checkout",
                                                 "pod-template-hash": "7d4b9c6f8d",
                                                 "team": "pay"}))
    api = apiserver.put("pods", pod("shop", "api-0", owner=("StatefulSet", "api"),
                                    labels={"app": "api-app"}))
    docker = docker_container(tmp_path, "k8s_web_api-0", {
        "io.kubernetes.pod.name": "api-0", "io.kubernetes.pod.namespace": "shop",
        "io.kubernetes.pod.uid": api["metadata"]["uid"], "io.kubernetes.container.name": "web"})
    ghost = cri_file(tmp_path, pod("shop", "ghost-1"), container="ghost")
    reader = TopicReader(kafka_bootstrap, topic)
    s = collector_settings(tmp_path, apiserver, kafka_bootstrap, topic)
    web_log = cri_file(tmp_path, web)
    with running(s) as agent:
        append(web_log, cri("from web"))
        append(docker, b'{"log":"from api\\n","stream":"stdout","time":"%s"}\n' % TS.encode())
        append(ghost, cri("from ghost"))
        got = by_message(reader.until(has("from web", "from api", "from ghost")))
        ok, why = agent.ready()
        exposed = generate_latest(agent.metrics.registry).decode()
    reader.close()
    w = got["from web"]
    assert (w.source, w.namespace, w.pod, w.app) == ("cri", "shop", "web-7d4b9c6f8d-x2x1q",
                                                     "checkout")
    assert w.labels["team"] == "pay" and w.image == "registry.local/web:1.4.2"
    assert w.attrs == {"owner_kind": "Deployment", "owner_name": "web"}
    a = got["from api"]
    assert a.source == "docker" and a.app == "api-app"
    assert a.labels["app"] == "api-app" and a.labels["io.kubernetes.pod.name"] == "api-0"
    assert a.attrs == {"owner_kind": "StatefulSet", "owner_name": "api"}
    # Unknown to the API: what the path says, nothing invented.
    g = got["from ghost"]
    assert (g.namespace, g.pod, g.app, g.labels, g.attrs) == ("shop", "ghost-1", "ghost", {}, {})
    assert ok and "pod metadata: 2 pods" in why
    assert "logpipe_pod_cache_pods" in exposed and "logpipe_kube_relists_total" in exposed


def _excluded(agent: Agent, path: Path) -> bool:
    src = agent.sources.get(str(path))
    return src is not None and src.excluded


def _skipped_to_end(agent: Agent, path: Path) -> bool:
    src = agent.sources.get(str(path))
    f = src.current if src is not None else None
    return f is not None and f.pos == f.acked == path.stat().st_size


def test_excluded_pod_ships_nothing_and_annotation_changes_apply(
        tmp_path: Path, apiserver: FakeApiServer, kafka_bootstrap: str, topic: str) -> None:
    hidden = apiserver.put("pods", pod("shop", "noisy", annotations={
        "logpipe.io/exclude": "true"}))
    shown = apiserver.put("pods", pod("shop", "quiet"))
    hidden_log, shown_log = cri_file(tmp_path, hidden), cri_file(tmp_path, shown)
    append(hidden_log, cri("secret-1", "secret-2"))
    reader = TopicReader(kafka_bootstrap, topic)
    s = collector_settings(tmp_path, apiserver, kafka_bootstrap, topic)
    with running(s) as agent:
        append(shown_log, cri("visible-1"))
        reader.until(has("visible-1"))
        wait_for(lambda: _skipped_to_end(agent, hidden_log), "excluded file skipped")
        append(hidden_log, cri("secret-3"))
        wait_for(lambda: _skipped_to_end(agent, hidden_log), "excluded file skipped again")

        # The annotation is removed: the next scan ships what is written from then on.
        del hidden["metadata"]["annotations"]
        apiserver.put("pods", hidden)
        wait_for(lambda: not _excluded(agent, hidden_log), "exclusion lifted")
        append(hidden_log, cri("now-visible"))
        # And added to the other pod: nothing of it after the scan that saw it.
        shown["metadata"]["annotations"] = {"logpipe.io/exclude": "True"}
        apiserver.put("pods", shown)
        wait_for(lambda: _excluded(agent, shown_log), "exclusion applied")
        append(shown_log, cri("hidden-later"))
        wait_for(lambda: _skipped_to_end(agent, shown_log), "newly excluded file skipped")
        append(hidden_log, cri("sentinel"))
        got = reader.until(has("now-visible", "sentinel"))
        excluded_bytes = agent.metrics.registry.get_sample_value(
            "logpipe_collector_bytes_excluded_total")
    reader.close()
    assert sorted(r.message for r in got) == ["now-visible", "sentinel", "visible-1"]
    assert excluded_bytes == len(cri("secret-1", "secret-2", "secret-3", "hidden-later"))


def test_multiline_start_annotation_changes_joining(
        tmp_path: Path, apiserver: FakeApiServer, kafka_bootstrap: str, topic: str) -> None:
    entry = ["2026-11-26 07:00:00 ERROR failed", "details: code 7", "more: x",
             "2026-11-26 07:00:01 INFO next"]
    pods = {
        "joined": {"logpipe.io/multiline-start": r"^\d{4}-\d\d-\d\d "},
        "plain": {},
        "invalid": {"logpipe.io/multiline-start": "(unclosed"},  # ignored, no crash
    }
    logs = [cri_file(tmp_path, apiserver.put("pods", pod("shop", name, annotations=notes)))
            for name, notes in pods.items()]
    reader = TopicReader(kafka_bootstrap, topic)
    s = collector_settings(tmp_path, apiserver, kafka_bootstrap, topic)
    with running(s):
        for log in logs:
            append(log, cri(*entry))
        got = reader.until(lambda rs: len({r.pod for r in rs}) == 3 and len(rs) >= 10)
    reader.close()
    joined = sorted(r.message for r in got if r.pod == "joined")
    assert joined == ["2026-11-26 07:00:00 ERROR failed\ndetails: code 7\nmore: x",
                      "2026-11-26 07:00:01 INFO next"]
    assert "multiline" in next(r for r in got if r.pod == "joined" and "failed" in r.message).tags
    for name in ("plain", "invalid"):
        assert sorted(r.message for r in got if r.pod == name) == sorted(entry)


def test_deleted_pod_still_enriched_within_retention(
        tmp_path: Path, apiserver: FakeApiServer, kafka_bootstrap: str, topic: str) -> None:
    gone = apiserver.put("pods", pod("shop", "batch-x", owner=("Job", "nightly"),
                                     labels={"app": "report"}))
    uid = gone["metadata"]["uid"]
    log = cri_file(tmp_path, gone, touch=False)
    reader = TopicReader(kafka_bootstrap, topic)
    s = collector_settings(tmp_path, apiserver, kafka_bootstrap, topic)
    with running(s) as agent:
        assert agent.pods is not None
        cache = agent.pods.cache
        wait_for(lambda: apiserver.open_watches() == 1, "pod watch")
        apiserver.delete("pods", "shop", "batch-x")
        wait_for(lambda: getattr(cache.lookup("shop", "batch-x", uid), "deleted", False),
                 "deletion seen")
        # Its file shows up only now (the kubelet flushed its last lines late).
        append(log, cri("last words"))
        rec = reader.until(has("last words"))[0]
    reader.close()
    assert rec.app == "report" and rec.attrs == {"owner_kind": "Job", "owner_name": "nightly"}


def test_metadata_kept_after_retention_for_an_open_file(
        tmp_path: Path, apiserver: FakeApiServer, kafka_bootstrap: str, topic: str) -> None:
    p = apiserver.put("pods", pod("shop", "short", labels={"app": "brief"}))
    log = cri_file(tmp_path, p)
    reader = TopicReader(kafka_bootstrap, topic)
    s = collector_settings(tmp_path, apiserver, kafka_bootstrap, topic,
                           pod_metadata_retention_s=0.2)
    with running(s) as agent:
        assert agent.pods is not None
        cache = agent.pods.cache
        append(log, cri("alive"))
        reader.until(has("alive"))
        apiserver.delete("pods", "shop", "short")
        wait_for(lambda: cache.lookup("shop", "short") is None, "retention over")
        scans = agent.scans
        wait_for(lambda: agent.scans > scans + 1, "a rescan after the expiry")
        append(log, cri("after"))
        got = by_message(reader.until(has("after")))
    reader.close()
    assert got["alive"].app == got["after"].app == "brief"


def test_api_unreachable_or_gone_records_still_flow(
        tmp_path: Path, apiserver: FakeApiServer, kafka_bootstrap: str, topic: str) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    p = pod("shop", "web-1", labels={"app": "shop-web"})
    reader = TopicReader(kafka_bootstrap, topic)
    s = collector_settings(tmp_path, apiserver, kafka_bootstrap, topic, pod_metadata="true",
                           pod_metadata_wait_s=0.3,
                           kubeconfig=kubeconfig(tmp_path, dead, "t"))
    down = cri_file(tmp_path, p)
    with running(s) as agent:
        append(down, cri("while down"))
        rec = reader.until(has("while down"))[0]
        ok, why = agent.ready()
    assert (rec.namespace, rec.pod, rec.pod_uid, rec.app) == (
        "shop", "web-1", p["metadata"]["uid"], "web")
    assert ok and "not listed yet" in why

    # The API answers, then goes away: enrichment applied stays, records keep flowing.
    known = apiserver.put("pods", pod("shop", "web-2", labels={"app": "shop-web"}))
    log = cri_file(tmp_path, known)
    s = collector_settings(tmp_path, apiserver, kafka_bootstrap, topic)
    with running(s):
        append(log, cri("api up"))
        reader.until(has("api up"))
        apiserver.stop()
        append(log, cri("api gone"))
        got = by_message(reader.until(has("api gone")))
    reader.close()
    assert got["api up"].app == got["api gone"].app == "shop-web"
