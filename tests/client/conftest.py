"""Fixtures of the client tests: a real Log API over the real Kafka and Elasticsearch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.client.harness import LiveApi, live_api
from tests.conftest import free_port


@pytest.fixture
def api(es: Elasticsearch, es_url: str, kafka_bootstrap: str, topic: str, index_prefix: str,
        tmp_path: Path) -> Iterator[LiveApi]:
    with live_api(es, es_url, kafka_bootstrap, topic, index_prefix, tmp_path,
                  free_port()) as running:
        yield running
