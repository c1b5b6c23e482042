"""One log path (a container's log, a pod container's log, a host file) and the hot
path: read a chunk, split it into lines in bulk, parse, join, build and produce.

A path may have several files at once: the renamed or deleted ones still being read
to their end (``draining``, oldest first) and the live one (``current``). They are
read in that order so one stream's entries stay in order and pieces join across a
rotation.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from hashlib import blake2b
from typing import TYPE_CHECKING, Any

from orjson import JSONEncodeError, dumps, loads

from collector import fastpath
from collector.fastpath import FileContext, container_lines
from collector.files import TrackedFile
from collector.level_detect import LevelRule, detect_level, new_hint
from collector.multiline import MultilineRules, StreamJoiner
from collector.parsers import Piece, parse_cri, parse_docker, parse_host
from collector.wire import wire_text
from logpipe.record import SCHEMA_VERSION, TAG_MULTILINE, TAG_NO_TIMESTAMP, TAG_TRUNCATED
from logpipe.timefmt import format_ns

if TYPE_CHECKING:
    from collector.pods import PodMeta

_V_TAIL = b',"v":%d}' % SCHEMA_VERSION
PARSERS: dict[str, Callable[[bytes], Piece]] = {
    "docker": parse_docker, "cri": parse_cri, "file": parse_host}
SKIP_WINDOW = 64 << 10  # an excluded file's tail searched for its last newline


class Output:
    """What a source needs from the agent: produce with backpressure, and counters."""

    node: str
    max_line_bytes: int
    max_record_bytes: int
    read_chunk_bytes: int
    idle_tail_ns: int

    def produce(self, value: bytes, key: bytes,
                on_delivery: Callable[[Any, Any], None] | None) -> None:
        raise NotImplementedError

    def count_read(self, kind: str, lines: int, nbytes: int) -> None:
        raise NotImplementedError

    def count_truncated(self) -> None:
        raise NotImplementedError

    def produce_many(self, values: list[bytes], key: bytes) -> None:
        """Several records in this order, none with a delivery report."""
        for value in values:
            self.produce(value, key, None)

    def count_excluded(self, nbytes: int) -> None:
        raise NotImplementedError


class Source:
    def __init__(self, path: str, kind: str, meta: dict[str, Any], rules: MultilineRules,
                 out: Output) -> None:
        self.path = path
        self.kind = kind
        self.meta: dict[str, Any] = {}
        self._tail = b""
        self.plain_tail = b""
        self.multiline_tail = b""
        self.set_meta(meta)
        self.base_meta = meta  # from the path / config.v2.json, before pod metadata
        self.pod: PodMeta | None = None  # the pod metadata applied to self.meta
        # The pod is annotated logpipe.io/exclude: its bytes are skipped, not shipped
        # (the checkpoint still moves, so nothing excluded is sent after a restart).
        self.excluded = False
        self.wire_path = wire_text(path)  # the record's path: a valid string, always
        self.key = (meta.get("container_id") or self.wire_path).encode()
        self.rules = rules
        self.out = out
        self.parse = PARSERS[kind]
        self.current: TrackedFile | None = None
        self.draining: deque[TrackedFile] = deque()
        # Read to the end (or given up) but not yet fully acknowledged / still held by
        # a joiner: their checkpoints stay until then.
        self.retired: list[TrackedFile] = []
        self.joiners: dict[str | None, StreamJoiner] = {}
        self.ingest_ts = ""
        self.next_check = 0.0  # monotonic time of the next rotation check
        # (dev, inode, generation) for the file re-identified after a copytruncate
        self.next_gen: tuple[int, int, int] | None = None
        # Optional per-source token bucket (lines); a source out of tokens is skipped
        # (paused, never dropped) until refilled.
        self.tokens = 0.0
        self.refilled = 0.0
        self.last_lines = 0
        self.backlog = True  # read it next pass even without an inotify event
        self.holding = False  # a joiner may hold an entry: flush_due has work
        self.level_hint = new_hint()  # where its lines put their level word; the last level
        # The app's own level rule (setting level_rules, annotation logpipe.io/level):
        # tried before the general detection, and it keeps the C fast path off.
        self.level_rule: LevelRule | None = None
        self.scan_context: FileContext | None = None  # the C path's, for one file

    # -- files -------------------------------------------------------------------
    def files(self) -> list[TrackedFile]:
        out = [*self.retired, *self.draining]
        if self.current is not None:
            out.append(self.current)
        return out

    def retire(self, f: TrackedFile) -> None:
        """``f`` will not be read again (drained, given up or replaced by a new
        generation); it stays tracked until its records are acknowledged."""
        if f in self.draining:
            self.draining.remove(f)
        if f is self.current:
            self.current = None
        self.close_batch(f)
        self.retired.append(f)  # its descriptor stays open: a rewind may re-read it

    def prune(self) -> None:
        """Forget retired files whose every record is acknowledged and none held."""
        keep = []
        for f in self.retired:
            # ledger_at < acked: its last ledger range is not acknowledged yet
            if f.batches or f.open_batch is not None or self.held_floor(f) is not None or (
                    f.ledger_at < f.acked):
                keep.append(f)
            else:
                f.close()
        self.retired = keep

    def rewind(self, deadline: float) -> None:
        """After a delivery failure: every file back to its checkpoint, joiners
        emptied; files read to their end but not acknowledged are read again."""
        self.joiners = {}
        self.holding = False
        self.backlog = True
        again = [f for f in self.retired if f.fd >= 0 and f.acked < f.pos]
        for f in self.retired:
            if f not in again:
                f.close()
        self.retired = []
        for f in again:
            f.drain_deadline = deadline
        self.draining.extendleft(reversed(again))  # older than those still draining
        for f in self.files():
            f.rewind()

    def idle(self) -> bool:
        return self.current is None and not self.draining and not self.retired

    def reading(self) -> TrackedFile | None:
        """The file to read now: the oldest draining one first, to keep order."""
        return self.draining[0] if self.draining else self.current

    def held_floor(self, f: TrackedFile) -> int | None:
        low: int | None = None
        for j in self.joiners.values():
            v = j.floor(f)
            if v is not None and (low is None or v < low):
                low = v
        return low

    def close_batch(self, f: TrackedFile) -> None:
        b = f.open_batch
        if b is not None and b.held is not None:  # the last record reports for the batch
            value, b.held = b.held, None
            b.pending = 1
            self.out.produce(value, self.key, b.ack)
        safe = f.pos if f.skip_from is None else f.skip_from
        floor = self.held_floor(f)
        f.close_batch(safe if floor is None or floor > safe else floor)

    def flush_due(self, now_ns: int) -> None:
        """Send held entries whose flush timeout passed."""
        if not self.holding:
            return
        holding = False
        for j in self.joiners.values():
            if j.deadline and now_ns >= j.deadline:
                self.ingest_ts = format_ns(time.time_ns())
                j.flush()
                for f in self.files():
                    if f.open_batch is not None:
                        self.close_batch(f)
            holding = holding or j.deadline != 0
        self.holding = holding

    def flush_all(self) -> None:
        for j in self.joiners.values():
            j.flush()
        for f in self.files():
            self.close_batch(f)

    # -- the hot path ------------------------------------------------------------
    def read(self, f: TrackedFile, now_ns: int, at_end: bool) -> int:
        """Read and send one chunk of ``f``; returns bytes consumed (0: nothing new).

        ``at_end``: the file is renamed/deleted and will not grow, so an unterminated
        last line is complete.
        """
        out = self.out
        if self.excluded:
            return self._skip(f, at_end)
        data = os.pread(f.fd, out.read_chunk_bytes, f.pos)
        if not data:
            return 0
        self.ingest_ts = format_ns(time.time_ns())
        self.holding = True
        if f.skip_from is not None:  # inside an over-long line: skip to its newline
            nl = data.find(b"\n")
            f.pos += len(data) if nl < 0 else nl + 1
            if nl >= 0:
                f.skip_from = None
            self.close_batch(f)
            return len(data) if nl < 0 else nl + 1
        last = data.rfind(b"\n")
        max_line = out.max_line_bytes
        if last < 0:
            if len(data) >= max_line:  # cut, send, and skip the rest of the line
                out.count_truncated()
                self.feed_line(f, f.pos, data[:max_line], now_ns, (TAG_TRUNCATED,))
                f.skip_from = f.pos
                f.pos += len(data)
                self.close_batch(f)
                return len(data)
            if not at_end:  # the writer may be mid-line: wait until it stops growing
                if len(data) != f.tail_len:
                    f.tail_len, f.tail_since = len(data), now_ns
                    return 0
                if now_ns - f.tail_since < out.idle_tail_ns:
                    return 0
            f.tail_len = 0
            self.feed_line(f, f.pos, data, now_ns)
            f.pos += len(data)
            out.count_read(self.kind, 1, len(data))
            self.close_batch(f)
            return len(data)
        f.tail_len = 0
        if self.kind != "file":  # the common lines in bulk, in C (collector.fastpath)
            n = container_lines(self, f, data, last, now_ns)
            if n >= 0:
                f.pos += last + 1
                self.last_lines = n
                out.count_read(self.kind, n, last + 1)
                self.close_batch(f)
                return last + 1
        lines = data[:last].split(b"\n")
        off = f.pos
        feed = self.feed_line
        for raw in lines:
            feed(f, off, raw, now_ns)
            off += len(raw) + 1
        f.pos = off
        self.last_lines = len(lines)
        out.count_read(self.kind, len(lines), last + 1)
        self.close_batch(f)
        return last + 1

    def _skip(self, f: TrackedFile, at_end: bool) -> int:
        """An excluded source: move past every complete line without reading them
        (only the last 64 KiB, to find the last newline); returns bytes skipped."""
        size = os.fstat(f.fd).st_size
        if size <= f.pos:
            return 0
        if at_end:  # renamed/deleted: an unterminated last line is complete
            end = size
        else:
            window = min(size - f.pos, SKIP_WINDOW)
            nl = os.pread(f.fd, window, size - window).rfind(b"\n")
            if nl >= 0:
                end = size - window + nl + 1
            else:  # no newline near the end: a long line, look forward from pos
                nl = os.pread(f.fd, self.out.read_chunk_bytes, f.pos).rfind(b"\n")
                if nl < 0:
                    return 0
                end = f.pos + nl + 1
        n = end - f.pos
        f.pos = end
        f.skip_from = None  # at a line start now
        f.tail_len = 0
        self.out.count_excluded(n)
        self.close_batch(f)
        return n

    def feed_line(self, f: TrackedFile, off: int, raw: bytes, now_ns: int,
                  tags: tuple[str, ...] = ()) -> None:
        """One line (no newline) at byte ``off`` of ``f``: cap, parse, join (and so
        maybe emit). ``tags``: already known, e.g. the line was cut at the chunk's end;
        a tagged line is never a partial piece, so nothing is joined to it."""
        if len(raw) > self.out.max_line_bytes:
            self.out.count_truncated()
            raw = raw[:self.out.max_line_bytes]
            tags = tags if TAG_TRUNCATED in tags else (*tags, TAG_TRUNCATED)
        piece = self.parse(raw)
        j = self.joiners.get(piece.stream)
        if j is None:
            j = self.joiners[piece.stream] = StreamJoiner(piece.stream, self.rules, self.emit)
        if tags:
            all_tags = piece.tags + tuple(t for t in tags if t not in piece.tags)
            j.feed(f, off, piece.ts, piece.text, False, all_tags, now_ns)
        else:
            j.feed(f, off, piece.ts, piece.text, piece.partial, piece.tags, now_ns)

    def set_meta(self, meta: dict[str, Any]) -> None:
        """The per-source record fields; encoded once here, not once per record."""
        try:
            inner = dumps(meta)[1:-1]
        except JSONEncodeError:  # a name from a path that is not valid UTF-8 (app, pod...)
            meta = {k: wire_text(v) if isinstance(v, str) else v for k, v in meta.items()}
            inner = dumps(meta)[1:-1]
        self.meta = meta
        self._tail = (b"," + inner if inner else b"") + b',"tags":'
        self.plain_tail = self._tail + b"[]" + _V_TAIL
        # what emit writes for an entry the joiner joined from several lines (the C
        # fast path writes it too: collector.fastpath)
        self.multiline_tail = self._tail + dumps((TAG_MULTILINE,)) + _V_TAIL

    def level(self, text: str) -> str:
        """The entry's level: the app's rule, else detect_level -- through the C
        detector where the extension is built (the same result and hint, several
        times cheaper; tests/collector/test_level_c.py)."""
        if self.level_rule is not None:
            return self.level_rule.level(text, self.level_hint)
        c = fastpath._c
        return (detect_level if c is None else c.detect_level)(text, self.level_hint)

    def emit(self, origin: TrackedFile, off: int, ts: str | None, stream: str | None,
             text: str, tags: tuple[str, ...]) -> None:
        """Build one record in the contract's wire order and produce it: the per-entry
        fields are encoded here, the per-source ones were encoded by set_meta."""
        if ts is None:
            ts = self.ingest_ts
            tags = (*tags, TAG_NO_TIMESTAMP)
        head = dumps({
            "id": blake2b(origin.id_prefix + str(off).encode(), digest_size=16).hexdigest(),
            "ts": ts, "ingest_ts": self.ingest_ts, "node": self.out.node, "source": self.kind,
            "path": self.wire_path, "offset": off, "message": text,
            "level": self.level(text), "stream": stream,
            "file": origin.file_id})
        value = head[:-1] + (b"".join((self._tail, dumps(tags), _V_TAIL)) if tags
                             else self.plain_tail)
        if len(value) > self.out.max_record_bytes:
            value = self.shrink(value)
        b = origin.open_batch or origin.batch()
        if b.held is not None:  # not the batch's last record: no delivery report
            self.out.produce(b.held, self.key, None)
        b.held = value
        b.count += 1

    def produce_records(self, origin: TrackedFile, values: list[bytes]) -> None:
        """What ``emit`` does record by record, for records built elsewhere (the C
        path): only the batch's latest record is held back (it reports for the batch
        when the batch closes)."""
        b = origin.open_batch or origin.batch()
        count = len(values)
        latest = values.pop()
        if b.held is not None:
            values.insert(0, b.held)
        if values:
            self.out.produce_many(values, self.key)
        b.held = latest
        b.count += count

    def shrink(self, value: bytes) -> bytes:
        """Cut a message whose encoding (escapes) exceeds the record cap; tag it."""
        limit = self.out.max_record_bytes
        rec = loads(value)  # rare path: keys come back in wire order
        message: str = rec["message"]
        if TAG_TRUNCATED not in rec["tags"]:
            rec["tags"].append(TAG_TRUNCATED)
        size = len(value)
        while size > limit and message:
            message = message[: len(message) * limit // size * 9 // 10]
            rec["message"] = message
            value = dumps(rec)
            size = len(value)
        self.out.count_truncated()
        return value
