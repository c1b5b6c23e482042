"""Level detection on the labelled corpus of real lines (tests/data/levels/): every
format's file goes through one stream's joiner and detect_level with the stream's
hint, as the collector runs them (Source.feed_line -> StreamJoiner -> Source.emit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.level_detect import detect_level
from tests.collector.level_corpus import formats, incoming, score

OVERALL = 0.995
PER_FORMAT = 0.97


def test_corpus_is_labelled() -> None:
    files = formats()
    assert files, "tests/data/levels/ is empty"
    for path in [*files, *incoming()]:
        lines = path.read_text(encoding="utf-8").split("\n")
        header = lines[:next(i for i, line in enumerate(lines) if not line.startswith("#"))]
        assert header[0].startswith("# format: "), path
        assert any(line.startswith("# source: ") for line in header), path
        assert any(line.startswith("# licence: ") for line in header), path


def test_levels_on_real_lines() -> None:
    """Levels of the entries the joiner emits at an expected entry's start."""
    scores = [score(path, detect_level) for path in formats()]
    right = sum(s.right for s in scores)
    total = sum(s.entries for s in scores)
    bad = {s.name: (s.right / s.entries, [m for m in s.misses if m[1] != "-"][:3])
           for s in scores if s.right / s.entries < PER_FORMAT}
    assert not bad, f"formats below {PER_FORMAT:.0%}: {bad}"
    assert right / total >= OVERALL, f"overall {right / total:.2%} of {total} entries"


@pytest.mark.parametrize("path", formats(), ids=lambda p: p.stem)
def test_entries_joined(path: Path) -> None:
    """Split entries count against the format (the whole-pipeline accuracy)."""
    s = score(path, detect_level)
    assert s.accuracy >= PER_FORMAT, s.misses[:3]
