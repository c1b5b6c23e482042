"""Where the collector's main thread goes on the bench's varied corpus, Kafka included:
the real collector process (``python -m collector``, as ``python -m bench collector``
starts it) reads the corpus into the running Kafka under py-spy (native frames, so the
C scan and librdkafka's calls from Python show), and the samples of its main thread are
summed by the step of the read path they fall in and by own frame.

    python -m bench.collector_profile [docker|cri] [LINES]   (default: docker 400000)

py-spy slows the process several times: read the shares, not the rate it prints. The
main thread is the one that bounds lines/s (librdkafka's threads are not sampled;
their CPU per line, from /proc, is printed by thread name).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from bench import corpus
from bench.collector import _consumer, wait_count
from bench.collector_peers import CollectorProc, drop_topic, new_topic

BOOTSTRAP = os.environ.get("LOGPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
# The read path's steps: the first of these on a sample's stack names it.
STEPS = ("scan", "Source.feed_line", "Source.produce_records", "container_lines",
         "Source.read", "Agent._loop")


def record(kind: str, lines: int, out: Path) -> None:
    """Run the collector on the varied corpus under py-spy, raw samples into ``out``."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as name:
        tmp = Path(name)
        docker, cri = corpus.build_varied(tmp / "docker", tmp / "cri", 50, lines)
        chosen = docker if kind == "docker" else cri
        root = tmp / "root"
        root.mkdir()
        topic = new_topic(BOOTSTRAP, f"bench-profile-{uuid.uuid4().hex[:8]}")
        consumer = _consumer(BOOTSTRAP)
        proc = CollectorProc(tmp / "collector", root, BOOTSTRAP, topic, kind=chosen.kind)
        spy = subprocess.Popen(
            [str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
             str(proc.proc.pid), "--native", "--threads", "--rate", "400", "--format", "raw",
             "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.5)  # py-spy attached
            threads0, t0 = thread_times(proc.proc.pid), time.monotonic()
            for d in sorted(chosen.staging.iterdir()):
                os.rename(d, root / d.name)
            count, seconds = wait_count(consumer, topic, chosen.records, t0)
            print(f"{chosen.name}: {count:,} records in {seconds:.1f} s under py-spy")
            print(thread_cpu(threads0, thread_times(proc.proc.pid), lines))
        finally:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
            proc.stop()
            consumer.close()
            drop_topic(BOOTSTRAP, topic)


def thread_times(pid: int) -> dict[str, float]:
    """CPU seconds of a process by thread name, from /proc (librdkafka's threads are
    ``rdk:*``, its broker threads summed; the main thread has the process's name)."""
    per: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        group = "rdk:broker" if name.startswith("rdk:broker") else name
        spent = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime+stime
        per[group] = per.get(group, 0.0) + spent
    return per


def thread_cpu(before: dict[str, float], after: dict[str, float], lines: int) -> str:
    """CPU per line by thread between two ``thread_times``: what py-spy, sampling
    Python threads only, does not show. py-spy slows the main thread: compare the
    rdk shares with an unprofiled run, not these."""
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    cells = ", ".join(f"{name} {seconds / lines * 1e6:.2f}"
                      for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1])
                      if seconds > 0)
    return f"CPU µs per line by thread: {cells}"


def summarize(path: Path, top: int = 20) -> None:
    steps: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if "MainThread" not in stack.split(";", 1)[0]:
            continue
        frames = [f.split(" (")[0] for f in stack.split(";")]
        total += int(n)
        steps[next((s for s in STEPS if s in frames), "other")] += int(n)
        leaf = stack.rsplit(";", 1)[-1]
        own[leaf.rsplit(":", 1)[0] + ")" if ":" in leaf else leaf] += int(n)  # name (file)
    print(f"main thread, {total:,} samples, by step of the read path:")
    for step in (*STEPS, "other"):
        print(f"  {100 * steps[step] / max(total, 1):5.1f}%  {step}")
    print("own frames:")
    for frame, samples in own.most_common(top):
        print(f"  {100 * samples / max(total, 1):5.1f}%  {frame[:100]}")


def main(argv: list[str]) -> None:
    kind = argv[0] if argv else "docker"
    if kind not in ("docker", "cri"):
        raise SystemExit("usage: python -m bench.collector_profile [docker|cri] [LINES]")
    lines = int(argv[1]) if len(argv) > 1 else 400_000
    out = Path(tempfile.gettempdir()) / f"collector-profile-{kind}.txt"
    record(kind, lines, out)
    summarize(out)


if __name__ == "__main__":
    main(sys.argv[1:])
