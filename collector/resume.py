"""Where to start reading after a (re)start: a file's checkpoint, head or tail, and
files rotated while the collector was down (found next to their old path)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from collector.checkpoint import Checkpoint, fingerprint
from collector.files import TrackedFile

Saved = dict[tuple[int, int], list[Checkpoint]]  # (dev, inode) -> checkpoints loaded


def split_fp(fp: str) -> tuple[str, int]:
    """``"abc.g2"`` -> (``"abc"``, 2): base fingerprint and copytruncate generation."""
    base, _, gen = fp.partition(".g")
    return base, int(gen) if gen.isdigit() else 0


def tail_start(fd: int, size: int) -> int:
    """Offset just past the last complete line (start_at=tail must not begin mid-line)."""
    start = max(0, size - (1 << 20))
    data = os.pread(fd, size - start, start)
    nl = data.rfind(b"\n")
    return start + nl + 1 if nl >= 0 else start


def resume(f: TrackedFile, size: int, saved: Saved, from_tail: bool, node: str) -> None:
    """Position a file found at start-up: its checkpoint (consumed from ``saved``), or
    the tail when ``from_tail`` (first start with start_at=tail), else the head."""
    same = [cp for cp in saved.get((f.dev, f.inode), []) if split_fp(cp.fp)[0] == f.base_fp]
    if same:
        cp = max(same, key=lambda c: split_fp(c.fp)[1])
        saved[(f.dev, f.inode)].remove(cp)
        gen = split_fp(cp.fp)[1]
        if size < cp.offset:  # truncated while we were down: a new generation
            f.set_generation(gen + 1, node)
        else:
            f.set_generation(gen, node)
            f.pos = f.acked = cp.offset
    elif from_tail:
        f.pos = f.acked = tail_start(f.fd, size)


@dataclass
class Rotated:
    checkpoint: Checkpoint
    path: str  # where the file is now
    fd: int
    mtime: float


def find_rotated(saved: Saved) -> list[Rotated]:
    """Checkpointed files no longer at their path but still in the same folder (same
    inode and fingerprint, unread bytes left), oldest first: read them to the end."""
    found: list[Rotated] = []
    for cps in saved.values():
        for cp in cps:
            try:
                entries = list(os.scandir(os.path.dirname(cp.path)))
            except OSError:
                continue
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) != (cp.dev, cp.inode) or st.st_size <= cp.offset:
                    continue
                fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
                if fingerprint(fd, force=True) != split_fp(cp.fp)[0]:
                    os.close(fd)
                    continue
                found.append(Rotated(cp, entry.path, fd, st.st_mtime))
                break
    found.sort(key=lambda r: r.mtime)
    return found
