"""Where to start reading after a (re)start: a file's checkpoint, head or tail, and
the files of a stream rotated while the collector was down or before it opened them
(found next to the stream's path by ``collector.rotated``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from collector.checkpoint import Checkpoint
from collector.files import TrackedFile
from collector.rotated import HeadCache, Sibling, list_siblings

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
            f.start_at(cp.offset)
    elif from_tail:
        f.start_at(tail_start(f.fd, size))


@dataclass
class Found:
    """A rotated sibling to read: from a checkpoint (``checkpoint`` set: its identity
    and offset) or, never seen before, from its head with its own identity."""

    sibling: Sibling
    fp: str
    checkpoint: Checkpoint | None


@dataclass
class Lost:
    checkpoint: Checkpoint
    cause: str  # "deleted" (or truncated with no copy) while the collector was down


def gz_size(path: str) -> int:
    """Decompressed size from a gzip trailer (ISIZE, mod 2**32); -1 if unreadable."""
    try:
        with open(path, "rb") as fh:
            fh.seek(-4, os.SEEK_END)
            return int.from_bytes(fh.read(4), "little")
    except OSError:
        return -1


def plan_stream(path: str, saved: list[Checkpoint], known: set[str], floor_ns: int,
                heads: HeadCache, tracked: set[tuple[int, int]]) -> tuple[list[Found], list[Lost]]:
    """What to read of one stream's rotated siblings, oldest first.

    ``saved``: the stream's checkpoints not matched to its live file; ``known``: the
    fingerprints it has tracked or read to the end; ``tracked``: (dev, inode) of the
    files open for it now. A checkpoint is found again by content (a rename keeps the
    inode, gzip and a copytruncate copy only the first line); a sibling nobody knows
    and written after ``floor_ns`` was rotated before it was ever opened.
    """
    sibs = list_siblings(path)
    found: list[Found] = []
    lost: list[Lost] = []
    taken: set[str] = set()
    for cp in saved:
        base = split_fp(cp.fp)[0]
        match = [s for s in sibs if s.path not in taken and heads.fingerprint(s) == base]
        # the renamed file itself before a gzip'd or copied one of the same bytes
        match.sort(key=lambda s: ((s.dev, s.inode) != (cp.dev, cp.inode), s.gz))
        if not match:
            # Deleted, or truncated with no copy (indistinguishable once the inode is
            # reused): either way its bytes past the checkpoint are gone.
            lost.append(Lost(cp, "deleted"))
            continue
        sib = match[0]
        for s in match:
            taken.add(s.path)
        size = gz_size(sib.path) if sib.gz else sib.size
        if size < 0 or size > cp.offset:
            found.append(Found(sib, base, cp))
    for sib in sibs:
        if sib.path in taken or (sib.dev, sib.inode) in tracked or sib.mtime_ns <= floor_ns:
            continue
        fp = heads.fingerprint(sib)
        if fp is None or fp in known:
            continue
        known.add(fp)  # a gzip'd copy of the same file is not read a second time
        found.append(Found(sib, fp, None))
    found.sort(key=lambda f: (f.sibling.mtime_ns, f.sibling.path))
    return found, lost
