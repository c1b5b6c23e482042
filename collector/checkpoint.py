"""File identity and the checkpoint store.

A file is (device, inode, fingerprint of its first line): the fingerprint tells a
reused inode from the file that had it. A checkpoint is the offset below which
every entry of that file is acknowledged by Kafka; the store is one JSON file in
the state directory, replaced atomically (write temp, check every byte written,
fsync, rename, fsync dir) so a crash leaves either the old or the new version, never
a torn one. The version replaced is kept as ``checkpoints.json.prev``: a file damaged
from outside (disk, an operator) is moved aside and the previous one used, and with
neither the collector starts without checkpoints (it reads the files again; the same
bytes give the same ids, so Elasticsearch keeps one copy). Its own state file never
keeps the collector down.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from collector.wire import unwire, wire_text

log = logging.getLogger(__name__)

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

    def __init__(self, state_dir: str,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, STATE_FILE)
        self.prev = f"{self.path}.prev"
        # Told "damaged", "prev_damaged" or "write_failed" (the agent counts them).
        self.on_problem = on_problem or (lambda what: None)
        os.makedirs(state_dir, exist_ok=True)
        self._last: bytes | None = None
        # When this node's collector first started: no rotated sibling older than that
        # is read (an upgrade from format 1 takes the file's last write instead).
        self.created_ns = time.time_ns()
        self.streams: dict[str, StreamHistory] = {}

    def exists(self) -> bool:
        return os.path.exists(self.path) or os.path.exists(self.prev)

    def load(self) -> list[Checkpoint]:
        """The checkpoints of the state file, else of the previous one, else none."""
        for path, what in ((self.path, "damaged"), (self.prev, "prev_damaged")):
            try:
                return self._load(path)
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                aside = f"{path}.damaged-{time.time_ns()}"
                try:
                    os.replace(path, aside)
                except OSError:
                    aside = "(could not be moved)"
                log.error("CHECKPOINT FILE DAMAGED: %s (%s: %s), moved to %s; %s", path,
                          type(exc).__name__, exc, aside,
                          "trying the previous copy" if path == self.path else
                          "starting without checkpoints: files are read again, same ids",
                          extra={"event": "checkpoint_damaged", "path": path})
                self.on_problem(what)
        return []

    def _load(self, path: str) -> list[Checkpoint]:
        with open(path, "rb") as fh:
            data: Any = orjson.loads(fh.read())
            mtime_ns = os.fstat(fh.fileno()).st_mtime_ns
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        created_ns = int(data.get("created_ns", mtime_ns))
        streams = {_path(str(p), h): StreamHistory(int(h["floor_ns"]),
                                                   {str(fp): int(t) for fp, t in h["done"]})
                   for p, h in data.get("streams", {}).items()}
        files = [Checkpoint(_path(str(c["path"]), c), int(c["dev"]), int(c["inode"]),
                            str(c["fp"]), int(c["offset"]), int(c.get("end", -1)))
                 for c in data.get("files", [])]
        self.created_ns, self.streams = created_ns, streams
        return files

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
            "files": [{"path": wire_text(c.path), "dev": c.dev, "inode": c.inode, "fp": c.fp,
                       "offset": c.offset, "end": c.end, **_escaped(c.path)}
                      for c in sorted(checkpoints, key=lambda c: (c.path, c.inode))],
            "streams": {wire_text(path): {"floor_ns": h.floor_ns, "done": list(h.done.items()),
                                          **_escaped(path)}
                        for path, h in sorted(self.streams.items())}})
        if body == self._last:
            return False
        try:
            self._replace(body)
        except OSError as exc:  # a full or read-only disk: the next save tries again
            log.error("cannot write checkpoints to %s: %s", self.path, exc,
                      extra={"event": "checkpoint_write_failed"})
            self.on_problem("write_failed")
            return False
        self._last = body
        return True

    def _replace(self, body: bytes) -> None:
        tmp = f"{self.path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(body)
            while view:  # os.write may write less than asked (signals, quotas)
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(f"wrote {len(body) - len(view)} of {len(body)} bytes")
                view = view[n:]
            os.fsync(fd)
            if os.fstat(fd).st_size != len(body):
                raise OSError(f"{tmp} holds {os.fstat(fd).st_size} bytes, not {len(body)}")
        finally:
            os.close(fd)
        if os.path.exists(self.path):  # the last good copy, kept by a hard link
            link = f"{self.prev}.tmp"
            if os.path.lexists(link):
                os.unlink(link)
            os.link(self.path, link)
            os.replace(link, self.prev)
        os.replace(tmp, self.path)
        dfd = os.open(self.state_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)  # the renames themselves must survive a power cut
        finally:
            os.close(dfd)


def _escaped(path: str) -> dict[str, bool]:
    """A path that is not valid UTF-8 is stored escaped (collector.wire), and says so."""
    return {"escaped": True} if wire_text(path) != path else {}


def _path(stored: str, entry: Any) -> str:
    return unwire(stored) if isinstance(entry, dict) and entry.get("escaped") else stored
