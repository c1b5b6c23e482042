"""`stack up --kafka-brokers N --es-nodes N`: ports, node names, the KRaft quorum and the
replication defaults each node is configured with (no server is started here; the
cluster itself runs in tests/cluster)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from stack.cli import app
from stack.config import StackSettings
from stack.elastic import ElasticServer
from stack.kafka import KafkaServer
from stack.manager import Stack


def cluster(home: Path, brokers: int = 3, nodes: int = 3) -> StackSettings:
    return StackSettings(home=home, kafka_brokers=brokers, es_nodes=nodes,
                         kafka_port=29092, kafka_controller_port=29093,
                         es_port=29200, es_transport_port=29300)


def props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_each_node_has_its_own_ports_and_the_clients_get_them_all(tmp_path: Path) -> None:
    s = cluster(tmp_path)
    assert [s.kafka_ports(i) for i in range(3)] == [(29092, 29093), (29102, 29103),
                                                     (29112, 29113)]
    assert [s.es_ports(i) for i in range(3)] == [(29200, 29300), (29210, 29310),
                                                  (29220, 29320)]
    assert s.kafka_bootstrap == "127.0.0.1:29092,127.0.0.1:29102,127.0.0.1:29112"
    assert s.es_url == "http://127.0.0.1:29200,http://127.0.0.1:29210,http://127.0.0.1:29220"
    assert (s.replication_factor, s.min_insync_replicas, s.index_replicas) == (3, 2, 1)
    single = StackSettings(home=tmp_path)
    assert (single.kafka_bootstrap, single.es_url) == ("127.0.0.1:9092",
                                                       "http://127.0.0.1:9200")
    assert (single.replication_factor, single.min_insync_replicas,
            single.index_replicas) == (1, 1, 0)
    two = cluster(tmp_path, brokers=2, nodes=2)
    assert (two.replication_factor, two.min_insync_replicas, two.index_replicas) == (2, 1, 1)


def test_two_servers_on_one_port_are_refused(tmp_path: Path) -> None:
    # Node 2's client port (9092 + 10) would be node 1's controller port.
    with pytest.raises(ValueError, match=r"share port\(s\) \[9102\]"):
        StackSettings(home=tmp_path, kafka_brokers=2, kafka_controller_port=9102)


def test_kafka_nodes_form_one_quorum_with_replicated_defaults(tmp_path: Path) -> None:
    s = cluster(tmp_path)
    node = KafkaServer(s, 1)
    assert (node.name, node.node_id, node.ports) == ("kafka-2", 2, [29102, 29103])
    assert node.home == tmp_path / "kafka" / "node-2"
    p = props(node._properties(tmp_path / "data"))
    assert p["process.roles"] == "broker,controller"
    assert p["node.id"] == "2"
    assert p["controller.quorum.voters"] == (
        "1@127.0.0.1:29093,2@127.0.0.1:29103,3@127.0.0.1:29113")
    assert "controller.quorum.bootstrap.servers" not in p
    assert p["listeners"] == "PLAINTEXT://127.0.0.1:29102,CONTROLLER://127.0.0.1:29103"
    assert p["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29102"
    for key in ("default.replication.factor", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor",
                "share.coordinator.state.topic.replication.factor"):
        assert p[key] == "3", key
    for key in ("min.insync.replicas", "transaction.state.log.min.isr",
                "share.coordinator.state.topic.min.isr"):
        assert p[key] == "2", key
    assert p["unclean.leader.election.enable"] == "false"
    # Every node formats its storage with the same cluster id.
    assert KafkaServer(s, 0)._cluster_id() == KafkaServer(s, 2)._cluster_id()


def test_a_single_kafka_keeps_its_standalone_layout(tmp_path: Path) -> None:
    node = KafkaServer(StackSettings(home=tmp_path))
    assert (node.name, node.home) == ("kafka", tmp_path / "kafka")
    p = props(node._properties(tmp_path / "data"))
    assert p["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert (p["default.replication.factor"], p["min.insync.replicas"]) == ("1", "1")


def test_elasticsearch_nodes_discover_each_other(tmp_path: Path) -> None:
    node = ElasticServer(cluster(tmp_path), 2)
    assert (node.name, node.node_name, node.url) == ("elasticsearch-3", "node-3",
                                                     "http://127.0.0.1:29220")
    assert node.home == tmp_path / "elasticsearch" / "node-3"
    assert node._discovery() == [
        "cluster.name: logpipe-cluster",
        'discovery.seed_hosts: ["127.0.0.1:29300", "127.0.0.1:29310", "127.0.0.1:29320"]',
        'cluster.initial_master_nodes: ["node-1", "node-2", "node-3"]']
    single = ElasticServer(StackSettings(home=tmp_path))
    assert single._discovery() == ["cluster.name: logpipe-local", "discovery.type: single-node"]


def test_status_lists_every_node_of_a_remembered_cluster(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGPIPE_STACK_HOME", str(tmp_path))
    for name in ("KAFKA_PORT", "ES_PORT", "KAFKA_BROKERS", "ES_NODES"):
        monkeypatch.delenv(f"LOGPIPE_STACK_{name}", raising=False)
    # What `stack up --kafka-brokers 3 --es-nodes 3` leaves behind, nothing running.
    Stack(StackSettings(home=tmp_path, kafka_brokers=3, es_nodes=3)).remember_ports()
    res = CliRunner().invoke(app, ["status", "--json"])
    assert res.exit_code == 1
    st = orjson.loads(res.output)
    assert list(st) == ["kafka-1", "kafka-2", "kafka-3",
                        "elasticsearch-1", "elasticsearch-2", "elasticsearch-3"]
    assert st["kafka-3"]["ports"] == [9112, 9113]
    assert not any(s["ready"] for s in st.values())
    text = CliRunner().invoke(app, ["status"]).output
    assert "kafka cluster: 0 of 3 brokers registered" in text
    assert "elasticsearch cluster: no node answers (of 3)" in text
