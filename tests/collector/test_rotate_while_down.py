"""Files that rotate while the collector is down (a rolling update or an OOM kill on
a busy node): SIGKILL the collector, rotate every file twice the way its writer
does, restart; three times. Every line reaches Kafka, each with one id.

Writers imitated: Docker json-file (``-json.log.1`` ... ``.N``, gzip'd with
``compress=true``), the kubelet (``0.log.<stamp>``, older ones gzip'd), logrotate
with rename (``syslog.1``, ``syslog.2.gz``) and with copytruncate.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.collector.helpers import (
    TopicReader,
    append,
    assert_same_id_per_line,
    docker_container,
    docker_lines,
    messages,
    wait_for,
)
from tests.collector.test_crash import start

# A deliberate budget above the suite's 300 s:
# three SIGKILLs while files rotate, each restart catching up.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

KILLS = 3
LINES = 300  # per file per write


def cri_lines(texts: list[str]) -> bytes:
    return b"".join(f"2026-12-01T00:00:00.{i:09d}Z stdout F {t}\n".encode()
                    for i, t in enumerate(texts))


def plain_lines(texts: list[str]) -> bytes:
    return "".join(t + "\n" for t in texts).encode()


def gzip_away(path: str) -> None:
    with open(path, "rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.unlink(path)


class Writers:
    """One writer per rotation style; ``rotate(name)`` rotates like its tool does."""

    def __init__(self, root: Path) -> None:
        (root / "log").mkdir()
        cri = root / "pods" / "shop_web-0_0f0e" / "web"
        cri.mkdir(parents=True)
        self.paths = {"docker": docker_container(root, "rot-docker"),
                      "docker-gz": docker_container(root, "rot-docker-gz"),
                      "cri": cri / "0.log", "rename": root / "log" / "syslog",
                      "copytruncate": root / "log" / "app.log"}
        self.stamp = 0
        self.written: list[str] = []

    def write(self, tag: str) -> None:
        for name, path in self.paths.items():
            texts = [f"{name} {tag} line {i}" for i in range(LINES)]
            self.written.extend(texts)
            enc = {"docker": docker_lines, "docker-gz": docker_lines, "cri": cri_lines}.get(
                name, plain_lines)
            append(path, enc(texts))

    def rotate(self) -> None:
        for name, path in self.paths.items():
            p = str(path)
            if name in ("docker", "docker-gz", "rename"):
                for n in range(5, 0, -1):  # .N -> .N+1 (and .N.gz -> .N+1.gz)
                    for ext in ("", ".gz"):
                        if os.path.exists(f"{p}.{n}{ext}"):
                            os.rename(f"{p}.{n}{ext}", f"{p}.{n + 1}{ext}")
                os.rename(p, f"{p}.1")
                if name in ("docker-gz", "rename") and os.path.exists(f"{p}.2"):
                    gzip_away(f"{p}.2")  # delaycompress / Docker compress=true
            elif name == "cri":
                self.stamp += 1
                older = [f for f in os.listdir(path.parent) if f.startswith("0.log.")
                         and not f.endswith(".gz")]
                os.rename(p, f"{p}.20261201-00000{self.stamp}")
                for f in older:  # the kubelet keeps the newest rotated file plain
                    gzip_away(str(path.parent / f))
            else:  # copytruncate
                for n in range(9, 0, -1):
                    if os.path.exists(f"{p}.{n}"):
                        os.rename(f"{p}.{n}", f"{p}.{n + 1}")
                shutil.copy(p, f"{p}.1")
                with open(p, "r+b") as fh:
                    fh.truncate(0)
            if name != "copytruncate":
                path.touch()


def checkpointed(root: Path) -> int:
    try:
        data = orjson.loads((root / "state" / "checkpoints.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return 0
    return sum(1 for c in data["files"] if c["offset"] > 0)


def chaos(root: Path, bootstrap: str, topic: str, w: Writers,
          arrived: Callable[[list[str]], object], **env: str) -> subprocess.Popen[bytes]:
    """KILLS times: lines written and delivered (``arrived`` waits for them), more lines,
    SIGKILL, every file rotated twice with lines in between, restart. Returns the
    collector running after the last restart."""
    sources = '["docker", "cri", "file"]'
    proc = start(root, bootstrap, topic, sources=sources, **env)
    try:
        for kill in range(KILLS):
            w.write(f"k{kill} before")
            arrived(w.written)
            wait_for(lambda: checkpointed(root) >= len(w.paths), 30, "checkpoints")
            w.write(f"k{kill} unsent")  # read or not: the kill comes now
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            w.rotate()
            w.write(f"k{kill} between")  # the file that is renamed again before restart
            w.rotate()
            w.write(f"k{kill} after")
            proc = start(root, bootstrap, topic, sources=sources, **env)
    except BaseException:
        proc.kill()
        raise
    return proc


def test_sigkill_while_every_kind_of_file_rotates_twice(tmp_path: Path, kafka_bootstrap: str,
                                                        topic: str) -> None:
    w = Writers(tmp_path)
    reader = TopicReader(kafka_bootstrap, topic)
    proc = None
    try:
        proc = chaos(tmp_path, kafka_bootstrap, topic, w,
                     lambda want: reader.until(lambda rs: set(want) <= messages(rs), timeout=60))
        got = reader.until(lambda rs: set(w.written) <= messages(rs), timeout=90)
        assert proc.poll() is None, (tmp_path / "collector.err").read_text()[-3000:]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        reader.close()
    assert len(set(w.written)) == len(w.written) == KILLS * 4 * LINES * len(w.paths)
    assert_same_id_per_line(got)
    # nothing from outside the writes (e.g. a file read twice under another identity)
    per_id = Counter(r.id for r in got)
    assert len(per_id) == len(w.written)
    assert proc.returncode == 0


def test_no_flood_of_old_history_on_first_start(tmp_path: Path, kafka_bootstrap: str,
                                                topic: str) -> None:
    # Rotated files that existed before the collector first started are history:
    # start_at governs the live file only; nothing of .1/.2.gz is read.
    path = docker_container(tmp_path, "old-history")
    (tmp_path / "log").mkdir()
    append(path, docker_lines(["old 1"]))
    os.rename(path, f"{path}.1")
    append(path, docker_lines(["old 2"]))
    gzip_away(f"{path}.1")
    os.rename(path, f"{path}.1")
    append(path, docker_lines(["live 1"]))
    reader = TopicReader(kafka_bootstrap, topic)
    proc = start(tmp_path, kafka_bootstrap, topic)
    try:
        reader.until(lambda rs: "live 1" in messages(rs), timeout=60)
        append(path, docker_lines(["live 2"]))
        got = reader.until(lambda rs: "live 2" in messages(rs), timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        reader.close()
    assert sorted(messages(got)) == ["live 1", "live 2"]
