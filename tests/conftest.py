"""Session fixtures for integration tests against the real Kafka and Elasticsearch.

The stack manager starts both servers (or reuses a running stack). Each test gets a
fresh topic and index prefix and they are removed afterwards. Under ``CI=true`` a
server that cannot start fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from elasticsearch import Elasticsearch

from logpipe.errors import StackError


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    es_url: str


@pytest.fixture(scope="session")
def servers() -> Servers:
    kafka = os.environ.get("LOGPIPE_TEST_KAFKA")
    es = os.environ.get("LOGPIPE_TEST_ES")
    if kafka and es:
        return Servers(kafka, es)
    from logpipe.stack.manager import Stack

    try:
        info = Stack.from_env().up(quiet=True)
    except StackError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the real Kafka/Elasticsearch could not start: {exc}")
        pytest.skip(f"the real Kafka/Elasticsearch could not start: {exc}")
    return Servers(info.kafka_bootstrap, info.es_url)


@pytest.fixture(scope="session")
def kafka_bootstrap(servers: Servers) -> str:
    return servers.kafka_bootstrap


@pytest.fixture(scope="session")
def es_url(servers: Servers) -> str:
    return servers.es_url


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


def create_topic(admin: AdminClient, name: str, partitions: int = 3) -> None:
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    for fut in futures.values():
        fut.result(timeout=30)


def unique(kind: str) -> str:
    return f"lpt-{kind}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def topic(kafka_admin: AdminClient) -> Iterator[str]:
    """A fresh 3-partition topic, deleted after the test."""
    name = unique("topic")
    create_topic(kafka_admin, name)
    yield name
    for fut in kafka_admin.delete_topics([name]).values():
        try:
            fut.result(timeout=30)
        except Exception:  # noqa: BLE001 - cleanup must not hide the test's own result
            pass


@pytest.fixture
def es(es_url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def index_prefix(es: Elasticsearch) -> Iterator[str]:
    """A fresh index prefix; its indices and index template are deleted afterwards."""
    prefix = unique("idx")
    yield prefix
    es.options(ignore_status=404).indices.delete(index=f"{prefix}-*", expand_wildcards="all")
    es.options(ignore_status=404).indices.delete_index_template(name=prefix)
