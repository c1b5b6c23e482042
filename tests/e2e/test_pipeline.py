"""The whole way through the real programs: lines written to a Docker container's log
file -> the collector process -> Kafka -> the forwarder process -> Elasticsearch ->
the Log API process's search, live tail, download and statistics. No helper imitates
a program here, and every expected value is written out literally."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest
from httpx_sse import connect_sse

from tests.collector.helpers import append, docker_container, wait_for
from tests.collector.test_crash import start
from tests.forwarder.util import ROOT, forwarder_env, free_port, running
from tests.log_api.helpers import PAY, auth, write_tokens

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

LABELS = {"com.docker.compose.project": "pay", "com.docker.compose.service": "checkout"}
# docker_container() names the container folder after uuid5(DNS, name), twice.
CONTAINER_ID = "2a7fd5a5540855ffbb33929fec1d5a36" * 2
# (time, stream, text) of each physical line the container writes.
LINES = [
    ("2026-12-01T10:00:01.000000001Z", "stdout", "INFO order 1001 placed"),
    ("2026-12-01T10:00:02.000000002Z", "stdout", "WARN payment retry for order 1001"),
    ("2026-12-01T10:00:03.000000003Z", "stderr", "ERROR payment declined for order 1002"),
    ("2026-12-01T10:00:03.000000004Z", "stderr", "    at pay.Charge.run(Charge.java:42)"),
    ("2026-12-01T10:00:04.000000005Z", "stdout", "DEBUG cache warm: 12 keys"),
    ("2026-12-01T10:00:05.000000006Z", "stdout", "INFO order 1003 shipped"),
]
LIVE = [("2026-12-01T10:00:06.000000007Z", "stdout", "ERROR order 1004 lost by the courier")]


def docker_json(lines: list[tuple[str, str, str]]) -> bytes:
    return b"".join(orjson.dumps({"log": text + "\n", "stream": stream, "time": ts}) + b"\n"
                    for ts, stream, text in lines)


@contextmanager
def log_api(tmp_path: Path, kafka: str, es_url: str, topic: str, prefix: str,
            group: str) -> Iterator[str]:
    """``logpipe api`` as a process on a free port; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({
        "LOGPIPE_KAFKA_BOOTSTRAP": kafka, "LOGPIPE_ES_URL": es_url,
        "LOGPIPE_KAFKA_TOPIC": topic, "LOGPIPE_INDEX_PREFIX": prefix,
        "LOGPIPE_FORWARDER_GROUP": group, "LOGPIPE_PORT": str(port),
        "LOGPIPE_TOKENS_FILE": str(write_tokens(tmp_path / "tokens.yaml"))})
    log = tmp_path / "api.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from cli.main import main; main()",
                                 "api"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, 90, "the Log API to be ready")
        yield base
    except BaseException:
        print(f"--- api log ---\n{log.read_text(errors='replace')[-6000:]}")
        raise
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)


def test_container_lines_reach_search_tail_download_and_statistics(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str,
        index_prefix: str) -> None:
    group = f"lpt-fwd-{uuid.uuid4().hex[:8]}"
    (tmp_path / "log").mkdir()
    path = docker_container(tmp_path, "checkout-1", LABELS)
    append(path, docker_json(LINES))
    fwd = forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group)
    collector = start(tmp_path, kafka_bootstrap, topic, sources='["docker"]',
                      LOGPIPE_NODE_NAME="node-7")
    try:
        with running(fwd, tmp_path / "forwarder.log"), \
                log_api(tmp_path, kafka_bootstrap, es_url, topic, index_prefix, group) as base, \
                httpx.Client(base_url=f"{base}/api/v1", headers=auth(PAY), timeout=60) as api:

            def indexed(n: int) -> bool:
                resp = api.get("/search", params={"order": "oldest"})
                return resp.status_code == 200 and len(resp.json()["entries"]) == n

            wait_for(lambda: indexed(5), 120, "five entries searchable")
            page = api.get("/search", params={"order": "oldest"}).json()
            seen = [(e["ts"], e["level"], e["stream"], e["message"]) for e in page["entries"]]
            assert seen == [
                ("2026-12-01T10:00:01.000000001Z", "info", "stdout", "INFO order 1001 placed"),
                ("2026-12-01T10:00:02.000000002Z", "warn", "stdout",
                 "WARN payment retry for order 1001"),
                ("2026-12-01T10:00:03.000000003Z", "error", "stderr",
                 "ERROR payment declined for order 1002\n    at pay.Charge.run(Charge.java:42)"),
                ("2026-12-01T10:00:04.000000005Z", "debug", "stdout", "DEBUG cache warm: 12 keys"),
                ("2026-12-01T10:00:05.000000006Z", "info", "stdout", "INFO order 1003 shipped"),
            ]
            assert page["total"] == 5 and page["next_cursor"] is None
            first = page["entries"][0]
            assert {k: first[k] for k in ("namespace", "app", "container_name", "node", "source",
                                          "path", "image")} == {
                "namespace": "pay", "app": "checkout", "container_name": "checkout-1",
                "node": "node-7", "source": "docker", "path": str(path),
                "image": "checkout-1:1"}
            assert page["entries"][2]["tags"] == ["multiline"]
            assert first["container_id"] == CONTAINER_ID

            words = api.get("/search", params={"q": "payment", "order": "oldest"}).json()
            assert [e["message"].splitlines()[0] for e in words["entries"]] == [
                "WARN payment retry for order 1001", "ERROR payment declined for order 1002"]
            assert api.get("/search", headers=auth("hotel-token")).json()["entries"] == []

            levels = api.get("/stats/levels").json()
            assert levels["total"] == 5
            assert {lv["level"]: (lv["count"], lv["percent"]) for lv in levels["levels"]} == {
                "trace": (0, 0.0), "debug": (1, 20.0), "info": (2, 40.0), "warn": (1, 20.0),
                "error": (1, 20.0), "fatal": (0, 0.0), "unknown": (0, 0.0)}
            apps = api.get("/stats/apps").json()
            assert [(a["app"], a["entries"], a["bytes"]) for a in apps["top"]] == [
                ("checkout", 5, 178)]
            assert (apps["total_entries"], apps["total_bytes"], apps["other"]) == (5, 178, None)

            text = api.get("/download", params={"format": "text", "timestamps": "true",
                                                "prefix": "true"})
            assert text.status_code == 200
            assert text.text == (
                "[pay/checkout/checkout-1] 2026-12-01T10:00:01.000000001Z INFO order 1001 placed\n"
                "[pay/checkout/checkout-1] 2026-12-01T10:00:02.000000002Z "
                "WARN payment retry for order 1001\n"
                "[pay/checkout/checkout-1] 2026-12-01T10:00:03.000000003Z "
                "ERROR payment declined for order 1002\n    at pay.Charge.run(Charge.java:42)\n"
                "[pay/checkout/checkout-1] 2026-12-01T10:00:04.000000005Z "
                "DEBUG cache warm: 12 keys\n"
                "[pay/checkout/checkout-1] 2026-12-01T10:00:05.000000006Z "
                "INFO order 1003 shipped\n")
            ndjson = api.get("/download", params={"level": "error"})
            [line] = ndjson.text.splitlines()
            doc = orjson.loads(line)
            assert doc["id"] == page["entries"][2]["id"]
            del doc["id"], doc["ingest_ts"], doc["path"]
            assert doc.pop("pattern_id").startswith("p1-")  # derived by the forwarder
            assert doc == {
                "ts": "2026-12-01T10:00:03.000000003Z", "node": "node-7", "source": "docker",
                "message": "ERROR payment declined for order 1002\n"
                           "    at pay.Charge.run(Charge.java:42)",
                "level": "error", "stream": "stderr", "container_id": CONTAINER_ID,
                "container_name": "checkout-1", "image": "checkout-1:1", "namespace": "pay",
                "pod": None, "app": "checkout", "labels": LABELS, "tags": ["multiline"]}

            with connect_sse(api, "GET", "/tail", params={"backfill": 2}) as source:
                assert source.response.status_code == 200
                events = source.iter_sse()
                got: list[tuple[str, str]] = []
                for event in events:
                    if event.event in ("entry", "live"):
                        got.append((event.event, event.json()["message"]
                                    if event.event == "entry" else ""))
                    if event.event == "live":
                        append(path, docker_json(LIVE))
                    if event.event == "entry" and "1004" in event.data:
                        break
            assert got == [
                ("entry", "DEBUG cache warm: 12 keys"),
                ("entry", "INFO order 1003 shipped"),
                ("live", ""),
                ("entry", "ERROR order 1004 lost by the courier"),
            ]
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(timeout=30) == 0
