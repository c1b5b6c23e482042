"""Learned level fields (collector.level_field) through detect_level and a stream hint:
a level token at a fixed field that the general detection leaves ``unknown``."""

from __future__ import annotations

from collector.level_detect import detect_level, new_hint
from collector.level_field import LEARN_RUN, UNLEARN_RUN, LevelField


def _run(lines: list[str]) -> tuple[list[str], LevelField]:
    hint = new_hint()
    return [detect_level(line, hint) for line in lines], hint[2]


def test_a_single_letter_field_is_learned() -> None:
    lines = [f"2026-01-01 12:00:{i:02d} [main] {'IWED'[i % 4]} Foo started {i}"
             for i in range(LEARN_RUN + 4)]
    got, learned = _run(lines)
    assert got[:LEARN_RUN] == ["unknown"] * LEARN_RUN  # never a guess before it is learned
    assert got[LEARN_RUN:] == ["info", "warn", "error", "debug"]
    assert learned.field == 3


def test_a_title_case_word_after_prose_is_learned() -> None:
    lines = [f"Jan 01 10:00:0{i % 10} host app[12]: {'Info' if i % 2 else 'Warning'}: x"
             for i in range(LEARN_RUN + 2)]
    got, _ = _run(lines)
    assert got[LEARN_RUN:] == ["warn", "info"]


def test_prose_never_learns_a_letter() -> None:
    got, learned = _run([f"I think so {i}" for i in range(3 * LEARN_RUN)])
    assert set(got) == {"unknown"} and learned.field == -1
    got, learned = _run([f"12:00:0{i % 10} we said I was {i}" for i in range(3 * LEARN_RUN)])
    assert set(got) == {"unknown"} and learned.field == -1


def test_a_found_level_is_never_overridden_and_breaks_the_run() -> None:
    lines = [f"2026-01-01 12:00:00 {'ERROR' if i % 4 == 3 else 'x'} I msg {i}"
             for i in range(3 * LEARN_RUN)]
    got, learned = _run(lines)
    assert learned.field == -1
    assert all(g == "error" for g, line in zip(got, lines, strict=True) if "ERROR" in line)


def test_unlearned_when_the_layout_changes() -> None:
    lines = [f"2026-01-01 12:00:00 W msg {i}" for i in range(LEARN_RUN)]
    lines += [f"plain message number {i}" for i in range(UNLEARN_RUN)]
    got, learned = _run(lines)
    assert learned.field == -1 and got[-UNLEARN_RUN:] == ["unknown"] * UNLEARN_RUN
