"""Level names and their normalisation from the spellings found in the wild."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    FATAL = "fatal"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Severity order; ``unknown`` ranks lowest so a minimum-level filter drops it."""
        return _RANK[self]


LEVELS: tuple[str, ...] = tuple(lv.value for lv in Level)

_RANK = {
    Level.UNKNOWN: -1,
    Level.TRACE: 0,
    Level.DEBUG: 1,
    Level.INFO: 2,
    Level.WARN: 3,
    Level.ERROR: 4,
    Level.FATAL: 5,
}

# Syslog severities (RFC 5424): 0 emerg .. 7 debug.
_SYSLOG = {
    0: Level.FATAL,
    1: Level.FATAL,
    2: Level.FATAL,
    3: Level.ERROR,
    4: Level.WARN,
    5: Level.INFO,
    6: Level.INFO,
    7: Level.DEBUG,
}

_ALIASES: dict[str, Level] = {}
for _level, _names in {
    # Apache 2.4 "trace1".."trace8" sub-levels
    Level.TRACE: ("trace", "trc", "t", "finest", "finer", "verbose", "v",
                  *(f"trace{n}" for n in range(1, 9))),
    # OpenSSH "debug1".."debug3" (PostgreSQL DEBUG1-5 are cut to DEBUG before this)
    Level.DEBUG: ("debug", "dbg", "d", "fine", "config", "debu", "debug1", "debug2", "debug3"),
    Level.INFO: (
        "info",
        "information",
        "informational",
        "inf",
        "i",
        "notice",
        "ntc",
        "n",
        "log",
        "ok",
        "normal",
        "note",  # MySQL error log [Note]
        "system",  # MySQL 8 error log [System]: start-up and shutdown notes
    ),
    Level.WARN: ("warn", "warning", "wrn", "w", "wn", "warnings"),
    Level.ERROR: ("error", "err", "e", "eror", "erro", "erorr", "severe", "fail", "failure",
                  "exception"),
    Level.FATAL: (
        "fatal",
        "ftl",
        "f",
        "critical",
        "crit",
        "c",
        "crt",
        "alert",
        "emerg",
        "emergency",
        "panic",
        "dpanic",
        "off",
    ),
    Level.UNKNOWN: ("unknown", "", "none", "-"),
}.items():
    for _n in _names:
        _ALIASES[_n] = _level


def normalize_level(value: object) -> Level:
    """Map a level as written by a logger (``WARNING``, ``Err``, ``W``, ``5``) to a Level.

    Integers and digit strings are syslog severities 0-7; anything unrecognised is
    ``unknown`` rather than a guess.
    """
    if isinstance(value, Level):
        return value
    if isinstance(value, bool):
        return Level.UNKNOWN
    if isinstance(value, int):
        return _SYSLOG.get(value, Level.UNKNOWN)
    if not isinstance(value, str):
        return Level.UNKNOWN
    key = value.strip().strip("[]<>():").lower()
    found = _ALIASES.get(key)
    if found is not None:
        return found
    if key.isascii() and key.isdigit():  # "²".isdigit() is True but int() refuses it
        return _SYSLOG.get(int(key), Level.UNKNOWN)
    return Level.UNKNOWN


def spellings() -> dict[str, str]:
    """Every spelling normalize_level knows by name (lowercase, after stripping), with
    its level's name: the C level detector's table (collector.level_detect.c_tables)."""
    return {name: level.value for name, level in _ALIASES.items()}


def otel_severity(number: int) -> Level:
    """An OpenTelemetry ``severity_number`` (1-4 trace ... 21-24 fatal) as a Level."""
    if isinstance(number, bool) or not 1 <= number <= 24:
        return Level.UNKNOWN
    return _OTEL[(number - 1) // 4]


_OTEL = (Level.TRACE, Level.DEBUG, Level.INFO, Level.WARN, Level.ERROR, Level.FATAL)


def bunyan_level(number: int) -> Level:
    """A node-bunyan / pino numeric ``level`` (10 trace, 20 debug ... 60 fatal) as a Level;
    any other number is ``unknown`` (these loggers write only the six)."""
    if isinstance(number, bool) or number % 10 or not 10 <= number <= 60:
        return Level.UNKNOWN
    return _OTEL[number // 10 - 1]


def levels_at_least(minimum: Level | str) -> list[str]:
    """The level names at or above ``minimum`` (for a "level >= warn" filter)."""
    floor = normalize_level(minimum).rank
    return [lv.value for lv in Level if lv is not Level.UNKNOWN and lv.rank >= floor]
