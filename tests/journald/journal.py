"""Write real journal files for tests: journal export format -> systemd-journal-remote."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

JOURNAL_REMOTE = "/usr/lib/systemd/systemd-journal-remote"
BOOT_ID = "5e1f0c0de5e1f0c0de5e1f0c0de5e1f0"


def require_tools() -> None:
    """Skip (fail under CI=true) when journalctl or journal-remote is missing."""
    missing = [p for p in ("journalctl", JOURNAL_REMOTE) if shutil.which(p) is None]
    if missing:
        msg = f"missing {missing}: apt-get install systemd systemd-journal-remote"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def _field(name: str, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    if b"\n" in data or not _printable(data):
        # Binary-safe form of the export format: name, LF, little-endian length, data.
        return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    return name.encode() + b"=" + data + b"\n"


def _printable(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class JournalWriter:
    """Appends entries to a journal file, with increasing timestamps. Each append
    runs systemd-journal-remote once; it archives the previous file (``name@...journal~``)
    and starts a new one, so read a directory (journalctl --directory) to see all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock_us = int(time.time() * 1_000_000)
        self.mono_us = 1_000_000

    def append(self, entries: list[Mapping[str, str | bytes]]) -> None:
        out = bytearray()
        for entry in entries:
            self.clock_us += 1000
            self.mono_us += 1000
            out += _field("__REALTIME_TIMESTAMP", str(self.clock_us))
            out += _field("__MONOTONIC_TIMESTAMP", str(self.mono_us))
            out += _field("_BOOT_ID", BOOT_ID)
            for name, value in entry.items():
                out += _field(name, value)
            out += b"\n"
        # Outside the journal's folder: journalctl --directory must see only journals.
        fd, export = tempfile.mkstemp(suffix=".export")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(out)
            subprocess.run([JOURNAL_REMOTE, f"--output={self.path}", export], check=True,
                           capture_output=True, timeout=60)
        finally:
            os.unlink(export)


def entry(message: str | bytes, *, unit: str = "kubelet.service", priority: int = 6,
          pid: int = 812, host: str = "node-a") -> dict[str, str | bytes]:
    return {"MESSAGE": message, "PRIORITY": str(priority), "_SYSTEMD_UNIT": unit,
            "SYSLOG_IDENTIFIER": unit.removesuffix(".service"), "_PID": str(pid),
            "_HOSTNAME": host, "_TRANSPORT": "stdout", "_COMM": unit.split(".")[0]}
