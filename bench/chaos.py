"""Chaos: the collector SIGKILLed while Docker json-file logs rotate, through the real
forwarder into Elasticsearch; lines lost and duplicated counted from the index, and
the completeness audit's verdict.

    python -m bench chaos        (part of make bench)

Four containers write numbered lines at BENCH_CHAOS_RATE lines/s in all (default
10,000) and rotate the way Docker's json-file driver does at 2 MB (``-json.log`` ->
``.1``, ``.1`` -> ``.2`` ...; nothing is deleted, so every line can arrive). Runs:

1. kill -9 five times in 15 s while the files rotate;
2. kill -9 three times; each time every file rotates twice (0.5 s apart) before the
   restart, so a whole file is renamed away before the collector ever sees it.

A line is lost if its number is not in Elasticsearch, duplicated if it is there more
than once. The audit column is ``GET /api/v1/audit``'s verdict for the run's node.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
from elasticsearch import Elasticsearch

from bench.collector_peers import drop_topic, free_port, new_topic, terminate
from bench.e2e import ServiceProc
from logpipe.tokens import hash_token

ROTATE_BYTES = 2 << 20
CONTAINERS = 4
TS = "2026-12-01T00:00:00.000000000Z"


class Writers:
    """Numbered Docker json-file lines in CONTAINERS files, rotated at ROTATE_BYTES."""

    def __init__(self, root: Path, run: str) -> None:
        self.paths: list[Path] = []
        self.run = run
        for k in range(CONTAINERS):
            cid = uuid.uuid5(uuid.NAMESPACE_DNS, f"{run}-{k}").hex * 2
            folder = root / cid
            folder.mkdir(parents=True)
            (folder / "config.v2.json").write_bytes(orjson.dumps(
                {"ID": cid, "Name": f"/chaos-{k}", "Config": {"Image": "chaos:1", "Labels": {}}}))
            path = folder / f"{cid}-json.log"
            path.touch()
            self.paths.append(path)
        self.written = 0
        self.lock = threading.Lock()
        self.rotations = 0

    def write(self, count: int) -> None:
        """``count`` lines spread over the files; rotation when a file is full."""
        for k, path in enumerate(self.paths):
            n = count // CONTAINERS + (1 if k < count % CONTAINERS else 0)
            with self.lock:
                first = self.written
                self.written += n
            data = b"".join(orjson.dumps({"log": f"{self.run} line {first + i}\n",
                                          "stream": "stdout", "time": TS}) + b"\n"
                            for i in range(n))
            with open(path, "ab") as fh:
                fh.write(data)
            if path.stat().st_size >= ROTATE_BYTES:
                self.rotate(path)

    def rotate(self, path: Path) -> None:
        n = 1
        while Path(f"{path}.{n}").exists():
            n += 1
        for i in range(n, 1, -1):
            os.rename(f"{path}.{i - 1}", f"{path}.{i}")
        os.rename(path, f"{path}.1")
        path.touch()
        self.rotations += 1

    def rotate_all(self) -> None:
        for path in self.paths:
            self.rotate(path)


class Collector:
    def __init__(self, work: Path, docker: Path, bootstrap: str, topic: str, node: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if k != "LOGPIPE_CONFIG"}
        self.env.update({
            "LOGPIPE_DOCKER_ROOT": str(docker), "LOGPIPE_SOURCES": '["docker"]',
            "LOGPIPE_STATE_DIR": str(work / "state"), "LOGPIPE_KAFKA_BOOTSTRAP": bootstrap,
            "LOGPIPE_KAFKA_TOPIC": topic, "LOGPIPE_LEDGER_TOPIC": f"{topic}-ledger",
            "LOGPIPE_METRICS_PORT": "0", "LOGPIPE_NODE_NAME": node})
        self.err = work / "collector.err"
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with open(self.err, "ab") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "collector"], env=self.env,
                                         stdout=subprocess.DEVNULL, stderr=err)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            terminate(self.proc)


def _count(es: Elasticsearch, prefix: str, run: str) -> Counter[int]:
    """How many times each line number of ``run`` is in the index."""
    es.indices.refresh(index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True)
    seen: Counter[int] = Counter()
    resp = es.search(index=f"{prefix}-*", size=10_000, scroll="2m", source_includes=["message"],
                     query={"match": {"message": run}}, ignore_unavailable=True,
                     allow_no_indices=True)
    while resp["hits"]["hits"]:
        seen.update(int(h["_source"]["message"].rsplit(" ", 1)[1]) for h in resp["hits"]["hits"])
        resp = es.scroll(scroll_id=resp["_scroll_id"], scroll="2m")
    es.options(ignore_status=404).clear_scroll(scroll_id=resp["_scroll_id"])
    return seen


def _settle(es: Elasticsearch, prefix: str, run: str, written: int) -> Counter[int]:
    """The index once it stopped growing (or holds every line)."""
    last, since = -1, time.monotonic()
    while True:
        seen = _count(es, prefix, run)
        if len(seen) >= written or time.monotonic() - since > 30:
            return seen
        if len(seen) != last:
            last, since = len(seen), time.monotonic()
        time.sleep(1)


def _audit(api: str, token: str, node: str, lines: int) -> dict[str, Any]:
    """Asked until complete over every line written: a file's last ledger range is
    indexed up to a ledger interval after its records, and the audit is complete
    over the ranges it holds."""
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = httpx.get(f"{api}/api/v1/audit", params={"node": node,
                                         "since": "1h"}, timeout=60,
                                         headers={"Authorization": f"Bearer {token}"}).json()
        done = body.get("complete") and body.get("acked", 0) >= lines
        if done or time.monotonic() > deadline:
            return body
        time.sleep(1)


def run_scenario(name: str, work: Path, bootstrap: str, topic: str, es: Elasticsearch,
                 prefix: str, api: str, token: str, rate: int,
                 plan: str) -> dict[str, Any]:
    run = f"r{uuid.uuid4().hex[:8]}"
    node = f"chaos-{run}"
    docker = work / run / "docker"
    w = Writers(docker, run)
    c = Collector(work / run, docker, bootstrap, topic, node)
    c.start()
    stop = threading.Event()

    def writer() -> None:
        tick = 0.05
        while not stop.is_set():
            w.write(max(1, int(rate * tick)))
            time.sleep(tick)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        time.sleep(3)
        if plan == "kill-5-in-15s":
            for _ in range(5):
                time.sleep(3)
                c.kill()
                time.sleep(0.3)
                c.start()
        else:
            for _ in range(3):
                time.sleep(3)
                c.kill()
                w.rotate_all()
                time.sleep(0.5)
                w.rotate_all()
                c.start()
        time.sleep(3)
    finally:
        stop.set()
        thread.join()
    seen = _settle(es, prefix, run, w.written)
    audit = _audit(api, token, node, w.written)
    c.stop()
    lost = sum(1 for i in range(w.written) if i not in seen)
    duplicated = sum(n - 1 for n in seen.values() if n > 1)
    return {"run": name, "lines": w.written, "kills": c.kills, "rotations": w.rotations,
            "lost": lost, "duplicated": duplicated,
            "audit": "complete" if audit.get("complete") else
            f"NOT complete (missing {audit.get('missing')}, gaps {audit.get('gaps')})",
            "acked": int(audit.get("acked") or 0)}


def main() -> None:
    bootstrap = os.environ.get("LOGPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    es_url = os.environ.get("LOGPIPE_ES_URL", "http://127.0.0.1:9200")
    rate = int(os.environ.get("BENCH_CHAOS_RATE", "10000"))
    topic = new_topic(bootstrap, f"bench-chaos-{uuid.uuid4().hex[:8]}")
    new_topic(bootstrap, f"{topic}-ledger")
    prefix = f"bench-chaos-{topic}"
    es = Elasticsearch(es_url, request_timeout=60)
    token = uuid.uuid4().hex
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as tmp:
        work = Path(tmp)
        common = {"LOGPIPE_KAFKA_BOOTSTRAP": bootstrap, "LOGPIPE_KAFKA_TOPIC": topic,
                  "LOGPIPE_ES_URL": es_url, "LOGPIPE_INDEX_PREFIX": prefix,
                  "LOGPIPE_LEDGER_TOPIC": f"{topic}-ledger"}
        fport, aport = free_port(), free_port()
        forwarder = ServiceProc(work, ["forwarder"], fport, {
            **common, "LOGPIPE_METRICS_HOST": "127.0.0.1", "LOGPIPE_METRICS_PORT": str(fport),
            "LOGPIPE_CONSUMER_GROUP": topic})
        tokens = work / "tokens.yaml"
        tokens.write_bytes(orjson.dumps({"tokens": [
            {"name": "admin", "sha256": hash_token(token), "admin": True}]}))
        api = ServiceProc(work, ["api"], aport, {
            **common, "LOGPIPE_PORT": str(aport), "LOGPIPE_TOKENS_FILE": str(tokens),
            "LOGPIPE_FORWARDER_GROUP": topic})
        try:
            for name, plan in (("kill -9 5 times in 15 s while files rotate", "kill-5-in-15s"),
                               ("kill -9 3 times; every file rotates twice before restart",
                                "rotate-twice-while-down")):
                rows.append(run_scenario(name, work, bootstrap, topic, es, prefix, api.url,
                                         token, rate, plan))
        finally:
            api.stop()
            forwarder.stop()
            es.options(ignore_status=404).indices.delete(index=f"{prefix}*")
            drop_topic(bootstrap, topic)
            drop_topic(bootstrap, f"{topic}-ledger")
            es.close()
    print(f"{CONTAINERS} Docker json-file containers, {rate:,} lines/s in all, rotating at "
          f"2 MB; collector -> Kafka -> forwarder -> Elasticsearch\n")
    print("| run | lines | kills | rotations | lost | duplicated | audit | audit's acked |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for r in rows:
        print(f"| {r['run']} | {r['lines']:,} | {r['kills']} | {r['rotations']} | "
              f"{r['lost']:,} | {r['duplicated']:,} | {r['audit']} | {r['acked']:,} |")
    sys.stdout.flush()
