"""The labelled corpus of real log lines in tests/data/levels/ (one file per format,
provenance and licence in each file's header), and its scoring through the
collector's own joiner and level detection, as ``Source.emit`` runs them.

tests/data/levels/incoming/ holds formats gathered but not yet gated (below 97 %,
mostly entries the joiner still splits): scored by ``python -m bench levels``, not by
the test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.level_detect import new_hint
from collector.multiline import MultilineRules, StreamJoiner

CORPUS = Path(__file__).resolve().parents[1] / "data" / "levels"
INCOMING = CORPUS / "incoming"
CONTINUES = "-"  # label of a line that continues the previous entry

Detect = Callable[[str, list[Any]], str]


@dataclass(frozen=True)
class Score:
    name: str
    entries: int  # expected entries
    right: int  # emitted entries starting at an expected entry with its level
    extra: int  # emitted entries that start on a continuation line (a split entry)
    misses: tuple[tuple[str, str, str], ...]  # (first line, expected, got)

    @property
    def accuracy(self) -> float:
        return self.right / (self.entries + self.extra) if self.entries else 1.0


def formats() -> list[Path]:
    """The gated formats (tests/collector/test_level_corpus.py holds them to the bar)."""
    return sorted(CORPUS.glob("*.tsv"))


def incoming() -> list[Path]:
    """The formats gathered but not yet gated."""
    return sorted(INCOMING.glob("*.tsv"))


def load(path: Path) -> list[tuple[str, str]]:
    """(label, line) of every data line of one format file."""
    rows = []
    for raw in path.read_text(encoding="utf-8").split("\n"):
        if not raw or raw.startswith("#"):
            continue
        label, _, line = raw.partition("\t")
        rows.append((label, line))
    return rows


def score(path: Path, detect: Detect) -> Score:
    """Feed one format's lines, in order, to one stream's joiner; each entry it emits
    gets ``detect(text, hint)`` with the stream's hint, as Source.emit does."""
    rows = load(path)
    got: list[tuple[int, str, str]] = []
    hint = new_hint()

    def sink(origin: object, off: int, ts: str | None, stream: str | None, text: str,
             tags: tuple[str, ...]) -> None:
        got.append((off, text, detect(text, hint)))

    joiner = StreamJoiner("stdout", MultilineRules(), sink)
    for off, (_label, line) in enumerate(rows):
        joiner.feed(None, off, None, line, False, (), 0)
    joiner.flush()
    want = {off: label for off, (label, _) in enumerate(rows) if label != CONTINUES}
    right, extra, misses = 0, 0, []
    for off, text, level in got:
        expected = want.get(off)
        if expected is None:
            extra += 1
            misses.append((text.partition("\n")[0], CONTINUES, level))
        elif expected == level:
            right += 1
        else:
            misses.append((text.partition("\n")[0], expected, level))
    return Score(path.stem, len(want), right, extra, tuple(misses))
