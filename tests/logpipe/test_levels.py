"""Level names and their normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logpipe.levels import LEVELS, Level, levels_at_least, normalize_level


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("WARNING", Level.WARN),
        ("warn", Level.WARN),
        ("W", Level.WARN),
        ("[WARN]", Level.WARN),
        ("Err", Level.ERROR),
        ("ERROR", Level.ERROR),
        ("e", Level.ERROR),
        ("SEVERE", Level.ERROR),
        ("CRITICAL", Level.FATAL),
        ("fatal", Level.FATAL),
        ("panic", Level.FATAL),
        ("emerg", Level.FATAL),
        ("alert", Level.FATAL),
        ("notice", Level.INFO),
        ("INFO", Level.INFO),
        ("Information", Level.INFO),
        ("debug", Level.DEBUG),
        ("DBG", Level.DEBUG),
        ("trace", Level.TRACE),
        ("finest", Level.TRACE),
        (" info ", Level.INFO),
        (0, Level.FATAL),
        (1, Level.FATAL),
        (2, Level.FATAL),
        (3, Level.ERROR),
        (4, Level.WARN),
        (5, Level.INFO),
        (6, Level.INFO),
        (7, Level.DEBUG),
        ("3", Level.ERROR),
        ("loud", Level.UNKNOWN),
        (42, Level.UNKNOWN),
        (None, Level.UNKNOWN),
        (True, Level.UNKNOWN),
        (3.0, Level.UNKNOWN),
        ("", Level.UNKNOWN),
    ],
)
def test_normalize(raw: object, level: Level) -> None:
    assert normalize_level(raw) is level


@given(st.one_of(st.text(), st.integers(), st.none(), st.floats()))
def test_normalize_is_total(raw: object) -> None:
    assert normalize_level(raw).value in LEVELS


def test_levels_at_least() -> None:
    assert levels_at_least("warn") == ["warn", "error", "fatal"]
    assert levels_at_least("WARNING") == ["warn", "error", "fatal"]
    assert levels_at_least(Level.TRACE)[0] == "trace"
    assert "unknown" not in levels_at_least("trace")


def test_order() -> None:
    assert Level.TRACE.rank < Level.DEBUG.rank < Level.INFO.rank < Level.WARN.rank
    assert Level.WARN.rank < Level.ERROR.rank < Level.FATAL.rank
