"""The stack manager: idempotent start, clear port errors, stop by pid."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from logpipe.errors import PortInUseError
from stack.config import StackSettings
from stack.elastic import find_jdk
from stack.manager import Stack
from stack.proc import alive, port_open
from tests.conftest import Servers


def test_port_taken_by_something_else_names_the_port(tmp_path: Path) -> None:
    # Two squatters: the settings refuse one port for two servers of the stack.
    with socket.socket() as kafka_squatter, socket.socket() as es_squatter:
        for squatter in (kafka_squatter, es_squatter):
            squatter.bind(("127.0.0.1", 0))
            squatter.listen()
        kport = kafka_squatter.getsockname()[1]
        eport = es_squatter.getsockname()[1]
        stack = Stack(StackSettings(home=tmp_path, kafka_port=kport, es_port=eport))
        with pytest.raises(PortInUseError, match=f"port {kport}"):
            stack.kafka.up()
        with pytest.raises(PortInUseError, match=f"port ({kport}|{eport})"):
            stack.up(quiet=True)


def test_find_jdk_picks_a_new_enough_one(tmp_path: Path) -> None:
    for name, version in [("jdk17", "17.0.1"), ("jdk25", "25.0.3"), ("jdk21", "21.0.2")]:
        (tmp_path / name / "bin").mkdir(parents=True)
        (tmp_path / name / "bin" / "java").touch()
        (tmp_path / name / "release").write_text(f'JAVA_VERSION="{version}"\n')
    assert find_jdk(21, tmp_path).name == "jdk25"
    with pytest.raises(Exception, match="JDK >= 26"):
        find_jdk(26, tmp_path)


def test_shared_stack_up_twice_reuses_it(servers: Servers) -> None:
    stack = Stack.from_env()
    before = {s.name: s.pid for s in stack.servers}
    assert all(before.values()), "the session fixture started the stack"
    stack.up(quiet=True)
    assert {s.name: s.pid for s in stack.servers} == before


@pytest.mark.timeout(600)  # a second Kafka and Elasticsearch started and stopped
def test_private_stack_starts_once_and_stops_leaving_nothing(private_stack: Stack) -> None:
    info = private_stack.up(quiet=True)
    pids = {s.name: s.pid for s in private_stack.servers}
    assert all(pids.values())
    assert port_open(private_stack.settings.kafka_port)
    assert port_open(private_stack.settings.es_port)
    assert private_stack.up(quiet=True) == info  # second up: same servers, no new copy
    assert {s.name: s.pid for s in private_stack.servers} == pids
    assert sorted(private_stack.down()) == ["elasticsearch", "kafka"]
    for server in private_stack.servers:
        assert not alive(pids[server.name], server.marker)
        assert server.pid is None
    assert not port_open(private_stack.settings.kafka_port)
    assert not port_open(private_stack.settings.es_port)
