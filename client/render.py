"""Turning entries into terminal lines: text (prefix, level, message), raw (the message
as written, like ``kubectl logs``) or json (one entry a line), with ANSI colours by
level and by pod when the output is a terminal, and --grep matches highlighted.

In text, a JSON or logfmt line (an entry with parsed ``fields``) is shown as its human
message followed by its other fields as compact ``key=value`` pairs."""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TextIO

import orjson

OutputFormat = Literal["text", "json", "raw"]
ColourMode = Literal["auto", "always", "never"]

RESET = "\x1b[0m"
LEVEL_SGR = {
    "trace": "2",  # dim
    "debug": "34",  # blue
    "info": "32",  # green
    "warn": "33",  # yellow
    "error": "31",  # red
    "fatal": "1;37;41",  # bold white on red
    "unknown": "2",
}
# Bright, readable on dark and light backgrounds; a pod keeps its colour across runs
# because the choice is a hash of the name, not an order of appearance.
POD_SGR = ("36", "35", "32", "33", "34", "96", "95", "92", "93", "94")
MATCH_SGR = "1;4"  # bold underline: visible over any level colour
LEVEL_WIDTH = 5
FIELD_SGR = "2"  # dim: the fields stay readable but behind the message
# Keys the text line already shows (the level column, --timestamps) or that say nothing.
SHOWN_KEYS = frozenset({"level", "lvl", "severity", "loglevel", "levelname", "log.level",
                        "time", "ts", "timestamp", "@timestamp", "@version"})
_BARE = re.compile(r"[^\s\"=]+")


def compact_fields(fields: Mapping[str, Any], msg: str | None) -> str:
    """``key=value`` pairs (logfmt quoting), without the message's own key and the keys
    the line shows elsewhere."""
    parts = []
    skipped_msg = False
    for key, value in fields.items():
        text = str(value)
        if key in SHOWN_KEYS or (not skipped_msg and msg is not None and text == msg):
            skipped_msg = skipped_msg or text == msg
            continue
        parts.append(f"{key}={text if _BARE.fullmatch(text) else orjson.dumps(text).decode()}")
    return " ".join(parts)


def want_colour(mode: ColourMode, stream: TextIO) -> bool:
    """Colour on a terminal only; NO_COLOR (no-color.org) turns it off in auto mode."""
    if mode != "auto":
        return mode == "always"
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def pod_colour(name: str) -> str:
    return POD_SGR[zlib.crc32(name.encode()) % len(POD_SGR)]


def highlighter(patterns: Sequence[str]) -> re.Pattern[str] | None:
    """Python's re for highlighting the server's RE2 matches; most RE2 syntax is valid
    here, and a pattern that is not just goes unhighlighted."""
    good = []
    for p in patterns:
        try:
            re.compile(p)
            good.append(f"(?:{p})")
        except re.error:
            continue
    return re.compile("|".join(good)) if good else None


def _sgr(code: str, text: str) -> str:
    return f"\x1b[{code}m{text}{RESET}"


class Renderer:
    def __init__(self, fmt: OutputFormat = "text", *, timestamps: bool = False,
                 colour: bool = False, prefix: bool = True,
                 highlight: re.Pattern[str] | None = None) -> None:
        self.fmt = fmt
        self.timestamps = timestamps
        self.colour = colour
        self.prefix = prefix
        self.highlight = highlight

    def line(self, entry: Mapping[str, Any]) -> str:
        """One entry as one output line (without the newline)."""
        if self.fmt == "json":
            return orjson.dumps(entry).decode()
        parts: list[str] = []
        if self.timestamps:
            parts.append(str(entry.get("ts", "")))
        level = str(entry.get("level") or "unknown")
        if self.fmt == "text":
            if self.prefix:
                parts.append(self._prefix(entry))
            word = "-" if level == "unknown" else level.upper()
            word = word.ljust(LEVEL_WIDTH)
            parts.append(_sgr(LEVEL_SGR.get(level, "0"), word) if self.colour else word)
        fields = entry.get("fields")
        if self.fmt == "text" and fields:
            msg = entry.get("msg")
            if msg:
                parts.append(self._message(str(msg)))
            pairs = compact_fields(fields, msg)
            if pairs:
                parts.append(_sgr(FIELD_SGR, pairs) if self.colour else pairs)
            return " ".join(parts)
        parts.append(self._message(str(entry.get("message", ""))))
        return " ".join(parts)

    def _prefix(self, entry: Mapping[str, Any]) -> str:
        pod = entry.get("pod") or entry.get("container_name") or entry.get("app") or "-"
        text = f"[{entry.get('namespace') or '-'}/{pod}/{entry.get('container_name') or '-'}]"
        return _sgr(pod_colour(str(pod)), text) if self.colour else text

    def _message(self, message: str) -> str:
        if not self.colour or self.highlight is None:
            return message
        return self.highlight.sub(lambda m: _sgr(MATCH_SGR, m.group(0)), message)

    def notice(self, text: str) -> str:
        """A note about the stream itself (missed entries, reconnects), for stderr."""
        line = f"logpipe: {text}"
        return _sgr("2;3", line) if self.colour else line
