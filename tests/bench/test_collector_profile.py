"""bench.collector_profile's summary of py-spy's raw samples (the recording itself needs
py-spy attached to a live collector: `python -m bench.collector_profile`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.collector_profile import summarize, thread_cpu, thread_times

MAIN = ("thread (1): MainThread;Agent._loop (collector/agent.py:106);"
        "Source.read (collector/source.py:249)")


def test_samples_are_summed_by_step_and_own_frame(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text("\n".join([
        f"{MAIN};container_lines (collector/fastpath.py:213);scan (collector/_fastpath.c:1100);"
        "parse_docker (collector/_fastpath.c:330) 6",
        f"{MAIN};container_lines (collector/fastpath.py:255);Source.feed_line "
        "(collector/source.py:300);parse_docker (collector/parsers.py:90) 3",
        f"{MAIN};container_lines (collector/fastpath.py:230) 1",
        "thread (2): Thread-1;poll (libc.so.6) 50",  # not the main thread: left out
    ]) + "\n")
    summarize(raw)
    out = capsys.readouterr().out
    assert "10 samples" in out
    assert " 60.0%  scan\n" in out and " 30.0%  Source.feed_line\n" in out
    assert " 10.0%  container_lines\n" in out
    assert " 60.0%  parse_docker (collector/_fastpath.c)" in out
    assert " 30.0%  parse_docker (collector/parsers.py)" in out
    assert "poll" not in out


def test_thread_cpu_is_the_difference_by_thread_name() -> None:
    """Read from /proc for a live process: this one's main thread spends CPU between
    the two readings, and only the difference counts."""
    before = thread_times(os.getpid())
    name = Path("/proc/self/comm").read_text().strip()
    assert name in before
    spin = sum(i * i for i in range(3_000_000))  # some CPU on the main thread
    after = thread_times(os.getpid())
    assert spin and after[name] > before[name]
    out = thread_cpu({name: before[name]}, {name: before[name] + 0.002, "rdk:broker": 0.001},
                     1000)
    assert out == "CPU µs per line by thread: " + f"{name} 2.00, rdk:broker 1.00"
