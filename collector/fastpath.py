"""The Docker json-file hot path in bulk: ``collector._fastpath`` (C, built by
``pip install``) turns the common lines of a chunk into record bytes in one call.

The C scan takes only the shortcut whose outcome the Python path is known to give:
a complete ``{"log":"...\\n","stream":"stdout|stderr","time":"<30 chars>Z"}`` line,
valid UTF-8 without NUL, not a possible continuation line, on a stream whose joiner
holds nothing or one plain line. At any other line it stops, writes the held lines
back into the joiners, and that one line goes through ``Source``'s usual parse ->
join -> emit; then the scan goes on. The records, their order, the joiners' state
and so the checkpoints are the same either way (tests/collector/test_fastpath.py
compares them byte for byte). Without the extension everything stays in Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orjson import JSONEncodeError, dumps

from collector.level_detect import detect_level
from collector.multiline import StreamJoiner
from logpipe.levels import normalize_level
from logpipe.record import SCHEMA_VERSION, TAG_TRUNCATED

if TYPE_CHECKING:
    from collector.files import TrackedFile
    from collector.source import Source

try:
    from collector import _fastpath
except ImportError:  # pragma: no cover - a build without a C compiler
    _fastpath = None  # type: ignore[assignment]
else:
    _fastpath.init({w: normalize_level(w).value for w in _fastpath.words()})
_c = _fastpath  # None: everything stays in Python (the tests set that too)

_V_TAIL = b',"v":%d}' % SCHEMA_VERSION
MAX_MISSES = 8  # scans in a row that took no line: the chunk is not for the C path


def available() -> bool:
    return _c is not None


def docker_lines(src: Source, f: TrackedFile, data: bytes, last: int, now_ns: int) -> int:
    """Parse, join and send the lines of ``data[:last + 1]`` (``data[last]`` is a
    newline) read at ``f.pos``; returns the number of lines, or -1 when the C path
    does not apply (no extension, a per-app start pattern) and the caller's loop must."""
    rules = src.rules
    if _c is None or rules.start is not None:
        return -1
    out = src.out
    try:  # per chunk, not per line: the fields every record of this file shares
        mid = b"".join((b',"ingest_ts":', dumps(src.ingest_ts), b',"node":', dumps(out.node),
                        b',"source":', dumps(src.kind), b',"path":', dumps(f.path),
                        b',"offset":'))
    except JSONEncodeError:  # e.g. a path with lone surrogates: Python's own behaviour
        return -1
    tail = src._tail + b"[]" + _V_TAIL
    deadline = now_ns + rules.flush_ns
    end = last + 1
    pos, off, total, misses = 0, f.pos, 0, 0
    while pos < end:
        values, pos, off, n, stopped = _c.scan(
            data, pos, end, off, src.joiners, f, rules, rules.enabled, out.max_line_bytes,
            out.max_record_bytes, f.id_prefix, mid, tail, src.level_hint, deadline,
            detect_level, src._shrink)
        total += n
        if values:
            _send(src, f, values)
        if stopped:
            # Lines the C scan keeps refusing (another shape of file): the rest of the
            # chunk in Python rather than a scan call per line.
            misses = misses + 1 if n == 0 else 0
            stop = end if misses >= MAX_MISSES else data.index(b"\n", pos) + 1
            while pos < stop:
                nl = data.index(b"\n", pos)
                _one_line(src, f, data[pos:nl], off, now_ns)
                total += 1
                off += nl - pos + 1
                pos = nl + 1
    return total


def _send(src: Source, f: TrackedFile, values: list[bytes]) -> None:
    """What ``Source.emit`` does record by record: only the batch's latest record is
    held back (it reports for the batch when the batch closes)."""
    b = f.open_batch or f.batch()
    count = len(values)
    latest = values.pop()
    if b.held is not None:
        values.insert(0, b.held)
    if values:
        src.out.produce_many(values, src.key)
    b.held = latest
    b.count += count


def _one_line(src: Source, f: TrackedFile, raw: bytes, off: int, now_ns: int) -> None:
    """One line the C scan left to Python: the body of ``Source.read``'s loop."""
    max_line = src.out.max_line_bytes
    if len(raw) > max_line:
        src.out.count_truncated()
        src._line(f, off, raw[:max_line], (TAG_TRUNCATED,), now_ns)
        return
    piece = src.parse(raw)
    j = src.joiners.get(piece.stream)
    if j is None:
        j = src.joiners[piece.stream] = StreamJoiner(piece.stream, src.rules, src.emit)
    j.feed(f, off, piece.ts, piece.text, piece.partial, piece.tags, now_ns)
