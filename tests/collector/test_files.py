"""Checkpoint bookkeeping: the acknowledged prefix, atomic store, fingerprints, ids."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from collector.checkpoint import Checkpoint, CheckpointStore, fingerprint
from collector.files import Batch, TrackedFile
from logpipe.record import make_id


def tracked(failed: list[Any] | None = None) -> TrackedFile:
    def on_failed(err: Any, msg: Any, batch: Batch) -> None:
        (failed if failed is not None else []).append((err, batch))

    return TrackedFile("/p", "file", -1, 1, 2, "fp", 0, "node", on_failed, [0])


def batch_of(f: TrackedFile, records: int, safe: int) -> Batch:
    """A closed batch of ``records`` records whose last one awaits its report."""
    b = f.batch()
    b.count = records
    b.pending = 1
    f.close_batch(safe)
    return b


def test_checkpoint_moves_only_over_acked_prefix() -> None:
    f = tracked()
    batches = [batch_of(f, 2, safe) for safe in (100, 200, 300)]
    batches[1].ack(None, None)
    assert f.acked == 0  # batch 0 is not acknowledged yet
    batches[0].ack(None, None)
    assert f.acked == 200
    batches[2].ack(None, None)
    assert f.acked == 300 and not f.batches
    assert f.acks[0] == 6  # every record of an acknowledged batch counts


def test_failed_delivery_holds_checkpoint_until_rewind() -> None:
    failed: list[Any] = []
    f = tracked(failed)
    f.pos = 80
    b = batch_of(f, 3, 50)
    b.ack("broker refused", None)
    assert f.acked == 0 and len(failed) == 1
    f.rewind()
    assert f.pos == 0 and not f.batches and b.stale
    b.ack(None, None)  # a late report of the dropped batch changes nothing
    assert f.acked == 0 and f.acks[0] == 0


def test_empty_batch_advances_at_once() -> None:
    f = tracked()
    f.close_batch(10)
    assert f.acked == 10


@given(st.permutations(list(range(6))))
def test_any_ack_order_ends_at_last_safe(order: list[int]) -> None:
    f = tracked()
    batches = [batch_of(f, 3, (i + 1) * 10) for i in range(6)]
    seen = 0
    for k in order:
        batches[k].ack(None, None)
        assert f.acked >= seen  # never moves backwards
        seen = f.acked
        done = 0
        while done < 6 and batches[done].pending == 0:
            done += 1
        assert f.acked == done * 10  # exactly the contiguous acknowledged prefix
    assert f.acked == 60


def test_id_prefix_matches_make_id() -> None:
    f = tracked()
    from hashlib import blake2b

    ours = blake2b(f.id_prefix + b"123", digest_size=16).hexdigest()
    assert ours == make_id("node", 1, 2, "fp", 123)
    f.set_generation(2, "node")
    assert f.fp == "fp.g2"
    assert blake2b(f.id_prefix + b"0", digest_size=16).hexdigest() == make_id(
        "node", 1, 2, "fp.g2", 0)


def test_store_roundtrip_and_atomic(tmp_path: Path) -> None:
    store = CheckpointStore(str(tmp_path / "state"))
    assert not store.exists() and store.load() == []
    cps = [Checkpoint("/a", 1, 2, "x", 10), Checkpoint("/b", 1, 3, "y.g1", 0)]
    assert store.save(cps)
    assert not store.save(cps)  # unchanged: not rewritten
    assert sorted(store.load(), key=lambda c: c.path) == cps
    assert os.listdir(tmp_path / "state") == ["checkpoints.json"]


def test_store_moves_a_damaged_file_aside(tmp_path: Path) -> None:
    (tmp_path / "checkpoints.json").write_text("{not json")
    problems: list[str] = []
    assert CheckpointStore(str(tmp_path), problems.append).load() == []
    assert problems == ["damaged"] and not (tmp_path / "checkpoints.json").exists()
    assert list(tmp_path.glob("checkpoints.json.damaged-*"))  # kept for a post-mortem


def test_fingerprint_waits_for_first_line(tmp_path: Path) -> None:
    p = tmp_path / "f.log"
    p.write_bytes(b"partial")
    fd = os.open(p, os.O_RDONLY)
    try:
        assert fingerprint(fd) is None
        assert fingerprint(fd, force=True) is not None
        with open(p, "ab") as fh:
            fh.write(b" line\nsecond\n")
        first = fingerprint(fd)
        with open(p, "ab") as fh:
            fh.write(b"more lines do not change it\n")
        assert fingerprint(fd) == first
    finally:
        os.close(fd)
