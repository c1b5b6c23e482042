"""Service endpoints: probes, metrics, OpenAPI, the web page pointer, and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from log_api.cli import app as cli_app
from log_api.main import STATIC
from log_api.settings import ApiSettings
from tests.log_api.helpers import PAY, asgi_client, auth, settings_for

pytestmark = pytest.mark.integration


async def test_probes_metrics_and_openapi(tmp_path: Path, kafka_bootstrap: str, es_url: str,
                                          topic: str, index_prefix: str) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with asgi_client(settings) as (_, client):
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        await client.get("/api/v1/search", headers=auth(PAY))
        metrics = await client.get("/metrics")
        spec = (await client.get("/openapi.json")).json()
        root = await client.get("/")
    assert health.status_code == 200
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "elasticsearch": "ok", "kafka": "ok"}
    assert 'logpipe_api_requests_total{route="/api/v1/search",status="200"} 1.0' in metrics.text
    assert "logpipe_api_live_connected 1.0" in metrics.text
    paths = set(spec["paths"])
    for p in ("/api/v1/search", "/api/v1/tail", "/api/v1/download", "/api/v1/stats/levels",
              "/api/v1/stats/apps", "/api/v1/stats/histogram", "/api/v1/fields",
              "/api/v1/exports", "/api/v1/entries/{entry_id}/context"):
        assert p in paths
    schemas = spec["components"]["schemas"]
    assert schemas["Entry"]["examples"] and schemas["LevelRatio"]["examples"]
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert root.text == (STATIC / "index.html").read_text()


async def test_readyz_says_which_part_is_down(tmp_path: Path, es_url: str,
                                              index_prefix: str) -> None:
    # Nothing listens on port 1: the hub cannot reach Kafka, and readyz says so.
    settings = settings_for(tmp_path, "127.0.0.1:1", es_url, "nope", index_prefix,
                            kafka_start_timeout_s=0.2)
    async with asgi_client(settings) as (_, client):
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["kafka"].startswith("down")
    assert ready.json()["checks"]["elasticsearch"] == "ok"


def test_cli_lists_settings_and_hashes_tokens() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["settings"])
    assert listed.exit_code == 0 and "LOGPIPE_TOKENS_FILE" in listed.output
    hashed = runner.invoke(cli_app, ["hash-token", "secret"])
    assert hashed.output.strip() == (
        "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b")
    missing = [name for name in ApiSettings.model_fields
               if f"LOGPIPE_{name.upper()}" not in listed.output]
    assert missing == []
