"""Make one batch durable: bulk-index its records, retry what is transient, dead-letter
what Elasticsearch refuses and what is not a record.

Per item of a ``_bulk`` answer (as elasticsearch-py's ``streaming_bulk`` and Vector's
``retry.rs`` do):

    200/201             created                     -> done
    409                 the id exists (a replay)     -> done
    429, 5xx, es_rejected_execution_exception        -> resent, only those items
    any other 4xx (mapping conflict, bad value)      -> dead-letter topic

A request that fails as a whole (ES unreachable, 5xx, 429, even 401/403 which is a
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
from forwarder.batch import Batch, bulk_lines
from forwarder.dlq import DeadLetter, DeadLetterWriter

log = logging.getLogger(__name__)

_FILTER = ("errors,items.*.status,items.*.error.type,items.*.error.reason,"
           "items.*.error.caused_by.reason")
_HEADERS = {"accept": "application/json", "content-type": "application/x-ndjson"}
_RETRY_TYPES = frozenset({"es_rejected_execution_exception", "circuit_breaking_exception"})


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
                 retry_initial: float, retry_max: float) -> None:
        self.es = es
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
        for item in batch.items:
            if item.record is None:
                letters.append(DeadLetter(item.key, item.value, item.partition, item.offset,
                                          "decode", "RecordError", item.error or "invalid"))
                continue
            index, lines = bulk_lines(item.record, item.value, self.prefix)
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
        except (TransportError, ApiError) as exc:
            if self.failing_since is None:
                self.failing_since = time.monotonic()
            reason = "transport" if isinstance(exc, TransportError) else "request_status"
            metrics.BULK_RETRIES.labels(reason).inc(len(docs))
            raise
        finally:
            metrics.BULK_SECONDS.observe(time.perf_counter() - started)
        self.failing_since = None
        answer: dict[str, Any] = resp.body
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

