"""Start positions after a restart: checkpoints, truncation while down, head/tail,
and files rotated while the collector was down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from collector.checkpoint import Checkpoint, fingerprint
from collector.files import Batch, TrackedFile
from collector.resume import Saved, find_rotated, resume, split_fp, tail_start


def tracked(path: Path) -> TrackedFile:
    fd = os.open(path, os.O_RDONLY)
    st = os.fstat(fd)
    fp = fingerprint(fd)
    assert fp is not None

    def failed(err: Any, msg: Any, batch: Batch) -> None:
        raise AssertionError(err)

    return TrackedFile(str(path), "file", fd, st.st_dev, st.st_ino, fp, 0, "n", failed, [0])


def test_split_fp() -> None:
    assert split_fp("abc") == ("abc", 0) and split_fp("abc.g3") == ("abc", 3)


def test_tail_start_is_after_last_complete_line(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"one\ntwo\nthr")
    fd = os.open(p, os.O_RDONLY)
    try:
        assert tail_start(fd, p.stat().st_size) == 8
    finally:
        os.close(fd)


def test_resume_from_checkpoint_and_after_truncation(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"first\nsecond\n")
    f = tracked(p)
    saved: Saved = {(f.dev, f.inode): [Checkpoint(str(p), f.dev, f.inode, f"{f.base_fp}.g1", 6)]}
    resume(f, 13, saved, False, "n")
    assert (f.pos, f.acked, f.gen) == (6, 6, 1) and saved[(f.dev, f.inode)] == []
    g = tracked(p)
    saved = {(g.dev, g.inode): [Checkpoint(str(p), g.dev, g.inode, g.base_fp, 100)]}
    resume(g, 13, saved, False, "n")  # shorter than its checkpoint: truncated while down
    assert (g.pos, g.gen) == (0, 1) and g.fp == f"{g.base_fp}.g1"
    h = tracked(p)
    resume(h, 13, {}, True, "n")
    assert h.pos == 13
    for t in (f, g, h):
        t.close()


def test_find_rotated_while_down(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"old first line\nmore\n")
    st = p.stat()
    f = tracked(p)
    fp = f.base_fp
    f.close()
    os.rename(p, tmp_path / "app.log.1")
    p.write_bytes(b"new file\n")
    cp = Checkpoint(str(p), st.st_dev, st.st_ino, fp, 5)
    found = find_rotated({(st.st_dev, st.st_ino): [cp]})
    assert [(r.path, r.checkpoint) for r in found] == [(str(tmp_path / "app.log.1"), cp)]
    os.close(found[0].fd)
    done = Checkpoint(str(p), st.st_dev, st.st_ino, fp, st.st_size)  # fully read: nothing
    assert find_rotated({(st.st_dev, st.st_ino): [done]}) == []
