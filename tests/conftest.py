"""Session fixtures for integration tests against the real Kafka and Elasticsearch.

The stack manager starts both servers (or reuses a running stack). Each test gets a
fresh topic and index prefix and they are removed afterwards. Under ``CI=true`` a
server that cannot start fails the run instead of skipping it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch

from logpipe.errors import StackError
from stack.config import StackSettings
from stack.manager import Stack
from tests.hypothesis_budget import register_profiles

# Registered before pytest's Hypothesis plugin reads --hypothesis-profile (tools/asan.sh).
register_profiles()


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    es_url: str


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that reaches the real servers is an integration test whatever its file
    # says, so `make unit` (-m "not integration") never starts the stack.
    # Likewise a test that needs the validators built with Go (helm, compose-go, ...) is
    # a tools test: `make unit` needs no server and no Go.
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "servers" in names:
            item.add_marker(pytest.mark.integration)
        if "validators" in names:
            item.add_marker(pytest.mark.tools)


@pytest.fixture(scope="session")
def servers() -> Servers:
    kafka = os.environ.get("LOGPIPE_TEST_KAFKA")
    es = os.environ.get("LOGPIPE_TEST_ES")
    if kafka and es:
        return Servers(kafka, es)

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
        # Cleanup must not hide the test's own result.
        with contextlib.suppress(Exception):
            fut.result(timeout=30)


@pytest.fixture
def ledger_topic(kafka_admin: AdminClient, topic: str) -> Iterator[str]:
    """The completeness ledger topic next to ``topic``, deleted after the test."""
    name = f"{topic}-ledger"
    create_topic(kafka_admin, name)
    yield name
    for fut in kafka_admin.delete_topics([name]).values():
        with contextlib.suppress(Exception):
            fut.result(timeout=30)


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
    for name in (prefix, f"{prefix}_ledger"):  # the logs and the completeness ledger
        es.options(ignore_status=404).indices.delete(index=f"{name}-*", expand_wildcards="all")
        es.options(ignore_status=404).indices.delete_index_template(name=name)
    # The Log API replicas' shared state (log_api/shared.py).
    es.options(ignore_status=404).indices.delete(index=f"{prefix}_state")
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}_state")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_stack(servers: Servers) -> Iterator[Stack]:
    """A second, private stack on free ports, for tests that stop and start a broker
    or Elasticsearch (never the shared one). Start what you need:
    ``private_stack.kafka.up()`` / ``.down()``, ``private_stack.es.up()`` / ``.down()``;
    ``.kafka.bootstrap`` and ``.es.url`` give the addresses. Everything is stopped after."""
    shared = StackSettings()
    # Under the shared home, not /tmp/pytest-of-root: when we are root, Elasticsearch
    # runs as an unprivileged user that cannot enter root's private temp folders.
    home = shared.home / "private" / uuid.uuid4().hex[:10]
    home.mkdir(parents=True)
    stack = Stack(
        StackSettings(
            home=home,
            downloads=shared.downloads_dir,
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            es_port=free_port(),
            es_transport_port=free_port(),
            kafka_heap="256m",
            es_heap="512m",
        )
    )
    yield stack
    stack.down()
    shutil.rmtree(home, ignore_errors=True)
