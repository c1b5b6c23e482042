"""Make one batch durable: bulk-index its records, retry what is transient, dead-letter
what Elasticsearch refuses and what is not a record.

Per item of a ``_bulk`` answer (as elasticsearch-py's ``streaming_bulk`` and Vector's
``retry.rs`` do):

    200/201             created                     -> done
    409                 the id exists (a replay)     -> done
    429, 5xx, es_rejected_execution_exception        -> resent, only those items
    any other 4xx (mapping conflict, bad value)      -> dead-letter topic

A request refused as a whole with 400 or 413 (a document that breaks the request
itself) is split in halves and each sent again, down to the one document, which is
dead-lettered: the good records around it are indexed. A record whose ``ts`` is
too far from now is indexed at its ingest time (``batch.TsBounds``). A request that
fails as a whole otherwise (ES unreachable, 5xx, 429, even 401/403 which is a
configuration problem, not a property of the records) is resent whole. There is no
time limit: the thread keeps retrying, the pending-batch limit fills up and arroyo
pauses consumption, so memory stays bounded and no offset moves.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError
from tenacity import (
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_never,
    wait_exponential,
    wait_random,
)

from forwarder import metrics
from forwarder.batch import Batch, TsBounds, bulk_lines
from forwarder.dlq import DeadLetter, DeadLetterWriter

log = logging.getLogger(__name__)

_FILTER = ("errors,items.*.status,items.*.error.type,items.*.error.reason,"
           "items.*.error.caused_by.reason")
_HEADERS = {"accept": "application/json", "content-type": "application/x-ndjson"}
_RETRY_TYPES = frozenset({"es_rejected_execution_exception", "circuit_breaking_exception"})
_SPLIT_STATUS = frozenset({400, 413})  # a whole request refused for what it holds


class Abandoned(Exception):
    """The batch was given up (shutdown or rebalance); its offsets are not committed."""


@dataclass(frozen=True, slots=True)
class Delivered:
    """What became of a batch; ``abandoned`` batches must not be committed."""

    created: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    abandoned: bool = False


@dataclass(slots=True)
class _Doc:
    lines: bytes
    index: str
    letter_key: bytes | None
    value: bytes
    partition: int
    offset: int


def classify(status: int, error_type: str | None) -> str:
    """'ok', 'duplicate', 'retry' or 'dead' for one bulk item."""
    if status in (200, 201):
        return "ok"
    if status == 409:
        return "duplicate"
    if status == 429 or status >= 500 or error_type in _RETRY_TYPES:
        return "retry"
    return "dead"


def _retry_reason(status: int, error_type: str | None) -> str:
    if error_type == "es_rejected_execution_exception":
        return "rejected_execution"
    return "status_429" if status == 429 else "status_5xx"


class _Abortable:
    """tenacity ``sleep`` that wakes early and raises when the batch is abandoned."""

    def __init__(self, abort: threading.Event) -> None:
        self.abort = abort

    def __call__(self, seconds: float) -> None:
        if self.abort.wait(seconds):
            raise Abandoned


class BulkSender:
    def __init__(self, es: Elasticsearch, prefix: str, dlq: DeadLetterWriter,
                 retry_initial: float, retry_max: float, *, ts_max_future_s: float = 86400.0,
                 ts_max_past_days: int = 0,
                 request_keys: frozenset[str] = frozenset()) -> None:
        self.es = es
        self.request_keys = request_keys
        self.ts_max_future_s = ts_max_future_s
        self.ts_max_past_days = ts_max_past_days
        self.prefix = prefix
        self.dlq = dlq
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        # Set while whole requests fail (ES unreachable): /readyz reports it.
        self.failing_since: float | None = None

    def retrying(self, abort: threading.Event, what: str, retry_any: bool = False) -> Retrying:
        """Capped exponential back-off with jitter and no time limit; ``retry_any`` also
        retries unexpected errors (start-up, where a half-up cluster says odd things)."""
        def before_sleep(state: Any) -> None:
            exc = state.outcome.exception() if state.outcome else None
            detail = f"{type(exc).__name__}: {exc}" if exc else f"{state.outcome.result()} left"
            log.warning("%s failed (attempt %d, %s); retrying in %.2fs", what,
                        state.attempt_number, detail, state.upcoming_sleep)

        return Retrying(
            retry=retry_if_result(bool) | retry_if_exception_type(
                Exception if retry_any else (TransportError, ApiError)),
            wait=wait_exponential(multiplier=self.retry_initial, max=self.retry_max)
            + wait_random(0, self.retry_initial),
            stop=stop_never,
            sleep=_Abortable(abort),
            before_sleep=before_sleep,
            reraise=True,
        )

    def deliver(self, batch: Batch, abort: threading.Event) -> Delivered:
        """Return once ES or the DLQ holds every item, or ``abandoned`` if told to stop."""
        letters: list[DeadLetter] = []
        docs: list[_Doc] = []
        now_ns = time.time_ns()
        bounds = TsBounds.at(now_ns, self.ts_max_future_s, self.ts_max_past_days)
        clamped: list[str] = []
        for item in batch.items:
            if item.record is None:
                letters.append(DeadLetter(item.key, item.value, item.partition, item.offset,
                                          "decode", "RecordError", item.error or "invalid"))
                continue
            record, value = item.record, item.value
            try:
                why = bounds.why(record.ts)
                if why is not None:
                    record, value = bounds.clamp(record, why, now_ns)
                    clamped.append(why)
                index, lines = bulk_lines(record, value, self.prefix, self.request_keys)
            except Exception as exc:  # one record must not stop the partition
                letters.append(DeadLetter(item.key, item.value, item.partition, item.offset,
                                          "decode", type(exc).__name__, str(exc)))
                continue
            docs.append(_Doc(lines, index, item.key, item.value, item.partition, item.offset))
        counts = {"ok": 0, "duplicate": 0}
        try:
            if docs:
                pending = docs

                def once() -> list[_Doc]:
                    nonlocal pending
                    pending = self._send(pending, counts, letters)
                    return pending

                self.retrying(abort, "bulk")(once)
            if letters:
                self.dlq.write(letters, self.retrying(abort, "dead-letter produce"))
        except Abandoned:
            return Delivered(abandoned=True)
        for letter in letters:
            metrics.DEAD_LETTERED.labels(letter.stage, letter.error_type).inc()
        for why in clamped:
            metrics.METRICS.ts_clamped.labels(why).inc()
        metrics.RECORDS_INDEXED.labels("created").inc(counts["ok"])
        metrics.RECORDS_INDEXED.labels("duplicate").inc(counts["duplicate"])
        return Delivered(counts["ok"], counts["duplicate"], len(letters))

    def _send(self, docs: list[_Doc], counts: dict[str, int],
              letters: list[DeadLetter]) -> list[_Doc]:
        """One _bulk of ``docs``; returns the ones to send again."""
        body = b"".join(d.lines for d in docs)
        started = time.perf_counter()
        try:
            resp = self.es.perform_request("POST", "/_bulk", params={"filter_path": _FILTER},
                                           headers=_HEADERS, body=body, endpoint_id="bulk")
        except ApiError as exc:
            if exc.meta.status in _SPLIT_STATUS:
                return self._split(docs, counts, letters, exc)
            self._failing(exc, docs)
            raise
        except TransportError as exc:
            self._failing(exc, docs)
            raise
        finally:
            metrics.BULK_SECONDS.observe(time.perf_counter() - started)
        return self._answer(resp.body, docs, counts, letters)

    def _failing(self, exc: Exception, docs: list[_Doc]) -> None:
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        reason = "transport" if isinstance(exc, TransportError) else "request_status"
        metrics.BULK_RETRIES.labels(reason).inc(len(docs))

    def _split(self, docs: list[_Doc], counts: dict[str, int], letters: list[DeadLetter],
               exc: ApiError) -> list[_Doc]:
        """A request refused whole for what it holds: halves until the one document,
        which is dead-lettered with Elasticsearch's reason; returns those to resend."""
        self.failing_since = None  # Elasticsearch answers: it is not down
        if len(docs) == 1:
            doc = docs[0]
            body = exc.body if isinstance(exc.body, dict) else {}
            error: dict[str, Any] = body.get("error") or {}
            if not isinstance(error, dict):
                error = {}
            letters.append(DeadLetter(
                doc.letter_key, doc.value, doc.partition, doc.offset, "index",
                str(error.get("type") or "request_refused"),
                str(error.get("reason") or exc.message)[:2000], exc.meta.status, doc.index))
            return []
        metrics.METRICS.split_requests.inc()
        half = len(docs) // 2
        return (self._send(docs[:half], counts, letters)
                + self._send(docs[half:], counts, letters))

    def _answer(self, answer: dict[str, Any], docs: list[_Doc], counts: dict[str, int],
                letters: list[DeadLetter]) -> list[_Doc]:
        self.failing_since = None
        if not answer.get("errors"):
            counts["ok"] += len(docs)
            return []
        items = answer["items"]
        if len(items) != len(docs):  # never seen; resend rather than guess which is which
            raise TransportError(f"bulk answered {len(items)} items for {len(docs)}")
        again: list[_Doc] = []
        for doc, wrapper in zip(docs, items, strict=True):
            result = next(iter(wrapper.values()))
            status = int(result.get("status", 0))
            error = result.get("error") or {}
            kind = classify(status, error.get("type"))
            if kind in ("ok", "duplicate"):
                counts[kind] += 1
            elif kind == "retry":
                metrics.BULK_RETRIES.labels(_retry_reason(status, error.get("type"))).inc()
                again.append(doc)
            else:
                reason = str(error.get("reason", ""))
                cause = (error.get("caused_by") or {}).get("reason")
                if cause:  # the root cause often names the bad value ("before the epoch")
                    reason = f"{reason} (caused by: {cause})"
                letters.append(DeadLetter(
                    doc.letter_key, doc.value, doc.partition, doc.offset, "index",
                    str(error.get("type", "unknown")), reason, status, doc.index,
                ))
        return again

