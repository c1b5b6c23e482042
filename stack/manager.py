"""The stack as a whole: Kafka and Elasticsearch started, reused or stopped together."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import orjson
from rich.console import Console

from stack.config import StackSettings
from stack.elastic import ElasticServer
from stack.kafka import KafkaServer
from stack.server import Server

console = Console(stderr=True)

# The ports `stack up` started the servers on, kept under the stack's home so that
# later commands (`status`, `services up`, `down`) find them without the flags again.
PORTS_FILE = "ports.json"
REMEMBERED = ("kafka_port", "es_port")


@dataclass(frozen=True)
class StackInfo:
    kafka_bootstrap: str
    es_url: str


class Stack:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.kafka = KafkaServer(settings)
        self.es = ElasticServer(settings)

    @classmethod
    def from_env(cls, **overrides: Any) -> Stack:
        """Settings from the environment; a port neither given here nor set in the
        environment is the one the running stack was started on (``stack up --*-port``)."""
        settings = StackSettings(**overrides)
        try:
            saved = orjson.loads((settings.home / PORTS_FILE).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            saved = {}
        chosen = {name: int(saved[name]) for name in REMEMBERED
                  if name in saved and name not in overrides
                  and f"LOGPIPE_STACK_{name.upper()}" not in os.environ}
        return cls(settings.model_copy(update=chosen) if chosen else settings)

    def remember_ports(self) -> None:
        self.settings.home.mkdir(parents=True, exist_ok=True)
        (self.settings.home / PORTS_FILE).write_bytes(orjson.dumps(
            {name: getattr(self.settings, name) for name in REMEMBERED}))

    def forget_ports(self) -> None:
        (self.settings.home / PORTS_FILE).unlink(missing_ok=True)

    @property
    def servers(self) -> list[Server]:
        return [self.kafka, self.es]

    @property
    def info(self) -> StackInfo:
        return StackInfo(self.kafka.bootstrap, self.es.url)

    def up(self, quiet: bool = False) -> StackInfo:
        # Start both before waiting on either: ES takes the longest, so overlap it.
        started: list[Server] = []
        order: list[Server] = [self.es, self.kafka]
        for server in order:
            if server.pid is None:
                if not quiet:
                    console.print(f"starting {server.name} (log: {server.logfile})")
                server.up() if server is self.kafka else _start_only(server)
                started.append(server)
            elif not quiet:
                console.print(f"{server.name} already running (pid {server.pid}), reusing it")
        for server in self.servers:
            server.wait_ready()
        self.remember_ports()
        if not quiet:
            console.print(f"Kafka          {self.kafka.bootstrap}")
            console.print(f"Elasticsearch  {self.es.url}")
        return self.info

    def down(self) -> list[str]:
        stopped = [s.name for s in self.servers if s.down()]
        self.forget_ports()
        return stopped

    def status(self) -> dict[str, dict[str, Any]]:
        return {
            s.name: {
                "pid": s.pid,
                "ready": s.pid is not None and s.ready(),
                "ports": s.ports,
                "log": str(s.logfile),
            }
            for s in self.servers
        }


def _start_only(server: Server) -> None:
    """Start without waiting (readiness is awaited later, after the other server)."""
    from logpipe.errors import PortInUseError
    from stack.proc import port_open

    for port in server.ports:
        if port_open(port):
            raise PortInUseError(port, server.name)
    server.start()
