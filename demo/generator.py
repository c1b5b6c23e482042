"""The demo's main loop: pick a workload, let it log, write it in its runtime's format.

Time is virtual: entry times advance by exponential gaps (a Poisson stream at
``rate`` entries per second) from ``start_ns``. In real-time mode the loop sleeps
until the wall clock catches up, so a collector sees a live trickle; in fast mode
it writes as fast as it can. With the same seed, start and options the output is
byte-for-byte the same.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from demo import catalog, formats
from demo.fleet import Source, build_fleet, docker_config, docker_hostconfig
from demo.sinks import RotatingFile, Style

MANIFEST = "demo-manifest.json"
# A flush before each sleep keeps lines visible to a tailer within this much.
_MIN_SLEEP_S = 0.02


@dataclass(frozen=True)
class DemoOptions:
    out: Path
    rate: float = 200.0  # log statements per second, whole node
    duration: float = 60.0  # virtual seconds of logs; 0 = until stopped
    rotate_bytes: int = 10 * 1024 * 1024  # 0 = never rotate
    keep: int = 3  # files per stream incl. the live one (Docker's max-file)
    seed: int = 1
    start_ns: int | None = None  # time of the first entry; default now
    realtime: bool = True
    long_every: int = 500  # about one long (>16 KiB) line per this many entries; 0 = none
    host_name: str = "demo-node-1"

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be > 0 entries per second")
        if self.duration < 0:
            raise ValueError("duration must be >= 0 seconds (0 runs until stopped)")
        if self.duration == 0 and not self.realtime:
            raise ValueError("fast mode needs a duration: it would fill the disk")
        if self.rotate_bytes < 0 or self.long_every < 0:
            raise ValueError("rotate_bytes and long_every must be >= 0")


@dataclass
class DemoStats:
    entries: int = 0  # log statements
    lines: int = 0  # physical lines (a stack trace is many)
    long_lines: int = 0
    bytes: int = 0
    rotations: int = 0
    per_kind: dict[str, int] = field(default_factory=dict)


class Generator:
    def __init__(self, opts: DemoOptions) -> None:
        self.opts = opts
        self.out = opts.out.resolve()
        self.fleet = build_fleet(opts.seed)
        self.start_ns = opts.start_ns if opts.start_ns is not None else time.time_ns()
        self._rng = random.Random(f"entries-{opts.seed}")
        self._weights = [s.weight for s in self.fleet]
        self._sinks: dict[int, RotatingFile] = {}
        self._last_ns: dict[int, int] = {}
        self.stats = DemoStats()

    def prepare(self) -> None:
        """Create the node's folders, Docker's container configs and the manifest."""
        self.out.mkdir(parents=True, exist_ok=True)
        for i, src in enumerate(self.fleet):
            path = self.out / src.rel_path
            self._sinks[i] = RotatingFile(path, _style(src), self.opts.rotate_bytes,
                                          self.opts.keep)
            if src.container_id and src.kind != "cri":
                _write_json(path.parent / "config.v2.json",
                            docker_config(src, path, self.start_ns))
                _write_json(path.parent / "hostconfig.json",
                            docker_hostconfig(self.opts.rotate_bytes, self.opts.keep))
        _write_json(self.out / MANIFEST, {
            "seed": self.opts.seed, "node": self.opts.host_name,
            "docker_root": str(self.out / "docker" / "containers"),
            "pods_root": str(self.out / "pods"), "host_root": str(self.out / "log"),
            "sources": [s.manifest() for s in self.fleet]})

    def run(self, stop: threading.Event | None = None) -> DemoStats:
        self.prepare()
        stop = stop or threading.Event()
        duration_ns = int(self.opts.duration * 1e9)
        wall0 = time.monotonic()
        t_ns = 0
        try:
            while not duration_ns or t_ns < duration_ns:
                t_ns += max(1, int(self._rng.expovariate(self.opts.rate) * 1e9))
                if self.opts.realtime:
                    ahead = t_ns / 1e9 - (time.monotonic() - wall0)
                    if ahead > _MIN_SLEEP_S:
                        self.flush()
                        if stop.wait(ahead):
                            break
                elif stop.is_set():
                    break
                self._entry(self.start_ns + t_ns)
        finally:
            self.close()
        self.stats.rotations = sum(s.rotations for s in self._sinks.values())
        return self.stats

    def _entry(self, ts_ns: int) -> None:
        i = self._rng.choices(range(len(self.fleet)), self._weights)[0]
        src = self.fleet[i]
        # Entries of one stream never go back in time, even after a long stack trace.
        ts_ns = max(ts_ns, self._last_ns.get(i, 0) + 1000)
        n = self.stats.entries
        self.stats.entries += 1
        self.stats.per_kind[src.kind] = self.stats.per_kind.get(src.kind, 0) + 1
        if src.kind == "host":
            program, pid, msg = catalog.syslog_message(self._rng)
            data = formats.syslog_line(ts_ns, self.opts.host_name, program, pid, msg)
            self._write(i, data, ts_ns)
            self.stats.lines += 1
            return
        every = self.opts.long_every
        # The first long line comes early so even a short run has one to reassemble.
        first = every and not self.stats.long_lines and n >= min(25, every)
        if first or (every and self._rng.random() < 1 / every):
            lines = [catalog.long_line(self._rng, ts_ns, src.app)]
            self.stats.long_lines += 1
        else:
            lines = catalog.PROFILES[src.profile](self._rng, ts_ns, src.app)
        encode = formats.cri_lines if src.kind == "cri" else formats.docker_json_lines
        # One write per statement: a stack trace lands in the file as one unit.
        chunk = b"".join(encode(line.text, line.stream, ts_ns + j * 1000)
                         for j, line in enumerate(lines))
        self._write(i, chunk, ts_ns + (len(lines) - 1) * 1000)
        self.stats.lines += len(lines)

    def _write(self, i: int, data: bytes, last_ns: int) -> None:
        self._sinks[i].write(data, last_ns)
        self._last_ns[i] = last_ns
        self.stats.bytes += len(data)

    def flush(self) -> None:
        for sink in self._sinks.values():
            sink.flush()

    def close(self) -> None:
        for sink in self._sinks.values():
            sink.flush()
            sink.close()


def _style(src: Source) -> Style:
    # Host files are rotated by logrotate on a schedule, not by size: left alone here.
    if src.kind == "cri":
        return "kubelet"
    return "none" if src.kind == "host" else "docker"


def _write_json(path: Path, doc: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)  # atomic, so a collector never reads half a config
