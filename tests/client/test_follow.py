"""``logpipe logs -f``: back-fill, live records from Kafka, and resuming after the
connection drops, against the real Log API, Kafka and Elasticsearch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from tests.client.cli import Proc, env
from tests.client.harness import LiveApi, live_api, record, wait_for
from tests.client.proxy import CuttableProxy
from tests.conftest import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def proxy(api: LiveApi) -> Iterator[CuttableProxy]:
    p = CuttableProxy(int(api.url.rsplit(":", 1)[1]))
    yield p
    p.close()


def test_follow_backfills_then_prints_a_new_record(api: LiveApi) -> None:
    api.wait_live()
    now = time.time_ns()
    api.index(record("pay", "checkout", "info", f"old {i}", ts_ns=now - (10 - i) * 10**9)
              for i in range(3))
    proc = Proc(["logs", "-f", "-n", "pay", "--tail", "2", "-o", "raw"], env(api))
    try:
        proc.read_until(lambda line: line == "old 2", "the back-fill")
        assert proc.out == ["old 1", "old 2"]
        # Produced after the client connected: only the live half can deliver it.
        api.produce([record("hotel", "booking", "info", "hotel live"),
                     record("pay", "checkout", "error", "pay live")])
        proc.read_until(lambda line: line == "pay live", "the live record")
        assert proc.out == ["old 1", "old 2", "pay live"]
    finally:
        proc.stop()


def test_follow_resumes_after_a_dropped_connection_without_repeats(
        api: LiveApi, proxy: CuttableProxy) -> None:
    api.wait_live()
    tails = _tails(api)
    proc = Proc(["logs", "-f", "-n", "pay", "--tail", "0", "-o", "raw"],
                {**env(api), "LOGPIPE_URL": proxy.url})
    try:
        wait_for(lambda: proxy.accepted >= 1, "the client to connect")
        # Connected is not yet subscribed: a record produced before the server joined
        # this tail to the live hub is (rightly) not in a --tail 0 stream.
        wait_for(lambda: _tails(api) > tails, "the tail to be open")
        api.produce([record("pay", "checkout", "info", "before the drop")])
        proc.read_until(lambda line: line == "before the drop", "the first live record")
        proxy.cut()
        proc.wait_stderr("connection lost")
        # Written while the client is disconnected: the resume must replay exactly these.
        api.produce([record("pay", "checkout", "info", f"during the drop {i}") for i in range(3)])
        proxy.restore()
        proc.read_until(lambda line: line == "during the drop 2", "the replay after resume")
        api.produce([record("pay", "checkout", "info", "after the drop")])
        proc.read_until(lambda line: line == "after the drop", "live after the resume")
        assert proc.out == ["before the drop", "during the drop 0", "during the drop 1",
                            "during the drop 2", "after the drop"]
        assert any("reconnected" in e for e in proc.stderr())
    finally:
        proc.stop()


def test_follow_refused_namespace_fails_at_once_with_advice(api: LiveApi) -> None:
    proc = Proc(["logs", "-f", "-n", "hotel"], env(api, "pay"))
    try:
        assert proc.wait_exit() == 1
        assert any("may not read namespace 'hotel'" in e for e in proc.stderr())
    finally:
        proc.stop()


def test_follow_says_when_entries_were_missed(es: Elasticsearch, es_url: str,
                                              kafka_bootstrap: str, topic: str,
                                              index_prefix: str, tmp_path: Path) -> None:
    # A one-entry queue per client: a burst overflows it before the client can read.
    with live_api(es, es_url, kafka_bootstrap, topic, index_prefix, tmp_path, free_port(),
                  tail_queue_size=1) as small:
        small.wait_live()
        proc = Proc(["logs", "-f", "--tail", "0", "-o", "raw"], env(small))
        try:
            wait_for(lambda: _tails(small) == 1, "the tail to be open")
            small.produce(record("pay", "checkout", "info", f"burst {i}") for i in range(300))
            proc.wait_stderr("entries were missed")
            note = next(e for e in proc.stderr() if "entries were missed" in e)
            missed = int(note.split("logpipe: ")[1].split()[0])
            assert 0 < missed < 300
        finally:
            proc.stop()


def _tails(api: LiveApi) -> int:
    """Open tails, from the API's own metrics."""
    text = httpx.get(api.url + "/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("logpipe_api_tails "):
            return int(float(line.split()[1]))
    return -1


def test_follow_pod_backfill_holds_n_matching_then_only_matching_live(api: LiveApi) -> None:
    api.wait_live()
    now = time.time_ns()
    # The newest indexed entries are of another pod: the back-fill must still hold 2.
    api.index([record("pay", "ledger", "info", f"ledger old {i}", pod=f"ledger-{i}",
                      ts_ns=now - (20 - i) * 10**9) for i in range(3)]
              + [record("pay", "checkout", "info", f"checkout old {i}", pod="checkout-0",
                        ts_ns=now - (10 - i) * 10**9) for i in range(5)])
    proc = Proc(["logs", "-f", "--pod", "^ledger-", "--tail", "2", "-o", "raw"], env(api))
    try:
        proc.read_until(lambda line: line == "ledger old 2", "the back-fill")
        assert proc.out == ["ledger old 1", "ledger old 2"]
        api.produce([record("pay", "checkout", "info", "checkout live", pod="checkout-0"),
                     record("pay", "ledger", "info", "ledger live", pod="ledger-new")])
        proc.read_until(lambda line: line == "ledger live", "the live record")
        assert proc.out == ["ledger old 1", "ledger old 2", "ledger live"]
    finally:
        proc.stop()
