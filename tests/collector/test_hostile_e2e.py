"""Hostile input through the running collector into the real Kafka: a 256 KiB line
after a Go panic header, and a catastrophic-backtracking start annotation served by
the fake API server (refused, reported with an Event, the built-in rules apply)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import generate_latest

from tests.collector.helpers import (
    TopicReader,
    append,
    docker_container,
    docker_lines,
    running,
    settings,
)
from tests.collector.test_collector_pods import collector_settings, cri, cri_file, has
from tests.kube.fake_apiserver import FakeApiServer
from tests.kube.fixtures import wait_for
from tests.kube.objects import pod

pytestmark = pytest.mark.integration

# Deadlines are generous on purpose (2 cores shared with other test runs): the old
# regex needed about a minute for the 256 KiB line and fib(45) steps for the pattern,
# so any deadline of seconds tells the two apart.


def test_256k_line_after_a_panic_header_does_not_stall_the_node(
        tmp_path: Path, kafka_bootstrap: str, topic: str) -> None:
    log = docker_container(tmp_path, "hostile")
    other = docker_container(tmp_path, "neighbour")
    hostile = "(" * 250_000  # the JSON line stays under max_line_bytes (256 KiB)
    reader = TopicReader(kafka_bootstrap, topic)
    with running(settings(tmp_path, kafka_bootstrap, topic)):
        append(log, docker_lines(["panic: boom", "", "goroutine 1 [running]:",
                                  "main.f" + hostile + ")", hostile, "after"], "stderr"))
        append(other, docker_lines(["neighbour line"]))
        got = reader.until(lambda rs: {"after", "neighbour line"} <= {r.message for r in rs},
                           timeout=30)
    reader.close()
    messages = [r.message for r in got]
    assert any(m.startswith("panic: boom\n\ngoroutine 1") and m.endswith(")") for m in messages)
    assert hostile in messages


def test_backtracking_annotation_is_refused_reported_and_lines_ship(
        tmp_path: Path, apiserver: FakeApiServer, kafka_bootstrap: str, topic: str) -> None:
    too_long = "(a|aa)+$" + "x" * 2000
    p = apiserver.put("pods", pod("shop", "evil",
                                  annotations={"logpipe.io/multiline-start": too_long}))
    q = apiserver.put("pods", pod("shop", "redos", annotations={
        "logpipe.io/multiline-start": "(a|aa)+$"}))
    evil, redos = cri_file(tmp_path, p), cri_file(tmp_path, q)
    reader = TopicReader(kafka_bootstrap, topic)
    s = collector_settings(tmp_path, apiserver, kafka_bootstrap, topic)
    line = "a" * 45 + "!"
    with running(s) as agent:
        append(redos, cri(line, "b"))
        append(evil, cri("first", "  indented continues", "second"))
        got = reader.until(has(f"{line}\nb", "second"), timeout=30)
        wait_for(lambda: any(e.get("reason") == "MultilineStartRefused"
                             for e in apiserver.objects.get(("v1", "events"), {}).values()),
                 "the Event on the refused pod")
        metrics = generate_latest(agent.metrics.registry).decode()
    reader.close()
    # (a|aa)+$ runs in RE2: neither line is a start, so "b" continues the first.
    assert {r.message for r in got if r.pod == "redos"} == {f"{line}\nb"}
    # The refused (too long) pattern: built-in rules, the indented line joins.
    assert "first\n  indented continues" in {r.message for r in got if r.pod == "evil"}
    events = [e for e in apiserver.objects[("v1", "events")].values()
              if e.get("reason") == "MultilineStartRefused"]
    assert [e["involvedObject"]["name"] for e in events] == ["evil"]
    assert events[0]["metadata"]["namespace"] == "shop"
    assert 'logpipe_collector_multiline_patterns_refused_total{origin="annotation"} 1.0' in metrics
