"""The arroyo strategy chain of one partition assignment, wired from the last step back:

    ChunkingConsumer -> RunTask(parse) -> Buffer(count/bytes/time) -> RunTaskInThreads(deliver)
        -> CommitGate -> CommitOffsets

``RunTaskInThreads`` hands results on in submission order, so an offset is committed
only when its batch and every earlier one are durable: partition order holds.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from arroyo.processing.strategies import (
    CommitOffsets,
    ProcessingStrategy,
    ProcessingStrategyFactory,
    RunTask,
    RunTaskInThreads,
)
from arroyo.processing.strategies.buffer import Buffer
from arroyo.types import Commit, FilteredPayload, Message, Partition

from forwarder import metrics
from forwarder.batch import Batch, BatchBuffer, parse
from forwarder.bulk import BulkSender, Delivered
from forwarder.chunking import Chunk
from forwarder.settings import ForwarderSettings


class CommitGate(ProcessingStrategy[Any]):
    """Passes durable batches on to the commit step; after an abandoned one, nothing.

    A batch is abandoned only while the strategy is being closed; committing a later
    batch would skip the abandoned one's offsets, so the gate shuts for good.
    """

    def __init__(self, next_step: ProcessingStrategy[Any]) -> None:
        self.next_step = next_step
        self.shut = False

    def submit(self, message: Message[Delivered | FilteredPayload]) -> None:
        payload = message.payload
        if isinstance(payload, Delivered) and payload.abandoned:
            self.shut = True
        if not self.shut:
            if isinstance(payload, Delivered):
                metrics.METRICS.batches.inc()
            self.next_step.submit(message)

    def poll(self) -> None:
        self.next_step.poll()

    def join(self, timeout: float | None = None) -> None:
        self.next_step.join(timeout)

    def close(self) -> None:
        self.next_step.close()

    def terminate(self) -> None:
        self.next_step.terminate()


class Abandoning(ProcessingStrategy[Any]):
    """First step: when arroyo joins the chain with a timeout (shutdown, rebalance),
    tells the bulk threads to give up at that deadline instead of retrying forever,
    because ``RunTaskInThreads.join`` ends by waiting for its threads."""

    def __init__(self, next_step: ProcessingStrategy[Any], abort: threading.Event) -> None:
        self.next_step = next_step
        self.abort = abort

    def submit(self, message: Message[Any]) -> None:
        self.next_step.submit(message)

    def poll(self) -> None:
        self.next_step.poll()

    def join(self, timeout: float | None = None) -> None:
        timer = None
        if timeout is not None:
            timer = threading.Timer(timeout, self.abort.set)
            timer.daemon = True
            timer.start()
        try:
            self.next_step.join(timeout)
        finally:
            if timer is not None:
                timer.cancel()

    def close(self) -> None:
        self.next_step.close()

    def terminate(self) -> None:
        self.abort.set()
        self.next_step.terminate()


class ForwarderFactory(ProcessingStrategyFactory[Chunk]):
    def __init__(self, settings: ForwarderSettings, sender: BulkSender) -> None:
        self.settings = settings
        self.sender = sender

    def create_with_partitions(
        self, commit: Commit, partitions: Mapping[Partition, int]
    ) -> ProcessingStrategy[Chunk]:
        s = self.settings
        abort = threading.Event()
        sender = self.sender

        def deliver(message: Message[Batch]) -> Delivered:
            nbytes = message.payload.nbytes
            metrics.METRICS.inflight_bytes.inc(nbytes)
            try:
                return sender.deliver(message.payload, abort)
            finally:
                metrics.METRICS.inflight_bytes.dec(nbytes)

        threads: RunTaskInThreads[Batch, Delivered] = RunTaskInThreads(
            deliver,
            concurrency=s.bulk_concurrency,
            max_pending_futures=s.max_pending_batches,
            next_step=CommitGate(CommitOffsets(commit)),
        )
        buffer = Buffer(
            BatchBuffer(s.batch_max_records, s.batch_max_bytes, s.batch_max_s),
            next_step=threads,
        )
        return Abandoning(RunTask(parse, buffer), abort)
