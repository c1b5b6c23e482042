"""The 3-broker Kafka and 3-node Elasticsearch cluster of the fault tests.

It runs beside the shared single-node stack, never instead of it: its own home and its
own ports (``stack.config.local_cluster``). The session starts it (or reuses a running one) and
stops it at the end unless ``KEEP_CLUSTER=1`` (handy while iterating: a cold start
takes a minute or two on a loaded machine).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from logpipe.errors import StackError
from stack.config import local_cluster
from stack.manager import Stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Stack]:
    stack = Stack(local_cluster())
    try:
        stack.up(quiet=True)
    except StackError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Kafka/Elasticsearch cluster could not start: {exc}")
        pytest.skip(f"the Kafka/Elasticsearch cluster could not start: {exc}")
    yield stack
    if os.environ.get("KEEP_CLUSTER") != "1":
        stack.down()


@pytest.fixture
def cluster_es(cluster: Stack) -> Iterator[Elasticsearch]:
    client = Elasticsearch(cluster.settings.es_url.split(","), request_timeout=30,
                           max_retries=5, retry_on_timeout=True)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def every_node_up(cluster: Stack) -> Stack:
    """Each test starts with every node running and joined, whatever the last one left."""
    cluster.up(quiet=True)
    return cluster
