"""The hot path with a recording output: records honour the contract, hostile input
is kept and flagged, checkpoints follow acknowledgements."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.files import Batch, TrackedFile
from collector.multiline import MultilineRules
from collector.source import Output, Source
from logpipe.record import Record, decode, encode, make_id


class Recorder(Output):
    def __init__(self) -> None:
        self.node = "node-1"
        self.max_line_bytes = 1024
        self.max_record_bytes = 8192
        self.read_chunk_bytes = 4096
        self.idle_tail_ns = 1000
        self.sent: list[tuple[bytes, bytes, Callable[[Any, Any], None] | None]] = []
        self.truncated = 0

    def produce(self, value: bytes, key: bytes,
                on_delivery: Callable[[Any, Any], None] | None) -> None:
        self.sent.append((value, key, on_delivery))

    def count_read(self, kind: str, lines: int, nbytes: int) -> None:
        pass

    def count_truncated(self) -> None:
        self.truncated += 1

    def records(self) -> list[Record]:
        return [decode(v) for v, _, _ in self.sent]

    def ack_all(self) -> None:
        for _, _, cb in self.sent:
            if cb is not None:
                cb(None, None)
        self.sent.clear()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, Recorder]]:
    yield tmp_path / "app.log", Recorder()


def open_source(path: Path, out: Recorder, kind: str = "file",
                rules: MultilineRules | None = None) -> tuple[Source, TrackedFile]:
    meta: dict[str, Any] = {
        "container_id": None, "container_name": None, "image": None, "namespace": "host",
        "pod": None, "pod_uid": None, "app": "app", "labels": {}, "attrs": {}}
    src = Source(str(path), kind, meta, rules or MultilineRules(enabled=False), out)
    fd = os.open(path, os.O_RDONLY)
    st = os.fstat(fd)

    def failed(err: Any, msg: Any, batch: Batch) -> None:
        raise AssertionError(err)

    f = TrackedFile(str(path), kind, fd, st.st_dev, st.st_ino, "fp", 0, "node-1", failed, [0])
    src.current = f
    return src, f


def drain(src: Source, f: TrackedFile, at_end: bool = False) -> None:
    while src.read(f, 0, at_end):
        pass


def test_records_follow_contract_and_ids(setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    path.write_bytes(b"Nov 26 07:00:00 h a: INFO one\nsecond\n")
    src, f = open_source(path, out)
    drain(src, f)
    recs = out.records()
    assert [r.message for r in recs] == ["Nov 26 07:00:00 h a: INFO one", "second"]
    assert [r.offset for r in recs] == [0, 30]
    assert recs[0].id == make_id("node-1", f.dev, f.inode, "fp", 0)
    assert recs[0].level == "info" and recs[0].namespace == "host"
    assert "no_timestamp" in recs[1].tags and "no_timestamp" not in recs[0].tags
    assert out.sent[0][1] == str(path).encode()  # host files: key is the path
    assert f.acked == 0
    for value, _, _ in out.sent:  # the wire form is exactly the contract's encoding
        assert value == encode(decode(value))
    out.ack_all()
    assert f.acked == f.pos == path.stat().st_size


def test_five_megabyte_line_truncated_and_reading_goes_on(
        setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    path.write_bytes(b"before\n" + b"x" * (5 << 20) + b"\nafter\n")
    src, f = open_source(path, out)
    drain(src, f)
    recs = out.records()
    assert [r.message[:6] for r in recs] == ["before", "x" * 6, "after"]
    assert len(recs[1].message) == out.max_line_bytes and "truncated" in recs[1].tags
    assert recs[2].offset == 7 + (5 << 20) + 1
    out.ack_all()
    assert f.acked == path.stat().st_size


def test_checkpoint_stays_at_long_line_until_skipped(setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    path.write_bytes(b"ok\n" + b"y" * 50_000)  # no newline yet: still being written
    src, f = open_source(path, out)
    src.read(f, 0, False)
    src.read(f, 0, False)
    out.ack_all()
    assert f.skip_from == 3 and f.acked == 3  # a restart re-sends the cut line (same id)


def test_binary_nul_and_invalid_utf8_kept(setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    path.write_bytes(b"a\x00b\n\xff\xfe bad\n" + bytes(range(256)).replace(b"\n", b""))
    src, f = open_source(path, out)
    drain(src, f, at_end=True)  # the unterminated binary tail is read when the file ends
    recs = out.records()
    assert len(recs) == 3
    assert recs[0].message == "a\x00b" and {"nul_bytes", "parse_error"} <= set(recs[0].tags)
    assert recs[1].message == "\\xff\\xfe bad" and "invalid_utf8" in recs[1].tags
    assert "invalid_utf8" in recs[2].tags


def test_unterminated_tail_waits_then_flushes_when_idle(setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    path.write_bytes(b"line\npartial")
    src, f = open_source(path, out)
    src.read(f, 0, False)
    assert src.read(f, 10, False) == 0  # first sight of the tail: wait
    assert src.read(f, 500, False) == 0  # not idle long enough
    assert src.read(f, 2000, False) == 7
    assert [r.message for r in out.records()] == ["line", "partial"]


def test_empty_file_sends_nothing(setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    path.write_bytes(b"")
    src, f = open_source(path, out)
    assert src.read(f, 0, True) == 0 and out.sent == []


def test_docker_partials_and_multiline_hold_checkpoint(setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    ts = "2026-11-26T07:00:00.000000000Z"
    lines = [{"log": "ERROR boom\n", "stream": "stderr", "time": ts},
             {"log": "\tat a.b(C.java:1)\n", "stream": "stderr", "time": ts},
             {"log": "piece1-", "stream": "stdout", "time": ts},
             {"log": "piece2\n", "stream": "stdout", "time": ts}]
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    src, f = open_source(path, out, "docker", MultilineRules(flush_ns=10))
    src.meta["container_id"] = "cid"
    src.key = b"cid"
    drain(src, f)
    out.ack_all()
    # both entries are still held (no following line yet): nothing may be checkpointed
    assert f.acked == 0
    src.flush_due(10**12)
    recs = out.records()
    assert sorted(r.message for r in recs) == ["ERROR boom\n\tat a.b(C.java:1)", "piece1-piece2"]
    assert all(v[1] == b"cid" for v in out.sent)
    out.ack_all()
    assert f.acked == path.stat().st_size


def test_record_too_big_after_escaping_is_cut(setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    path.write_bytes(b"\x01" * 1000 + b"\n")  # each control byte encodes as 6 bytes
    out.max_record_bytes = 4096
    src, f = open_source(path, out)
    drain(src, f)
    (value, _, _), = out.sent
    assert len(value) <= out.max_record_bytes
    assert "truncated" in decode(value).tags


def test_rate_limit_bucket_pauses_and_refills() -> None:
    from collector.agent import Agent

    src = Source("/x", "file", {}, MultilineRules(), Recorder())
    assert Agent._allowed(src, 100.0, 1_000_000_000)
    src.tokens -= 250  # a chunk overshoots: the source pauses
    assert not Agent._allowed(src, 100.0, 1_500_000_000)
    assert Agent._allowed(src, 100.0, 3_100_000_000)
    assert src.tokens <= 100


def test_one_delivery_report_per_chunk(setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    src, f = open_source(path, out)
    src.read(f, 0, False)
    assert len(out.sent) == 100
    assert [cb is not None for _, _, cb in out.sent] == [False] * 99 + [True]
    out.ack_all()
    assert f.acked == f.pos and f.acks[0] == 100


def test_rewind_reads_again_from_checkpoint(setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    path.write_bytes(b"a\nb\n")
    src, f = open_source(path, out, rules=MultilineRules())
    src.read(f, 0, False)
    out.ack_all()  # "a" is sent and acknowledged; "b" is held by the joiner
    assert f.acked == 2
    with open(path, "ab") as fh:
        fh.write(b"c\n")
    src.read(f, 0, False)  # "b" goes out, "c" is held
    out.sent.clear()  # ... and the broker refuses them
    src.rewind(0.0)
    assert f.pos == 2 and src.joiners == {}
    drain(src, f)
    src.flush_all()
    assert [r.message for r in out.records()] == ["b", "c"]
    out.ack_all()
    assert f.acked == 6


def test_rewind_revives_retired_unacknowledged_file(setup: tuple[Path, Recorder]) -> None:
    path, out = setup
    path.write_bytes(b"x\ny\n")
    src, f = open_source(path, out, rules=MultilineRules(enabled=False))
    drain(src, f)
    src.retire(f)  # read to its end (renamed away), not acknowledged yet
    out.sent.clear()
    src.rewind(123.0)
    assert list(src.draining) == [f] and f.pos == 0 and f.drain_deadline == 123.0
    drain(src, f, at_end=True)
    assert [r.message for r in out.records()] == ["x", "y"]
