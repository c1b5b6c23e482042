"""The collector's own CPU per line on varied real lines, Docker and CRI layouts.

The lines are column 2 of tests/data/levels/*.tsv (33 real formats), mixed per file
(runs of 1-20 lines of one format, several formats per file), with some multi-line
stack traces; the CRI layout also splits some lines into ``P`` partial pieces. The
real Agent reads them (discovery, Source, C fast path, levels, joining, ids,
records, checkpoints); only the Kafka producer is replaced by one that acknowledges
at once, so the number is the collector's own CPU, not librdkafka's or the broker's.

    .venv/bin/python tools/collector_cpu.py [--layout docker|cri|both] [--lines N]
        [--files N] [--profile]   (--profile: run under py-spy, print the top frames)
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TRACES = [
    ["Traceback (most recent call last):", '  File "/app/main.py", line 12, in handle',
     "    result = compute(payload)", '  File "/app/calc.py", line 40, in compute',
     "    return 1 / n", "ZeroDivisionError: division by zero"],
    ["2026-11-26 07:00:00.123 ERROR [main] c.e.Api - request failed",
     "java.lang.IllegalStateException: boom", "\tat com.example.Api.handle(Api.java:42)",
     "\tat com.example.Server.run(Server.java:17)", "Caused by: java.io.IOException: reset",
     "\tat java.base/sun.nio.ch.SocketDispatcher.read0(Native Method)", "\t... 12 more"],
    ["panic: runtime error: index out of range [3] with length 3", "",
     "goroutine 1 [running]:", "main.main()", "\t/app/main.go:9 +0x1d", "exit status 2"],
]


def formats() -> list[list[str]]:
    out = []
    for path in sorted((ROOT / "tests/data/levels").glob("*.tsv")):
        lines = [row.split("\t", 1)[1] for row in path.read_text().splitlines()
                 if row and not row.startswith("#") and "\t" in row]
        if lines:
            out.append(lines)
    return out


def corpus_file(rng: random.Random, fmts: list[list[str]], lines: int) -> list[str]:
    """Entries (a trace is one entry of several lines) from a few formats, in runs."""
    mine = rng.sample(fmts, 6)
    out: list[str] = []
    while len(out) < lines:
        if rng.random() < 0.01:
            out.extend(rng.choice(TRACES))
            continue
        fmt = rng.choice(mine)
        start = rng.randrange(len(fmt))
        out.extend(fmt[start:start + rng.randint(1, 20)])
    return out[:lines]


def ts(i: int) -> str:
    # RFC3339Nano as containerd writes it trims trailing zeros: some stamps are short
    frac = f"{(i * 7919) % 10**9:09d}".rstrip("0") if i % 10 == 0 else f"{i % 10**9:09d}"
    return f"2026-11-26T07:{i // 60 % 60:02d}:{i % 60:02d}.{frac or '0'}Z"


def write_docker(root: Path, k: int, texts: list[str]) -> int:
    cid = f"{k:064x}"
    folder = root / cid
    folder.mkdir(parents=True)
    (folder / "config.v2.json").write_bytes(orjson.dumps(
        {"ID": cid, "Name": f"/app-{k}", "Config": {"Image": "app:1", "Labels": {}}}))
    data = b"".join(orjson.dumps({"log": t + "\n", "stream": "stderr" if i % 9 == 0 else
                                  "stdout", "time": ts(i)}) + b"\n"
                    for i, t in enumerate(texts))
    (folder / f"{cid}-json.log").write_bytes(data)
    return len(texts)


def write_cri(root: Path, k: int, texts: list[str], rng: random.Random) -> int:
    folder = root / f"default_app-{k}_{k:08x}-0000-4000-8000-000000000000" / "app"
    folder.mkdir(parents=True)
    rows = []
    for i, t in enumerate(texts):
        stream = "stderr" if i % 9 == 0 else "stdout"
        if len(t) > 40 and rng.random() < 0.03:  # a long line the runtime split
            cut = rng.randrange(10, len(t) - 10)
            rows.append(f"{ts(i)} {stream} P {t[:cut]}")
            t = t[cut:]
        rows.append(f"{ts(i)} {stream} F {t}")
    (folder / "0.log").write_bytes("".join(r + "\n" for r in rows).encode())
    return len(rows)


class NullProducer:
    """confluent_kafka.Producer's surface the collector uses; every record is
    acknowledged at the next poll."""

    def __init__(self, conf: dict[str, Any]) -> None:
        self.reports: list[Any] = []
        self.count = 0

    def produce(self, topic: str, value: bytes, key: bytes | None = None,
                on_delivery: Any = None) -> None:
        self.count += 1
        if on_delivery is not None:
            self.reports.append(on_delivery)

    def poll(self, timeout: float = 0) -> int:
        reports, self.reports = self.reports, []
        for cb in reports:
            cb(None, None)
        return len(reports)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return 0

    def purge(self, **kw: Any) -> None:
        self.reports = []

    def __len__(self) -> int:
        return len(self.reports)


def measure(layout: str, lines: int, files: int, seed: int = 1) -> tuple[float, float, int]:
    """(CPU us per line, seconds, lines) of one Agent reading the corpus."""
    from collector import producer as producer_module
    from collector.agent import Agent
    from collector.settings import CollectorSettings

    setattr(producer_module, "Producer", NullProducer)  # noqa: B010 - a stand-in, on purpose
    rng = random.Random(seed)
    fmts = formats()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / layout
        total = 0
        for k in range(files):
            texts = corpus_file(rng, fmts, lines // files)
            total += write_docker(root, k, texts) if layout == "docker" else \
                write_cri(root, k, texts, rng)
        size = sum(p.stat().st_size for p in root.rglob("*.log"))
        s = CollectorSettings(
            sources=[layout], docker_root=str(root), cri_root=str(root), state_dir=tmp + "/st",
            kafka_bootstrap="127.0.0.1:1", node_name="cpu", pod_metadata=False)
        agent = Agent(s)

        def read() -> int:
            return sum(f.pos for src in list(agent.sources.values()) for f in src.files())

        def watch() -> None:
            while read() < size:
                time.sleep(0.02)
            agent.stop()

        t0, c0 = time.monotonic(), time.process_time()
        threading.Thread(target=watch, daemon=True).start()
        agent.run()
        seconds, cpu = time.monotonic() - t0, time.process_time() - c0
    return cpu / total * 1e6, seconds, total


def summarize(raw: Path, top: int = 25) -> None:
    """The samples of the Agent's read loop: where they were (own frame) and under
    which frames (inclusive), as shares of the loop's samples."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for row in raw.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        frames = stack.split(";")
        at = next((i for i, fr in enumerate(frames) if fr.startswith("Agent.run ")), -1)
        if at < 0:
            continue
        n = int(count)
        total += n
        own[frames[-1]] += n
        for fr in set(frames[at:]):
            incl[fr] += n
    print(f"{total} samples in Agent.run; raw stacks: {raw}")
    for title, counter in (("own", own), ("inclusive", incl)):
        print(f"-- {title}")
        for frame, n in counter.most_common(top):
            print(f"{100 * n / max(total, 1):5.1f}%  {frame[:110]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layout", default="both", choices=["docker", "cri", "both"])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--profile", action="store_true")
    a = ap.parse_args()
    if a.profile:
        out = Path(tempfile.gettempdir()) / f"collector-cpu-{a.layout}.txt"
        spy = Path(sys.executable).with_name("py-spy")
        subprocess.run([str(spy), "record", "--native", "-r", "250", "-f", "raw", "-o", str(out),
                        "--", sys.executable, __file__, "--layout", a.layout, "--lines",
                        str(a.lines), "--files", str(a.files)], check=True)
        summarize(out)
        return
    os.environ.setdefault("LOGPIPE_LOG_LEVEL", "WARNING")
    for layout in (["docker", "cri"] if a.layout == "both" else [a.layout]):
        us, seconds, total = measure(layout, a.lines, a.files)
        print(f"{layout:6s} {total:8,d} lines  {us:5.2f} CPU us/line  {total / seconds:9,.0f}"
              f" lines/s")


if __name__ == "__main__":
    main()
