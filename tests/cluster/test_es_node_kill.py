"""SIGKILL the Elasticsearch node holding the primary of today's index for 30 s while
lines flow: nothing is lost or doubled, and the Log API answers every request meanwhile
(200, or a clear 503 whose "error" names the cause; never a hang or a 500), its /readyz saying how
degraded the cluster is."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from elasticsearch import Elasticsearch

from stack.manager import Stack
from tests.cluster.harness import api_get, assert_every_line_once, doc_count, pipeline
from tests.forwarder.util import wait_until

pytestmark = pytest.mark.timeout(900)

DOWN_S = 30.0


def _primary_node(es: Elasticsearch, prefix: str) -> str:
    # format=json: a list of rows (the client types cat answers as text too).
    shards = cast(list[dict[str, str]], es.cat.shards(index=f"{prefix}-*", format="json",
                                                      h="prirep,node,state").body)
    return next(s["node"] for s in shards if s["prirep"] == "p" and s["node"])


def test_es_node_killed_for_30s(cluster: Stack, cluster_es: Elasticsearch,
                                tmp_path: Path) -> None:
    with pipeline(cluster, tmp_path) as (p, writer, base, _):
        wait_until(lambda: doc_count(cluster_es, p.prefix) > 500, 180, "lines indexed")
        # Every replica assigned and recovered first: a node killed while the replica of a
        # fresh index is still copying takes its only copy with it (red until it is back),
        # which is Elasticsearch's rule, not the Log API's degradation under test.
        health = cluster_es.cluster.health(index=f"{p.prefix}-*", wait_for_status="green",
                                           wait_for_no_initializing_shards=True,
                                           timeout="120s")
        assert health["status"] == "green", health
        victim_name = _primary_node(cluster_es, p.prefix)
        victim = next(n for n in cluster.es_nodes if n.node_name == victim_name)
        survivor = next(n for n in cluster.es_nodes if n is not victim)
        before = writer.total
        assert victim.kill() is not None

        answers: list[tuple[str, int, str]] = []
        ready_bodies: list[dict[str, Any]] = []
        deadline = time.monotonic() + DOWN_S
        while time.monotonic() < deadline:
            for path, params in (("/search", {"size": 5}), ("/stats/levels", {})):
                try:
                    resp = api_get(base, path, **params)
                except httpx.TransportError as exc:  # includes timeouts
                    raise AssertionError(f"{path}: no answer with a node down") from exc
                answers.append((path, resp.status_code, resp.text[:300]))
            ready = httpx.get(f"{base}/readyz", timeout=60)
            assert ready.status_code in (200, 503)
            ready_bodies.append(ready.json())
            time.sleep(1.0)
        # Each answer is a result or a clear, retriable refusal with its reason.
        for path, status, text in answers:
            assert status == 200 or (status == 503 and '"error"' in text), (path, status, text)
        assert any(status == 200 for path, status, _ in answers if path == "/search"), answers
        # /readyz tells the degradation: the cluster lost a node (yellow, or red for a
        # moment before a replica is promoted), while Elasticsearch still answers.
        seen = {(b["details"]["elasticsearch"] or {}).get("status")
                for b in ready_bodies if b.get("ready")}
        assert seen & {"yellow", "red"}, ready_bodies[-3:]
        assert survivor.health() is not None

        assert writer.total > before, "the writer kept going"
        victim.up()
        wait_until(lambda: (survivor.health() or {}).get("number_of_nodes") == 3, 180,
                   "the node back in the cluster")
        wait_until(lambda: writer.total > before + 1500, 180, "lines after the restart")
        writer.stop()
        assert_every_line_once(cluster_es, p.prefix, writer)
        final = httpx.get(f"{base}/readyz", timeout=60).json()
        assert final["ready"] is True
        assert p.collector is not None and p.collector.poll() is None
        assert all(f.proc.poll() is None for f in p.forwarders)
