"""The ledger thread's answer to Elasticsearch refusing a whole bulk request (a 4xx,
e.g. 413 too large): it must not retry the same request forever (the ledger would stop
for good) but index the entries one by one, so only a refused entry is lost and
logged. Pure logic: a whole-request 4xx cannot be provoked on demand from a real
node, so a stand-in client answers; the real ledger path is tests/forwarder/test_ledger.py."""

from __future__ import annotations

from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from forwarder.ledger import LedgerIndexer, _retriable


def _error(status: int) -> ApiError:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.0,
                           NodeConfig("http", "127.0.0.1", 9200))
    return ApiError("refused", meta, {"error": "refused"})


class RefusingES:
    """Refuses any bulk holding the entry ``bad`` or more than one entry with ``status``."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.indexed: list[str] = []
        self.calls = 0

    def bulk(self, operations: list[Any], refresh: bool) -> dict[str, Any]:
        self.calls += 1
        ids = [op["index"]["_id"] for op in operations[::2]]
        if len(ids) > 1 or "bad" in ids:
            raise _error(self.status)
        self.indexed.extend(ids)
        return {"errors": False, "items": []}


def _indexer(es: RefusingES) -> LedgerIndexer:
    # The consumer is made but never subscribed: nothing connects to Kafka.
    ix = LedgerIndexer(es, "127.0.0.1:1", "g", "ledger", "dlq", "t", {},  # type: ignore[arg-type]
                       retry_initial_s=0.01, retry_max_s=0.01)
    ix.consumer.close()
    return ix


@pytest.mark.parametrize("status", [400, 413])
def test_a_refused_bulk_is_indexed_entry_by_entry(status: int) -> None:
    es = RefusingES(status)
    docs = [{"id": i, "ts": "2026-12-02T00:00:00Z"} for i in ("a", "bad", "c")]
    _indexer(es)._index(docs)
    assert es.indexed == ["a", "c"]  # only the refused entry is missing
    assert es.calls == 4  # the batch once (not retried), then each entry once


@pytest.mark.parametrize(("status", "retriable"), [
    (400, False), (404, False), (413, False), (429, True), (500, True), (503, True)])
def test_only_busy_or_failing_answers_are_retried(status: int, retriable: bool) -> None:
    assert _retriable(_error(status)) is retriable
