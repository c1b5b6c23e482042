"""Where the stack lives and which versions and ports it uses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from logpipe.settings import Renamed


def _default_home() -> Path:
    # Elasticsearch runs as an unprivileged user when we are root, and root's home
    # is not traversable by others: keep the unpacked servers and data outside it.
    if os.geteuid() == 0:
        return Path("/var/lib/logpipe-stack")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "logpipe" / "stack"


class StackSettings(Renamed):
    model_config = SettingsConfigDict(env_prefix="LOGPIPE_STACK_", extra="forbid")
    renamed: ClassVar[dict[str, str]] = {"start_timeout": "start_timeout_s"}

    home: Path = Field(
        default_factory=_default_home, description="Unpacked servers, data, logs and pid files."
    )
    downloads: Path | None = Field(
        None, description="Fetched jars and unpacked Elasticsearch (default: <home>/downloads)."
    )
    kafka_version: str = Field("4.4.0", description="org.apache.kafka:kafka_2.13 version.")
    log4j_version: str = Field("2.24.3", description="log4j-slf4j-impl binding version.")
    es_version: str = Field("9.2.8", description="Elasticsearch integ-test-zip version.")
    kafka_port: int = Field(9092, description="Kafka client listener on 127.0.0.1.")
    kafka_controller_port: int = Field(9093, description="KRaft controller listener.")
    es_port: int = Field(9200, description="Elasticsearch HTTP port on 127.0.0.1.")
    es_transport_port: int = Field(9300, description="Elasticsearch transport port.")
    kafka_heap: str = Field("512m", description="Kafka JVM heap (-Xmx/-Xms).")
    es_heap: str = Field("768m", description="Elasticsearch JVM heap (-Xmx/-Xms).")
    kafka_brokers: int = Field(
        1, ge=1, le=9, description="Kafka nodes; above 1 each is broker and KRaft controller "
        "(a quorum), topics get replication factor min(3, n) and min.insync.replicas n-1 "
        "(at most 2).")
    es_nodes: int = Field(
        1, ge=1, le=9, description="Elasticsearch nodes; above 1 they form one cluster.")
    node_port_step: int = Field(
        10, ge=2, description="Node i of a cluster listens on each base port + i * step.")
    es_user: str = Field("logpipe-es", description="Unprivileged user that runs ES when root.")
    start_timeout_s: float = Field(180.0, description="Seconds to wait for readiness.")
    java_home: Path | None = Field(None, description="JDK for Kafka (default: java on PATH).")
    es_java_home: Path | None = Field(
        None, description="JDK >= 21 for Elasticsearch (default: newest in /usr/lib/jvm)."
    )

    @model_validator(mode="after")
    def _ports_distinct(self) -> StackSettings:
        ports = [p for i in range(self.kafka_brokers) for p in self.kafka_ports(i)]
        ports += [p for i in range(self.es_nodes) for p in self.es_ports(i)]
        clash = sorted({p for p in ports if ports.count(p) > 1})
        if clash:
            raise ValueError(f"two servers of the stack would share port(s) {clash}: "
                             "choose other base ports or another node_port_step")
        return self

    def kafka_ports(self, i: int = 0) -> tuple[int, int]:
        """Client and controller port of Kafka node ``i`` (0-based)."""
        off = i * self.node_port_step
        return self.kafka_port + off, self.kafka_controller_port + off

    def es_ports(self, i: int = 0) -> tuple[int, int]:
        """HTTP and transport port of Elasticsearch node ``i`` (0-based)."""
        off = i * self.node_port_step
        return self.es_port + off, self.es_transport_port + off

    @property
    def kafka_bootstrap(self) -> str:
        """Every broker: a client that finds one of them down tries the next."""
        return ",".join(f"127.0.0.1:{self.kafka_ports(i)[0]}" for i in range(self.kafka_brokers))

    @property
    def es_url(self) -> str:
        """Every node, comma-separated (what LOGPIPE_ES_URL takes)."""
        return ",".join(f"http://127.0.0.1:{self.es_ports(i)[0]}" for i in range(self.es_nodes))

    @property
    def index_replicas(self) -> int:
        """Replicas of each daily index: one wherever a second node can hold it."""
        return min(1, self.es_nodes - 1)

    @property
    def replication_factor(self) -> int:
        """Replicas of each topic the brokers create (auto-created or without a factor)."""
        return min(3, self.kafka_brokers)

    @property
    def min_insync_replicas(self) -> int:
        """One replica may be down and acks=all still succeeds (2 of 3)."""
        return max(1, self.replication_factor - 1)

    @property
    def downloads_dir(self) -> Path:
        return self.downloads or self.home / "downloads"

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def es_dir(self) -> Path:
        return self.home / "elasticsearch"


def local_cluster(shared: StackSettings | None = None) -> StackSettings:
    """The 3-broker, 3-node cluster of the fault tests and `python -m bench cluster`:
    beside the single-node stack, never instead of it (its own home next to the shared
    one, ports 29092.. and 29200..), from the same downloads; small heaps so that both
    fit a 2-core, 24 GB machine with the services. ``CLUSTER_HOME`` moves its home."""
    shared = shared or StackSettings()
    home = os.environ.get("CLUSTER_HOME")
    return StackSettings(
        home=Path(home) if home else shared.home.with_name("logpipe-cluster"),
        downloads=shared.downloads_dir,
        kafka_brokers=3, es_nodes=3,
        kafka_port=29092, kafka_controller_port=29093,
        es_port=29200, es_transport_port=29300,
        kafka_heap="384m", es_heap="512m", start_timeout_s=300,
    )
