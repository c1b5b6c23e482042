"""Start position, clean restarts, and the limits on rotated files (deadline and
open-files cap), against the real Kafka."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.collector.helpers import TopicReader, append, messages, running, settings, wait_for

pytestmark = pytest.mark.integration


def lines(prefix: str, n: int) -> bytes:
    return "".join(f"{prefix} {i}\n" for i in range(n)).encode()


def test_clean_restart_continues_without_duplicates(tmp_path: Path, kafka_bootstrap: str,
                                                    topic: str) -> None:
    s = settings(tmp_path, kafka_bootstrap, topic)
    log = tmp_path / "log" / "app.log"
    log.write_bytes(lines("first", 1000))
    reader = TopicReader(kafka_bootstrap, topic)
    with running(s):
        reader.until(lambda rs: len(messages(rs)) >= 1000)
    append(log, lines("second", 1000))  # written while the collector is stopped
    with running(s):
        got = reader.until(lambda rs: len(messages(rs)) >= 2000)
    reader.close()
    assert len(got) == 2000  # a clean stop checkpoints everything: nothing is sent twice


def test_start_at_tail_skips_existing_only(tmp_path: Path, kafka_bootstrap: str,
                                           topic: str) -> None:
    s = settings(tmp_path, kafka_bootstrap, topic, start_at="tail")
    old = tmp_path / "log" / "old.log"
    old.write_bytes(lines("history", 100))
    reader = TopicReader(kafka_bootstrap, topic)
    with running(s) as agent:
        wait_for(lambda: agent.started and str(old) in agent.sources, what="start")
        append(old, lines("fresh", 10))
        (tmp_path / "log" / "new.log").write_bytes(lines("newfile", 5))
        got = reader.until(lambda rs: len(rs) >= 15)
    reader.close()
    assert messages(got) == {f"fresh {i}" for i in range(10)} | {f"newfile {i}" for i in range(5)}


def given_up(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """(path, reason) of every file the collector gave up, from its log events."""
    return [(r.path, r.reason) for r in caplog.records  # type: ignore[attr-defined]
            if getattr(r, "event", None) == "given_up"]


def test_rotated_file_given_up_at_deadline_is_counted(tmp_path: Path, kafka_bootstrap: str,
                                                      topic: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    # The rate limit keeps the renamed file from being read in time, deterministically.
    s = settings(tmp_path, kafka_bootstrap, topic, rate_limit_lines=100, rotate_wait_s=1.0,
                 read_chunk_bytes=4096, max_line_bytes=1024)
    log = tmp_path / "log" / "slow.log"
    log.write_bytes(lines("slow", 20000))
    reader = TopicReader(kafka_bootstrap, topic)
    with running(s) as agent:
        reader.until(lambda rs: len(rs) >= 1)
        os.rename(log, f"{log}.1")
        log.write_bytes(lines("after", 3))
        wait_for(lambda: agent.metrics.given_up._value.get() > 0, 30, "give up")
        got = reader.until(lambda rs: {f"after {i}" for i in range(3)} <= messages(rs))
    reader.close()
    slow = [r for r in got if r.message.startswith("slow ")]
    # Read from the start, in order, until the deadline: then the rest was given up.
    assert [r.message for r in slow] == [f"slow {i}" for i in range(len(slow))]
    assert 1 <= len(slow) < 20000
    assert len(given_up(caplog)) == 1
    [(path, reason)] = given_up(caplog)
    assert (path, reason) == (str(log), "rotate_wait_s deadline")
    # Counted: every byte after the last line read (6 to 10 bytes a line: "slow N\n").
    left = sum(len(f"slow {i}\n") for i in range(len(slow), 20000))
    assert agent.metrics.given_up._value.get() == left
    assert agent.metrics.rotations.labels("rename")._value.get() == 1


def test_open_files_cap_gives_up_oldest_rotated(tmp_path: Path, kafka_bootstrap: str,
                                                topic: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    s = settings(tmp_path, kafka_bootstrap, topic, rate_limit_lines=100, max_open_files=2,
                 read_chunk_bytes=4096, max_line_bytes=1024)
    a = tmp_path / "log" / "a.log"
    a.write_bytes(lines("a", 20000))
    reader = TopicReader(kafka_bootstrap, topic)
    with running(s) as agent:
        reader.until(lambda rs: len(rs) >= 1)
        os.rename(a, f"{a}.1")  # a.log.1 is draining, slowly
        a.write_bytes(lines("a2", 2))  # opening it reaches the cap of 2
        (tmp_path / "log" / "b.log").write_bytes(lines("b", 2))  # over the cap
        wait_for(lambda: agent.metrics.given_up._value.get() > 0, 30, "give up")
        reader.until(lambda rs: {"b 0", "b 1", "a2 0", "a2 1"} <= messages(rs))
        assert agent._open_files() <= 2
    reader.close()
    # The draining a.log.1 was given up, for the cap, and nothing else.
    assert [reason for _, reason in given_up(caplog)] == ["open-files cap"]
    assert given_up(caplog)[0][0] == str(a)  # the path it was read under
