"""The completeness ledger's way into Elasticsearch: the collectors' ledger topic
(``collector.ledger``: acknowledged ranges and gaps per file) and the dead-letter
topic (one ``dead`` entry per record the forwarder gave up on) are indexed into the
daily ledger indices that ``GET /api/v1/audit`` reads.

Ledger entries are few (one per file per checkpoint interval that moved), so a plain
consumer loop in a thread suffices: a batch is indexed with ``index`` (a range sent
again after a collector crash replaces the earlier one with the same ``id``), then
its offsets are committed.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from tenacity import Retrying, retry_if_exception, wait_exponential

from logpipe.document import ledger_index_name, ledger_template_body
from logpipe.timefmt import now_ts

log = logging.getLogger(__name__)

_BATCH = 2000


class LedgerError(Exception):
    """A bulk of ledger entries was not (wholly) indexed: retried."""


def _retriable(exc: BaseException) -> bool:
    """Worth another try: the cluster is away or busy. A 4xx of the whole request
    (too large, refused) would fail the same way forever and block the ledger."""
    if isinstance(exc, ApiError):
        return exc.meta.status == 429 or exc.meta.status >= 500
    return isinstance(exc, (LedgerError, TransportError))


def dead_entry(msg: Message) -> dict[str, Any]:
    """The ledger entry of a dead letter: who it was (when the value is still a
    record) and why, with the record's own id so a replay does not count twice."""
    raw = msg.headers() or []
    pairs: list[tuple[str, Any]] = list(raw.items() if isinstance(raw, dict) else raw)
    headers = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))
               for k, v in pairs}
    try:
        rec = orjson.loads(msg.value() or b"")
        if not isinstance(rec, dict):
            rec = {}
    except orjson.JSONDecodeError:
        rec = {}

    def text(key: str) -> str | None:
        value = rec.get(key)
        return value if isinstance(value, str) else None

    offset = rec.get("offset")
    rid = text("id") or f"dlq-{headers.get('dlq.partition')}-{headers.get('dlq.offset')}"
    return {"v": 1, "kind": "dead", "id": f"dead-{rid}",
            "ts": headers.get("dlq.ts") or now_ts(), "node": text("node"),
            "source": text("source"), "path": text("path"), "file": text("file"),
            "namespace": text("namespace"), "app": text("app"),
            "offset": offset if isinstance(offset, int) else None,
            "cause": headers.get("dlq.error_type", "unknown"),
            "detail": headers.get("dlq.reason", "")[:1000],
            "stage": headers.get("dlq.stage")}


class LedgerIndexer:
    def __init__(self, es: Elasticsearch, bootstrap: str, group: str, ledger_topic: str,
                 dlq_topic: str, prefix: str, options: dict[str, Any],
                 retry_initial_s: float, retry_max_s: float) -> None:
        self.es = es
        self.prefix = prefix
        self.ledger_topic = ledger_topic
        self.dlq_topic = dlq_topic
        self.stopping = threading.Event()
        self.indexed = 0
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": f"{group}-ledger",
            "auto.offset.reset": "earliest", "enable.auto.commit": False, **options})
        self.retrying = Retrying(
            retry=retry_if_exception(_retriable),
            wait=wait_exponential(multiplier=retry_initial_s, max=retry_max_s),
            sleep=self._sleep, reraise=True,
            before_sleep=lambda rs: log.warning("ledger bulk failed (%s); retrying",
                                                rs.outcome.exception() if rs.outcome else ""))
        self._thread: threading.Thread | None = None

    def _sleep(self, seconds: float) -> None:
        if self.stopping.wait(seconds):  # a stop ends the retries, the batch is not committed
            raise LedgerError("stopping")

    def install_template(self) -> None:
        self.es.indices.put_index_template(**ledger_template_body(self.prefix))

    def start(self) -> None:
        self.consumer.subscribe([self.ledger_topic, self.dlq_topic])
        self._thread = threading.Thread(target=self._run, name="ledger", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.consumer.close()

    def _run(self) -> None:
        while not self.stopping.is_set():
            msgs = self.consumer.consume(_BATCH, 0.5)
            docs = [doc for m in msgs if (doc := self._entry(m)) is not None]
            if docs:
                try:
                    self._index(docs)
                except Exception:  # only when stopping: the offsets stay uncommitted
                    if self.stopping.is_set():
                        return
                    raise
            if any(m.error() is None for m in msgs):  # commit() of nothing raises _NO_OFFSET
                try:
                    self.consumer.commit(asynchronous=False)
                except KafkaException as exc:  # replayed later: ledger writes are idempotent
                    log.warning("ledger offsets not committed (%s); they will be again", exc)

    def alive(self) -> bool:
        return self._thread is None or self._thread.is_alive()

    def _entry(self, msg: Message) -> dict[str, Any] | None:
        err = msg.error()
        if err is not None:
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("ledger consumer: %s", err)
            return None
        if msg.topic() == self.dlq_topic:
            return dead_entry(msg)
        try:
            doc = orjson.loads(msg.value() or b"")
        except orjson.JSONDecodeError:
            log.warning("ledger entry is not JSON: skipped (partition %s offset %s)",
                        msg.partition(), msg.offset())
            return None
        return doc if isinstance(doc, dict) and isinstance(doc.get("id"), str) else None

    def _index(self, docs: list[dict[str, Any]]) -> None:
        """Index a batch; when Elasticsearch refuses the whole request (retrying only
        outlasts outages), each entry alone, so a bad entry costs only itself."""
        try:
            self.retrying(self._bulk, docs)
        except ApiError as exc:
            if len(docs) == 1:
                log.error("ledger entry %s refused: %s", docs[0].get("id"), exc)
                return
            log.warning("ledger bulk of %d entries refused (%s); indexing them one by one",
                        len(docs), exc.meta.status)
            for doc in docs:
                self._index([doc])

    def _bulk(self, docs: list[dict[str, Any]]) -> None:
        ops: list[Any] = []
        for doc in docs:
            ops.append({"index": {"_index": ledger_index_name(self.prefix, doc.get("ts")),
                                  "_id": doc["id"]}})
            ops.append(doc)
        resp = self.es.bulk(operations=ops, refresh=False)
        if resp.get("errors"):
            bad = [i for i in resp["items"] if i["index"].get("status", 500) >= 300]
            retriable = [i for i in bad if i["index"].get("status") in (429, 500, 502, 503, 504)]
            if retriable:
                raise LedgerError(f"{len(retriable)} ledger entries not indexed")
            for item in bad:  # a refused entry would block the ledger forever: log it
                log.error("ledger entry refused: %s", item["index"].get("error"))
        self.indexed += len(docs)
