"""Start positions after a restart: checkpoints, truncation while down, head/tail,
and files rotated while the collector was down."""

from __future__ import annotations

import gzip
import os
import shutil
import time
from pathlib import Path
from typing import Any

from collector.checkpoint import Checkpoint, StreamHistory, fingerprint
from collector.files import Batch, TrackedFile
from collector.resume import Found, Lost, Saved, plan_stream, resume, split_fp, tail_start
from collector.rotated import HeadCache, list_siblings, open_sibling


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


def _cp(path: Path, live: Path, offset: int, end: int = -1) -> Checkpoint:
    st = live.stat()
    fd = os.open(live, os.O_RDONLY)
    try:
        fp = fingerprint(fd)
    finally:
        os.close(fd)
    assert fp is not None
    return Checkpoint(str(path), st.st_dev, st.st_ino, fp, offset, end)


def _plan(path: Path, saved: list[Checkpoint], known: set[str] | None = None,
          floor_ns: int = 0) -> tuple[list[Found], list[Lost]]:
    return plan_stream(str(path), saved, set() if known is None else known, floor_ns,
                       HeadCache(), set())


def test_sibling_names_of_docker_kubelet_and_logrotate(tmp_path: Path) -> None:
    names = ["app.log.1", "app.log.2.gz", "app.log-20261201", "app.log-20261130.gz",
             "app.log.20261201-120000", "app.log.20261130-110000.gz"]
    noise = ["app.log", "app.log.bak", "app.logx", "app.log.1.tmp", "other.log.1", "app.log."]
    for i, name in enumerate(names + noise):
        (tmp_path / name).write_bytes(b"x\n")
        os.utime(tmp_path / name, ns=(i * 10**9, i * 10**9))
    os.symlink("/etc/hostname", tmp_path / "app.log.9")  # a link is never a rotated file
    got = [os.path.basename(s.path) for s in list_siblings(str(tmp_path / "app.log"))]
    assert got == names  # oldest first
    assert [s.gz for s in list_siblings(str(tmp_path / "app.log"))] == [
        False, True, False, True, False, True]


def test_plan_finds_the_checkpointed_file_and_the_one_rotated_in_between(
        tmp_path: Path) -> None:
    # Docker rotated twice while the collector was down: A (checkpointed at 5) is
    # now .2, B (never seen) is .1, C is live.
    p = tmp_path / "c-json.log"
    p.write_bytes(b"A first line\nA more\n")
    cp = _cp(p, p, 5)
    os.rename(p, f"{p}.1")
    p.write_bytes(b"B first line\nB more\n")
    os.rename(f"{p}.1", f"{p}.2")
    os.rename(p, f"{p}.1")
    p.write_bytes(b"C first line\n")
    found, lost = _plan(p, [cp])
    assert [(os.path.basename(f.sibling.path), f.checkpoint) for f in found] == [
        ("c-json.log.2", cp), ("c-json.log.1", None)]
    assert lost == []
    # B read to its end before (its fingerprint is known): only A
    found, _ = _plan(p, [cp], known={found[1].fp})
    assert [os.path.basename(f.sibling.path) for f in found] == ["c-json.log.2"]
    # older than the stream's floor: history, not read
    found, _ = _plan(p, [], floor_ns=time.time_ns() + 10**9)
    assert found == []


def test_plan_reads_gzipped_siblings_by_their_decompressed_head(tmp_path: Path) -> None:
    p = tmp_path / "0.log"
    p.write_bytes(b"2026-12-01T00:00:00Z stdout F first\n2026-12-01T00:00:01Z stdout F two\n")
    cp = _cp(p, p, 10)
    with open(p, "rb") as src, gzip.open(f"{p}.20261201-000002.gz", "wb") as dst:
        dst.write(src.read())
    os.unlink(p)
    p.write_bytes(b"2026-12-01T00:00:03Z stdout F live\n")
    with gzip.open(f"{p}.20261201-000001.gz", "wb") as dst:  # never seen, older
        dst.write(b"2026-12-01T00:00:00Z stdout F unseen\n")
    os.utime(f"{p}.20261201-000001.gz", ns=(1, time.time_ns() - 10**9))
    found, lost = _plan(p, [cp])
    assert [(os.path.basename(f.sibling.path), f.checkpoint is not None) for f in found] == [
        ("0.log.20261201-000001.gz", False), ("0.log.20261201-000002.gz", True)]
    fd = open_sibling(found[1].sibling, str(tmp_path / "scratch"))
    try:
        assert os.pread(fd, 200, 0) == (b"2026-12-01T00:00:00Z stdout F first\n"
                                        b"2026-12-01T00:00:01Z stdout F two\n")
    finally:
        os.close(fd)
    assert lost == []


def test_plan_finds_a_copytruncate_copy_and_names_a_deleted_file(tmp_path: Path) -> None:
    p = tmp_path / "app.log"
    p.write_bytes(b"old first\nold second\n")
    cp = _cp(p, p, 10, end=10)
    shutil.copy(p, f"{p}.1")  # logrotate copytruncate while the collector was down
    p.write_bytes(b"new first\n")
    found, lost = _plan(p, [cp])
    assert [(os.path.basename(f.sibling.path), f.checkpoint) for f in found] == [("app.log.1", cp)]
    os.unlink(f"{p}.1")
    gone = Checkpoint(cp.path, cp.dev, cp.inode + 1, cp.fp, 10, 22)
    found, lost = _plan(p, [gone])
    assert found == [] and lost == [Lost(gone, "deleted")]
    found, lost = _plan(p, [cp])  # same inode, its bytes gone: truncated with no copy
    assert lost == [Lost(cp, "deleted")]


def test_history_forgets_the_oldest_and_raises_the_floor() -> None:
    h = StreamHistory(floor_ns=5)
    for i in range(StreamHistory.MAX_DONE):
        h.finished(f"fp{i}", 100 + i)
    assert h.floor_ns == 5 and len(h.done) == StreamHistory.MAX_DONE
    h.finished("fp-new", 1000)
    assert list(h.done) == [f"fp{i}" for i in range(1, StreamHistory.MAX_DONE)] + ["fp-new"]
    assert h.floor_ns == 100
