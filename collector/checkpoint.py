"""File identity and the checkpoint store.

A file is (device, inode, fingerprint of its first line): the fingerprint tells a
reused inode from the file that had it. A checkpoint is the offset below which
every entry of that file is acknowledged by Kafka; the store is one JSON file in
the state directory, replaced atomically (write temp, fsync, rename, fsync dir) so
a crash leaves either the old or the new version, never a torn one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import orjson

FINGERPRINT_BYTES = 1024
STATE_FILE = "checkpoints.json"


def fingerprint(fd: int, *, force: bool = False) -> str | None:
    """Hash of the first line (at most FINGERPRINT_BYTES) of an open file.

    None while the first line is still incomplete: identifying a file by bytes that
    may still change would give its entries different ids after a restart. ``force``
    takes whatever is there (an unterminated file that stopped growing).
    """
    head = os.pread(fd, FINGERPRINT_BYTES, 0)
    nl = head.find(b"\n")
    if nl >= 0:
        head = head[: nl + 1]
    elif len(head) < FINGERPRINT_BYTES and not (force and head):
        return None
    return hashlib.blake2b(head, digest_size=8).hexdigest()


@dataclass
class Checkpoint:
    path: str
    dev: int
    inode: int
    fp: str  # fingerprint, with ".g<N>" appended after the N-th copytruncate
    offset: int

    @property
    def identity(self) -> tuple[int, int, str]:
        return (self.dev, self.inode, self.fp)


class CheckpointStore:
    """Loads and atomically saves the checkpoints of every tracked file."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, STATE_FILE)
        os.makedirs(state_dir, exist_ok=True)
        self._last: bytes | None = None

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def load(self) -> list[Checkpoint]:
        try:
            with open(self.path, "rb") as fh:
                data = orjson.loads(fh.read())
        except FileNotFoundError:
            return []
        except (OSError, orjson.JSONDecodeError) as exc:
            # Replacement is atomic, so this is damage from outside: refuse to guess
            # (reading everything again would duplicate; skipping would lose).
            raise RuntimeError(f"checkpoint file {self.path} is unreadable: {exc}; "
                               "move it away to start from the beginning") from None
        return [Checkpoint(c["path"], int(c["dev"]), int(c["inode"]), str(c["fp"]),
                           int(c["offset"])) for c in data.get("files", [])]

    def save(self, checkpoints: list[Checkpoint]) -> bool:
        """Write if anything changed; True when written."""
        body = orjson.dumps({"version": 1, "files": [
            {"path": c.path, "dev": c.dev, "inode": c.inode, "fp": c.fp, "offset": c.offset}
            for c in sorted(checkpoints, key=lambda c: (c.path, c.inode))]})
        if body == self._last:
            return False
        tmp = f"{self.path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.state_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)  # the rename itself must survive a power cut
        finally:
            os.close(dfd)
        self._last = body
        return True
