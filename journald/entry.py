"""One ``journalctl --output=json`` line -> Record.

journalctl writes a field as a string when it is printable UTF-8, as an array of
byte values when it is not, and as an array of those when an entry repeats the
field. PRIORITY is a syslog severity (0 emerg .. 7 debug).
"""

from __future__ import annotations

import re
from typing import Any

from logpipe.levels import Level, normalize_level
from logpipe.record import TAG_INVALID_UTF8, TAG_MULTILINE, TAG_PARSE_ERROR, Record, stable_id
from logpipe.timefmt import format_ns, now_ts

SOURCE = "journald"
_SEQNUM = re.compile(r"(?:^|;)i=([0-9a-f]+)")


def field_text(value: Any) -> tuple[str | None, bool]:
    """(text, had invalid UTF-8); the last value when the field repeats."""
    if value is None:
        return None, False
    if isinstance(value, str):
        return value, False
    if isinstance(value, list) and value and all(isinstance(b, int) for b in value):
        raw = bytes(b & 0xFF for b in value)
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            return raw.decode("utf-8", "replace"), True
    if isinstance(value, list) and value:
        return field_text(value[-1])
    return str(value), False


def _usec(entry: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        text, _ = field_text(entry.get(key))
        if text and text.isdigit():
            return int(text)
    return None


def unit_of(entry: dict[str, Any]) -> str:
    """The unit (user units too), else the syslog identifier, else the command."""
    for key in ("_SYSTEMD_UNIT", "_SYSTEMD_USER_UNIT", "SYSLOG_IDENTIFIER", "_COMM"):
        text, _ = field_text(entry.get(key))
        if text:
            return text
    return "unknown"


def to_record(entry: dict[str, Any], *, node: str, namespace: str) -> Record:
    cursor = str(entry.get("__CURSOR") or "")
    message, bad_utf8 = field_text(entry.get("MESSAGE"))
    tags: list[str] = []
    if bad_utf8:
        tags.append(TAG_INVALID_UTF8)
    if message is None:
        # journalctl without --all prints null for fields over 4 KiB; we pass --all,
        # so this is an entry with no MESSAGE at all: keep it, flagged.
        tags.append(TAG_PARSE_ERROR)
        message = ""
    message = message.rstrip("\n")
    if "\n" in message:
        tags.append(TAG_MULTILINE)
    prio, _ = field_text(entry.get("PRIORITY"))
    level = normalize_level(int(prio)) if prio and prio.isdigit() else Level.UNKNOWN
    # The time the program logged it, if it said; else when journald received it.
    usec = _usec(entry, "_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP")
    ingest = now_ts()
    unit = unit_of(entry)
    attrs: dict[str, str] = {"unit": unit, "cursor": cursor}
    for key, name in (("SYSLOG_IDENTIFIER", "identifier"), ("_PID", "pid"),
                      ("_HOSTNAME", "host"), ("_COMM", "comm"), ("_TRANSPORT", "transport"),
                      ("_BOOT_ID", "boot_id"), ("_SYSTEMD_UNIT", "systemd_unit"),
                      ("PRIORITY", "priority")):
        text, _ = field_text(entry.get(key))
        if text:
            attrs[name] = text
    seq = _SEQNUM.search(cursor)
    app = unit.removesuffix(".service") if unit.endswith(".service") else unit
    return Record(
        id=stable_id(node, SOURCE, cursor),
        ts=format_ns(usec * 1000) if usec is not None else ingest,
        ingest_ts=ingest,
        node=node,
        source=SOURCE,
        path=f"journald:{unit}",
        offset=int(seq.group(1), 16) if seq else 0,
        message=message,
        level=level.value,
        namespace=namespace,
        app=app,
        attrs=attrs,
        tags=tuple(tags) if usec is not None else (*tags, "no_timestamp"),
    )
