"""The saved position moves only past the longest acknowledged prefix."""

from __future__ import annotations

from pathlib import Path

from logpipe.delivery import AckTracker, StateFile


def test_out_of_order_acks_hold_the_position_back() -> None:
    t = AckTracker()
    a, b, c = t.add("10"), t.add(None), t.add("12")
    t.ack(c)
    assert t.committable() is None  # 10 and the list item are still in flight
    t.ack(a)
    assert t.committable() == "10"
    t.mark("13")  # a bookmark behind an unacknowledged record waits for it
    assert t.committable() == "10" and t.in_flight() == 1  # only the list item
    t.ack(b)
    assert t.committable() == "13" and t.in_flight() == 0


def test_a_failure_freezes_the_position() -> None:
    t = AckTracker()
    bad, good = t.add("1"), t.add("2")
    t.fail(bad, "Broker: Message timed out")
    t.ack(good)
    assert t.committable() is None and t.error == "Broker: Message timed out"


def test_state_file_round_trip(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "deep" / "rv")
    assert state.load() is None
    state.save("4711")
    state.save("4712")
    assert state.load() == "4712"
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["rv"]  # no temp files left
