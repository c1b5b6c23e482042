"""The collector's hot path without Kafka, per corpus: CPU µs per line of
``Source.read`` over one file (parse, join, level, id, record; the C scan where it
applies), and with ``--profile`` where that time goes (a second pass under cProfile,
by own time).

    python -m bench.collector_hotpath [--profile]

Environment: BENCH_HOTPATH_LINES (default 100000). It says where the CPU of
``python -m bench collector``'s rows goes before Kafka is involved.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import corpus
from bench.collector_peers import make_containers
from bench.levels_cpu import CountingOutput
from collector.files import Batch, TrackedFile
from collector.multiline import MultilineRules
from collector.source import Source


def _no_failure(err: Any, msg: Any, batch: Batch) -> None:
    raise RuntimeError(err)


def read_file(path: Path, kind: str, profile: bool) -> tuple[float, int]:
    """(CPU seconds, records) of reading ``path`` to its end as one source."""
    meta: dict[str, Any] = {
        "container_id": path.parent.name if kind == "docker" else None,
        "container_name": "app", "image": "app:1", "namespace": "bench", "pod": None,
        "pod_uid": None, "app": "app", "labels": {}, "attrs": {}}
    # the collector's Kafka settings, no Kafka
    out = CountingOutput(chunk=1 << 20, max_record_bytes=900_000,
                         idle_tail_ns=5_000_000_000, node="bench")
    src = Source(str(path), kind, meta, MultilineRules(), out)
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        f = TrackedFile(str(path), kind, fd, st.st_dev, st.st_ino, "fp", 0, "bench",
                        _no_failure, [0])
        src.current = f
        prof = cProfile.Profile() if profile else None
        start = time.process_time()
        if prof is not None:
            prof.enable()
        while src.read(f, time.monotonic_ns(), True):
            pass
        if prof is not None:
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(10)
        return time.process_time() - start, out.records
    finally:
        os.close(fd)


def main(argv: list[str]) -> None:
    lines = int(os.environ.get("BENCH_HOTPATH_LINES", "100000"))
    profile = "--profile" in argv
    with tempfile.TemporaryDirectory(prefix="bench-hotpath-") as name:
        tmp = Path(name)
        make_containers(tmp / "uniform", 1, lines)
        varied, cri = corpus.build_varied(tmp / "varied", tmp / "cri", 1, lines)
        runs = [("uniform, Docker", next((tmp / "uniform").glob("*/*-json.log")), "docker"),
                (varied.name, varied.paths(varied.staging)[0], "docker"),
                (cri.name, cri.paths(cri.staging)[0], "cri")]
        print(f"hot path without Kafka, {lines:,} lines per corpus; load average "
              + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
        for label, path, kind in runs:
            cpu, records = read_file(path, kind, False)
            print(f"{label:16} {cpu / lines * 1e6:6.2f} CPU µs/line ({records:,} records)",
                  flush=True)
        for label, path, kind in runs if profile else []:
            print(f"\n{label}, under cProfile (its overhead included):")
            read_file(path, kind, True)


if __name__ == "__main__":
    main(sys.argv[1:])
