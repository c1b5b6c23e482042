"""One open log file and the acknowledgement bookkeeping behind its checkpoint.

Records read from a file are grouped in ``Batch``es (one per chunk read). All records
of a batch have the same Kafka key, hence the same partition, and the producer is
idempotent with ``enable.gapless.guarantee``: Kafka stores them in produce order and
any gap is a fatal error. So only a batch's last record asks for a delivery report;
when it is acknowledged, the whole batch is (a failure of any kind makes the agent
rewind every file to its checkpoint and read again; ids make the replay harmless).

A batch also knows the offset that is safe once it is acknowledged: the read
position, or the start of an entry still held by the joiners. The file's checkpoint
(``acked``) moves to a batch's safe offset only when that batch and every batch
before it are acknowledged, so it is never ahead of an acknowledgement.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from hashlib import blake2b
from typing import Any


class Batch:
    __slots__ = ("closed", "count", "file", "held", "pending", "safe", "stale")

    def __init__(self, file: TrackedFile) -> None:
        self.file = file
        self.count = 0  # records in the batch
        self.held: bytes | None = None  # the latest record, produced when the batch closes
        self.pending = 0  # 1 while the last record's delivery report is awaited
        self.safe = 0
        self.closed = False
        self.stale = False  # dropped by a rewind: its report no longer matters

    def ack(self, err: Any, msg: Any) -> None:
        """confluent-kafka delivery report for the batch's last record."""
        if self.stale:
            return
        if err is not None:
            self.file.on_failed(err, msg, self)  # the agent rewinds; pending stays
            return
        self.pending = 0
        self.file.acks[0] += self.count
        if self.closed:
            self.file.advance()


OnFailed = Callable[[Any, Any, Batch], None]


def id_prefix(node: str, dev: int, inode: int, fp: str) -> bytes:
    """Same bytes as logpipe.record.make_id's input, prepared once per file."""
    return "\0".join((node, str(dev), str(inode), fp, "")).encode("utf-8", "surrogatepass")


def file_id(prefix: bytes) -> str:
    """A file's identity in records and the ledger: 16 hex digits of its id prefix."""
    return blake2b(prefix, digest_size=8).hexdigest()


class TrackedFile:
    """An open file: identity, read position, acknowledged offset."""

    __slots__ = ("acked", "acked_entries", "acks", "base_fp", "batches", "dev", "drain_deadline",
                 "fd", "file_id", "fp", "gen", "id_prefix", "inode", "kind", "ledger_at",
                 "ledger_entries", "ledger_sent", "ledger_sent_entries", "on_failed",
                 "open_batch", "path", "pos", "seen_size", "skip_from", "tail_len", "tail_since")

    def __init__(self, path: str, kind: str, fd: int, dev: int, inode: int, base_fp: str,
                 gen: int, node: str, on_failed: OnFailed, acks: list[int]) -> None:
        self.path = path
        self.kind = kind
        self.fd = fd
        self.dev = dev
        self.inode = inode
        self.base_fp = base_fp
        self.gen = gen
        self.fp = ""
        self.id_prefix = b""
        self.file_id = ""
        self.set_generation(gen, node)
        self.pos = 0  # next byte to read
        self.acked = 0  # every entry starting below it is acknowledged
        self.acked_entries = 0  # how many entries that is (since this process opened it)
        # The completeness ledger (collector.ledger): acknowledged up to ledger_at
        # (the checkpoint), sent up to ledger_sent; entry counts at each.
        self.ledger_at = self.ledger_sent = 0
        self.ledger_entries = self.ledger_sent_entries = 0
        self.batches: deque[Batch] = deque()
        self.open_batch: Batch | None = None
        self.on_failed = on_failed
        self.acks = acks  # shared acknowledgement counter (one list, no lock: one thread)
        self.skip_from: int | None = None  # start of an over-long line being skipped
        self.tail_len = 0  # length of an unterminated last line seen, and since when
        self.tail_since = 0
        self.drain_deadline = 0.0  # > 0: renamed/deleted, read to end by this time
        self.seen_size = 0  # the size at the last rotation check (bytes lost to a truncation)

    def set_generation(self, gen: int, node: str) -> None:
        """Copytruncate starts a new generation: new identity, so new ids for new bytes."""
        self.gen = gen
        self.fp = self.base_fp if gen == 0 else f"{self.base_fp}.g{gen}"
        self.id_prefix = id_prefix(node, self.dev, self.inode, self.fp)
        self.file_id = file_id(self.id_prefix)

    def batch(self) -> Batch:
        b = self.open_batch
        if b is None:
            b = self.open_batch = Batch(self)
            self.batches.append(b)
        return b

    def close_batch(self, safe: int) -> None:
        """End the current batch; ``safe`` is where a restart may resume once it is acked."""
        b = self.open_batch
        if b is None:
            if not self.batches:
                self.acked = max(self.acked, safe)
                return
            b = self.batch()
        self.open_batch = None
        b.safe = safe
        b.closed = True
        if b.pending == 0:
            self.advance()

    def advance(self) -> None:
        batches = self.batches
        while batches and batches[0].closed and batches[0].pending == 0:
            b = batches.popleft()
            # Every entry of the batch starts below its safe offset (entries still held
            # are in a later batch), so the count matches the bytes [old acked, safe).
            self.acked_entries += b.count
            if b.safe > self.acked:
                self.acked = b.safe

    def start_at(self, offset: int) -> None:
        """Reading starts at ``offset`` (a checkpoint, the tail): nothing below it is
        this process's to count."""
        self.pos = self.acked = self.ledger_at = self.ledger_sent = offset

    def rewind(self) -> None:
        """Forget everything not acknowledged: reading resumes at the checkpoint."""
        for b in self.batches:
            b.stale = True
        self.batches.clear()
        self.open_batch = None
        self.pos = self.acked
        self.skip_from = None
        self.tail_len = 0

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
