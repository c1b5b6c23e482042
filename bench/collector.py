"""Collector benchmark: three corpora into Kafka, acknowledged, each against rsyslog
(imfile -> omkafka) on the same files and a raw confluent-kafka producer pushing the
same bytes (the ceiling), in the same run; then memory with 1,000 files and
write -> Kafka latency.

    python -m bench collector          (or: make bench)

The corpora (bench/corpus.py): ``uniform``, one ~190-byte Docker line shape repeated
(the collector's best case); ``varied``, real lines of every format of
tests/data/levels mixed in each file, multi-line entries and 16 KiB partial pieces
included, as Docker json-file logs; ``cri``, the same lines as CRI logs under a
/var/log/pods layout, with ``P`` pieces.

Environment: BENCH_COLLECTOR_LINES (default 1000000 per corpus: long enough that
start-up and the 20 ms polling do not decide the comparison), BENCH_COLLECTOR_FILES
(default 50), BENCH_COLLECTOR_CORPORA (default uniform,varied,cri),
BENCH_COLLECTOR_RATE (latency phase, lines/s, default 2000), BENCH_COLLECTOR_SECONDS
(latency phase length, default 10; 0 skips the memory and latency phase),
LOGPIPE_KAFKA_BOOTSTRAP (default 127.0.0.1:9092).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import NamedTuple

import orjson
from confluent_kafka import Consumer

from bench.collector_peers import (
    TS,
    CollectorProc,
    RsyslogProc,
    drop_topic,
    make_containers,
    new_topic,
    raw_producer,
    rsyslog_available,
    topic_count,
)
from bench.corpus import Corpus, build_varied, load_entries
from stack.manager import Stack

CORPORA = ("uniform", "varied", "cri")
STALL_S = 30.0  # no new record for this long: the run is over, short of the target


class Row(NamedTuple):
    corpus: str
    run: str
    lines: int  # the applications' lines, the same for every run of a corpus
    sent: int  # what reached Kafka: records (logpipe) or file lines (peers)
    seconds: float
    cpu: float  # CPU seconds
    peak_mb: float | None
    broker_cpu: float | None = None  # the local Kafka broker's CPU seconds in the run


def broker_cpu(bootstrap: str) -> float | None:
    """CPU seconds the Kafka broker of the local stack has used (None when ``bootstrap``
    is not the local stack's): on a 2-core machine the broker shares the CPU with the
    run, so the table shows how busy the whole machine was."""
    stack = Stack.from_env()
    if stack.settings.kafka_bootstrap != bootstrap:
        return None
    total = 0.0
    for broker in stack.brokers:
        if broker.pid is None:
            return None
        try:
            fields = Path(f"/proc/{broker.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime+stime
    return total


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _consumer(bootstrap: str) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})


def wait_count(consumer: Consumer, topic: str, target: int, t0: float,
               timeout: float = 900) -> tuple[int, float]:
    """Wait until Kafka acknowledged ``target`` messages; (count, seconds from ``t0`` to
    the last progress). Stops early when the count stalls, so a miscount shows in the
    table instead of hanging the bench."""
    count, last_at = 0, t0
    while count < target:
        now = time.monotonic()
        if now - t0 > timeout or (count and now - last_at > STALL_S):
            break
        time.sleep(0.02)
        seen = topic_count(consumer, topic)
        if seen != count:
            count, last_at = seen, time.monotonic()
    return count, last_at - t0


def run_collector(tmp: Path, bootstrap: str, corpus: Corpus) -> tuple[Row, Path]:
    root = tmp / f"{corpus.kind}-{corpus.staging.name}"
    root.mkdir()
    topic = new_topic(bootstrap, f"bench-collector-{uuid.uuid4().hex[:8]}")
    consumer = _consumer(bootstrap)
    c = CollectorProc(tmp / f"collector-{corpus.staging.name}", root, bootstrap, topic,
                      kind=corpus.kind)
    try:
        cpu0, b0 = c.stats()[0], broker_cpu(bootstrap)
        t0 = time.monotonic()
        for d in sorted(corpus.staging.iterdir()):  # the files appear at once, already full
            os.rename(d, root / d.name)
        count, seconds = wait_count(consumer, topic, corpus.records, t0)
        cpu1, _, hwm = c.stats()
        b1 = broker_cpu(bootstrap)
    finally:
        c.stop()
        consumer.close()
        drop_topic(bootstrap, topic)
    return Row(corpus.name, "logpipe collector", corpus.lines, count, seconds, cpu1 - cpu0,
               hwm, _spent(b0, b1)), root


def run_rsyslog(tmp: Path, bootstrap: str, corpus: Corpus, root: Path) -> Row | None:
    if not rsyslog_available():
        return None
    topic = new_topic(bootstrap, f"bench-rsyslog-{uuid.uuid4().hex[:8]}")
    consumer = _consumer(bootstrap)
    b0, t0 = broker_cpu(bootstrap), time.monotonic()
    r = RsyslogProc(tmp / f"rsyslog-{corpus.staging.name}", root, bootstrap, topic,
                    corpus.glob)
    try:
        count, seconds = wait_count(consumer, topic, corpus.messages, t0)
        cpu, _, hwm = r.stats()
        b1 = broker_cpu(bootstrap)
    finally:
        r.stop()
        consumer.close()
        drop_topic(bootstrap, topic)
    return Row(corpus.name, "rsyslog imfile->omkafka", corpus.lines, count, seconds, cpu, hwm,
               _spent(b0, b1))


def run_raw(bootstrap: str, corpus: Corpus, root: Path) -> Row:
    topic = new_topic(bootstrap, f"bench-raw-{uuid.uuid4().hex[:8]}")
    b0 = broker_cpu(bootstrap)
    try:
        n, seconds, cpu = raw_producer(bootstrap, topic, corpus.paths(root))
        b1 = broker_cpu(bootstrap)
    finally:
        drop_topic(bootstrap, topic)
    return Row(corpus.name, "raw confluent-kafka (ceiling)", corpus.lines, n, seconds, cpu,
               None, _spent(b0, b1))


def table(rows: list[Row], sizes: dict[str, int]) -> str:
    """The Markdown table: per corpus, each run's rate over the applications' lines and
    its ratio to rsyslog's and to the raw producer's in the same run."""
    out = ["| corpus | run | lines/s | MB/s | CPU µs/line | peak RSS MB | seconds | "
           "vs rsyslog | vs raw | broker CPU µs/line | cores busy |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        peers = {r.run.split()[0]: r for r in rows if r.corpus == row.corpus}
        rate = row.lines / row.seconds
        ratios = []
        for peer in ("rsyslog", "raw"):
            other = peers.get(peer)
            ratios.append("—" if other is None else
                          f"{rate / (other.lines / other.seconds):.2f}x")
        peak = "—" if row.peak_mb is None else f"{row.peak_mb:.0f}"
        out.append(f"| {row.corpus} | {row.run} | {rate:,.0f} | "
                   f"{sizes[row.corpus] / row.seconds / 1e6:.1f} | "
                   f"{row.cpu / row.lines * 1e6:.1f} | {peak} | {row.seconds:.2f} | "
                   f"{ratios[0]} | {ratios[1]} | {_broker_cells(row)}")
    return "\n".join(out)


def _broker_cells(row: Row) -> str:
    """The broker's CPU per line and the cores the run and the broker kept busy."""
    if row.broker_cpu is None:
        return "— | — |"
    return (f"{row.broker_cpu / row.lines * 1e6:.1f} | "
            f"{(row.cpu + row.broker_cpu) / row.seconds:.2f} |")


def short(rows: list[Row], corpora: list[Corpus]) -> list[str]:
    """Runs whose count differs from what their corpus should give Kafka: fewer when a
    run stalled; a few more when, under load, the 50 ms multi-line flush sent an
    entry's first line before its continuation was read (the joiner's own rule)."""
    want = {c.name: c for c in corpora}
    notes = []
    for row in rows:
        c = want[row.corpus]
        target = c.records if row.run.startswith("logpipe") else c.messages
        if row.sent != target:
            notes.append(f"{row.corpus} / {row.run}: {row.sent:,} messages in Kafka, "
                         f"expected {target:,}")
    return notes


def build(tmp: Path, chosen: list[str], files: int, lines: int) -> list[Corpus]:
    out: list[Corpus] = []
    if "uniform" in chosen:
        nbytes = make_containers(tmp / "uniform", files, lines)
        n = lines // files * files
        out.append(Corpus("uniform, Docker", "docker", tmp / "uniform", n, n, n, n, n, nbytes))
    if "varied" in chosen or "cri" in chosen:
        varied, cri = build_varied(tmp / "varied", tmp / "cri", files, lines)
        out += [c for c, name in ((varied, "varied"), (cri, "cri")) if name in chosen]
    return out


def many_files_and_latency(tmp: Path, bootstrap: str, rate: int,
                           seconds: float) -> tuple[float, float, float, float, int]:
    """1,000 files tailed: (RSS MB, peak RSS MB, p50 ms, p99 ms, samples)."""
    root = tmp / "many"
    make_containers(root, 1000, 20_000)
    topic = new_topic(bootstrap, f"bench-latency-{uuid.uuid4().hex[:8]}", log_append_time=True)
    consumer = _consumer(bootstrap)
    c = CollectorProc(tmp / "collector-many", root, bootstrap, topic)
    paths = sorted(root.glob("*/*-json.log"))
    latencies: list[float] = []
    try:
        count, _ = wait_count(consumer, topic, 20_000, time.monotonic(), 300)
        if count < 20_000:
            raise TimeoutError(f"only {count} of the 20,000 initial lines reached Kafka")
        consumer.subscribe([topic])
        stop = threading.Event()

        def writer() -> None:
            i = 0
            next_at = time.monotonic()
            while not stop.is_set():
                path = paths[i % len(paths)]
                with open(path, "ab") as fh:
                    fh.write(orjson.dumps({"log": f"latency probe t={time.time_ns()} i={i}\n",
                                           "stream": "stdout", "time": TS}) + b"\n")
                i += 1
                next_at += 1 / rate
                time.sleep(max(0.0, next_at - time.monotonic()))

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        end = time.monotonic() + seconds
        while time.monotonic() < end + 2:
            if time.monotonic() >= end:
                stop.set()
            for msg in consumer.consume(1000, 0.2):
                value = msg.value()
                if msg.error() is not None or value is None or b"latency probe" not in value:
                    continue
                text = orjson.loads(value)["message"]
                written_ms = int(text.split("t=", 1)[1].split(" ", 1)[0]) / 1e6
                latencies.append(msg.timestamp()[1] - written_ms)  # broker append time
        thread.join()
        _, rss, hwm = c.stats()
    finally:
        c.stop()
        consumer.close()
        drop_topic(bootstrap, topic)
    latencies.sort()
    if not latencies:
        raise RuntimeError("no latency probes came back")
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return rss, hwm, p50, p99, len(latencies)


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    bootstrap = os.environ.get("LOGPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    lines = int(os.environ.get("BENCH_COLLECTOR_LINES", "1000000"))
    files = int(os.environ.get("BENCH_COLLECTOR_FILES", "50"))
    chosen = os.environ.get("BENCH_COLLECTOR_CORPORA", ",".join(CORPORA)).split(",")
    rate = int(os.environ.get("BENCH_COLLECTOR_RATE", "2000"))
    seconds = float(os.environ.get("BENCH_COLLECTOR_SECONDS", "10"))
    unknown = set(chosen) - set(CORPORA)
    if unknown:
        raise SystemExit(f"BENCH_COLLECTOR_CORPORA: unknown {sorted(unknown)}; "
                         f"choose from {list(CORPORA)}")
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as name:
        tmp = Path(name)
        corpora = build(tmp, chosen, files, lines)
        print(f"into Kafka at {bootstrap} (acks=all, idempotent, lz4); {_load()}", flush=True)
        if any(c.kind == "cri" or c.name.startswith("varied") for c in corpora):
            entries = load_entries()  # the level corpus grows: say what this run mixed
            multi = sum(1 for es in entries.values() for e in es if len(e) > 1)
            print(f"  varied = {len(entries)} formats of tests/data/levels, "
                  f"{sum(map(len, entries.values())):,} entries, {multi} of them multi-line")
        for c in corpora:
            print(f"  {c.name}: {c.lines:,} lines in {files} files, {c.nbytes / c.lines:.0f} "
                  f"B/line, {c.records:,} records, {c.messages:,} file lines; the apps "
                  f"wrote {c.entries:,} entries, {c.exact / c.entries:.1%} of them are "
                  "exactly one record", flush=True)
        if not rsyslog_available():
            print("rsyslog (rsyslogd + omkafka) not installed (tools/install-rsyslog.sh): "
                  "no rsyslog rows", flush=True)
        rows: list[Row] = []
        for c in corpora:
            ours, root = run_collector(tmp, bootstrap, c)
            rows.append(ours)
            peer = run_rsyslog(tmp, bootstrap, c, root)
            if peer is not None:
                rows.append(peer)
            rows.append(run_raw(bootstrap, c, root))
            print(f"  {c.name} done; {_load()}", flush=True)
        print()
        print(table(rows, {c.name: c.nbytes for c in corpora}))
        for note in short(rows, corpora):
            print(f"DIFFERS: {note}")
        print(f"\nlines/s counts the applications' lines (a joined entry or a line cut in "
              f"pieces counts as its lines); {_load()}")
        if seconds > 0:
            rss, hwm, p50, p99, n = many_files_and_latency(tmp, bootstrap, rate, seconds)
            print(f"\n1,000 files tailed: RSS {rss:.0f} MB (peak {hwm:.0f} MB)")
            print(f"write -> Kafka (broker append time) at {rate} lines/s over 1,000 files: "
                  f"p50 {p50:.0f} ms, p99 {p99:.0f} ms ({n} probes)")


if __name__ == "__main__":
    main()
