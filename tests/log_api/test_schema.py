"""Schemathesis against the OpenAPI schema: generated requests (valid and not) to a
real API process over real Elasticsearch and Kafka never get a 5xx."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from log_api.main import create_app
from log_api.settings import ApiSettings
from tests.log_api.conftest import History
from tests.log_api.helpers import ADMIN, PAY, auth, write_tokens

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

# The schema as the app publishes it; the tail is left out: an SSE stream never ends.
schema = schemathesis.openapi.from_dict(
    create_app(ApiSettings(anonymous_admin=True)).openapi()
).exclude(path="/api/v1/tail")


@pytest.fixture(scope="module")
def api_base(history: History, kafka_bootstrap: str, es_url: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("schema")
    env = {**os.environ, "LOGPIPE_ES_URL": es_url, "LOGPIPE_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "LOGPIPE_INDEX_PREFIX": history.prefix, "LOGPIPE_KAFKA_TOPIC": history.topic,
           "LOGPIPE_TOKENS_FILE": str(write_tokens(tmp / "tokens.yaml")),
           "LOGPIPE_PORT": "0",
           "LOGPIPE_LOG_LEVEL": "warning"}
    # Port 0 would hide the address from us; take a free one instead.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        env["LOGPIPE_PORT"] = str(s.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-c", "from cli.main import main; main()",
                             "api", "run"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{env['LOGPIPE_PORT']}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API process did not become ready")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case[Any], api_base: str) -> None:
    for token in (ADMIN, PAY):
        response = case.call(base_url=api_base, headers=auth(token), timeout=60)
        assert response.status_code < 500, (case.as_curl_command(), response.text)
