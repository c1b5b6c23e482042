"""Kafka slow or down: the collector stops reading (the files are the buffer), its
checkpoints do not move, it never exits, and nothing is lost when Kafka returns.

The outage uses a private broker started through the stack manager's KafkaServer
on other ports, so the shared stack is never stopped.
"""

from __future__ import annotations

import base64
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from logpipe.errors import StackError
from stack.config import StackSettings
from stack.kafka import KafkaServer
from tests.collector.helpers import (
    TopicReader,
    append,
    assert_same_id_per_line,
    docker_container,
    docker_lines,
    messages,
    running,
    settings,
    wait_for,
)
from tests.conftest import create_topic

# A deliberate budget above the suite's 300 s:
# a private broker started, stopped and started again.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    shared = StackSettings()
    cfg = StackSettings(home=tmp_path_factory.mktemp("kafka-private"),
                        downloads=shared.downloads_dir, kafka_port=free_port(),
                        kafka_controller_port=free_port(), kafka_heap="256m",
                        start_timeout_s=150)
    server = KafkaServer(cfg)
    try:
        server.up()
    except StackError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"private Kafka could not start: {exc}")
        pytest.skip(f"private Kafka could not start: {exc}")
    yield server
    server.down()


def test_broker_down_mid_stream_then_back(tmp_path: Path, private_kafka: KafkaServer) -> None:
    bootstrap = private_kafka.bootstrap
    create_topic(AdminClient({"bootstrap.servers": bootstrap}), "outage")
    s = settings(tmp_path, bootstrap, "outage", shutdown_timeout_s=1.0)
    web = docker_container(tmp_path, "outage")
    first = [f"before {i}" for i in range(5000)]
    later = [f"during {i}" for i in range(20000)]
    reader = TopicReader(bootstrap, "outage")
    with running(s) as agent:
        append(web, docker_lines(first))
        reader.until(lambda rs: set(first) <= messages(rs), timeout=60)
        reader.close()
        def checkpointed() -> bool:
            cur = agent.sources[str(web)].current
            return cur is not None and cur.acked == web.stat().st_size

        wait_for(checkpointed, what="checkpoint of the first lines")
        acked_before = web.stat().st_size
        private_kafka.down()
        append(web, docker_lines(later))
        f = agent.sources[str(web)].current
        assert f is not None
        wait_for(lambda: f.pos == web.stat().st_size, 60, "lines read into the producer")
        wait_for(lambda: agent.out.last_error != "", 60, "broker loss noticed")
        assert f.acked == acked_before  # nothing acknowledged: the checkpoint holds
        private_kafka.up()
        reader = TopicReader(bootstrap, "outage")
        got = reader.until(lambda rs: set(first + later) <= messages(rs), timeout=120)
        wait_for(lambda: f.acked == web.stat().st_size, 60, "checkpoint after recovery")
        reader.close()
    assert_same_id_per_line(got)


def test_unreachable_kafka_stops_reading(tmp_path: Path) -> None:
    # Nothing listens on this port: the producer queue fills and reading stops.
    s = settings(tmp_path, f"127.0.0.1:{free_port()}", "nowhere", queue_max_kbytes=1024,
                 shutdown_timeout_s=0.5, unready_after_s=0.5)
    web = docker_container(tmp_path, "stuck")
    append(web, docker_lines([f"line {i:06d} " + "x" * 150 for i in range(30000)]))
    with running(s) as agent:
        wait_for(lambda: agent.metrics.backpressure._value.get() == 1, 60, "backpressure")
        f = agent.sources[str(web)].current
        assert f is not None
        assert f.pos < web.stat().st_size  # reading stopped: the file is the buffer
        assert f.acked == 0 and agent.out.acked[0] == 0
        assert agent.live()[0]
        # Unready first for records waiting unacknowledged, then (past the same
        # limit) for the full queue: both say why.
        wait_for(lambda: not agent.ready()[0], 30, "not ready")
        wait_for(lambda: "backpressure" in agent.ready()[1], 30, "backpressure named")
    assert f.acked == 0


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kafka_options", [
    pytest.param({}, id="default-gapless"),
    pytest.param({"enable.gapless.guarantee": False}, id="per-message-failure"),
])
def test_rewind_after_a_refused_record_loses_nothing(tmp_path: Path, kafka_bootstrap: str,
                                                    kafka_admin: AdminClient,
                                                    caplog: pytest.LogCaptureFixture,
                                                    kafka_options: dict[str, object]) -> None:
    # A real delivery failure: the topic refuses records over its max.message.bytes
    # (MSG_SIZE_TOO_LARGE) while the collector's own cap is above it. The collector
    # rewinds to its checkpoints on a fresh producer, again and again, and loses
    # nothing: once an operator raises the topic's limit, every line arrives, each
    # with the id it had before.
    topic = f"lpt-small-{uuid.uuid4().hex[:10]}"
    kafka_admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1,
                                        config={"max.message.bytes": "20000"})])[topic].result(30)
    s = settings(tmp_path, kafka_bootstrap, topic, max_record_bytes=200_000, ledger_topic="",
                 kafka_options=kafka_options)
    web = docker_container(tmp_path, "rewind")
    before = [f"rw before {i}" for i in range(50)]  # a batch stays far below the limit
    # Random base64 does not compress (lz4) below the topic's limit.
    big = "big " + base64.b64encode(os.urandom(60_000)).decode()
    after = [f"rw after {i}" for i in range(50)]
    reader = TopicReader(kafka_bootstrap, topic)
    try:
        with running(s) as agent:
            first_producer = agent.out.producer
            append(web, docker_lines(before))
            reader.until(lambda rs: set(before) <= messages(rs))
            append(web, docker_lines([big, *after]))

            def rewinds() -> list[str]:
                return [r.getMessage() for r in caplog.records
                        if getattr(r, "event", None) == "rewind"]

            # Refused again after each rewind, as long as the limit stays.
            wait_for(lambda: len(rewinds()) >= 2, 30, "two rewinds")
            assert agent.out.producer is not first_producer
            assert "Message size too large" in rewinds()[0], rewinds()
            assert big not in messages(reader.records)
            kafka_admin.incremental_alter_configs([ConfigResource(
                "topic", topic, incremental_configs=[ConfigEntry(
                    "max.message.bytes", "1000000",
                    incremental_operation=AlterConfigOpType.SET)])])[
                ConfigResource("topic", topic)].result(30)
            got = reader.until(lambda rs: {big, *before, *after} <= messages(rs), timeout=120)
    finally:
        reader.close()
        kafka_admin.delete_topics([topic])
    assert_same_id_per_line(got)
    [record] = [r for r in got if r.message == big]
    assert tuple(record.tags) == ()  # under the collector's own cap: not truncated


def test_readyz_follows_the_broker_on_a_quiet_node(tmp_path: Path,
                                                   private_kafka: KafkaServer) -> None:
    # Nothing is written while Kafka is down: no queue fills, no delivery fails, yet
    # /readyz must say the collector cannot ship, and recover when the broker is back.
    bootstrap = private_kafka.bootstrap
    create_topic(AdminClient({"bootstrap.servers": bootstrap}), "quiet")
    s = settings(tmp_path, bootstrap, "quiet", unready_after_s=2.0, shutdown_timeout_s=1.0,
                 ledger_topic="")
    web = docker_container(tmp_path, "quiet")
    append(web, docker_lines(["one line, then silence"]))
    with running(s) as agent:
        def shipped() -> bool:
            src = agent.sources.get(str(web))
            cur = src.current if src is not None else None
            return cur is not None and cur.acked == web.stat().st_size

        wait_for(shipped, 60, "the line acknowledged")
        wait_for(lambda: agent.ready()[0], 60, "ready")
        assert agent.out.in_flight() == 0
        private_kafka.down()
        wait_for(lambda: "no Kafka broker reachable" in agent.ready()[1], 60,
                 "not ready while the broker is down")
        private_kafka.up()
        wait_for(lambda: agent.ready()[0], 120, "ready again")
