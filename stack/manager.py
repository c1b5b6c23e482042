"""The stack as a whole: Kafka and Elasticsearch (one node each, or clusters of them)
started, reused or stopped together."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from logpipe.console import notes
from logpipe.errors import StackError
from stack.config import StackSettings
from stack.elastic import ElasticServer
from stack.kafka import KafkaServer
from stack.server import Server

console = notes()  # a log path stays on one line in a file or a pipe

# The ports `stack up` started the servers on, kept under the stack's home so that
# later commands (`status`, `services up`, `down`) find them without the flags again.
PORTS_FILE = "ports.json"
REMEMBERED = ("kafka_port", "es_port", "kafka_brokers", "es_nodes")


@dataclass(frozen=True)
class StackInfo:
    kafka_bootstrap: str
    es_url: str


class Stack:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.brokers = [KafkaServer(settings, i) for i in range(settings.kafka_brokers)]
        self.es_nodes = [ElasticServer(settings, i) for i in range(settings.es_nodes)]
        # The first node of each: the single server of the default stack.
        self.kafka = self.brokers[0]
        self.es = self.es_nodes[0]

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
        return [*self.brokers, *self.es_nodes]

    @property
    def info(self) -> StackInfo:
        return StackInfo(self.settings.kafka_bootstrap, self.settings.es_url)

    def up(self, quiet: bool = False) -> StackInfo:
        # Start all before waiting on any: ES takes the longest, so overlap it, and the
        # nodes of a cluster only become ready once enough of them are up to elect.
        started: list[Server] = []
        order: list[Server] = [*self.es_nodes, *self.brokers]
        single_kafka = len(self.brokers) == 1
        for server in order:
            if server.pid is None:
                if not quiet:
                    console.print(f"starting {server.name} (log: {server.logfile})")
                if server is self.kafka and single_kafka:
                    server.up()
                else:
                    _start_only(server)
                started.append(server)
            elif not quiet:
                console.print(f"{server.name} already running (pid {server.pid}), reusing it")
        for server in self.servers:
            server.wait_ready()
        self.wait_formed()
        self.remember_ports()
        if not quiet:
            console.print(f"Kafka          {self.info.kafka_bootstrap}")
            console.print(f"Elasticsearch  {self.info.es_url}")
        return self.info

    def formed(self) -> dict[str, bool]:
        """Does each cluster hold all its nodes (every broker registered, every ES node
        joined)?"""
        health = self.es.health()
        return {
            "kafka": self.kafka.brokers() == {b.node_id for b in self.brokers},
            "elasticsearch": health is not None
            and health.get("number_of_nodes") == len(self.es_nodes),
        }

    def cluster_summary(self) -> list[str]:
        """One line per clustered server kind: how many nodes took part, and ES's health."""
        lines = []
        if len(self.brokers) > 1:
            ids = set().union(*(b.brokers() for b in self.brokers if b.pid is not None))
            lines.append(f"kafka cluster: {len(ids)} of {len(self.brokers)} brokers "
                         f"registered, replication factor {self.settings.replication_factor}, "
                         f"min.insync.replicas {self.settings.min_insync_replicas}")
        if len(self.es_nodes) > 1:
            health = next((h for n in self.es_nodes if n.pid is not None
                           and (h := n.health()) is not None), None)
            lines.append(
                f"elasticsearch cluster: {health['status']}, {health['number_of_nodes']} of "
                f"{len(self.es_nodes)} nodes, {health['unassigned_shards']} unassigned shards"
                if health else f"elasticsearch cluster: no node answers (of "
                f"{len(self.es_nodes)})")
        return lines

    def wait_formed(self) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        while not all((state := self.formed()).values()):
            if time.monotonic() > deadline:
                missing = [name for name, ok in state.items() if not ok]
                raise StackError(f"{' and '.join(missing)}: not every node joined the "
                                 f"cluster after {self.settings.start_timeout_s:.0f}s")
            time.sleep(1.0)

    def down(self) -> list[str]:
        # Elasticsearch nodes all at once (each may take many seconds to shut down), and
        # beside them the brokers one after the other: brokers stopped together lose
        # their controller quorum and each waits out its controlled shutdown. The last
        # broker of a cluster has lost its quorum whatever we do: a short grace, then
        # SIGKILL (it recovers its logs at the next start).
        def brokers_in_turn() -> list[bool]:
            last = len(self.brokers) - 1
            return [b.down(10.0 if i == last and last > 0 else 60.0)
                    for i, b in enumerate(self.brokers)]

        with ThreadPoolExecutor(max_workers=len(self.es_nodes) + 1) as pool:
            kafka = pool.submit(brokers_in_turn)
            es = list(pool.map(lambda n: n.down(), self.es_nodes))
            results = [*kafka.result(), *es]
        self.forget_ports()
        return [s.name for s, was_running in zip(self.servers, results, strict=True)
                if was_running]

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
