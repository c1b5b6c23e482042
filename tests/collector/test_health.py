"""/metrics, /healthz, /readyz of a running collector, and the command line."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from collector.cli import app
from logpipe.health import HealthServer
from tests.collector.helpers import (
    TopicReader,
    append,
    docker_container,
    docker_lines,
    running,
    settings,
    wait_for,
)


@pytest.mark.integration
def test_metrics_and_probes(tmp_path: Path, kafka_bootstrap: str, topic: str) -> None:
    s = settings(tmp_path, kafka_bootstrap, topic)
    web = docker_container(tmp_path, "metered")
    reader = TopicReader(kafka_bootstrap, topic)
    with running(s) as agent:
        health = HealthServer("127.0.0.1", 0, live=agent.live, ready=agent.ready,
                              registry=agent.metrics.registry).start()
        try:
            base = f"http://127.0.0.1:{health.port}"
            wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 200, what="ready")
            append(web, docker_lines([f"m {i}" for i in range(100)]))
            reader.until(lambda rs: len(rs) >= 100)
            wait_for(lambda: "logpipe_collector_records_acked_total 100.0"
                     in httpx.get(f"{base}/metrics").text, what="acked metric")
            text = httpx.get(f"{base}/metrics").text
            assert 'logpipe_collector_lines_read_total{kind="docker"} 100.0' in text
            assert "logpipe_collector_files_open 1.0" in text
            assert "logpipe_collector_bytes_given_up_total 0.0" in text
            assert httpx.get(f"{base}/healthz").status_code == 200
        finally:
            health.stop()
    reader.close()


def test_cli_help_and_settings() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "settings" in result.output
    result = runner.invoke(app, ["settings"])
    assert result.exit_code == 0
    assert "LOGPIPE_MAX_LINE_BYTES" in result.output and "LOGPIPE_START_AT" in result.output


def test_cli_refuses_bad_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGPIPE_START_AT", "middle")
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2 and "start_at" in result.output
