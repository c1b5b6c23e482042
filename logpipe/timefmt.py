"""RFC 3339 timestamps kept as strings with nanosecond precision.

Python's datetime stops at microseconds while Docker and CRI write nanoseconds, so
the record carries the text and these helpers convert through integer epoch ns.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?"
    r"(Z|z|[+-]\d{2}:?\d{2})$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The range a record's time may take (datetime's): 0001-01-01 .. 9999-12-31, UTC.
_MIN_S = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
_MAX_S = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - _EPOCH) // timedelta(seconds=1)
# The record's own canonical form; checking it needs no date arithmetic.
_CANONICAL = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"\.\d{9}Z"
)


def is_rfc3339(text: str) -> bool:
    """True when ``text`` is an RFC 3339 timestamp (fast for the canonical form)."""
    if _CANONICAL.fullmatch(text):
        return True
    try:
        parse_ns(text)
    except ValueError:
        return False
    return True


def format_ns(epoch_ns: int) -> str:
    """Epoch nanoseconds -> ``2026-11-26T07:00:00.123456789Z`` (years 1 to 9999;
    ValueError outside them)."""
    secs, frac = divmod(epoch_ns, 1_000_000_000)
    if not _MIN_S <= secs <= _MAX_S:
        raise ValueError(f"epoch {epoch_ns} ns is outside the years 1 to 9999")
    t = time.gmtime(secs)
    # Not strftime: glibc's %Y writes year 1 as "1", which is not RFC 3339.
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
            f"{t.tm_sec:02d}.{frac:09d}Z")


def now_ts() -> str:
    return format_ns(time.time_ns())


def parse_ns(text: str) -> int:
    """RFC 3339 (any fraction length, any offset) -> epoch nanoseconds (UTC).

    Raises ValueError with the offending text when it is not RFC 3339, or when its
    UTC time falls outside the years 1 to 9999 (``0001-01-01T00:30:00+01:00``).
    """
    m = _RFC3339.match(text.strip())
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, sec, frac, zone = m.groups()
    dt = datetime(int(year), int(month), int(day), int(hour), int(minute), int(sec), tzinfo=UTC)
    # The offset is applied to the epoch seconds, not to the datetime: shifting a
    # datetime past year 1 or 9999 raises OverflowError, which no caller expects.
    whole = (dt - _EPOCH) // timedelta(seconds=1)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        whole -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    if not _MIN_S <= whole <= _MAX_S:
        raise ValueError(f"outside the years 1 to 9999 in UTC: {text!r}")
    nanos = int((frac or "0").ljust(9, "0"))
    return whole * 1_000_000_000 + nanos


def normalize_ts(text: str) -> str:
    """Any RFC 3339 text -> the record's canonical UTC form with 9 fraction digits."""
    if len(text) == 30 and text[-1] == "Z" and text[19] == ".":
        return text  # already canonical: the common Docker/CRI case, skip parsing
    return format_ns(parse_ns(text))
