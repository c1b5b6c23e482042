"""Fixtures of the forwarder tests: a consumer group and the dead-letter topic cleanup."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient

from tests.conftest import unique
from tests.forwarder.private_es import PrivateElastic


@pytest.fixture
def group() -> str:
    return unique("group")


@pytest.fixture
def dlq_topic(topic: str, kafka_admin: AdminClient) -> Iterator[str]:
    """The forwarder's default dead-letter topic of ``topic``, deleted afterwards."""
    name = f"{topic}.dlq"
    yield name
    for fut in kafka_admin.delete_topics([name]).values():
        # Absent when nothing was dead-lettered and the forwarder never started.
        with contextlib.suppress(Exception):
            fut.result(timeout=30)


@pytest.fixture(scope="module")
def private_es(servers: object) -> Iterator[PrivateElastic]:
    """A private Elasticsearch with a tiny write queue; stopped and removed afterwards.

    ``servers`` first: the shared stack has fetched Elasticsearch by then.
    """
    server = PrivateElastic({"thread_pool.write.size": "1", "thread_pool.write.queue_size": "1"})
    try:
        server.up()
        yield server
    finally:
        server.remove()
