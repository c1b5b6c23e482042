"""CPU per line of the collector's read path (parse, join, detect the level, build the
record; no Kafka) on Docker json-file lines: the labelled corpus (every format's
lines, repeated to 2,000, as one container's log: varied, multi-line included) and the
collector bench's uniform shape, with the C fast path and with Python alone.

Part of ``python -m bench levels``. It uses only long-standing collector APIs, so an
older checkout can be timed on the same corpus, in the same conditions:
``cd <checkout> && .venv/bin/python -c "import runpy, sys; sys.argv[1:] = [CORPUS];
runpy.run_path(THIS_FILE, run_name='__main__')"``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from collector import fastpath
from collector.files import TrackedFile
from collector.multiline import MultilineRules
from collector.source import Output, Source

TS = "2026-11-26T07:00:00.123456789Z"
META: dict[str, Any] = {
    "container_id": "c" * 64, "container_name": "web", "image": "web:1",
    "namespace": "default", "pod": None, "pod_uid": None, "app": "web",
    "labels": {}, "attrs": {}}
CHUNK = 256 << 10
ROUNDS = 3
UNIFORM_LINES = 100_000
FORMAT_LINES = 2_000


class CountingOutput(Output):
    """An output that only counts records: the read path's cost without Kafka (also
    bench/collector_hotpath.py's)."""

    def __init__(self, chunk: int = CHUNK, max_record_bytes: int = 1 << 20,
                 idle_tail_ns: int = 0, node: str = "node-1") -> None:
        self.node = node
        self.max_line_bytes = 256 << 10
        self.max_record_bytes = max_record_bytes
        self.read_chunk_bytes = chunk
        self.idle_tail_ns = idle_tail_ns
        self.records = 0

    def produce(self, value: bytes, key: bytes,
                on_delivery: Callable[[Any, Any], None] | None) -> None:
        self.records += 1

    def produce_many(self, values: list[bytes], key: bytes) -> None:
        self.records += len(values)

    def count_read(self, kind: str, lines: int, nbytes: int) -> None:
        pass

    def count_truncated(self) -> None:
        pass

    def count_excluded(self, nbytes: int) -> None:
        pass


def docker_file(texts: list[str]) -> bytes:
    return b"".join(orjson.dumps({"log": t + "\n", "stream": "stdout", "time": TS}) + b"\n"
                    for t in texts)


def _read_all(folder: Path, files: list[bytes]) -> tuple[float, int]:
    """CPU seconds to read every file to its end (one Source each), and the lines."""
    paths = []
    for i, data in enumerate(files):
        path = folder / f"{i}-json.log"
        path.write_bytes(data)
        paths.append(path)
    lines = sum(data.count(b"\n") for data in files)
    start = time.process_time()
    for i, path in enumerate(paths):
        out = CountingOutput()
        src = Source(str(path), "docker", META, MultilineRules(flush_ns=10**12), out)
        fd = os.open(path, os.O_RDONLY)
        try:
            f = TrackedFile(str(path), "docker", fd, 1, 2 + i, "fp", 0, "node-1",
                            lambda *a: None, [0])
            src.current = f
            while src.read(f, 0, at_end=False):
                pass
            src.flush_all()
        finally:
            os.close(fd)
    return time.process_time() - start, lines


def _load(path: Path) -> list[str]:
    rows = []
    for raw in path.read_text(encoding="utf-8").split("\n"):
        if raw and not raw.startswith("#"):
            rows.append(raw.partition("\t")[2])
    return rows


def measure(corpus: Path) -> dict[str, float]:
    """µs of CPU per line: {corpus,uniform} x {C path, Python only}, best of ROUNDS."""
    paths = [*sorted(corpus.glob("*.tsv")), *sorted((corpus / "incoming").glob("*.tsv"))]
    # each format's lines again and again: a stream learns once, then runs long
    varied = [docker_file(_load(p) * (FORMAT_LINES // len(_load(p)) + 1)) for p in paths]
    uniform = [docker_file([f"2026-11-26 07:00:{i % 60:02d}.123 INFO [http-{i % 8}] GET "
                            f"/api/v1/items/{i} 200 user={i % 977} took {i % 50} ms"
                            for i in range(UNIFORM_LINES)])]
    result: dict[str, float] = {}
    real_c = fastpath._c
    with tempfile.TemporaryDirectory(prefix="levels-cpu-") as tmp:
        for name, files in (("corpus", varied), ("uniform", uniform)):
            for path_name, c in (("C", real_c), ("Python", None)):
                fastpath._c = c  # type: ignore[assignment]  # None: Python alone
                best = float("inf")
                for r in range(ROUNDS):
                    folder = Path(tmp) / f"{name}-{path_name}-{r}"
                    folder.mkdir()
                    seconds, lines = _read_all(folder, files)
                    best = min(best, seconds / lines * 1e6)
                result[f"{name} {path_name}"] = best
    fastpath._c = real_c
    return result


def report(corpus: Path) -> None:
    for key, us in measure(corpus).items():
        print(f"  {key:16} {us:6.2f} µs CPU per line (read, join, level, record; no Kafka)")


if __name__ == "__main__":
    report(Path(sys.argv[1]))
