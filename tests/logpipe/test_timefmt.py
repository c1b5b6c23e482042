"""RFC 3339 timestamps with nanoseconds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logpipe.timefmt import format_ns, normalize_ts, parse_ns


@given(st.integers(min_value=0, max_value=253_402_300_799 * 10**9))
def test_round_trip(ns: int) -> None:
    assert parse_ns(format_ns(ns)) == ns


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026-11-26T07:00:00.123456789Z", "2026-11-26T07:00:00.123456789Z"),
        ("2026-11-26T07:00:00Z", "2026-11-26T07:00:00.000000000Z"),
        ("2026-11-26T07:00:00.5+02:00", "2026-11-26T05:00:00.500000000Z"),
        ("2026-11-26 07:00:00.123-0130", "2026-11-26T08:30:00.123000000Z"),
        ("2026-11-26T07:00:00.1234567891234Z", "2026-11-26T07:00:00.123456789Z"),
    ],
)
def test_normalize(text: str, canonical: str) -> None:
    assert normalize_ts(text) == canonical


@pytest.mark.parametrize("bad", ["", "2026-11-26", "yesterday", "2026-13-01T00:00:00Z"])
def test_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_ns(bad)
