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
import time
from dataclasses import dataclass, field

import orjson

FINGERPRINT_BYTES = 1024
STATE_FILE = "checkpoints.json"


def fingerprint(fd: int, *, force: bool = False) -> str | None:
    """Hash of the first line (at most FINGERPRINT_BYTES) of an open file.

    None while the first line is still incomplete: identifying a file by bytes that
    may still change would give its entries different ids after a restart. ``force``
    takes whatever is there (an unterminated file that stopped growing).
    """
    return fingerprint_bytes(os.pread(fd, FINGERPRINT_BYTES, 0), force=force)


def fingerprint_bytes(head: bytes, *, force: bool = False) -> str | None:
    """``fingerprint`` of a file whose first FINGERPRINT_BYTES bytes are ``head``."""
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
    end: int = -1  # how far it was read (not yet all acknowledged); -1: not known

    @property
    def identity(self) -> tuple[int, int, str]:
        return (self.dev, self.inode, self.fp)


@dataclass
class StreamHistory:
    """What a stream (one live path) has read to the end, for telling its rotated
    siblings apart: fingerprints of finished files, newest last, and the floor time
    below which a sibling is history the collector never promised to read."""

    floor_ns: int
    done: dict[str, int] = field(default_factory=dict)  # fingerprint -> when, oldest first

    MAX_DONE = 64  # a node keeps a handful of rotated files per stream; 64 is ample

    def finished(self, fp: str, when_ns: int) -> None:
        if fp in self.done:
            return
        self.done[fp] = when_ns
        if len(self.done) > self.MAX_DONE:
            # The oldest one is forgotten: nothing older than it is read again either.
            oldest = next(iter(self.done))
            self.floor_ns = max(self.floor_ns, self.done.pop(oldest))


class CheckpointStore:
    """Loads and atomically saves the checkpoints of every tracked file, and each
    stream's history (format 2; format 1 files, without history, still load)."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, STATE_FILE)
        os.makedirs(state_dir, exist_ok=True)
        self._last: bytes | None = None
        # When this node's collector first started: no rotated sibling older than that
        # is read (an upgrade from format 1 takes the file's last write instead).
        self.created_ns = time.time_ns()
        self.streams: dict[str, StreamHistory] = {}

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def load(self) -> list[Checkpoint]:
        try:
            with open(self.path, "rb") as fh:
                data = orjson.loads(fh.read())
                mtime_ns = os.fstat(fh.fileno()).st_mtime_ns
        except FileNotFoundError:
            return []
        except (OSError, orjson.JSONDecodeError) as exc:
            # Replacement is atomic, so this is damage from outside: refuse to guess
            # (reading everything again would duplicate; skipping would lose).
            raise RuntimeError(f"checkpoint file {self.path} is unreadable: {exc}; "
                               "move it away to start from the beginning") from None
        self.created_ns = int(data.get("created_ns", mtime_ns))
        self.streams = {path: StreamHistory(int(h["floor_ns"]),
                                            {str(fp): int(t) for fp, t in h["done"]})
                        for path, h in data.get("streams", {}).items()}
        return [Checkpoint(c["path"], int(c["dev"]), int(c["inode"]), str(c["fp"]),
                           int(c["offset"]), int(c.get("end", -1)))
                for c in data.get("files", [])]

    def history(self, path: str) -> StreamHistory:
        h = self.streams.get(path)
        if h is None:
            h = self.streams[path] = StreamHistory(self.created_ns)
        return h

    def save(self, checkpoints: list[Checkpoint], live: set[str] | None = None) -> bool:
        """Write if anything changed; True when written. ``live``: the paths still
        tracked; the history of others is dropped (their folder is gone)."""
        if live is not None:
            for path in [p for p in self.streams if p not in live]:
                del self.streams[path]
        body = orjson.dumps({
            "version": 2, "created_ns": self.created_ns,
            "files": [{"path": c.path, "dev": c.dev, "inode": c.inode, "fp": c.fp,
                       "offset": c.offset, "end": c.end}
                      for c in sorted(checkpoints, key=lambda c: (c.path, c.inode))],
            "streams": {path: {"floor_ns": h.floor_ns, "done": list(h.done.items())}
                        for path, h in sorted(self.streams.items())}})
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
