"""Fixtures of the Log API tests: one indexed data set with known counts per module.

Data set (``history``): namespace ``pay`` holds 10,500 entries (more than the
10,000-hit window) in two apps across two daily indices; namespace ``hotel`` holds
300 that no ``pay`` token may ever see.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from logpipe.record import Record
from tests.conftest import create_topic, unique
from tests.log_api.helpers import index_records, record


@dataclass(frozen=True)
class History:
    prefix: str
    topic: str
    records: list[Record]

    def where(self, **match: str) -> list[Record]:
        return [r for r in self.records
                if all(getattr(r, k) == v for k, v in match.items())]


CHECKOUT_LEVELS = ["info"] * 6 + ["warn", "warn", "error", "debug"]


def _checkout_level(i: int) -> str:
    return CHECKOUT_LEVELS[i % 10]


def build_history() -> list[Record]:
    out: list[Record] = []
    for i in range(6000):
        out.append(record(i, app="checkout", level=_checkout_level(i),
                          container="c1" if i % 2 == 0 else "c2"))
    for i in range(4500):
        level = "error" if i % 3 == 0 else "info"
        msg = f"invoice {i} sent" if level == "info" else f"invoice {i} failed: timeout ünïcode"
        out.append(record(i, app="billing", level=level, message=msg, container="b1"))
    for i in range(300):
        out.append(record(i, namespace="hotel", app="booking",
                          level="fatal" if i % 2 else "info",
                          message=f"hotel secret guest {i} checkout", container="h1"))
    return out


@pytest.fixture(scope="module")
def history(es_url: str, kafka_bootstrap: str) -> Iterator[History]:
    es = Elasticsearch(es_url, request_timeout=60)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    prefix = unique("api")
    topic = unique("apitopic")
    create_topic(admin, topic)
    records = build_history()
    index_records(es, prefix, records)
    yield History(prefix, topic, records)
    es.options(ignore_status=404).indices.delete(index=f"{prefix}-*", expand_wildcards="all")
    es.options(ignore_status=404).indices.delete_index_template(name=prefix)
    es.options(ignore_status=404).indices.delete(index=f"{prefix}_state")
    es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}_state")
    es.close()
    for fut in admin.delete_topics([topic]).values():
        with contextlib.suppress(Exception):
            fut.result(timeout=30)
