"""`logpipe events` end to end: fake API server -> role -> the real Kafka."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from events.settings import EventsSettings
from events.shipper import EventsRole
from kube.client import KubeClient
from kube.config import KubeConfig
from logpipe.delivery import StateFile
from tests.kube.fake_apiserver import FakeApiServer
from tests.kube.fixtures import wait_for
from tests.kube.kafka_util import read_records
from tests.kube.objects import core_event
from tests.roles import RunningRole

pytestmark = pytest.mark.integration


MakeRole = Callable[..., RunningRole[EventsRole]]


@pytest.fixture
def make_role(apiserver: FakeApiServer, kafka_bootstrap: str, topic: str,
              tmp_path: Path) -> Iterator[MakeRole]:
    started: list[RunningRole[EventsRole]] = []

    def make(state: str = "events.rv", **kw: object) -> RunningRole[EventsRole]:
        settings = EventsSettings(
            kafka_bootstrap=kafka_bootstrap, kafka_topic=topic, cluster="test",
            node_name="events-node", state_file=str(tmp_path / state), metrics_port=0,
            checkpoint_interval_s=0.1, backoff_max_s=0.2, **kw)  # type: ignore[arg-type]
        client = KubeClient(KubeConfig(server=apiserver.url, token=apiserver.token))
        run = RunningRole(EventsRole(settings, client), after_stop=client.close)
        started.append(run)
        return run

    yield make
    for run in started:
        if run.thread.is_alive():
            run.stop()


def test_events_reach_kafka_and_resume_without_duplicates(
        apiserver: FakeApiServer, make_role: MakeRole, kafka_bootstrap: str, topic: str,
        tmp_path: Path) -> None:
    make = make_role
    apiserver.put("events", core_event("shop", "listed", obj_name="web-0"))
    run = make()
    wait_for(lambda: apiserver.open_watches() == 1, "watch open")
    watched = core_event("hotel", "watched", kind="Deployment", obj_name="rooms",
                         type_="Normal", reason="ScalingReplicaSet")
    apiserver.put("events", watched)
    apiserver.delete("events", "shop", "listed")  # expiry (TTL): moves the position only
    state = StateFile(tmp_path / "events.rv")
    wait_for(lambda: state.load() == str(apiserver.rv), "state file at the last version")
    run.stop()
    assert run.error is None

    got = read_records(kafka_bootstrap, topic, expect=2)
    assert len(got) == 2
    by_ns = {r.namespace: (k, r) for k, r in got}
    key, rec = by_ns["shop"]
    assert key == b"k8s://shop/Pod/web-0" and rec.level == "warn"
    key, rec = by_ns["hotel"]
    assert key == b"k8s://hotel/Deployment/rooms" and rec.level == "info"
    assert rec.attrs["reason"] == "ScalingReplicaSet" and rec.node == "events-node"

    # Restart: resumes from the saved version, so only the new event is produced.
    apiserver.put("events", core_event("shop", "while-down", obj_name="web-1"))
    run2 = make()
    wait_for(lambda: state.load() == str(apiserver.rv), "state after restart")
    run2.stop()
    got = read_records(kafka_bootstrap, topic, expect=3)
    assert sorted(r.attrs["event_name"] for _, r in got) == ["listed", "watched", "while-down"]
    assert sum("limit=" in r for r in apiserver.requests) == 1  # listed once, at the start


def test_gone_after_restart_relists_with_the_same_ids(
        apiserver: FakeApiServer, make_role: MakeRole, kafka_bootstrap: str, topic: str,
        tmp_path: Path) -> None:
    make = make_role
    for i in range(3):
        apiserver.put("events", core_event("shop", f"e{i}", obj_name=f"web-{i}"))
    state = StateFile(tmp_path / "events.rv")
    run = make()
    wait_for(lambda: state.load() == str(apiserver.rv), "first state")
    run.stop()
    apiserver.compact()  # the saved version is now too old: the restart gets 410
    run = make()
    wait_for(lambda: sum("limit=" in r for r in apiserver.requests) == 2, "relist")
    wait_for(lambda: state.load() == str(apiserver.rv), "state after relist")
    run.stop()
    got = read_records(kafka_bootstrap, topic, expect=6)
    assert len(got) == 6
    ids = [r.id for _, r in got]
    assert len(set(ids)) == 3  # the relist re-sent each event under its old id


def test_leader_election_one_replica_ships(
        apiserver: FakeApiServer, make_role: MakeRole, kafka_bootstrap: str, topic: str) -> None:
    make = make_role
    a = make("a.rv", leader_election=True, identity="pod-a", retry_period_s=0.1,
             lease_duration_s=10.0, renew_deadline_s=8.0, lease_namespace="logpipe")
    wait_for(lambda: a.role.elector is not None and a.role.elector.is_leader.is_set(),
             "pod-a leads")
    b = make("b.rv", leader_election=True, identity="pod-b", retry_period_s=0.1,
             lease_duration_s=10.0, renew_deadline_s=8.0, lease_namespace="logpipe")
    wait_for(lambda: apiserver.open_watches() == 1, "leader's watch")
    rv = int(apiserver.put("events", core_event("shop", "only-once"))["metadata"]
             ["resourceVersion"])
    # Lease renewals move the server's version too: compare, do not expect equality.
    wait_for(lambda: int(a.role.producer.tracker.committable() or 0) >= rv, "a shipped")
    assert b.role.elector is not None and not b.role.elector.is_leader.is_set()
    assert b.role.ready() == (True, "standby (not the leader)")
    a.stop()  # releases the lease: b takes over without waiting out the duration
    wait_for(lambda: b.role.elector is not None and b.role.elector.is_leader.is_set(),
             "pod-b takes over")
    lease = apiserver.objects[("coordination.k8s.io/v1", "leases")][("logpipe",
                                                                     "logpipe-events")]
    assert lease["spec"]["holderIdentity"] == "pod-b"
    # a's last checkpoint went onto the Lease: at or past the event it shipped.
    assert int(lease["metadata"]["annotations"]["logpipe.io/checkpoint"]) >= rv
    # (a's watch thread may still hang on its socket: count watch requests instead.)
    wait_for(lambda: sum("/events?" in r and "watch=true" in r for r in apiserver.requests)
             == 2, "b watches")
    after = apiserver.put("events", core_event("shop", "after-handover"))
    wait_for(lambda: b.role.producer.tracker.committable() ==
             after["metadata"]["resourceVersion"], "b shipped")
    b.stop()
    # b resumed from a's checkpoint on the Lease: no second list, nothing sent twice.
    assert sum("limit=" in r for r in apiserver.requests) == 1
    got = read_records(kafka_bootstrap, topic, expect=2)
    assert sorted(r.attrs["event_name"] for _, r in got) == ["after-handover", "only-once"]


def test_spoofed_involved_object_stays_in_the_writers_namespace(
        apiserver: FakeApiServer, make_role: MakeRole, kafka_bootstrap: str, topic: str,
        tmp_path: Path) -> None:
    """Events written by a tenant of `pay` that name objects elsewhere never land outside
    pay; Kubernetes' own events about a Node (filed in `default`) go to `cluster`."""
    spoof = core_event("pay", "spoof", obj_name="rooms-0")
    spoof["involvedObject"]["namespace"] = "hotel"
    tenant_node = core_event("pay", "fake-node", kind="Node", obj_name="node-a")
    tenant_node["involvedObject"]["namespace"] = ""
    real_node = core_event("default", "node-a.1", kind="Node", obj_name="node-a",
                           type_="Normal", reason="NodeReady")
    real_node["involvedObject"]["namespace"] = ""
    for ev in (spoof, tenant_node, real_node):
        apiserver.put("events", ev)
    run = make_role()
    state = StateFile(tmp_path / "events.rv")
    wait_for(lambda: state.load() == str(apiserver.rv), "state file at the last version")
    run.stop()
    got = {r.attrs["event_name"]: (k, r) for k, r in
           read_records(kafka_bootstrap, topic, expect=3)}
    key, rec = got["spoof"]
    assert rec.namespace == "pay" and key == b"k8s://pay/Pod/rooms-0"
    assert rec.attrs["object_namespace"] == "hotel" and rec.pod is None
    assert got["fake-node"][1].namespace == "pay"
    key, rec = got["node-a.1"]
    assert rec.namespace == "cluster" and key == b"k8s://cluster/Node/node-a"


def test_leader_steps_down_after_the_renew_deadline(
        apiserver: FakeApiServer, make_role: MakeRole) -> None:
    a = make_role("a.rv", leader_election=True, identity="pod-a", retry_period_s=0.1,
                  lease_duration_s=30.0, renew_deadline_s=1.0, lease_namespace="logpipe")
    a.require_clean_exit = False
    wait_for(lambda: a.role.elector is not None and a.role.elector.is_leader.is_set(),
             "pod-a leads")
    with apiserver.cond:  # the API server answers nothing but errors from now on
        apiserver.fail_next.extend([(503, "ServiceUnavailable")] * 100_000)
    wait_for(lambda: not a.thread.is_alive(), "pod-a exits", timeout=60)
    assert a.role.elector is not None
    assert a.role.elector.lost.is_set() and not a.role.elector.is_leader.is_set()
    assert isinstance(a.error, RuntimeError) and "lost the leader lease" in str(a.error)
    # It stepped down because renewals failed, not because another replica took over.
    with apiserver.cond:
        apiserver.fail_next.clear()
    lease = apiserver.objects[("coordination.k8s.io/v1", "leases")][("logpipe",
                                                                     "logpipe-events")]
    assert lease["spec"]["holderIdentity"] == "pod-a"
    a.stop()  # already ended: this closes its client
