"""Client benchmark: how fast the ``logpipe`` command line moves history to a terminal
or a file, each beside a peer measured in the same run on the same records:

* ``logpipe logs -o raw`` (the NDJSON stream decoded and rendered line by line),
* ``logpipe logs -o text`` (prefix and level added),
* ``logpipe download -F text`` (the API streams; the client only writes),
* peer: the same ``/download?format=text`` read raw with httpx (no CLI at all).

    python -m bench client

Environment: BENCH_CLIENT_RECORDS (default 200000; kept under the prefix
``lpbench-client`` between runs and rebuilt when its count differs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from forwarder.template import install_template
from logpipe.document import index_name
from logpipe.record import Record, stable_id
from logpipe.timefmt import format_ns
from tests.client.harness import TOKENS, live_api
from tests.conftest import free_port

PREFIX = "lpbench-client"
KAFKA = os.environ.get("LOGPIPE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
ES_URL = os.environ.get("LOGPIPE_ES_URL", "http://127.0.0.1:9200")
N = int(os.environ.get("BENCH_CLIENT_RECORDS", "200000"))
BASE_NS = 1_795_000_000 * 10**9  # 2026-11-18, 10 records a second
LOGPIPE = str(Path(sys.executable).parent / "logpipe")


def _record(i: int) -> Record:
    ts = format_ns(BASE_NS + i * 100_000_000)
    app = ("checkout", "ledger", "booking", "search")[i % 4]
    return Record(id=stable_id("bench-client", str(i)), ts=ts, ingest_ts=ts, node="node-1",
                  source="cri", path=f"/var/log/pods/{app}.log", offset=i * 120,
                  message=f"GET /api/v1/orders/{i} 200 {i % 97}ms user={i % 1013} "
                          "region=eu-west-1 trace=4bf92f3577b34da6a3ce929d0e0e4736",
                  level=("info", "info", "info", "warn", "error")[i % 5], stream="stdout",
                  container_id=f"c-{app}", container_name=app, namespace="pay",
                  pod=f"{app}-5f6d-a", app=app)


def _ensure_index(es: Elasticsearch) -> None:
    have = es.count(index=f"{PREFIX}-*", ignore_unavailable=True,
                    allow_no_indices=True)["count"]
    if have == N:
        return
    es.options(ignore_status=404).indices.delete(index=f"{PREFIX}-*")
    install_template(es, PREFIX, 1, 0, "-1", 300)

    def actions() -> Iterator[dict[str, object]]:
        for i in range(N):
            r = _record(i)
            yield {"_index": index_name(PREFIX, r.ts), "_id": r.id, "_source": r.to_dict()}

    for ok, item in streaming_bulk(es, actions(), chunk_size=5000, raise_on_error=True):
        assert ok, item
    es.indices.refresh(index=f"{PREFIX}-*")


def _run(args: list[str], url: str) -> tuple[float, int]:
    env = {**os.environ, "LOGPIPE_URL": url, "LOGPIPE_TOKEN": TOKENS["admin"],
           "LOGPIPE_CLIENT_CONFIG": "/nonexistent/none.yaml"}
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        subprocess.run([LOGPIPE, *args], stdout=out, stderr=subprocess.DEVNULL, env=env,
                       check=True, timeout=1800)
        took = time.perf_counter() - start
        return took, out.tell()


def _raw_download(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    n = 0
    with httpx.stream("GET", f"{url}/api/v1/download", params={"format": "text"},
                      headers={"Authorization": f"Bearer {TOKENS['admin']}"},
                      timeout=600) as resp:
        resp.raise_for_status()
        for chunk in resp.iter_bytes(65536):
            n += len(chunk)
    return time.perf_counter() - start, n


def main() -> None:
    es = Elasticsearch(ES_URL, request_timeout=120)
    _ensure_index(es)
    topic = f"lpbench-client-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": KAFKA})
    for fut in admin.create_topics([NewTopic(topic, num_partitions=1,
                                             replication_factor=1)]).values():
        fut.result(30)
    span = ["--since", format_ns(BASE_NS), "--until", format_ns(BASE_NS + N * 100_000_000)]
    rows: list[tuple[str, float, int]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp, live_api(
                es, ES_URL, KAFKA, topic, PREFIX, Path(tmp), free_port()) as api:
            _raw_download(api.url)  # warm Elasticsearch's caches: no case pays for it
            with tempfile.TemporaryDirectory() as out_dir:
                cases = [
                    ("logpipe logs -o raw", ["logs", *span, "-o", "raw"]),
                    ("logpipe logs -o text", ["logs", *span, "-o", "text"]),
                    ("logpipe download -F text", ["download", *span, "-F", "text", "-o",
                                                  str(Path(out_dir) / "x.log")]),
                ]
                for name, args in cases:
                    took, size = _run(args, api.url)
                    if name.startswith("logpipe download"):
                        size = (Path(out_dir) / "x.log").stat().st_size
                    rows.append((name, took, size))
            took, size = _raw_download(api.url)
            rows.append(("peer: raw httpx GET /download", took, size))
    finally:
        for fut in admin.delete_topics([topic]).values():
            fut.result(30)
        es.close()
    print(f"client: {N:,} records of ~{rows[0][2] // max(N, 1)} B printed / written")
    print(f"{'what':36} {'seconds':>8} {'entries/s':>11} {'MB/s':>7}  vs peer")
    peer = rows[-1][1]
    for name, took, size in rows:
        print(f"{name:36} {took:8.2f} {N / took:11,.0f} {size / took / 1e6:7.1f}  "
              f"{peer / took:6.2f}x")


if __name__ == "__main__":
    main()
