"""`logpipe events` as an operator runs it, with the documented options: the
events.k8s.io/v1 API (LOGPIPE_EVENTS_API) and one namespace (LOGPIPE_EVENTS_NAMESPACE),
against the fake API server and the real Kafka."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.events.test_cli import LOGPIPE, _env
from tests.kube.fake_apiserver import FakeApiServer
from tests.kube.kafka_util import read_records
from tests.kube.objects import core_event, events_v1_event

pytestmark = pytest.mark.integration


def _run_events(apiserver: FakeApiServer, kafka_bootstrap: str, topic: str, tmp_path: Path,
                expect: int, **settings: str) -> tuple[list[str], list[str]]:
    """Run `logpipe events` until ``expect`` records (and no more within a settle time)
    reached the topic; (the event names shipped, sorted; the watch requests it made)."""
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump({
        "current-context": "t",
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
        "clusters": [{"name": "t", "cluster": {"server": apiserver.url}}],
        "users": [{"name": "t", "user": {"token": apiserver.token}}]}))
    proc = subprocess.Popen(
        [*LOGPIPE, "events", "--kubeconfig", str(config), "--state-file",
         str(tmp_path / "rv"), "--metrics-port", "0"],
        env=_env(LOGPIPE_KAFKA_BOOTSTRAP=kafka_bootstrap, LOGPIPE_KAFKA_TOPIC=topic,
                 LOGPIPE_CHECKPOINT_INTERVAL_S="0.1", **settings),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        got = read_records(kafka_bootstrap, topic, expect=expect, timeout=90, settle=2.0)
        assert proc.poll() is None, proc.communicate()[1].decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    reads = sorted({r.split(" ", 1)[1].split("?", 1)[0] for r in apiserver.requests
                    if r.startswith("GET ") and "/events" in r})
    return sorted(r.attrs["event_name"] for _, r in got), reads


def test_events_k8s_io_v1(apiserver: FakeApiServer, kafka_bootstrap: str, topic: str,
                          tmp_path: Path) -> None:
    apiserver.put("events", core_event("shop", "core-api-only"))  # another API: not read
    apiserver.put("events.k8s.io/v1/events", events_v1_event("pay", "probe-pay"))
    apiserver.put("events.k8s.io/v1/events", events_v1_event("shop", "probe-shop"))
    names, reads = _run_events(apiserver, kafka_bootstrap, topic, tmp_path, expect=2,
                               LOGPIPE_EVENTS_API="events.k8s.io/v1")
    assert names == ["probe-pay", "probe-shop"]
    assert reads == ["/apis/events.k8s.io/v1/events"]


def test_one_namespace(apiserver: FakeApiServer, kafka_bootstrap: str, topic: str,
                       tmp_path: Path) -> None:
    apiserver.put("events", core_event("pay", "in-pay"))  # another namespace: not read
    apiserver.put("events", core_event("shop", "in-shop"))
    names, reads = _run_events(apiserver, kafka_bootstrap, topic, tmp_path, expect=1,
                               LOGPIPE_EVENTS_NAMESPACE="shop")
    assert names == ["in-shop"]
    assert reads == ["/api/v1/namespaces/shop/events"]
