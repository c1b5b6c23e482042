"""The ledger's rules on one file, without Kafka: ranges follow acknowledgements, one
in flight at a time, a failed one is sent again from the same offset (same id), and
without a ledger topic the checkpoint follows the acknowledgements at once."""

from __future__ import annotations

from typing import Any

import orjson

from collector.files import Batch, TrackedFile
from collector.ledger import Ledger


def tracked() -> TrackedFile:
    def failed(err: Any, msg: Any, batch: Batch) -> None:
        raise AssertionError(err)

    return TrackedFile("/var/log/app.log", "file", -1, 1, 2, "abc", 0, "n1", failed, [0])


def acked(f: TrackedFile, entries: int, safe: int) -> None:
    b = f.batch()
    b.count = entries
    f.close_batch(safe)


class Sent:
    def __init__(self, room: bool = True) -> None:
        self.docs: list[dict[str, Any]] = []
        self.reports: list[Any] = []
        self.room = room

    def __call__(self, value: bytes, key: bytes, report: Any) -> bool:
        if not self.room:
            return False
        self.docs.append(orjson.loads(value))
        self.reports.append(report)
        return True


META = {"namespace": "pay", "app": "checkout"}


def test_ranges_follow_acks_one_in_flight() -> None:
    f = tracked()
    sent = Sent()
    ledger = Ledger("n1", sent)
    acked(f, 3, 100)
    assert ledger.send_range(f, META, "file", b"k")
    acked(f, 2, 150)
    assert not ledger.send_range(f, META, "file", b"k")  # the first is still in flight
    first = sent.docs[0]
    assert (first["kind"], first["from"], first["to"], first["entries"]) == ("range", 0, 100, 3)
    assert (first["namespace"], first["file"], first["path"]) == ("pay", f.file_id, f.path)
    sent.reports[0](None, None)
    assert (f.ledger_at, f.ledger_entries) == (100, 3)
    assert ledger.send_range(f, META, "file", b"k")
    assert (sent.docs[1]["from"], sent.docs[1]["to"], sent.docs[1]["entries"]) == (100, 150, 2)


def test_a_failed_range_is_sent_again_from_the_same_offset_with_the_same_id() -> None:
    f = tracked()
    sent = Sent()
    ledger = Ledger("n1", sent)
    acked(f, 4, 80)
    ledger.send_range(f, META, "file", b"k")
    sent.reports[0]("broker gone", None)
    f.ledger_sent, f.ledger_sent_entries = f.ledger_at, f.ledger_entries  # the agent's rewind
    acked(f, 1, 90)
    ledger.send_range(f, META, "file", b"k")
    again = sent.docs[1]
    assert (again["from"], again["to"], again["entries"]) == (0, 90, 5)
    assert again["id"] == sent.docs[0]["id"]  # replaces the first one in the index


def test_a_full_queue_leaves_the_range_for_next_time_and_gaps_wait_in_order() -> None:
    f = tracked()
    sent = Sent(room=False)
    ledger = Ledger("n1", sent)
    acked(f, 1, 10)
    assert not ledger.send_range(f, META, "file", b"k")
    assert f.ledger_sent == 0
    ledger.send_gap(f.file_id, f.path, META, "file", b"k", "given_up", 10, 500, "deadline")
    ledger.send_gap(f.file_id, f.path, META, "file", b"k", "deleted", 0, 0)
    assert sent.docs == []
    sent.room = True
    ledger.retry()
    assert [(d["kind"], d["cause"], d["bytes"]) for d in sent.docs] == [
        ("gap", "given_up", 500), ("gap", "deleted", 0)]


def test_without_a_topic_the_checkpoint_follows_the_acks() -> None:
    f = tracked()
    ledger = Ledger("n1", None)
    acked(f, 7, 70)
    assert ledger.send_range(f, META, "file", b"k")
    assert (f.ledger_at, f.ledger_entries) == (70, 7)
    ledger.send_gap(f.file_id, f.path, META, "file", b"k", "deleted", 0, 0)
    assert ledger.waiting == []
