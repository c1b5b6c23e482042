"""The pipeline of the fault tests as real processes on the cluster: Docker log files
written at a steady rate, the collector, forwarders, the Log API, and a live tail read
over SSE; plus the checks (every line once in Elasticsearch, the tail without a gap).

Waits poll for a condition with a generous deadline: two shared cores may be very busy.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan
from httpx_sse import connect_sse

from logpipe.timefmt import format_ns, parse_ns
from stack.manager import Stack
from tests.collector.helpers import append, docker_container
from tests.collector.test_crash import start as start_collector
from tests.e2e.test_pipeline import log_api
from tests.forwarder.util import ForwarderProc, forwarder_env, free_port, wait_until
from tests.log_api.helpers import PAY, auth

LABELS = {"com.docker.compose.project": "pay", "com.docker.compose.service": "checkout"}
_SEQ = re.compile(r"seq (\d+)")


class Writer:
    """Appends ``INFO <container> seq <n>`` lines to several containers' log files, one
    line per container every ``interval`` seconds, until stopped."""

    def __init__(self, root: Path, containers: int = 6, interval: float = 0.05,
                 burst: int = 1) -> None:
        self.names = [f"svc-{k}" for k in range(containers)]
        self.paths = {n: docker_container(root, n, LABELS) for n in self.names}
        self.written = dict.fromkeys(self.names, 0)
        self.interval = interval
        self.burst = burst
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the thread and a test's extra writes
        self._thread = threading.Thread(target=self._run, daemon=True)

    def write(self, lines_each: int) -> None:
        with self._lock:
            self._write(lines_each)

    def _write(self, lines_each: int) -> None:
        for name, path in self.paths.items():
            start = self.written[name]
            now = format_ns(time.time_ns())
            append(path, b"".join(
                orjson.dumps({"log": f"INFO {name} seq {n}\n", "stream": "stdout",
                              "time": now}) + b"\n"
                for n in range(start, start + lines_each)))
            self.written[name] = start + lines_each

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.write(self.burst)

    def start(self) -> Writer:
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
        return self.total

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.written.values())


class Tail:
    """One live tail through the Log API (SSE, no back-fill), read on a thread."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.seqs: dict[str, list[int]] = {}
        # missed / gap / notice events, with how many entries the tail had then
        self.other: list[tuple[int, str, str]] = []
        self.live = threading.Event()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # A read timeout far above the heartbeat: a tail that goes silent fails loudly.
        timeout = httpx.Timeout(30.0, read=120.0)
        try:
            with httpx.Client(base_url=f"{self.base}/api/v1", headers=auth(PAY),
                              timeout=timeout) as client, \
                    connect_sse(client, "GET", "/tail", params={"backfill": 0}) as source:
                source.response.raise_for_status()
                for event in source.iter_sse():
                    if self._stop.is_set():
                        return
                    if event.event == "live":
                        self.live.set()
                    elif event.event == "entry":
                        entry = event.json()
                        m = _SEQ.search(entry["message"])
                        assert m, entry["message"]
                        self.seqs.setdefault(entry["container_name"], []).append(
                            int(m.group(1)))
                    elif event.event in ("missed", "gap", "notice"):
                        self.other.append((self.received(), event.event, event.data))
        except BaseException as exc:
            if not self._stop.is_set():
                self.error = exc

    def received(self) -> int:
        return sum(len(s) for s in self.seqs.values())

    def last_seen(self) -> dict[str, int]:
        """Per container, the last sequence number received so far."""
        return {name: seqs[-1] for name, seqs in self.seqs.items()}

    def caught_up(self, writer: Writer) -> bool:
        assert self.error is None, f"the tail broke: {self.error!r}"
        return all(s and s[-1] == writer.written[name] - 1 for name, s in self.seqs.items()) \
            and set(self.seqs) == set(writer.names)

    def stop(self) -> None:
        self._stop.set()  # the next event or heartbeat ends the thread


def assert_tail_complete(tail: Tail, writer: Writer, steady: dict[str, int],
                         fault_ns: int) -> None:
    """From ``steady`` (per container, the last sequence number the tail had shown when
    the fault began, at ``fault_ns``) to the last line written, the tail saw one unbroken
    run: no gap, no repeat, no reordering; no entry was missed, and no gap event covers a
    time after the fault.

    A new tail may legitimately hand over with a gap event for entries written just
    before it subscribed (not indexed yet: it tells the client to fetch them once they
    are), sent when the forwarder has indexed them, so possibly much later."""
    assert not [e for e in tail.other if e[1] == "missed"], tail.other
    gaps = [orjson.loads(e[2]) for e in tail.other if e[1] == "gap"]
    late = [g for g in gaps if parse_ns(g["to"]) > fault_ns]
    assert late == [], late
    for name in writer.names:
        seqs = tail.seqs[name]
        first = steady[name]
        seqs = seqs[seqs.index(first):]
        expected = list(range(first, writer.written[name]))
        if seqs != expected:
            counts = Counter(seqs)
            repeats = sorted(n for n, c in counts.items() if c > 1)[:10]
            missing = sorted(set(expected) - set(seqs))[:10]
            raise AssertionError(f"{name}: tail from seq {first}: repeated {repeats}, "
                                 f"missing {missing} (first ten of each)")


def indexed(es: Elasticsearch, prefix: str) -> Counter[tuple[str, int]]:
    """(container, seq) of every document under ``<prefix>-*``, counted."""
    es.indices.refresh(index=f"{prefix}-*")
    seen: Counter[tuple[str, int]] = Counter()
    for hit in scan(es, index=f"{prefix}-*", size=5000,
                    query={"_source": ["message", "container_name"]}):
        src = hit["_source"]
        m = _SEQ.search(src["message"])
        assert m, src
        seen[(src["container_name"], int(m.group(1)))] += 1
    return seen


def doc_count(es: Elasticsearch, prefix: str) -> int:
    try:
        es.indices.refresh(index=f"{prefix}-*")
        return int(es.count(index=f"{prefix}-*")["count"])
    except Exception:  # an index still starting, a node away: keep polling
        return -1


def assert_every_line_once(es: Elasticsearch, prefix: str, writer: Writer,
                           timeout: float = 300) -> None:
    wait_until(lambda: doc_count(es, prefix) >= writer.total, timeout,
               f"all {writer.total} lines indexed")
    seen = indexed(es, prefix)
    expected = {(name, n) for name, count in writer.written.items() for n in range(count)}
    missing = sorted(expected - set(seen))[:10]
    extra = sorted(set(seen) - expected)[:10]
    twice = sorted(k for k, c in seen.items() if c > 1)[:10]
    assert not missing and not extra and not twice, (missing, extra, twice)
    assert doc_count(es, prefix) == writer.total


def leaders(admin: AdminClient, topic: str) -> dict[int, int]:
    """Partition -> id of the broker that leads it."""
    md = admin.list_topics(topic, timeout=30)
    return {p: meta.leader for p, meta in md.topics[topic].partitions.items()}


def topic_config(admin: AdminClient, topic: str) -> tuple[int, str]:
    """(replicas of partition 0, min.insync.replicas) of a topic."""
    from confluent_kafka.admin import ConfigResource  # type: ignore[attr-defined]

    md = admin.list_topics(topic, timeout=30)
    replicas = len(md.topics[topic].partitions[0].replicas)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([res])[res].result(timeout=30)
    return replicas, configs["min.insync.replicas"].value


@dataclass
class Pipeline:
    """Names and processes of one test's pipeline on the cluster."""

    cluster: Stack
    root: Path
    topic: str = field(default_factory=lambda: f"lpc-logs-{uuid.uuid4().hex[:8]}")
    prefix: str = field(default_factory=lambda: f"lpc-idx-{uuid.uuid4().hex[:8]}")
    group: str = field(default_factory=lambda: f"lpc-fwd-{uuid.uuid4().hex[:8]}")
    forwarders: list[ForwarderProc] = field(default_factory=list)
    collector: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return self.cluster.settings.kafka_bootstrap

    @property
    def es_url(self) -> str:
        return self.cluster.settings.es_url

    @property
    def ledger(self) -> str:
        return f"{self.topic}-ledger"

    def start_collector(self) -> None:
        # The collector's first record creates the topic: with the brokers' defaults.
        self.collector = start_collector(
            self.root, self.bootstrap, self.topic, sources='["docker"]',
            LOGPIPE_NODE_NAME="cluster-node", LOGPIPE_LEDGER_TOPIC=self.ledger)

    def start_forwarder(self, **extra: str) -> ForwarderProc:
        env = forwarder_env(
            self.bootstrap, self.es_url, self.topic, self.prefix, self.group,
            LOGPIPE_LEDGER_TOPIC=self.ledger,
            # What the stack's own services get on a cluster (stack/local.py).
            LOGPIPE_INDEX_REPLICAS=str(self.cluster.settings.index_replicas),
            LOGPIPE_METRICS_PORT=str(free_port()), **extra)
        proc = ForwarderProc(env, self.root / f"forwarder-{len(self.forwarders)}.log")
        self.forwarders.append(proc)
        return proc

    @contextmanager
    def api(self) -> Iterator[str]:
        with log_api(self.root, self.bootstrap, self.es_url, self.topic, self.prefix,
                     self.group) as base:
            yield base

    def stop(self) -> None:
        for fwd in self.forwarders:
            if not fwd.killed:
                code = fwd.stop()
                assert code == 0, f"forwarder exited with {code}:\n{fwd.tail(60)}"
        if self.collector is not None:
            self.collector.send_signal(signal.SIGTERM)
            assert self.collector.wait(timeout=60) == 0

    def logs(self) -> str:
        parts = [f"--- {f.log} ---\n{f.tail(60)}" for f in self.forwarders]
        with contextlib.suppress(OSError):
            parts.append(f"--- collector ---\n{(self.root / 'collector.err').read_text()[-4000:]}")
        return "\n".join(parts)


@contextmanager
def pipeline(cluster: Stack, root: Path, forwarders: int = 1,
             **forwarder_extra: str) -> Iterator[tuple[Pipeline, Writer, str, ExitStack]]:
    """Collector, ``forwarders`` forwarders and the Log API running, lines written at a
    steady rate; yields (pipeline, writer, API base URL, exit stack for more)."""
    (root / "log").mkdir(parents=True, exist_ok=True)
    p = Pipeline(cluster, root)
    writer = Writer(root)
    writer.write(1)  # the files exist before the collector's first scan
    p.start_collector()
    try:
        for _ in range(forwarders):
            p.start_forwarder(**forwarder_extra)
        with ExitStack() as stack, p.api() as base:
            writer.start()
            try:
                yield p, writer, base, stack
            finally:
                writer.stop()
        p.stop()
    except BaseException:
        writer.stop()
        print(p.logs())
        for fwd in p.forwarders:
            fwd.kill()
        if p.collector is not None and p.collector.poll() is None:
            p.collector.kill()
            p.collector.wait(30)
        raise
    finally:
        cleanup(cluster, p)


def cleanup(cluster: Stack, p: Pipeline) -> None:
    """Remove the test's topics, indices and template (best effort)."""
    admin = AdminClient({"bootstrap.servers": p.bootstrap})
    names = [p.topic, p.ledger, f"{p.topic}.dlq"]
    for fut in admin.delete_topics(names).values():
        with contextlib.suppress(Exception):
            fut.result(timeout=30)
    es = Elasticsearch(p.es_url.split(","), request_timeout=30)
    try:
        for name in (p.prefix, f"{p.prefix}_ledger"):
            es.options(ignore_status=404).indices.delete(index=f"{name}-*",
                                                          expand_wildcards="all")
            es.options(ignore_status=404).indices.delete_index_template(name=name)
    finally:
        es.close()


def api_get(base: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{base}/api/v1{path}", params=params, headers=auth(PAY), timeout=60)
