"""Throughput of `logpipe events` and `logpipe journald` into the real Kafka (acked),
each against the peer that bounds it in the same run:

- journald: our role (journalctl -> record -> Kafka acks -> cursor saved) vs plain
  ``journalctl --output=json`` into /dev/null (the reading ceiling).
- events: our role (list -> record -> Kafka acks -> resourceVersion saved) vs the
  bare paged list of the same events (the API-reading ceiling).

Run: ``.venv/bin/python -c "import bench.kube as b; b.main()"`` with the stack up.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from events.settings import EventsSettings
from events.shipper import EventsRole
from journald.follow import JournaldRole
from journald.settings import JournaldSettings
from kube.client import KubeClient
from kube.config import KubeConfig
from tests.journald.journal import JournalWriter, entry
from tests.kube.fake_apiserver import running
from tests.kube.objects import core_event

BOOTSTRAP = os.environ.get("LOGPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
JOURNAL_ENTRIES = int(os.environ.get("BENCH_JOURNAL_ENTRIES", "50000"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "20000"))


def _topic(admin: AdminClient) -> str:
    name = f"bench-kube-{uuid.uuid4().hex[:8]}"
    for fut in admin.create_topics([NewTopic(name, 3, 1)]).values():
        fut.result(30)
    return name


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _until(check: Callable[[], bool], limit: float = 300) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish")
        time.sleep(0.01)


def bench_journald(topic: str, tmp: Path) -> tuple[float, float]:
    journal = tmp / "bench.journal"
    msg = "I1126 07:00:00.000000 812 kubelet.go:2400] SyncLoop (PLEG): event for pod " + "x" * 80
    JournalWriter(journal).append([entry(msg, priority=6) for _ in range(JOURNAL_ENTRIES)])
    peer = _timed(lambda: subprocess.run(
        ["journalctl", f"--file={journal}", "--output=json", "--all", "--no-pager"],
        stdout=subprocess.DEVNULL, check=True))
    settings = JournaldSettings(kafka_bootstrap=BOOTSTRAP, kafka_topic=topic,
                                journal_files=[str(journal)], metrics_port=0,
                                cursor_file=str(tmp / "cursor"), checkpoint_interval_s=0.05)
    role = JournaldRole(settings)
    thread = threading.Thread(target=role.run, daemon=True)

    def ours() -> None:
        thread.start()
        _until(lambda: role.entries == JOURNAL_ENTRIES and role.producer.tracker.in_flight() == 0)

    took = _timed(ours)
    role.stop.set()
    thread.join(30)
    return JOURNAL_ENTRIES / took, JOURNAL_ENTRIES / peer


def bench_events(topic: str, tmp: Path) -> tuple[float, float]:
    with running() as api:
        for i in range(EVENTS):
            api.put("events", core_event(f"ns-{i % 20}", f"ev-{i}", obj_name=f"pod-{i % 500}"))
        client = KubeClient(KubeConfig(server=api.url, token=api.token))
        client.list("/api/v1/events")  # warm both sides up, as ours runs after this
        peer = _timed(lambda: client.list("/api/v1/events"))
        settings = EventsSettings(kafka_bootstrap=BOOTSTRAP, kafka_topic=topic, metrics_port=0,
                                  state_file=str(tmp / "rv"), checkpoint_interval_s=0.05)
        role = EventsRole(settings, client)
        thread = threading.Thread(target=role.run, daemon=True)
        target = str(api.rv)

        def ours() -> None:
            thread.start()
            _until(lambda: role.producer.tracker.committable() == target)

        took = _timed(ours)
        role.stop.set()
        thread.join(30)
    return EVENTS / took, EVENTS / peer


def main() -> None:
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    topics = [_topic(admin), _topic(admin)]
    try:
        with tempfile.TemporaryDirectory() as d:
            j_ours, j_peer = bench_journald(topics[0], Path(d))
            e_ours, e_peer = bench_events(topics[1], Path(d))
    finally:
        admin.delete_topics(topics)
    print(f"{'what':<44}{'per second':>14}{'vs peer':>10}")
    print(f"{f'journald -> Kafka acked ({JOURNAL_ENTRIES} entries)':<44}{j_ours:>14,.0f}"
          f"{j_ours / j_peer:>10.2f}")
    print(f"{'  peer: journalctl -o json > /dev/null':<44}{j_peer:>14,.0f}{1:>10.2f}")
    print(f"{f'events -> Kafka acked ({EVENTS} events)':<44}{e_ours:>14,.0f}"
          f"{e_ours / e_peer:>10.2f}")
    print(f"{'  peer: paged list of the same events':<44}{e_peer:>14,.0f}{1:>10.2f}")


if __name__ == "__main__":
    main()
