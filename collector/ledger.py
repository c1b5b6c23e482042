"""The collector's side of the completeness audit: a ledger of what each file gave
Kafka, sent to the ledger topic and indexed by the forwarder next to the logs.

Two kinds of entries, both JSON objects with ``v``, ``kind``, ``id``, ``ts``,
``node``, ``source``, ``path``, ``file``, ``namespace``, ``app``:

- ``range``: the entries of ``file`` that start in bytes ``[from, to)``, ``entries``
  of them, are acknowledged by Kafka. A file's checkpoint only moves to a range's
  ``to`` once that range is itself acknowledged, so after a crash the file is read
  again from the start of the first range not in the ledger, and the next range
  starts where the last acknowledged one ended. Its ``id`` is (node, file, from):
  a range re-sent after a crash (same ``from``, a later ``to``) replaces the one
  sent before it, never adds to it. That is what makes the counts exact.
- ``gap``: bytes of ``file`` from ``offset`` that will never be read, with the
  ``cause`` (``given_up``: the rotate_wait_s deadline or the open-files cap,
  ``truncated``: a copytruncate with no copy found, ``deleted``: gone while the
  collector was down).
"""

from __future__ import annotations

from collections.abc import Callable
from hashlib import blake2b
from typing import Any

from orjson import dumps

from collector.files import TrackedFile
from collector.wire import wire_text
from logpipe.timefmt import now_ts

LEDGER_VERSION = 1

# (value, key, delivery report) -> False when it could not be queued now
Produce = Callable[[bytes, bytes, Callable[[Any, Any], None] | None], bool]


def _id(*parts: object) -> str:
    return blake2b("\0".join(map(str, parts)).encode("utf-8", "surrogatepass"),
                   digest_size=16).hexdigest()


class Ledger:
    """Builds ledger entries for the agent and hands them to ``produce`` (the ledger
    topic, keyed like the stream's records). Without ``produce`` (no ledger topic) a
    range counts as in the ledger at once: checkpoints then follow acknowledgements."""

    def __init__(self, node: str, produce: Produce | None) -> None:
        self.node = node
        self.produce = produce
        self.waiting: list[tuple[bytes, bytes]] = []  # gaps the full queue did not take

    def _base(self, kind: str, key: tuple[object, ...], fid: str, path: str,
              meta: dict[str, Any], source: str) -> dict[str, Any]:
        return {"v": LEDGER_VERSION, "kind": kind, "id": _id(self.node, fid, kind, *key),
                "ts": now_ts(), "node": self.node, "source": source, "path": wire_text(path),
                "file": fid, "namespace": meta.get("namespace"), "app": meta.get("app")}

    def send_range(self, f: TrackedFile, meta: dict[str, Any], source: str,
                   stream_key: bytes) -> bool:
        """Send what ``f`` got acknowledged since its last range; False if nothing.

        One range in flight per file: the checkpoint (``ledger_at``) is then always the
        start of the only range that may exist beyond it, which a restart replaces.
        """
        if f.acked <= f.ledger_sent or f.ledger_sent != f.ledger_at:
            return False
        if self.produce is None:
            f.ledger_at = f.ledger_sent = f.acked
            f.ledger_entries = f.ledger_sent_entries = f.acked_entries
            return True
        start, end = f.ledger_sent, f.acked
        entries = f.acked_entries - f.ledger_sent_entries
        total = f.acked_entries
        doc = self._base("range", (start,), f.file_id, f.path, meta, source)
        doc.update({"from": start, "to": end, "entries": entries})

        def done(err: Any, msg: Any) -> None:
            # In order per partition; a failure (or a purge on rewind) sends it again.
            if err is None and end > f.ledger_at:
                f.ledger_at, f.ledger_entries = end, total

        if not self.produce(dumps(doc), stream_key, done):
            return False  # the queue is full: the next checkpoint interval sends it
        f.ledger_sent, f.ledger_sent_entries = end, total
        return True

    def send_gap(self, fid: str, path: str, meta: dict[str, Any], source: str,
                 stream_key: bytes, cause: str, offset: int, nbytes: int,
                 detail: str = "") -> None:
        if self.produce is None:
            return
        doc = self._base("gap", (cause, offset), fid, path, meta, source)
        doc.update({"offset": offset, "bytes": nbytes, "cause": cause, "detail": detail})
        self.waiting.append((dumps(doc), stream_key))
        self.retry()

    def retry(self) -> None:
        """Queue the gap entries still waiting for room, in order."""
        produce = self.produce
        while self.waiting and produce is not None:
            value, key = self.waiting[0]
            if not produce(value, key, None):
                return
            self.waiting.pop(0)
