"""The dead-letter topic: poison messages and records Elasticsearch refused.

The value is the original Kafka message value, byte for byte, so a fixed record can
be replayed by copying it back to the logs topic; the why travels in headers
(``dlq.reason``, ``dlq.error_type``, ``dlq.status``, ``dlq.index``, ``dlq.stage``,
``dlq.topic``, ``dlq.partition``, ``dlq.offset``), as Kafka Connect's DLQ does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, Message, Producer
from tenacity import Retrying

from logpipe.settings import KafkaOptions
from logpipe.timefmt import now_ts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes
    partition: int
    offset: int
    stage: str  # "decode" (not a record) or "index" (Elasticsearch refused it)
    error_type: str  # metric label too: RecordError, mapper_parsing_exception, ...
    reason: str
    status: int | None = None
    index: str | None = None

    def headers(self, source_topic: str) -> list[tuple[str, str | bytes | None]]:
        pairs = {
            "dlq.stage": self.stage,
            "dlq.error_type": self.error_type,
            "dlq.reason": self.reason,
            "dlq.topic": source_topic,
            "dlq.partition": str(self.partition),
            "dlq.offset": str(self.offset),
            "dlq.ts": now_ts(),
        }
        if self.status is not None:
            pairs["dlq.status"] = str(self.status)
        if self.index is not None:
            pairs["dlq.index"] = self.index
        return [(k, v.encode()) for k, v in pairs.items()]


class DeadLetterWriter:
    """Produces dead letters with acks=all and waits until Kafka holds every one."""

    def __init__(self, bootstrap: str, topic: str, source_topic: str,
                 options: KafkaOptions) -> None:
        self.topic = topic
        self.source_topic = source_topic
        self._producer = Producer({
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            # Short, so a Kafka outage comes back to write()'s loop, which can be abandoned.
            "message.timeout.ms": 30000,
            **options,
        })

    def write(self, letters: Sequence[DeadLetter], retrying: Retrying) -> None:
        """Block until Kafka acknowledged every letter; failed ones are produced again.

        ``retrying`` (capped exponential back-off, no time limit) sleeps through an
        interruptible wait, so a shutdown can abandon the batch instead of hanging.
        """
        pending = list(letters)

        def once() -> int:
            nonlocal pending
            pending = self._attempt(pending)
            return len(pending)

        retrying(once)

    def _attempt(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        done = threading.Event()
        failed: list[DeadLetter] = []
        remaining = [len(letters)]
        lock = threading.Lock()

        def report(letter: DeadLetter) -> Callable[[KafkaError | None, Message], None]:
            def on_delivery(err: KafkaError | None, _msg: Message) -> None:
                with lock:
                    if err is not None:
                        log.warning("dead letter not delivered: %s", err)
                        failed.append(letter)
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        done.set()
            return on_delivery

        for i, letter in enumerate(letters):
            try:
                self._producer.produce(self.topic, letter.value, letter.key,
                                       headers=letter.headers(self.source_topic),
                                       on_delivery=report(letter))
            except Exception as exc:  # BufferError, KafkaException: retried, never dropped
                log.warning("cannot queue dead letter: %s", exc)
                with lock:
                    failed.extend(letters[i:])
                    remaining[0] -= len(letters) - i
                    if remaining[0] == 0:
                        done.set()
                break
        # Delivery callbacks run inside poll(); message.timeout.ms bounds the wait,
        # after which the letter is reported as failed and produced again.
        while not done.is_set():
            self._producer.poll(0.1)
        return failed

    def close(self) -> None:
        self._producer.flush(10)

