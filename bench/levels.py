"""Level detection on the labelled corpus (tests/data/levels/): per-format accuracy of
the gated formats and of the incoming ones (tests/data/levels/incoming/, not yet
gated: the gap stays visible), and the detector's CPU per entry, before
(collector/level_detect.py at BASE, loaded from a temporary copy) and after (the
working tree), in the same run.

Then the CPU per line of the whole read path (bench/levels_cpu.py: parse, join, detect,
build the record; no Kafka) on the corpus as Docker lines and on the collector bench's
uniform lines, with the C fast path and with Python alone.

Run: ``python -m bench levels``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from bench import levels_cpu
from collector import level_detect
from tests.collector.level_corpus import CORPUS, Detect, formats, incoming, load, score

# The detector before issue 13 (the commit this work started from).
BASE = "336943e"
ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 20


def _base_module() -> ModuleType:
    source = subprocess.run(["git", "show", f"{BASE}:collector/level_detect.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="levels-base-"))
    path = folder / "level_detect_base.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("level_detect_base", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _cpu_us(detect: Detect, texts: list[list[str]], hint: Callable[[], list[Any]]) -> float:
    """CPU µs per entry: each format's first lines as one stream (its own hint)."""
    n = sum(len(t) for t in texts) * ROUNDS
    start = time.process_time()
    for _ in range(ROUNDS):
        for stream in texts:
            h = hint()
            for text in stream:
                detect(text, h)
    return (time.process_time() - start) / n * 1e6


def _table(title: str, paths: list[Path], before: Detect, after: Detect) -> None:
    print(f"{title:28} {'entries':>7} {'before':>8} {'after':>8}")
    totals = [0, 0, 0]
    for path in paths:
        b, a = score(path, before), score(path, after)
        totals[0] += a.entries + a.extra
        totals[1] += b.right
        totals[2] += a.right
        print(f"  {path.stem:26} {a.entries:7d} {b.accuracy:8.1%} {a.accuracy:8.1%}")
    n = totals[0] or 1
    print(f"  {'overall':26} {totals[0]:7d} {totals[1] / n:8.1%} {totals[2] / n:8.1%}")


def _markdown(before: Detect, after: Detect) -> None:
    """The README's accuracy table, gated formats then incoming ones."""
    print("| format | entries | before | after |\n| --- | --- | --- | --- |")
    lines = entries = right = right_before = 0
    rows: list[str] = []
    for path in formats():
        b, a = score(path, before), score(path, after)
        lines += len(load(path))
        entries += a.entries + a.extra
        right += a.right
        right_before += b.right
        print(f"| {path.stem} | {a.entries:,} | {b.accuracy:.1%} | {a.accuracy:.1%} |"
              .replace("%", " %"))
    for path in incoming():
        b, a = score(path, before), score(path, after)
        split = f" ({a.extra} lines split off)" if a.extra else ""
        rows.append(f"| *incoming:* {path.stem} | {a.entries:,} | {b.accuracy:.1%} | "
                    f"{a.accuracy:.1%}{split} |".replace("%", " %"))
    print(f"| **overall, gated ({len(formats())} formats)** | {entries:,} | "
          f"{right_before / (entries or 1):.1%} | {right / (entries or 1):.2%} |"
          .replace("%", " %"))
    print("\n".join(rows))
    print(f"\n{lines:,} labelled lines in the gated formats")


def main() -> None:
    base = _base_module()
    before: Detect = base.detect_level
    after: Detect = level_detect.detect_level
    _table("gated (tests/data/levels)", formats(), before, after)
    _table("incoming (not yet gated)", incoming(), before, after)
    print("\nAs Markdown (README, Levels):")
    _markdown(before, after)
    texts = [[line for label, line in load(path) if label != "-"]
             for path in [*formats(), *incoming()]]
    print(f"CPU per entry: before {_cpu_us(before, texts, lambda: [-1]):.2f} µs, "
          f"after {_cpu_us(after, texts, level_detect.new_hint):.2f} µs "
          f"(Python detector, {ROUNDS} rounds)")
    print("Read path (parse, join, detect, record) on Docker lines, this tree:")
    levels_cpu.report(CORPUS)


if __name__ == "__main__":
    main()
