"""Helpers for the collector benchmark: Docker json-file generation, process stats,
the collector as a subprocess, rsyslog (imfile -> omkafka) and the raw producer."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

TS = "2026-11-26T07:00:00.000000000Z"
CLK = os.sysconf("SC_CLK_TCK")


def line(i: int, k: int) -> bytes:
    """One ~200-byte Docker json-file line."""
    return orjson.dumps({"log": f"2026-11-26 07:00:00.123 INFO [http-{k}] c.e.Api - GET "
                         f"/api/v1/orders/{i}/items 200 {i % 900}ms user={i % 1000} "
                         f"trace={i:016x}\n",
                         "stream": "stdout", "time": TS}) + b"\n"


def make_containers(root: Path, files: int, lines: int) -> int:
    """``files`` container folders with ``lines`` lines between them; returns bytes."""
    total = 0
    per = lines // files
    for k in range(files):
        cid = f"{k:064x}"
        folder = root / cid
        folder.mkdir(parents=True)
        (folder / "config.v2.json").write_bytes(orjson.dumps(
            {"ID": cid, "Name": f"/web-{k}", "Config": {"Image": "web:1", "Labels": {}}}))
        data = b"".join(line(i, k) for i in range(per))
        (folder / f"{cid}-json.log").write_bytes(data)
        total += len(data)
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_topic(bootstrap: str, name: str, log_append_time: bool = False) -> str:
    config = {"message.timestamp.type": "LogAppendTime"} if log_append_time else {}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, 3, 1, config=config)])[name].result(30)
    return name


def drop_topic(bootstrap: str, name: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.delete_topics([name]).values():
        with contextlib.suppress(Exception):  # cleanup only
            fut.result(30)


def topic_count(consumer: Consumer, topic: str) -> int:
    """Messages in the topic (sum of high watermarks): what Kafka acknowledged."""
    try:
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                   for p in range(3))
    except KafkaException:  # a new topic's metadata may not have reached this client yet
        return 0


def proc_stats(pid: int) -> tuple[float, float, float]:
    """(cpu seconds, current RSS MB, peak RSS MB) of a process."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as fh:
        for row in fh:
            if row.startswith("VmRSS:"):
                rss = int(row.split()[1]) / 1024
            elif row.startswith("VmHWM:"):
                hwm = int(row.split()[1]) / 1024
    return cpu, rss, hwm


def wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def terminate(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout``; always reaped."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class CollectorProc:
    """``python -m collector`` on a Docker root (``kind`` docker) or a /var/log/pods root
    (``kind`` cri), with its metrics port."""

    def __init__(self, work: Path, root: Path, bootstrap: str, topic: str,
                 kind: str = "docker", **env: str) -> None:
        self.port = free_port()
        work.mkdir(parents=True, exist_ok=True)
        environ = dict(os.environ)
        environ.pop("LOGPIPE_CONFIG", None)
        root_var = {"docker": "LOGPIPE_DOCKER_ROOT", "cri": "LOGPIPE_CRI_ROOT"}[kind]
        environ.update({root_var: str(root), "LOGPIPE_SOURCES": f'["{kind}"]',
                        "LOGPIPE_POD_METADATA": "false",
                        "LOGPIPE_STATE_DIR": str(work / "state"), "LOGPIPE_KAFKA_BOOTSTRAP":
                        bootstrap, "LOGPIPE_KAFKA_TOPIC": topic, "LOGPIPE_METRICS_PORT":
                        str(self.port), "LOGPIPE_METRICS_HOST": "127.0.0.1",
                        "LOGPIPE_NODE_NAME": "bench", **env})
        self.err = open(work / "collector.err", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "collector"], env=environ,
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        wait(self.ready, 60, "collector ready")

    def ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stats(self) -> tuple[float, float, float]:
        return proc_stats(self.proc.pid)

    def stop(self) -> None:
        terminate(self.proc)
        self.err.close()


# Checked against the rsyslog 8.2302 docs (global, imfile, omkafka). maxMessageSize
# comes first (it must precede any input): the default 8k would cut the 16 KiB Docker
# and CRI pieces in two messages. The template sends each file line as it is.
RSYSLOG_CONF = """
global(maxMessageSize="64k" workDirectory="{work}")
module(load="imfile" mode="inotify")
module(load="omkafka")
template(name="raw" type="string" string="%msg%")
input(type="imfile" file="{root}/{glob}" tag="logs" ruleset="kafka"
      freshStartTail="off" reopenOnTruncate="on")
ruleset(name="kafka" queue.type="LinkedList" queue.size="200000"
        queue.dequeueBatchSize="2048") {{
  action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="raw"
         partitions.auto="on"
         confParam=["compression.codec=lz4", "request.required.acks=-1",
                    "enable.idempotence=true", "queue.buffering.max.ms=20",
                    "batch.num.messages=10000"])
}}
"""


class RsyslogProc:
    """rsyslogd (imfile -> omkafka) in the foreground with its own config and state."""

    def __init__(self, work: Path, root: Path, bootstrap: str, topic: str,
                 glob: str = "*/*-json.log") -> None:
        work.mkdir(parents=True, exist_ok=True)
        conf = work / "rsyslog.conf"
        conf.write_text(RSYSLOG_CONF.format(work=work, root=root, glob=glob,
                                            bootstrap=bootstrap, topic=topic))
        self.err = open(work / "rsyslog.err", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i",
                                      str(work / "rsyslog.pid")],
                                     stdout=self.err, stderr=self.err)

    def stats(self) -> tuple[float, float, float]:
        return proc_stats(self.proc.pid)

    def stop(self) -> None:
        terminate(self.proc)
        self.err.close()


def rsyslog_available() -> bool:
    return shutil.which("rsyslogd") is not None and any(
        Path(d, "omkafka.so").exists() for d in ("/usr/lib/x86_64-linux-gnu/rsyslog",
                                                 "/usr/lib/aarch64-linux-gnu/rsyslog",
                                                 "/usr/lib/rsyslog"))


def raw_producer(bootstrap: str, topic: str, paths: list[Path]) -> tuple[int, float, float]:
    """The ceiling: every line of every file sent as it is by one confluent-kafka
    producer (same acks/idempotence/compression); (messages, seconds, cpu seconds)."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "compression.type": "lz4", "linger.ms": 20, "batch.size": 1_000_000})
    t0, c0 = time.monotonic(), time.process_time()
    n = 0
    for path in paths:
        key = str(path.parent).encode()  # one key per file, as the collector keys a stream
        for raw in path.read_bytes().splitlines():
            while True:
                try:
                    p.produce(topic, raw, key)
                    break
                except BufferError:
                    p.poll(0.05)
            n += 1
            if n % 10000 == 0:
                p.poll(0)
    assert p.flush(120) == 0
    return n, time.monotonic() - t0, time.process_time() - c0
