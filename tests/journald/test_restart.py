"""journalctl's restart back-off and the back-pressure on it, with a stand-in
journalctl (a script: the real one cannot be made to crash or to print faster than a
test reads) and the real Kafka."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from journald.follow import JournaldRole
from journald.settings import JournaldSettings
from tests.kube.fixtures import wait_for
from tests.kube.kafka_util import read_records
from tests.roles import RunningRole

pytestmark = pytest.mark.integration


def _entry(seq: int, message: str) -> bytes:
    return orjson.dumps({"__CURSOR": f"s=1;i={seq}", "MESSAGE": message, "PRIORITY": "6",
                         "_SYSTEMD_UNIT": "fake.service",
                         "__REALTIME_TIMESTAMP": str(1_764_000_000_000_000 + seq)})


def _stand_in(tmp_path: Path, body: str) -> Path:
    """An executable journalctl that appends its arguments to calls.txt, then runs body."""
    script = tmp_path / "journalctl"
    script.write_text(f"#!{sys.executable}\nimport sys, pathlib\n"
                      f"calls = pathlib.Path({str(tmp_path / 'calls.txt')!r})\n"
                      "with calls.open('a') as f:\n    f.write(' '.join(sys.argv[1:]) + '\\n')\n"
                      "run = len(calls.read_text().splitlines())\n" + body)
    script.chmod(0o755)
    return script


def _settings(tmp_path: Path, bootstrap: str, topic: str, script: Path,
              **extra: Any) -> JournaldSettings:
    return JournaldSettings(kafka_bootstrap=bootstrap, kafka_topic=topic,
                            journalctl=str(script), journal_directory=str(tmp_path),
                            cursor_file=str(tmp_path / "cursor"), metrics_port=0,
                            checkpoint_interval_s=0.1, restart_backoff_max_s=2.0, **extra)


def test_restart_backs_off_doubling_to_the_cap_and_from_the_start_after_entries(
        tmp_path: Path, kafka_bootstrap: str, topic: str) -> None:
    # Runs 1-4 and 6-7 exit at once with an error; run 5 prints one entry first.
    entry = _entry(5, "from run 5").decode()
    script = _stand_in(tmp_path, (
        f"if run == 5:\n    print({entry!r}, flush=True)\n"
        "sys.stderr.write(f'journal gone (run {run})\\n')\nsys.exit(1)\n"))
    role = JournaldRole(_settings(tmp_path, kafka_bootstrap, topic, script))
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # recorded, not slept: no clock in the test
        pauses.append(seconds)
        if len(pauses) == 7:
            role.stop.set()

    role._pause = pause  # type: ignore[method-assign]
    run = RunningRole(role)
    wait_for(lambda: not run.thread.is_alive(), "seven exits", timeout=120)
    run.stop()
    # 0.5 s doubling to the cap of 2 s; an entry shipped resets it to 0.5 s.
    assert pauses == [0.5, 1.0, 2.0, 2.0, 0.5, 1.0, 2.0]
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert len(calls) == 7
    # Each restart resumes after the last entry read: none before run 5, its after it.
    assert ["--after-cursor=s=1;i=5" in c for c in calls] == [False] * 5 + [True] * 2
    got = read_records(kafka_bootstrap, topic, expect=1)
    assert [r.message for _, r in got] == ["from run 5"]


def test_a_slow_kafka_side_blocks_journalctl_and_drops_nothing(
        tmp_path: Path, kafka_bootstrap: str, topic: str) -> None:
    total = 5000  # about 2 MB: far more than the queue, the reader and the pipe hold
    done = tmp_path / "printed-all"
    lines = "".join(_entry(i, f"entry {i} " + "x" * 300).decode() + "\n"
                    for i in range(total))
    (tmp_path / "entries.json").write_text(lines)
    script = _stand_in(tmp_path, (
        f"sys.stdout.write(open({str(tmp_path / 'entries.json')!r}).read())\n"
        f"sys.stdout.flush()\nopen({str(done)!r}, 'w').close()\n"
        "import time\ntime.sleep(3600)  # then follows, as journalctl --follow does\n"))
    role = JournaldRole(_settings(tmp_path, kafka_bootstrap, topic, script, queue_size=256))
    release = threading.Event()
    handle = role._handle

    def held(line: bytes) -> None:  # the Kafka side stuck on the very first entry
        release.wait()
        handle(line)

    role._handle = held  # type: ignore[method-assign]
    run = RunningRole(role)
    try:
        wait_for(lambda: role._lines.full(), "the read-ahead queue full")
        # The reader blocks on the full queue, so journalctl blocks on its pipe: it
        # cannot have printed everything while nothing is taken off the queue.
        assert not done.exists()
        assert role._proc is not None and role._proc.poll() is None
        release.set()
        wait_for(lambda: role.entries == total, "every entry handled", timeout=120)
        assert done.exists()
    finally:
        release.set()
        run.stop()
    got = read_records(kafka_bootstrap, topic, expect=total, timeout=120)
    assert sorted(int(r.attrs["cursor"].rsplit("=", 1)[1]) for _, r in got) == \
        list(range(total))
    assert os.path.exists(tmp_path / "cursor")
