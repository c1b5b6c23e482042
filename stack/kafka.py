"""Apache Kafka 4.x in KRaft mode: one combined broker+controller on 127.0.0.1."""

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

    def __init__(self, settings: StackSettings) -> None:
        super().__init__(settings.kafka_dir, settings.start_timeout_s)
        self.s = settings
        self.ports = [settings.kafka_port, settings.kafka_controller_port]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.s.kafka_port}"

    def _properties(self, data: Path) -> str:
        s = self.s
        return "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers=127.0.0.1:{s.kafka_controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},"
                f"CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={data}",
                "num.partitions=3",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
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
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            fmt = subprocess.run(
                [
                    *java,
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    # `=` form: a base64 id may start with "-", which argparse would
                    # otherwise take for an option.
                    f"--cluster-id={cluster_id}",
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

    def ready(self) -> bool:
        from confluent_kafka.admin import AdminClient

        if not port_open(self.s.kafka_port):
            return False
        quiet = logging.getLogger("stack.kafka.probe")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False  # librdkafka's connection errors while starting are expected
        try:
            conf: dict[str, Any] = {
                "bootstrap.servers": self.bootstrap,
                "socket.timeout.ms": 2000,
                "logger": quiet,
            }
            admin = AdminClient(conf)
            md = admin.list_topics(timeout=2)
        except Exception:
            return False
        return bool(md.brokers)
