"""Apache Kafka 4.x in KRaft mode on 127.0.0.1: one combined broker+controller, or
with ``kafka_brokers`` > 1 a quorum of them (each node broker and controller)."""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from logpipe.errors import StackError
from stack.config import StackSettings
from stack.fetch import fetch_kafka
from stack.proc import port_open
from stack.server import Server

_LOG4J = """status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.org.name = org.apache.kafka
logger.org.level = WARN
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


class KafkaServer(Server):
    name = "kafka"
    marker = "kafka.Kafka"

    def __init__(self, settings: StackSettings, index: int = 0) -> None:
        clustered = settings.kafka_brokers > 1
        home = settings.kafka_dir / f"node-{index + 1}" if clustered else settings.kafka_dir
        super().__init__(home, settings.start_timeout_s)
        self.s = settings
        self.node_id = index + 1
        if clustered:
            self.name = f"kafka-{self.node_id}"
        self.port, self.controller_port = settings.kafka_ports(index)
        self.ports = [self.port, self.controller_port]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _quorum(self) -> str:
        if self.s.kafka_brokers == 1:
            return f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}"
        # A fixed voter set: every node is formatted alike and any one may restart alone.
        voters = ",".join(f"{i + 1}@127.0.0.1:{self.s.kafka_ports(i)[1]}"
                          for i in range(self.s.kafka_brokers))
        return f"controller.quorum.voters={voters}"

    def _properties(self, data: Path) -> str:
        s = self.s
        rf, isr = s.replication_factor, s.min_insync_replicas
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.node_id}",
                self._quorum(),
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                f"CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={data}",
                "num.partitions=3",
                # Every topic the project's programs create (auto-created or through the
                # admin API without a factor) is replicated alike; acks=all producers then
                # survive one broker down and refuse writes with two down.
                f"default.replication.factor={rf}",
                f"min.insync.replicas={isr}",
                "unclean.leader.election.enable=false",
                f"offsets.topic.replication.factor={rf}",
                f"transaction.state.log.replication.factor={rf}",
                f"transaction.state.log.min.isr={isr}",
                f"share.coordinator.state.topic.replication.factor={rf}",
                f"share.coordinator.state.topic.min.isr={isr}",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "delete.topic.enable=true",
                # Megabyte log lines are kept, not dropped: allow batches well above them.
                "message.max.bytes=16777216",
                "replica.fetch.max.bytes=16777216",
                "log.retention.hours=24",
                "log.segment.bytes=268435456",
                "",
            ]
        )

    def _java(self) -> str:
        if self.s.java_home:
            return str(self.s.java_home / "bin" / "java")
        java = shutil.which("java")
        if java is None:
            raise StackError("no `java` on PATH: Kafka needs Java 17 or newer")
        return java

    def start(self) -> None:
        lib = fetch_kafka(
            self.s.downloads_dir / "kafka", self.s.kafka_version, self.s.log4j_version
        )
        self.home.mkdir(parents=True, exist_ok=True)
        data = self.home / "data"
        conf = self.home / "server.properties"
        conf.write_text(self._properties(data))
        log4j = self.home / "log4j2.properties"
        log4j.write_text(_LOG4J)
        java = [self._java(), f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{lib}/*"]
        if not (data / "meta.properties").exists():
            # Format KRaft storage once; a formatted folder keeps its cluster id.
            fmt = subprocess.run(
                [
                    *java,
                    "kafka.tools.StorageTool",
                    "format",
                    # A single node bootstraps a dynamic quorum of itself; cluster nodes
                    # name their fixed voters in the config instead.
                    *(["--standalone"] if self.s.kafka_brokers == 1 else []),
                    # `=` form: a base64 id may start with "-", which argparse would
                    # otherwise take for an option.
                    f"--cluster-id={self._cluster_id()}",
                    "--config",
                    str(conf),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if fmt.returncode != 0:
                raise StackError(f"Kafka storage format failed:\n{fmt.stdout}\n{fmt.stderr}")
        heap = self.s.kafka_heap
        self.spawn(
            [
                *java[:1],
                f"-Xmx{heap}",
                f"-Xms{heap}",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                *java[1:],
                "kafka.Kafka",
                str(conf),
            ]
        )

    def _cluster_id(self) -> str:
        """One id for every node of this stack, kept beside them."""
        path = self.s.kafka_dir / "cluster.id"
        if self.s.kafka_brokers > 1 and path.exists():
            return path.read_text().strip()
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if self.s.kafka_brokers > 1:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(cluster_id + "\n")
        return cluster_id

    def brokers(self) -> set[int]:
        """Node ids of the brokers this node's metadata lists (empty while unreachable)."""
        from confluent_kafka.admin import AdminClient

        if not port_open(self.port):
            return set()
        quiet = logging.getLogger("stack.kafka.probe")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False  # librdkafka's connection errors while starting are expected
        try:
            conf: dict[str, Any] = {
                "bootstrap.servers": self.bootstrap,
                "socket.timeout.ms": 2000,
                "logger": quiet,
            }
            md = AdminClient(conf).list_topics(timeout=2)
        except Exception:
            return set()
        return set(md.brokers)

    def ready(self) -> bool:
        # Registered with the controller: its own id is in the metadata it serves.
        return self.node_id in self.brokers()
