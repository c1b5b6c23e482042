"""Where the stack lives and which versions and ports it uses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from pydantic import Field
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
    es_user: str = Field("logpipe-es", description="Unprivileged user that runs ES when root.")
    start_timeout_s: float = Field(180.0, description="Seconds to wait for readiness.")
    java_home: Path | None = Field(None, description="JDK for Kafka (default: java on PATH).")
    es_java_home: Path | None = Field(
        None, description="JDK >= 21 for Elasticsearch (default: newest in /usr/lib/jvm)."
    )

    @property
    def downloads_dir(self) -> Path:
        return self.downloads or self.home / "downloads"

    @property
    def kafka_dir(self) -> Path:
        return self.home / "kafka"

    @property
    def es_dir(self) -> Path:
        return self.home / "elasticsearch"
