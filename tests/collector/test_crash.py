"""kill -9 in the middle of 200,000 lines while files rotate (rename and
copytruncate), restart: every line is in Kafka, and a line sent twice has one id."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import orjson
import pytest

from logpipe.record import Record
from tests.collector.helpers import (
    TopicReader,
    append,
    assert_same_id_per_line,
    docker_container,
    docker_lines,
    messages,
    wait_for,
)

# A deliberate budget above the suite's 300 s:
# 200,000 lines, a kill -9 per round, and a restart each time.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ROUNDS = 20
PER_FILE = 2000  # lines per file per round; 5 files -> 200,000 lines


def start(root: Path, bootstrap: str, topic: str,
          sources: str = '["docker", "file"]', **extra: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update({
        "LOGPIPE_DOCKER_ROOT": str(root / "docker"), "LOGPIPE_HOST_ROOT": str(root / "log"),
        "LOGPIPE_CRI_ROOT": str(root / "pods"),
        "LOGPIPE_SOURCES": sources, "LOGPIPE_STATE_DIR": str(root / "state"),
        "LOGPIPE_KAFKA_BOOTSTRAP": bootstrap, "LOGPIPE_KAFKA_TOPIC": topic,
        "LOGPIPE_NODE_NAME": "crash-node", "LOGPIPE_METRICS_PORT": "0",
        "LOGPIPE_ROTATE_CHECK_S": "0.2", "LOGPIPE_SCAN_INTERVAL_S": "1",
        "LOGPIPE_CHECKPOINT_INTERVAL_S": "0.2", "LOGPIPE_MULTILINE_FLUSH_MS": "50",
        "LOGPIPE_LEDGER_INTERVAL_S": "0.2"})
    env.update(extra)
    env.pop("LOGPIPE_CONFIG", None)
    with open(root / "collector.err", "ab") as err:  # the child keeps its own copy
        return subprocess.Popen([sys.executable, "-m", "collector"], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


def has(*texts: str) -> Callable[[list[Record]], bool]:
    want = set(texts)
    return lambda rs: want <= messages(rs)


def checkpointed_inodes(root: Path) -> set[int]:
    try:
        data = orjson.loads((root / "state" / "checkpoints.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return set()
    return {c["inode"] for c in data["files"] if c["offset"] > 0}


def test_sigkill_mid_stream_with_rotations(tmp_path: Path, kafka_bootstrap: str,
                                           topic: str) -> None:
    (tmp_path / "log").mkdir()
    files = [docker_container(tmp_path, f"crash{k}") for k in range(4)]
    host = tmp_path / "log" / "app.log"
    gens = [0] * 4
    expected: set[str] = set()
    reader = TopicReader(kafka_bootstrap, topic)
    proc = start(tmp_path, kafka_bootstrap, topic)
    try:
        for rnd in range(ROUNDS):
            for k, path in enumerate(files):
                texts = [f"c{k} g{gens[k]} r{rnd} line {i}" for i in range(PER_FILE)]
                append(path, docker_lines(texts))
                expected.update(texts)
            host_texts = [f"host r{rnd} line {i}" for i in range(PER_FILE)]
            append(host, "".join(t + "\n" for t in host_texts).encode())
            expected.update(host_texts)
            if rnd % 5 == 4 and proc.poll() is None:
                for k, path in enumerate(files):
                    # renamed once the collector knows the file (see test_kafka_e2e)
                    reader.until(has(f"c{k} g{gens[k]} r{rnd - 4 if gens[k] else 0} line 0"),
                                 timeout=60)
                    os.rename(path, f"{path}.{gens[k] + 1}")
                    gens[k] += 1
            if rnd == 7:
                inodes = {os.stat(p).st_ino for p in files}
                wait_for(partial(lambda i: i <= checkpointed_inodes(tmp_path), inodes), 60,
                         "checkpoints")
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            if rnd == 8:
                proc = start(tmp_path, kafka_bootstrap, topic)
            if rnd == 12:
                reader.until(has(*(t for t in expected if t.startswith("host "))), timeout=60)
                shutil.copy(host, f"{host}.1")
                with open(host, "r+b") as fh:
                    fh.truncate(0)
                wait_for(lambda: host.stat().st_size == 0, 5, "truncate")
        got = reader.until(lambda rs: expected <= messages(rs), timeout=120)
        assert proc.poll() is None, "the collector exited"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.close()
    assert len(expected) == ROUNDS * PER_FILE * 5
    assert_same_id_per_line(got)
    assert proc.returncode == 0
