"""Log files that rotate by size the way the real writers do.

Docker's json-file driver (``max-size`` / ``max-file``) renames ``x-json.log`` to
``x-json.log.1`` (shifting older ones up) and opens a new file. The kubelet renames
``0.log`` to ``0.log.<YYYYMMDD-HHMMSS>``, has the runtime reopen ``0.log``, and
gzips every rotated file but the newest. Both keep the inode of the renamed file,
which is what a tailer follows to read a rotated file to its end.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path
from typing import BinaryIO, Literal

Style = Literal["docker", "kubelet", "none"]


class RotatingFile:
    """Append-only log file; ``max_bytes`` 0 never rotates."""

    def __init__(self, path: Path, style: Style, max_bytes: int, keep: int) -> None:
        if keep < 2 and max_bytes:
            raise ValueError("keep must be >= 2 (the live file and one rotated file)")
        self.path = path
        self.style = style
        self.max_bytes = max_bytes
        self.keep = keep
        self.rotations = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: BinaryIO = open(path, "ab")  # noqa: SIM115 - lives as long as the sink
        self._size = self._fh.tell()
        self._dirty = False

    def write(self, data: bytes, ts_ns: int) -> None:
        # Like Docker: the check is made before a write, so a file may exceed the
        # limit by one entry, and one entry (all partial pieces) never straddles files.
        if self.max_bytes and self.style != "none" and self._size >= self.max_bytes:
            self.rotate(ts_ns)
        self._fh.write(data)
        self._size += len(data)
        self._dirty = True

    def flush(self) -> None:
        if self._dirty:
            self._fh.flush()
            self._dirty = False

    def close(self) -> None:
        self._fh.close()

    def rotate(self, ts_ns: int) -> None:
        self._fh.close()
        if self.style == "docker":
            self._rotate_docker()
        else:
            self._rotate_kubelet(ts_ns)
        self._fh = open(self.path, "ab")  # noqa: SIM115
        self._size = 0
        self.rotations += 1

    def _rotate_docker(self) -> None:
        # max-file counts the live file too: keep N-1 rotated files .1 .. .N-1.
        oldest = self.path.with_name(f"{self.path.name}.{self.keep - 1}")
        oldest.unlink(missing_ok=True)
        for i in range(self.keep - 2, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.rename(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.rename(self.path, self.path.with_name(f"{self.path.name}.1"))

    def _rotate_kubelet(self, ts_ns: int) -> None:
        secs = ts_ns // 1_000_000_000
        # The kubelet names by second; the demo's fast mode may rotate more often,
        # so it takes the next free second rather than overwrite a rotated file.
        while True:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(secs))
            target = self.path.with_name(f"{self.path.name}.{stamp}")
            if not target.exists() and not target.with_name(target.name + ".gz").exists():
                break
            secs += 1
        os.rename(self.path, target)
        rotated = sorted(p for p in self.path.parent.glob(f"{self.path.name}.*")
                         if not p.name.endswith(".gz"))
        for old in rotated[:-1]:  # every rotated file but the newest is compressed
            with open(old, "rb") as src, gzip.open(old.with_name(old.name + ".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            old.unlink()
        kept = sorted(self.path.parent.glob(f"{self.path.name}.*"),
                      key=lambda p: p.name.removesuffix(".gz"))
        for old in kept[: max(0, len(kept) - (self.keep - 1))]:
            old.unlink()
