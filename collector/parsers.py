"""Line parsers for the three source formats: Docker json-file, CRI, plain host text.

Each parser takes one line's bytes (without the newline) and returns a ``Piece``.
Parsers never raise: input they cannot understand is kept as text and tagged, as
the record contract demands ("bad input is kept, flagged and explained").
"""

from __future__ import annotations

import codecs
import re
import time
from typing import NamedTuple

import orjson

from logpipe.record import TAG_INVALID_UTF8, TAG_NUL_BYTES, TAG_PARSE_ERROR
from logpipe.timefmt import format_ns, normalize_ts, parse_ns

NO_TAGS: tuple[str, ...] = ()
_new = tuple.__new__


class Piece(NamedTuple):  # built with _piece(): NamedTuple's __new__ costs 0.5 us
    """One parsed line: maybe a partial piece of a longer entry."""

    ts: str | None  # canonical RFC 3339 UTC, None when the line carries no time
    stream: str | None
    text: str  # the payload, without its trailing newline
    partial: bool  # True: more pieces of the same entry follow (Docker 16 KiB / CRI "P")
    tags: tuple[str, ...]


def _json_escape_errors(exc: UnicodeError) -> tuple[str, int]:
    """Like backslashreplace, but the backslash itself escaped for a JSON string."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(f"\\\\x{b:02x}" for b in bad), exc.end


codecs.register_error("logpipe-json-backslash", _json_escape_errors)


def _piece(ts: str | None, stream: str | None, text: str, partial: bool,
           tags: tuple[str, ...]) -> Piece:
    return _new(Piece, (ts, stream, text, partial, tags))


def decode_text(raw: bytes) -> tuple[str, tuple[str, ...]]:
    """Bytes -> text; invalid UTF-8 stays visible as ``\\xff`` escapes and is tagged."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
        tags: tuple[str, ...] = (TAG_PARSE_ERROR, TAG_INVALID_UTF8)
        if "\x00" in text:
            tags += (TAG_NUL_BYTES,)
        return text, tags
    if "\x00" in text:
        return text, (TAG_PARSE_ERROR, TAG_NUL_BYTES)
    return text, NO_TAGS


def _safe_ts(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normalize_ts(value)
    except ValueError:
        return None


def parse_docker(raw: bytes) -> Piece:
    """``{"log":"text\\n","stream":"stdout","time":"..."}``; no ``\\n`` means partial."""
    try:
        obj = orjson.loads(raw)
        log = obj["log"]
        if not isinstance(log, str):
            raise TypeError("log is not a string")
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return _docker_fallback(raw)
    ts = obj.get("time")
    ts = ts if isinstance(ts, str) and len(ts) == 30 and ts[-1] == "Z" else _safe_ts(ts)
    stream = obj.get("stream")
    if not isinstance(stream, str):
        stream = None
    tags = (TAG_PARSE_ERROR, TAG_NUL_BYTES) if "\x00" in log else NO_TAGS
    if log.endswith("\n"):  # the hot path: built inline, no extra call
        return _new(Piece, (ts, stream, log[:-1], False, tags))
    return _new(Piece, (ts, stream, log, True, tags))


def _docker_fallback(raw: bytes) -> Piece:
    """Not a Docker entry: maybe only its bytes are bad UTF-8; else keep the raw line."""
    text, tags = decode_text(raw)
    if TAG_INVALID_UTF8 in tags:
        try:
            # Escaped for JSON, the bad bytes read back as the same "\\xff" text.
            obj = orjson.loads(raw.decode("utf-8", "logpipe-json-backslash"))
            log = obj["log"]
            if isinstance(log, str):
                stream = obj.get("stream") if isinstance(obj.get("stream"), str) else None
                if log.endswith("\n"):
                    return _piece(_safe_ts(obj.get("time")), stream, log[:-1], False, tags)
                return _piece(_safe_ts(obj.get("time")), stream, log, True, tags)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            pass
    if TAG_PARSE_ERROR not in tags:
        tags = (TAG_PARSE_ERROR, *tags)
    return _piece(None, None, text, False, tags)


def parse_cri(raw: bytes) -> Piece:
    """``<RFC3339Nano> <stdout|stderr> <P|F> <text>``; ``P`` means more pieces follow."""
    text, tags = decode_text(raw)
    parts = text.split(" ", 3)
    if len(parts) >= 3 and parts[2] in ("P", "F") and parts[1] in ("stdout", "stderr"):
        ts = _safe_ts(parts[0])
        if ts is not None:
            return _piece(ts, parts[1], parts[3] if len(parts) == 4 else "", parts[2] == "P",
                         tags)
    if TAG_PARSE_ERROR not in tags:
        tags = (TAG_PARSE_ERROR, *tags)
    return _piece(None, None, text, False, tags)


# RFC 3164: "Nov 26 07:00:00 host prog[1]: msg"; RFC 5424-ish / rsyslog high precision:
# "2026-11-26T07:00:00.123456+00:00 host ...". An optional "<PRI>" comes first.
_PRI = re.compile(r"<(\d{1,3})>")
_BSD = re.compile(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) "
                  r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?\b")
_ISO = re.compile(r"(?:1 )?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?"
                  r"(?:Z|[+-]\d\d:?\d\d))")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def syslog_ts(text: str, now_ns: int | None = None) -> str | None:
    """The timestamp at the start of a syslog line, or None.

    BSD stamps carry no year or zone: the year is the one that puts the stamp no
    more than a day in the future, and the zone is taken as UTC (node clocks in
    clusters are UTC; documented as a limitation).
    """
    pos = 0
    m = _PRI.match(text)
    if m is not None:
        pos = m.end()
    iso = _ISO.match(text, pos)
    if iso is not None:
        try:
            return format_ns(parse_ns(iso.group(1).replace(" ", "T", 1)))
        except ValueError:
            return None
    bsd = _BSD.match(text, pos)
    if bsd is None:
        return None
    mon, day, hh, mm, ss, frac = bsd.groups()
    now_ns = time.time_ns() if now_ns is None else now_ns
    year = time.gmtime(now_ns // 1_000_000_000).tm_year
    stamp = f"-{_MONTHS[mon]:02d}-{int(day):02d}T{hh}:{mm}:{ss}.{(frac or '0').ljust(9, '0')}Z"
    try:
        ns = parse_ns(f"{year}{stamp}")
        if ns > now_ns + 86_400 * 1_000_000_000:  # "Dec 31" read on Jan 1: last year
            ns = parse_ns(f"{year - 1}{stamp}")
    except ValueError:  # "Feb 29" in a year without one
        return None
    return format_ns(ns)


def parse_host(raw: bytes) -> Piece:
    """A plain text line; the syslog timestamp is taken when there is one."""
    text, tags = decode_text(raw)
    if text.endswith("\r"):
        text = text[:-1]
    ts = syslog_ts(text) if text[:1].isalnum() or text[:1] == "<" else None
    return _piece(ts, None, text, False, tags)
