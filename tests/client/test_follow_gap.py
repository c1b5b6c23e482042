"""``logpipe logs -f`` when the forwarder lags more than the API's hand-over window:
the server's ``gap`` event makes the client fetch the range from history and print
the entries it could not follow live, each exactly once (real Kafka, Elasticsearch
and forwarder)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from tests.client.cli import Proc, env
from tests.client.harness import LiveApi, live_api, record, wait_for
from tests.conftest import free_port, unique
from tests.forwarder.util import forwarder_env, running

pytestmark = pytest.mark.integration


def _metric(api: LiveApi, name: str) -> float:
    for line in httpx.get(api.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1.0


def test_follow_fetches_the_gap_from_history(es: Elasticsearch, es_url: str,
                                             kafka_bootstrap: str, topic: str,
                                             index_prefix: str, tmp_path: Path) -> None:
    group = unique("fwd")
    with live_api(es, es_url, kafka_bootstrap, topic, index_prefix, tmp_path, free_port(),
                  handover_window=5, tail_handover_margin_s=0.5,
                  forwarder_group=group) as small:
        small.wait_live()
        # Not indexed (no forwarder yet), and more than the API's ring of 5 holds.
        lagging = small.produce(record("pay", "checkout", "info", f"lag {i}", pod=f"p-{i % 3}")
                                for i in range(30))
        wait_for(lambda: _metric(small, "logpipe_api_live_records_total") >= 30,
                 "the API to read every record")
        proc = Proc(["logs", "-f", "-n", "pay", "--tail", "100", "-o", "raw"], env(small))
        try:
            proc.read_until(lambda _line: len(proc.out) == 5, "the ring's records, bridged")
            proc.wait_stderr("not indexed yet")
            with running(forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group),
                         tmp_path / "forwarder.log"):
                proc.wait_stderr("end of the gap", timeout=90)
            proc.read_until(lambda _line: len(proc.out) >= 30, "the gap's entries")
            small.produce([record("pay", "checkout", "info", "after the gap")])
            proc.read_until(lambda line: line == "after the gap", "live after the gap")
        finally:
            proc.stop()
    printed = proc.out
    assert len(printed) == len(set(printed)) == 31
    assert set(printed) == {r.message for r in lagging} | {"after the gap"}
    assert any("fetching them from history" in e for e in proc.stderr())
